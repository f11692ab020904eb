"""Who may do what: six roles, a list of permissions, and one explicit table between them.

The table is the whole policy; there is no inheritance to trace. Read it row by row:

* **observer** (auditor) reads the links and their messages and exports the record.
* **duty_officer** (on watch) also sends, acknowledges, drafts, makes and answers calls, and
  activates the emergency channel (naming an agreed criterion).
* **principal** has everything the duty officer has, and approves substantive replies.
* **translator** reads, verifies translations, and may save drafts (a corrected wording).
* **supervisor** has everything the principal has, approves emergency activations (the
  second operator) and reads the audit log.
* **administrator** manages users and links, reads, exports and reads the audit log —
  but does **not** speak on the line: no send, acknowledge, approve or call permission.
  Words sent to the other party carry the name of an operational role, so the record
  shows who spoke with what authority; the system's custodian is not one of them. An
  administrator who must also stand a watch gets a second, operational account. (An
  administrator can create such an account for anyone, so this is a separation of
  duties made visible, not a wall: every account change is in the audit log.)
"""

from __future__ import annotations

from enum import StrEnum

from .errors import AccountError, ErrorCode


class Role(StrEnum):
    DUTY_OFFICER = "duty_officer"
    PRINCIPAL = "principal"
    TRANSLATOR = "translator"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"
    OBSERVER = "observer"


class Permission(StrEnum):
    VIEW_LINKS = "view_links"
    VIEW_MESSAGES = "view_messages"
    SEND_MESSAGE = "send_message"
    ACKNOWLEDGE = "acknowledge"
    SAVE_DRAFT = "save_draft"
    APPROVE_REPLY = "approve_reply"
    REQUEST_CALL = "request_call"
    ANSWER_CALL = "answer_call"
    SESSION_TEXT = "session_text"  # type into a live call session
    VERIFY_TRANSLATION = "verify_translation"
    ACTIVATE_EMERGENCY = "activate_emergency"  # send on the emergency channel
    APPROVE_EMERGENCY = "approve_emergency"
    EXPORT_RECORD = "export_record"
    MANAGE_USERS = "manage_users"
    MANAGE_LINKS = "manage_links"
    VIEW_AUDIT = "view_audit"


_P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OBSERVER: frozenset({_P.VIEW_LINKS, _P.VIEW_MESSAGES, _P.EXPORT_RECORD}),
    Role.DUTY_OFFICER: frozenset(
        {
            _P.VIEW_LINKS,
            _P.VIEW_MESSAGES,
            _P.SEND_MESSAGE,
            _P.ACKNOWLEDGE,
            _P.SAVE_DRAFT,
            _P.REQUEST_CALL,
            _P.ANSWER_CALL,
            _P.SESSION_TEXT,
            _P.ACTIVATE_EMERGENCY,
        }
    ),
    Role.PRINCIPAL: frozenset(
        {
            _P.VIEW_LINKS,
            _P.VIEW_MESSAGES,
            _P.SEND_MESSAGE,
            _P.ACKNOWLEDGE,
            _P.SAVE_DRAFT,
            _P.REQUEST_CALL,
            _P.ANSWER_CALL,
            _P.SESSION_TEXT,
            _P.ACTIVATE_EMERGENCY,
            _P.APPROVE_REPLY,
        }
    ),
    Role.TRANSLATOR: frozenset(
        {_P.VIEW_LINKS, _P.VIEW_MESSAGES, _P.VERIFY_TRANSLATION, _P.SAVE_DRAFT}
    ),
    Role.SUPERVISOR: frozenset(
        {
            _P.VIEW_LINKS,
            _P.VIEW_MESSAGES,
            _P.SEND_MESSAGE,
            _P.ACKNOWLEDGE,
            _P.SAVE_DRAFT,
            _P.REQUEST_CALL,
            _P.ANSWER_CALL,
            _P.SESSION_TEXT,
            _P.ACTIVATE_EMERGENCY,
            _P.APPROVE_REPLY,
            _P.APPROVE_EMERGENCY,
            _P.VIEW_AUDIT,
        }
    ),
    Role.ADMINISTRATOR: frozenset(
        {
            _P.VIEW_LINKS,
            _P.VIEW_MESSAGES,
            _P.EXPORT_RECORD,
            _P.VIEW_AUDIT,
            _P.MANAGE_USERS,
            _P.MANAGE_LINKS,
        }
    ),
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise AccountError(
            ErrorCode.UNKNOWN_ROLE, f"unknown role {value!r}: choose one of {names}"
        ) from None


def allowed(role: Role | str, permission: Permission) -> bool:
    """Whether ``role`` has ``permission``. An unknown role has none."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def require(role: Role | str, permission: Permission) -> None:
    """Raise ``AccountError(forbidden)`` unless ``role`` has ``permission``."""
    if not allowed(role, permission):
        raise AccountError(
            ErrorCode.FORBIDDEN, f"the role {role!s} may not {permission.value.replace('_', ' ')}"
        )
