"""The HTTP status of each refusal reason: the local API's one table.

A refusal answers ``{"code": reason, "detail": ...}`` with the status below. The
test suite keeps every :class:`~hotline.errors.Reason` in this table.
"""

from __future__ import annotations

from ..errors import Reason

R = Reason

# Who is asking, and may they.
_FORBIDDEN = {R.FORBIDDEN, R.BAD_CREDENTIALS, R.NOT_ADDRESSED, R.NOT_AUTHOR, R.SELF_APPROVAL}
_FORBIDDEN |= {R.LOCKED, R.DISABLED, R.TOTP_REQUIRED, R.TOTP_INVALID, R.TOTP_REUSED}
# What is asked about does not exist.
_NOT_FOUND = {
    R.UNKNOWN_LINK,
    R.UNKNOWN_MESSAGE,
    R.UNKNOWN_ENTRY,
    R.UNKNOWN_DRAFT,
    R.UNKNOWN_CALL,
    R.UNKNOWN_ACTIVATION,
    R.UNKNOWN_TEST,
    R.UNKNOWN_ALERT,
    R.UNKNOWN_USER,
    R.NO_NODE,
}
# It exists, but its state does not allow this now.
_CONFLICT = {
    R.ALREADY_ACKNOWLEDGED,
    R.ALREADY_CLEARED,
    R.ALREADY_CONFIRMED,
    R.WRONG_STATE,
    R.CALL_IN_PROGRESS,
    R.TEST_LAPSED,
    R.NOT_AWAITING_APPROVAL,
    R.ALREADY_PROPOSED,
    R.CONFLICTING_PROPOSAL,
    R.NO_PROPOSAL,
    R.OWN_PROPOSAL,
    R.PHRASEBOOK_NOT_IN_FORCE,
    R.NO_POLICY,
    R.USERNAME_TAKEN,
    R.LAST_ADMINISTRATOR,
    R.NODE_EXISTS,
    R.DUPLICATE_PATH,
    R.TOO_MANY_PATHS,
    R.RELAY_PARTIES,
    R.ALREADY_USED,
    R.EXPIRED,
}
_TOO_LARGE = {R.TOO_LARGE}

STATUS: dict[Reason, int] = {
    reason: (
        403
        if reason in _FORBIDDEN
        else 404
        if reason in _NOT_FOUND
        else 409
        if reason in _CONFLICT
        else 413
        if reason in _TOO_LARGE
        else 400  # the request itself: malformed, unknown names, not an emergency, ...
    )
    for reason in Reason
}


def status_of(reason: Reason) -> int:
    return STATUS[reason]
