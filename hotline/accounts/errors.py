"""The one error the accounts layer raises, with a stable code callers can switch on."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable codes: the web layer maps them to localised messages; the CLI prints them."""

    INVALID_USERNAME = "invalid_username"
    INVALID_DISPLAY_NAME = "invalid_display_name"
    USERNAME_TAKEN = "username_taken"
    WEAK_PASSWORD = "weak_password"
    UNKNOWN_ROLE = "unknown_role"
    UNKNOWN_USER = "unknown_user"
    INVALID_LANGUAGE = "invalid_language"
    INVALID_TIMEZONE = "invalid_timezone"
    LAST_ADMINISTRATOR = "last_administrator"
    FORBIDDEN = "forbidden"
    INVALID_FILTER = "invalid_filter"  # a filter on the audit log that cannot be used
    # Login refusals (LoginResult.refusal). Show the browser one generic message for all
    # of them; the audit log keeps the specific one.
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"
    TOTP_REQUIRED = "totp_required"
    TOTP_INVALID = "totp_invalid"
    TOTP_REUSED = "totp_reused"


class AccountError(Exception):
    """A refused account operation: ``code`` is stable, ``message`` says what to do."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message
