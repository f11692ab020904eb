"""The console's templates: one Jinja environment, and the words every page uses in
the operator's language and time zone."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from ...accounts.roles import Permission
from ...language.errors import LanguageError
from ...language.phrasebook import shipped_phrasebook
from ...node.desk.desk import MAX_SESSION_TEXT
from ...node.language.agreed_messages import decline_reasons
from ...node.message_text import MAX_TEXT_CHARS
from . import labels
from .auth import CSRF_FIELD
from .glossed import glossed
from .i18n import LANGUAGES, N_, local_and_utc, translations
from .outside import outside, outside_attribute

MAX_FORM_TEXT = MAX_TEXT_CHARS
RESPOND_BY_HOURS = (1, 4, 12, 24, 72)  # the form's older field, still accepted
# The holding reply's "we will respond within": these, and the link policy's own
# answer window for the message's channel, which is the one offered by default.
RESPOND_BY_MINUTES = (30, 60, 240, 720, 1440, 4320)
# An audit row's outcome as the audit page shows it (translated there).
OUTCOME_LABELS = {"ok": N_("allowed"), "refused": N_("refused")}


def environment(party: str) -> Environment:
    """The templates, autoescaped, with the constants the forms need."""
    env = Environment(
        loader=PackageLoader("hotline.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        LANGUAGES=LANGUAGES,
        # The reasons offered when declining a call; the node checks the one chosen
        # against the phrasebook in force on the call's link.
        DECLINE_REASONS=decline_reasons(shipped_phrasebook()),
        RESPOND_BY_HOURS=RESPOND_BY_HOURS,
        RESPOND_BY_MINUTES=RESPOND_BY_MINUTES,
        CSRF_FIELD=CSRF_FIELD,
        MAX_TEXT=MAX_FORM_TEXT,
        MAX_SESSION_TEXT=MAX_SESSION_TEXT,
        Permission=Permission,
        OUTCOME_LABELS=OUTCOME_LABELS,
        party=party,
    )
    env.filters.update(outside=outside, inert=outside_attribute, glossed=glossed)
    return env


def words(lang: str, zone: str) -> dict[str, Any]:
    """The template's ``_`` (translate), ``when`` (a time), ``duration`` and ``agreed``
    (an agreed text with its parameters), in ``lang`` and the time zone ``zone``."""
    catalogue = translations(lang)

    def gettext(message: str, **values: Any) -> str:
        text = catalogue.gettext(message)
        if not values:
            return text
        if any(isinstance(v, Markup) for v in values.values()):
            # A value already made safe (text from outside, isolated): escape the
            # rest and keep it as it is.
            return Markup(escape(text)).format(**values)
        return text.format(**values)

    def when(ms: int | None) -> str:
        return local_and_utc(ms, lang, zone)

    def duration(ms: int) -> str:
        seconds = max(0, ms) // 1000
        if seconds < 120:
            return gettext("{n} s", n=seconds)
        if seconds < 7200:
            return gettext("{n} min", n=seconds // 60)
        return gettext("{h} h {m} min", h=seconds // 3600, m=seconds % 3600 // 60)

    def agreed(text_id: str, parameters: dict[str, Any]) -> str:
        """An agreed text named inside another body (a decline reason), in the
        shipped phrasebook's wording; messages carry their own rendering."""
        book = shipped_phrasebook()
        if text_id not in book.entries:
            return gettext("(unknown agreed text {id})", id=text_id)
        try:
            return book.render(text_id, lang if lang in book.languages else "en", parameters)
        except LanguageError:
            return gettext("(agreed text {id} with missing parameters)", id=text_id)

    def after(ms: int) -> str:
        """How long after the message was written a rung was reached: +0.3 s, +4 min."""
        if ms < 0:
            ms = 0
        if ms < 10_000:
            return gettext("+{n} s", n=f"{ms / 1000:.1f}")
        return "+" + duration(ms)

    def window(minutes: int) -> str:
        """A response window as people say it: 30 min, 4 h, 1 h 30 min."""
        if minutes < 60 or (minutes < 120 and minutes % 60):
            return gettext("{n} min", n=minutes)
        if minutes % 60:
            return gettext("{h} h {m} min", h=minutes // 60, m=minutes % 60)
        return gettext("{n} h", n=minutes // 60)

    return {
        "_": gettext,
        "when": when,
        "duration": duration,
        "agreed": agreed,
        "window": window,
        "after": after,
        "respond_by_choices": respond_by_choices,
        "colon": labels.colon(lang),
        "person": lambda label: labels.person(label, lang),
        "audit_action": lambda code: labels.audit_action(code, lang),
        "audit_detail": lambda detail: labels.audit_detail(detail, lang),
    }


def respond_by_choices(policy_minutes: int | None) -> tuple[list[int], int]:
    """The holding reply's offered windows (minutes) and the one chosen by default:
    the policy's answer window when a policy is in force, else a day."""
    choices = set(RESPOND_BY_MINUTES)
    if policy_minutes:
        choices.add(policy_minutes)
    return sorted(choices), policy_minutes or 1440


__all__ = [
    "MAX_FORM_TEXT",
    "RESPOND_BY_HOURS",
    "RESPOND_BY_MINUTES",
    "environment",
    "respond_by_choices",
    "words",
]
