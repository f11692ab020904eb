"""Accounts for the operator console: roles and permissions, passwords, TOTP, browser
sessions and the audit log. The web layer and the CLI call :class:`AccountService`."""

from .errors import AccountError, ErrorCode
from .passwords import make_hasher
from .results import AuditEntry, LoginResult, NewSession, SessionInfo, TotpEnrolment, UserInfo
from .roles import ROLE_PERMISSIONS, Permission, Role, allowed, require
from .service import AccountPolicy, AccountService, session_id_of

__all__ = [
    "ROLE_PERMISSIONS",
    "AccountError",
    "AccountPolicy",
    "AccountService",
    "AuditEntry",
    "ErrorCode",
    "LoginResult",
    "NewSession",
    "Permission",
    "Role",
    "SessionInfo",
    "TotpEnrolment",
    "UserInfo",
    "allowed",
    "make_hasher",
    "require",
    "session_id_of",
]
