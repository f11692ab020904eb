"""What the account service hands back: frozen values, never database rows, never secrets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import ErrorCode
from .roles import Permission, Role, allowed

PAGE_LIMIT = 1000  # the most audit entries one read returns


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: Role
    language: str
    timezone: str
    disabled: bool
    totp_enabled: bool
    failed_logins: int
    locked_until_ms: int | None  # set while locked out (see ``locked``)
    locked: bool  # locked out at the time this was read
    created_ms: int
    password_changed_ms: int

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)


@dataclass(frozen=True)
class LoginResult:
    """``user`` when the login succeeded; otherwise ``refusal`` says why.

    Show the browser one message whatever the refusal ("wrong name, password or code, or
    the account is locked"): the specific reason is for the audit log only."""

    user: UserInfo | None
    refusal: ErrorCode | None

    @property
    def ok(self) -> bool:
        return self.user is not None


class NewSession(NamedTuple):
    """The cookie value (give it to the browser, never store it) and the form token."""

    token: str
    csrf_token: str


@dataclass(frozen=True)
class SessionInfo:
    id: str  # SHA-256 hex of the token: safe to log and show
    user: UserInfo
    csrf_token: str
    created_ms: int
    last_seen_ms: int
    expires_ms: int  # the absolute end
    idle_expires_ms: int  # the end if no further request comes
    address: str | None
    user_agent: str | None


@dataclass(frozen=True)
class TotpEnrolment:
    """Shown once to the user, who enters it into an authenticator app."""

    secret: str
    uri: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at_ms: int
    username: str | None
    action: str
    target: str | None
    outcome: str  # ok | refused
    detail: dict[str, Any]
    address: str | None
