"""Compose from the phrasebook at the console: search the entries of the version in
force on the link (words in either language, pinyin), pick one, fill its typed
parameters, preview it in every language, send it.

The panel is plain HTML: searching, picking and previewing are GET requests to the
conversation page (``pq`` the search, ``pe`` the entry, ``p.NAME`` each parameter,
``p.NAME.lat`` / ``.lon`` / ``.value`` / ``.unit`` for the parts of a position or a
quantity), so a reload shows the same panel; sending posts the same fields to
``/links/{link}/agreed``. Each parameter is validated on its own, so every field
shows its own error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import Reason
from ...language.errors import Refused as LanguageRefused
from ...language.parameters import (
    Bearing,
    Duration,
    Enumeration,
    Integer,
    ParameterType,
    Position,
    Quantity,
)
from ...language.phrasebook import Entry, Phrasebook
from .reasons import TEXT

SEARCH_LIMIT = 12
PREFIX = "p."


@dataclass(frozen=True)
class Field:
    """One parameter's input(s): ``parts`` are (suffix, value) for the inputs, and
    ``options`` the choices of an enumeration or a quantity's units."""

    name: str
    kind: str
    parts: tuple[tuple[str, str], ...]
    options: tuple[tuple[str, str], ...] = ()
    error: str | None = None


@dataclass
class Panel:
    """What the phrasebook card shows."""

    book: Phrasebook | None
    query: str = ""
    hits: list[Entry] = field(default_factory=list)
    entry: Entry | None = None
    fields: list[Field] = field(default_factory=list)
    preview: dict[str, str] | None = None  # language -> exact text
    parameters: dict[str, Any] | None = None  # valid, in canonical form


def _int_or_text(raw: str) -> object:
    text = raw.strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) < 17 else text


def read_value(kind: ParameterType, name: str, form: Mapping[str, str]) -> object:
    """The value of parameter ``name`` from the form's fields, in the shape its type
    validates (the type then says whether it is right)."""
    key = PREFIX + name
    if isinstance(kind, Position):
        return {
            "lat": form.get(f"{key}.lat", "").strip(),
            "lon": form.get(f"{key}.lon", "").strip(),
        }
    if isinstance(kind, Quantity):
        return {
            "value": form.get(f"{key}.value", "").strip(),
            "unit": form.get(f"{key}.unit", ""),
        }
    raw = form.get(key, "")
    if isinstance(kind, (Bearing, Integer, Duration)):
        return _int_or_text(raw)
    return raw.strip()


def read_parameters(
    entry: Entry, form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Reason]]:
    """Each parameter validated on its own: canonical values, and per field the reason
    it was refused."""
    values: dict[str, Any] = {}
    errors: dict[str, Reason] = {}
    for name, kind in entry.parameters.items():
        try:
            values[name] = kind.validate(read_value(kind, name, form), name)
        except LanguageRefused as exc:
            errors[name] = Reason(exc.reason.value)
    return values, errors


def _fields(
    entry: Entry, form: Mapping[str, str], errors: Mapping[str, str], lang: str
) -> list[Field]:
    result = []
    for name, kind in entry.parameters.items():
        key = PREFIX + name
        options: tuple[tuple[str, str], ...] = ()
        parts: tuple[tuple[str, str], ...]
        if isinstance(kind, Position):
            parts = (("lat", form.get(f"{key}.lat", "")), ("lon", form.get(f"{key}.lon", "")))
        elif isinstance(kind, Quantity):
            parts = (("value", form.get(f"{key}.value", "")), ("unit", form.get(f"{key}.unit", "")))
            options = tuple((unit, unit) for unit in kind.allowed)
        else:
            parts = (("", form.get(key, "")),)
            if isinstance(kind, Enumeration):
                options = tuple(
                    (key_, wording.get(lang) or next(iter(wording.values())))
                    for key_, wording in kind.options.items()
                )
        result.append(Field(name, kind.kind, parts, options, errors.get(name)))
    return result


def panel(book: Phrasebook | None, query: Mapping[str, str], lang: str, translate: Any) -> Panel:
    """The card for the page's query string: search hits, the chosen entry's fields
    with their errors, and its preview in every language once all are valid."""
    shown = Panel(book, query.get("pq", "")[:200])
    if book is None:
        return shown
    if shown.query.strip():
        shown.hits = [hit.entry for hit in book.search(shown.query, SEARCH_LIMIT)]
    chosen = book.entries.get(query.get("pe", ""))
    if chosen is None:
        return shown
    shown.entry = chosen
    filled = any(k.startswith(PREFIX) for k in query) or not chosen.parameters
    values, reasons = read_parameters(chosen, query) if filled else ({}, {})
    messages = {name: translate(TEXT[reason]) for name, reason in reasons.items()}
    shown.fields = _fields(chosen, query, messages, lang)
    if filled and not reasons:
        shown.parameters = values
        shown.preview = {language: chosen.render(language, values) for language in book.languages}
    return shown


__all__ = ["Panel", "panel", "read_parameters"]
