"""The accounts refuse with :class:`hotline.errors.Refused`; these are its former names,
kept while the callers move over."""

from __future__ import annotations

from ..errors import Reason as ErrorCode
from ..errors import Refused as AccountError

__all__ = ["AccountError", "ErrorCode"]
