"""What an account's name, display name, language and time zone may be."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo

from .errors import AccountError, ErrorCode

LANGUAGES = ("en", "zh-Hans")
USERNAME_MAX = 64
DISPLAY_NAME_MAX = 128
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


def normalise_username(value: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    return unicodedata.normalize("NFKC", value).strip().lower()


def is_valid_username(name: str) -> bool:
    return len(name) <= USERNAME_MAX and _USERNAME.fullmatch(name) is not None


def check_username(value: str) -> str:
    """The normalised username, or ``AccountError(invalid_username)``."""
    name = normalise_username(value)
    if not is_valid_username(name):
        raise AccountError(
            ErrorCode.INVALID_USERNAME,
            f"username {value!r} is invalid: use 1 to {USERNAME_MAX} lower-case letters, "
            "digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def check_display_name(value: str) -> str:
    name = " ".join(value.split())
    if not name or len(name) > DISPLAY_NAME_MAX or any(_is_control(c) for c in name):
        raise AccountError(
            ErrorCode.INVALID_DISPLAY_NAME,
            f"display name must be 1 to {DISPLAY_NAME_MAX} printable characters",
        )
    return name


def check_language(value: str) -> str:
    if value not in LANGUAGES:
        raise AccountError(
            ErrorCode.INVALID_LANGUAGE,
            f"language {value!r} is not offered: choose {' or '.join(LANGUAGES)}",
        )
    return value


def check_timezone(value: str) -> str:
    """An IANA time-zone name this system knows (e.g. 'Europe/London', 'Asia/Shanghai')."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise AccountError(
            ErrorCode.INVALID_TIMEZONE,
            f"time zone {value!r} is unknown: use an IANA name such as 'Europe/London'",
        ) from None
    if len(value) > 64:
        raise AccountError(ErrorCode.INVALID_TIMEZONE, "time zone name is too long")
    return value


def clean_text(value: str | None, limit: int) -> str | None:
    """Untrusted text for the audit log (user agents, claimed usernames): printable, bounded."""
    if value is None:
        return None
    return "".join("\ufffd" if _is_control(c) else c for c in value[:limit])


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
