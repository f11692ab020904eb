"""Console languages: English (the source strings) and Simplified Chinese (a Babel
catalogue), and times in the operator's time zone with UTC beside them."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = {"en": "English", "zh-Hans": "简体中文"}
BABEL_LOCALES = {"en": "en", "zh-Hans": "zh_Hans"}


def N_(message: str) -> str:
    """Marks a string for the catalogue; it is translated where it is shown."""
    return message


# Role names as the console shows them (the templates translate these).
ROLE_LABELS = (
    N_("duty officer"),
    N_("principal"),
    N_("translator"),
    N_("supervisor"),
    N_("administrator"),
    N_("observer"),
)


@cache
def translations(language: str) -> NullTranslations:
    """The catalogue for ``language``, compiled in memory from its ``.po`` file."""
    if language == "en" or language not in LANGUAGES:
        return NullTranslations()
    source = files("hotline").joinpath(f"locale/{BABEL_LOCALES[language]}/LC_MESSAGES/messages.po")
    with source.open("rb") as handle:
        catalog = read_po(handle, locale=BABEL_LOCALES[language])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def translate(language: str, message: str, values: dict[str, Any] | None = None) -> str:
    """``message`` (an English source string) in ``language``, its values filled in."""
    text = translations(language).gettext(message)
    return text.format(**values) if values else text


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_and_utc(ms: int | None, language: str, time_zone: str) -> str:
    """'2023-02-02 14:05:09 EST (19:05:09 UTC)' in the operator's language and zone; the
    UTC part carries its date too when that is another day."""
    if ms is None:
        return "—"
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    locale = BABEL_LOCALES.get(language, "en")
    local = format_datetime(
        moment, "yyyy-MM-dd HH:mm:ss zzz", tzinfo=zone(time_zone), locale=locale
    )
    here = moment.astimezone(zone(time_zone))
    same_day = here.date() == moment.date()
    pattern = "HH:mm:ss" if same_day else "yyyy-MM-dd HH:mm:ss"
    utc = format_datetime(moment, pattern, tzinfo=ZoneInfo("UTC"), locale=locale)
    return f"{local} ({utc} UTC)"
