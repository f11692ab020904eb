"""Why the console said no, in words it can translate: the one place where a refusal
becomes text.

Three kinds of refusal reach an operator: the console's own check of a form
(:class:`Invalid`), the node's (:class:`~hotline.errors.Refused`, with its stable
reason), and a filter the audit log cannot use
(:class:`~hotline.accounts.audit.AuditFilterError`). :func:`refusal_text` maps each to
an English source string and its values; the page translates them. The audit log
keeps ``str(exc)``, in English and untranslated.

A node refusal maps through one table keyed by its stable reason
(:mod:`.reasons`); nothing is matched from its prose, so rewording a detail cannot
break its translation.
"""

from __future__ import annotations

from typing import Any

from ...accounts.audit import AuditFilterError
from ...errors import Refused
from .i18n import N_
from .reasons import ROUTINE_OFFER, TEXT


class Invalid(Exception):
    """Input refused before anything is written; ``message`` is an English source
    string, translated when shown, and ``str()`` is that text with its values filled
    in (for the audit log, which is not translated)."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message.format(**values))
        self.message = message
        self.values = values


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


def refusal_text(exc: Exception) -> tuple[str, dict[str, Any]]:
    """The English source string that explains ``exc`` to an operator, and the values
    its placeholders take. Every refusal has a text: a refusal with a reason is looked
    up by it (:data:`~hotline.web.console.reasons.TEXT`, which holds every reason);
    anything else is shown as the node wrote it."""
    if isinstance(exc, Invalid):
        return exc.message, exc.values
    if isinstance(exc, AuditFilterError):
        return _BY_FILTER_FIELD.get(exc.field, N_("The request was not valid.")), {}
    if isinstance(exc, Refused):
        return TEXT[exc.reason], {}
    return N_("Refused by the node: {reason}"), {"reason": str(exc)}


def offers_routine(exc: Exception) -> bool:
    """Whether the refusal page offers to send the same text on the routine channel:
    the emergency channel was refused, not the message."""
    return isinstance(exc, Refused) and exc.reason in ROUTINE_OFFER


def status_text(status: int) -> str:
    """The English source string for a request refused with HTTP ``status``."""
    return _BY_STATUS.get(status, N_("The request was refused."))


__all__ = ["Invalid", "offers_routine", "refusal_text", "status_text"]
