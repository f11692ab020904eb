"""Codes as people read them, in the operator's language: audit actions and their
details, the people named in receipts ("Beijing duty officer (duty officer)" is
stored as signed; its role part is shown from the role's code), the system actor,
and the punctuation that goes with each language."""

from __future__ import annotations

import re
from typing import Any

from ...errors import Reason
from .i18n import N_, translations
from .reasons import TEXT as REASON_TEXT

AUDIT_ACTIONS = {
    "login": N_("log in"),
    "logout": N_("log out"),
    "language": N_("change of language"),
    "console.forbidden": N_("page or action refused"),
    "console.csrf": N_("form refused (wrong or missing token)"),
    "reauthenticate": N_("password asked again"),
    "emergency.request": N_("emergency requested"),
    "emergency.credential": N_("second operator's credentials"),
    "escalation.set": N_("escalation set"),
    "policy.propose": N_("policy proposed"),
    "session.create": N_("session started"),
    "session.revoke": N_("session ended by an administrator"),
    "session.revoke_all": N_("all sessions ended"),
    "session.prune": N_("expired sessions removed"),
    "session.text": N_("text in a call"),
    "session.join": N_("joined a call"),
    "session.leave": N_("left a call"),
    "user.add": N_("account added"),
    "user.disable": N_("account disabled"),
    "user.enable": N_("account enabled"),
    "user.password": N_("password changed"),
    "user.update": N_("account changed"),
    "user.totp.enable": N_("two-factor login turned on"),
    "user.totp.disable": N_("two-factor login turned off"),
    "message.compose": N_("message written"),
    "message.acknowledge": N_("message acknowledged"),
    "draft.save": N_("draft saved"),
    "draft.submit": N_("draft submitted"),
    "draft.discard": N_("draft discarded"),
    "draft.approve": N_("reply approved"),
    "draft.reject": N_("reply sent back"),
    "call.request": N_("call requested"),
    "call.accept": N_("call accepted"),
    "call.decline": N_("call declined"),
    "call.cancel": N_("call cancelled"),
    "call.end": N_("call ended"),
    "emergency.approve": N_("emergency approved"),
    "emergency.reject": N_("emergency rejected"),
    "alert.clear": N_("alert cleared"),
    "link_test.confirm": N_("link test confirmed"),
    "policy.accept": N_("policy accepted"),
    "record.export": N_("record downloaded"),
}
DETAIL_KEYS = {
    "reason": N_("reason"),
    "code": N_("code"),
    "bytes": N_("bytes"),
    "entries": N_("entries"),
    "count": N_("count"),
    "language": N_("language"),
    "user_agent": N_("browser"),
    "sessions_revoked": N_("sessions ended"),
}
SYSTEM = N_("system")
ROLES = {
    "duty officer": N_("duty officer"),
    "principal": N_("principal"),
    "translator": N_("translator"),
    "supervisor": N_("supervisor"),
    "administrator": N_("administrator"),
    "observer": N_("observer"),
}
_REASONS = frozenset(reason.value for reason in REASON_TEXT)
_LABEL = re.compile(r"^(?P<name>.*\S)\s+\((?P<role>[a-z ]+)\)$")


def colon(lang: str) -> str:
    """The colon after a label: full-width in Chinese."""
    return "：" if lang == "zh-Hans" else ": "


def audit_action(code: str, lang: str) -> str:
    label = AUDIT_ACTIONS.get(code)
    return translations(lang).gettext(label) if label else code


def audit_detail(detail: dict[str, Any] | None, lang: str) -> list[tuple[str, str]]:
    """The detail as (label, value) pairs, labels from the catalogue; no JSON."""
    if not detail:
        return []
    catalogue = translations(lang)
    pairs = []
    for key in sorted(detail):
        label = DETAIL_KEYS.get(key)
        value = detail[key]
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if key in ("code", "reason") and shown in _REASONS:
            # A stable reason: its sentence in the reader's language, the code after it.
            sentence = catalogue.gettext(REASON_TEXT[Reason(shown)])
            shown = f"{sentence}（{shown}）" if lang == "zh-Hans" else f"{sentence} ({shown})"
        pairs.append((catalogue.gettext(label) if label else key, shown))
    return pairs


def person(label: str | None, lang: str) -> str:
    """A person as a receipt names them, the role in the operator's language."""
    if not label:
        return ""
    catalogue = translations(lang)
    if label == "system":
        return catalogue.gettext(SYSTEM)
    found = _LABEL.match(label)
    code = found["role"] if found else None
    if found is None or code not in ROLES:
        return label
    role = catalogue.gettext(ROLES[code])
    if lang == "zh-Hans":
        return f"{found['name']}（{role}）"
    return f"{found['name']} ({role})"


__all__ = ["audit_action", "audit_detail", "colon", "person"]
