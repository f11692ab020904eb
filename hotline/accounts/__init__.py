"""Accounts for the operator console: roles and permissions, passwords, TOTP, browser
sessions and the audit log. The web layer and the CLI call :class:`AccountService`.

The names below are imported on first use (PEP 562): importing one light module of
the package (roles, profile, errors) does not load the database layer, so that the
command line starts quickly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .audit import AuditFilter, AuditFilterError, audit_filter
    from .errors import AccountError, ErrorCode
    from .passwords import make_hasher
    from .policy import AccountPolicy
    from .results import (
        AuditEntry,
        LoginResult,
        NewSession,
        SessionInfo,
        TotpEnrolment,
        UserInfo,
    )
    from .roles import ROLE_PERMISSIONS, Permission, Role, allowed, require
    from .service import AccountService
    from .sessions import session_id_of

# Each public name and the module that defines it.
_HOME = {
    "AuditFilter": "audit",
    "AuditFilterError": "audit",
    "audit_filter": "audit",
    "AccountError": "errors",
    "ErrorCode": "errors",
    "make_hasher": "passwords",
    "AuditEntry": "results",
    "LoginResult": "results",
    "NewSession": "results",
    "SessionInfo": "results",
    "TotpEnrolment": "results",
    "UserInfo": "results",
    "ROLE_PERMISSIONS": "roles",
    "Permission": "roles",
    "Role": "roles",
    "allowed": "roles",
    "require": "roles",
    "AccountPolicy": "policy",
    "AccountService": "service",
    "session_id_of": "sessions",
}


__getattr__ = lazy.exports(__name__, _HOME)


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
