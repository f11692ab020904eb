"""The command line's one error boundary.

A command does not catch the node's, the accounts' or the protocol's refusals: they
rise to :class:`Boundary` (the root group of the ``hotline`` app), which prints the
refusal's detail and its code and exits with status 1. Where the same refusal means
different things in one command (an invitation refused, a policy file refused), the
command says what was being done with :func:`about`, and the boundary puts that
around the detail.

The exception classes come from light modules (``hotline.errors``,
``hotline.protocol.errors``): catching them does not load the node.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from typer.core import TyperGroup

from ..errors import NodeError, Refused
from ..protocol.errors import ProtocolError
from .output import EXIT_ERROR, fail

# What the boundary turns into a message: Refused (the node's and the accounts'
# refusals; AccountError is Refused), NodeError (the data directory, the
# configuration) and ProtocolError (a file or a bundle the protocol refuses).
REFUSALS = (Refused, NodeError, ProtocolError)

_ABOUT = "_hotline_cli_about"


def describe(exc: BaseException) -> str:
    """A refusal as the command line shows it: its detail, then its code."""
    if isinstance(exc, ProtocolError):
        return f"{exc.detail} ({exc.code.value})"
    return str(exc)  # Refused: "detail (reason)"; NodeError: its message


def reason_of(exc: BaseException) -> str | None:
    if isinstance(exc, ProtocolError):
        return exc.code.value
    if isinstance(exc, Refused):
        return exc.reason.value
    return None


@contextmanager
def about(
    prefix: str = "",
    suffix: str = "",
    *,
    code: int = EXIT_ERROR,
    hints: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """Inside, a refusal is shown as ``prefix``, the refusal, then ``suffix`` (or the
    hint for its reason) and ends the command with ``code``. The innermost ``about``
    wins."""
    try:
        yield
    except REFUSALS as exc:
        if not hasattr(exc, _ABOUT):
            hint = (hints or {}).get(reason_of(exc) or "", "")
            setattr(exc, _ABOUT, (prefix, suffix + hint, code))
        raise


def report(exc: BaseException) -> None:
    """Print the refusal as the command's error and exit (never returns)."""
    prefix, suffix, code = getattr(exc, _ABOUT, ("", "", EXIT_ERROR))
    fail(f"{prefix}{describe(exc)}{suffix}", code)


class Boundary(TyperGroup):
    """The ``hotline`` group: every command runs inside it, so every refusal ends
    here."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except REFUSALS as exc:
            report(exc)
