"""Why the console said no, in words it can translate: the one place where a refusal
becomes text.

Three kinds of refusal reach an operator: the console's own check of a form
(:class:`Invalid`), the node's (:class:`~hotline.node.home.NodeError`, with a stable
code when it is a :class:`~hotline.node.refusals.Refused`), and a filter the audit log
cannot use (:class:`~hotline.accounts.audit.AuditFilterError`). :func:`refusal_text`
maps each to an English source string and its values; the page translates them. The
audit log keeps ``str(exc)``, in English and untranslated.

A node refusal with a known code maps through a table keyed by that code. The node
does not code every refusal yet, so the others are matched by the opening words of
their English text (:data:`_BY_PROSE`); as codes replace prose, rows move from that
table to :data:`_BY_CODE` and no other module changes.
"""

from __future__ import annotations

import re
from typing import Any

from ...accounts.audit import AuditFilterError
from ...node.home import NodeError
from ...node.refusals import Refused
from .i18n import N_


class Invalid(Exception):
    """Input refused before anything is written; ``message`` is an English source
    string, translated when shown, and ``str()`` is that text with its values filled
    in (for the audit log, which is not translated)."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message.format(**values))
        self.message = message
        self.values = values


# The node's coded refusals.
_BY_CODE = {
    "not_an_emergency": N_(
        "This is not an emergency under the link's policy: name one of the agreed "
        "criteria, or send it on the routine channel."
    ),
    "no_policy": N_(
        "No policy signed by both sides is in force on this link yet, so the emergency "
        "channel cannot be used. Send it on the routine channel."
    ),
    "unknown_criterion": N_(
        "That is not one of the emergency criteria agreed on this link. Choose one, or "
        "send it on the routine channel."
    ),
    "justification_required": N_("Give a short justification for the emergency."),
    "justification_too_long": N_("The justification is too long."),
    "self_approval": N_("A second operator must approve: you cannot approve your own activation."),
    "not_awaiting_approval": N_("That activation is no longer awaiting approval."),
    "unknown_activation": N_("No such emergency activation."),
    "forbidden": N_("Your role does not allow this."),
    "unknown_test": N_("No such link test."),
    "already_confirmed": N_("That link test has already been confirmed."),
    "test_lapsed": N_(
        "That link test can no longer be confirmed: its time to confirm has passed, and "
        "the other side has counted it as missed."
    ),
    "unknown_alert": N_("No such alert."),
    "already_cleared": N_("That alert has already been cleared."),
    "not_addressed": N_("That alert is not addressed to you: it was not cleared."),
}

# The node's other refusals, by how their English text begins; the first match wins.
_BY_PROSE: tuple[tuple[str, str], ...] = (
    (
        r"this message has already been acknowledged",
        N_("This message has already been acknowledged."),
    ),
    (r"the promised response time", N_("The promised response time must be in the future.")),
    (r"a draft needs text", N_("Write a message first.")),
    (r"only the author can", N_("Only the author can change, submit or discard a draft.")),
    (
        r"a call on this link is already",
        N_("A call on this link is already ringing or in progress."),
    ),
    (r"no incoming message", N_("No such incoming message.")),
    (r"no draft", N_("No such draft.")),
    (r"draft \d+ is", N_("That draft is no longer waiting for this step.")),
    (r"no (such )?call", N_("No such call.")),
    (r"the call is", N_("That call has already been answered, or has ended.")),
    (r"session text must be", N_("The line is too long.")),
    (r"unknown decline reason", N_("Choose a reason from the agreed list.")),
    (r"no link|unknown link|link .* not found", N_("No such link.")),
)

# Coded refusals after which the console offers to send the same text as routine.
_ROUTINE_OFFER = frozenset({"not_an_emergency", "no_policy", "unknown_criterion"})

# An audit filter the log cannot use, by the field at fault.
_BY_FILTER_FIELD = {
    "user": N_("The user name to look for is too long, or contains control characters."),
    "action": N_("The action to look for is too long, or contains control characters."),
    "outcome": N_("Choose an outcome from the list."),
    "since": N_("The first day is not a date: use the form YYYY-MM-DD."),
    "until": N_("The last day is not a date: use the form YYYY-MM-DD."),
    "range": N_("The last day comes before the first day."),
    "before": N_("That page of the audit log does not exist."),
}

# A request refused before it reached a page, by its HTTP status.
_BY_STATUS = {
    400: N_("The request was not valid."),
    403: N_("Refused: your role does not allow this, or the form had expired."),
    404: N_("Not found."),
    405: N_("That is not allowed here."),
    422: N_("The form was not filled in correctly."),
}


def refusal_text(exc: NodeError | Invalid | AuditFilterError) -> tuple[str, dict[str, Any]]:
    """The English source string that explains ``exc`` to an operator, and the values
    its placeholders take. Every refusal has a text: an unknown one is shown as the
    node wrote it."""
    if isinstance(exc, Invalid):
        return exc.message, exc.values
    if isinstance(exc, AuditFilterError):
        return _BY_FILTER_FIELD.get(exc.field, N_("The request was not valid.")), {}
    if isinstance(exc, Refused) and exc.code in _BY_CODE:
        return _BY_CODE[exc.code], {}
    text = str(exc)
    for pattern, message in _BY_PROSE:
        if re.match(pattern, text):
            return message, {}
    return N_("Refused by the node: {reason}"), {"reason": text}


def offers_routine(exc: Exception) -> bool:
    """Whether the refusal page offers to send the same text on the routine channel:
    the emergency channel was refused, not the message."""
    return isinstance(exc, Refused) and exc.code in _ROUTINE_OFFER


def status_text(status: int) -> str:
    """The English source string for a request refused with HTTP ``status``."""
    return _BY_STATUS.get(status, N_("The request was refused."))


__all__ = ["Invalid", "offers_routine", "refusal_text", "status_text"]
