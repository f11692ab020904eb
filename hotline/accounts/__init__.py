"""Accounts for the operator console: roles and permissions, passwords, TOTP, browser
sessions and the audit log. The web layer and the CLI call :class:`AccountService`."""

from .audit import AuditFilter, AuditFilterError, audit_filter
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
    "AuditFilter",
    "AuditFilterError",
    "ErrorCode",
    "LoginResult",
    "NewSession",
    "Permission",
    "Role",
    "SessionInfo",
    "TotpEnrolment",
    "UserInfo",
    "allowed",
    "audit_filter",
    "make_hasher",
    "require",
    "session_id_of",
]
