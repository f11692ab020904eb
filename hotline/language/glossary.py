"""The shared glossary: for each term, each side's own term, definition and usage
notes side by side, in every language, marked where the two definitions differ.

The two sides of a link use the same words with different meanings ("freedom of
navigation", "provocation"); the glossary puts both meanings in front of the reader.
Like the phrasebook it is a versioned document both parties sign: its
:meth:`Glossary.digest` covers meaning, not file layout, and :func:`diff` lists what
changed between versions, field by field.

:func:`find_terms` finds glossary terms in a text, for highlighting: in a language
written with spaces (English) a term matches whole words, ignoring case; in one
without (Chinese) it matches as a substring. The longest match wins and matches
never overlap. Which rule a language follows is data (``word_boundaries`` in
``data/languages/<language>.json``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from . import versioned
from .conventions import conventions, shipped_languages
from .errors import InvalidDocument, Problem, Reason
from .versioned import DOCUMENT, ID, Problems, known_keys, wording

FORMAT = 1


@dataclass(frozen=True)
class SideEntry:
    """One side's reading of a term; every text is keyed by language. ``aliases`` are
    further forms (plurals, abbreviations) that :func:`find_terms` also matches."""

    term: Mapping[str, str]
    definition: Mapping[str, str]
    notes: Mapping[str, str] | None
    aliases: Mapping[str, tuple[str, ...]]

    def canonical(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "term": dict(self.term),
            "definition": dict(self.definition),
            "aliases": {language: sorted(forms) for language, forms in self.aliases.items()},
        }
        if self.notes is not None:
            value["notes"] = dict(self.notes)
        return value


@dataclass(frozen=True)
class Term:
    """A glossary term: every side's entry, and whether (and how) their definitions
    differ. ``difference`` is given exactly when ``differs`` is true."""

    id: str
    differs: bool
    difference: Mapping[str, str] | None
    sides: Mapping[str, SideEntry]

    def canonical(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "differs": self.differs,
            "sides": {side: entry.canonical() for side, entry in self.sides.items()},
        }
        if self.difference is not None:
            value["difference"] = dict(self.difference)
        return value


@dataclass(frozen=True)
class Span:
    """Where a glossary term occurs in a text: ``text[start:end]`` is ``matched``, a
    form of ``term`` in ``language`` used by ``sides``."""

    start: int
    end: int
    term: str
    language: str
    matched: str
    sides: tuple[str, ...]


@dataclass(frozen=True)
class Glossary:
    id: str
    version: int
    languages: tuple[str, ...]
    note: Mapping[str, str]
    sides: Mapping[str, Mapping[str, str]]  # side id -> name in each language
    terms: Mapping[str, Term]

    def canonical(self) -> dict[str, Any]:
        return {
            "document": "glossary",
            "format": FORMAT,
            "id": self.id,
            "version": self.version,
            "languages": sorted(self.languages),
            "note": dict(self.note),
            "sides": {side: {"names": dict(names)} for side, names in self.sides.items()},
            "terms": {term.id: term.canonical() for term in self.terms.values()},
        }

    def encode(self) -> bytes:
        """Deterministic CBOR of :meth:`canonical`."""
        return versioned.encoding(self.canonical())

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`encode`: what both parties sign."""
        return versioned.digest(self.canonical())

    def find_terms(self, text: str, languages: Sequence[str] | None = None) -> list[Span]:
        """See :func:`find_terms`."""
        return find_terms(self, text, languages)

    @functools.cached_property
    def _matchers(self) -> dict[str, list[tuple[re.Pattern[str], str, tuple[str, ...]]]]:
        """Per language: one pattern per distinct form, with its term and sides."""
        matchers: dict[str, list[tuple[re.Pattern[str], str, tuple[str, ...]]]] = {}
        for language in self.languages:
            whole_words = conventions(language).word_boundaries
            found = []
            for (form, term), sides in _forms(self, language).items():
                body = r"\s+".join(re.escape(word) for word in form.split())
                if whole_words:
                    body = rf"(?<!\w){body}(?!\w)"
                found.append((re.compile(body, re.IGNORECASE), term, tuple(sorted(sides))))
            matchers[language] = found
        return matchers


def _forms(glossary: Glossary, language: str) -> dict[tuple[str, str], set[str]]:
    """(folded form, term) -> the sides that use it."""
    forms: dict[tuple[str, str], set[str]] = {}
    for term in glossary.terms.values():
        for side, entry in term.sides.items():
            for form in (entry.term[language], *entry.aliases.get(language, ())):
                forms.setdefault((_fold(form), term.id), set()).add(side)
    return forms


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def find_terms(glossary: Glossary, text: str, languages: Sequence[str] | None = None) -> list[Span]:
    """Glossary terms in ``text`` (in ``languages``, by default all the glossary's), in
    order of position. Among overlapping candidates the longest is taken first, then
    the earliest; a taken span excludes every candidate that overlaps it."""
    candidates = []
    for language in languages if languages is not None else glossary.languages:
        for pattern, term, sides in glossary._matchers.get(language, ()):
            for match in pattern.finditer(text):
                candidates.append((match.start(), match.end(), term, language, sides))
    candidates.sort(key=lambda c: (c[0] - c[1], c[0]))
    taken = bytearray(len(text))
    spans = []
    for start, end, term, language, sides in candidates:
        if any(taken[start:end]):
            continue
        taken[start:end] = b"\x01" * (end - start)
        spans.append(Span(start, end, term, language, text[start:end], sides))
    return sorted(spans, key=lambda span: span.start)


# Loading -----------------------------------------------------------------------------


def shipped_glossary() -> Glossary:
    """The glossary that ships with Hotline (read once per process)."""
    return _shipped()


@functools.cache
def _shipped() -> Glossary:
    path = resources.files("hotline.language").joinpath("data", "glossary.json")
    return parse_glossary(versioned.read_json(path.read_text("utf-8"), "glossary.json"))


def parse_glossary(document: object) -> Glossary:
    """A glossary from its document: ``{"format", "id", "version", "languages",
    "note", "sides": [{"id", "names"}], "terms": [{"id", "differs", "difference"?,
    "sides": {side: {"term", "definition", "notes"?, "aliases"?}}}]}``. Refuses with
    every problem named by term and field."""
    refuse = Problems()
    if not isinstance(document, Mapping):
        raise InvalidDocument([Problem(DOCUMENT, "", Reason.MALFORMED, "expected a map")])
    known_keys(
        document,
        {"format", "id", "version", "languages", "note", "sides", "terms"},
        DOCUMENT,
        refuse,
    )
    if document.get("format") != FORMAT:
        refuse(DOCUMENT, "format", Reason.MALFORMED, f"expected format {FORMAT}")
    glossary_id, version = document.get("id"), document.get("version")
    if not isinstance(glossary_id, str) or not ID.fullmatch(glossary_id):
        refuse(DOCUMENT, "id", Reason.MALFORMED, "expected an id (a-z, 0-9, -)")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        refuse(DOCUMENT, "version", Reason.MALFORMED, "expected a positive integer")
    languages = document.get("languages")
    if (
        not isinstance(languages, list)
        or not languages
        or any(language not in shipped_languages() for language in languages)
        or len(set(languages)) != len(languages)
    ):
        refuse(
            DOCUMENT, "languages", Reason.UNKNOWN_LANGUAGE, "distinct languages with conventions"
        )
        raise InvalidDocument(refuse)
    note = wording(document.get("note"), languages, DOCUMENT, "note", refuse)
    sides = _sides(document.get("sides"), languages, refuse)
    terms: dict[str, Term] = {}
    listed = document.get("terms")
    if not isinstance(listed, list):
        refuse(DOCUMENT, "terms", Reason.MALFORMED, "expected a list")
        listed = []
    for position, raw in enumerate(listed):
        term = _term(raw, position, languages, sides, refuse)
        if term is None:
            continue
        if term.id in terms:
            refuse(term.id, "id", Reason.DUPLICATE_ID, "this id is used by an earlier term")
            continue
        terms[term.id] = term
    if refuse:
        raise InvalidDocument(refuse)
    glossary = Glossary(
        cast(str, glossary_id), cast(int, version), tuple(languages), note, sides, terms
    )
    _check_forms(glossary, refuse)
    if refuse:
        raise InvalidDocument(refuse)
    return glossary


def _sides(listed: object, languages: Sequence[str], refuse: Problems) -> dict[str, dict[str, str]]:
    sides: dict[str, dict[str, str]] = {}
    if not isinstance(listed, list) or len(listed) < 2:
        refuse(DOCUMENT, "sides", Reason.MALFORMED, "expected a list of at least two sides")
        return sides
    for raw in listed:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
            refuse(DOCUMENT, "sides", Reason.MALFORMED, "expected {id, names}")
            continue
        if raw["id"] in sides:
            refuse(raw["id"], "id", Reason.DUPLICATE_ID, "this side is listed twice")
            continue
        sides[raw["id"]] = wording(raw.get("names"), languages, raw["id"], "names", refuse)
    return sides


def _term(
    raw: object,
    position: int,
    languages: Sequence[str],
    sides: Mapping[str, Any],
    refuse: Problems,
) -> Term | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        refuse(f"(term {position + 1})", "id", Reason.MALFORMED, "expected a term with an id")
        return None
    term_id, before = raw["id"], len(refuse)
    if not ID.fullmatch(term_id):
        refuse(term_id, "id", Reason.MALFORMED, "ids use a-z, 0-9 and -")
    known_keys(raw, {"id", "differs", "difference", "sides"}, term_id, refuse)
    differs = raw.get("differs")
    if not isinstance(differs, bool):
        refuse(term_id, "differs", Reason.MALFORMED, "expected true or false")
    difference = None
    if differs is True:
        difference = wording(raw.get("difference"), languages, term_id, "difference", refuse)
    elif "difference" in raw:
        refuse(term_id, "difference", Reason.MALFORMED, "only a term that differs has one")
    entries: dict[str, SideEntry] = {}
    given = raw.get("sides")
    if not isinstance(given, Mapping):
        refuse(term_id, "sides", Reason.MALFORMED, "expected an entry per side")
        given = {}
    for side in given:
        if side not in sides:
            refuse(term_id, f"sides.{side}", Reason.MALFORMED, "not a side of this glossary")
    for side in sides:
        entry = given.get(side)
        at = f"sides.{side}"
        if not isinstance(entry, Mapping):
            refuse(term_id, at, Reason.MISSING_LANGUAGE, "no entry for this side")
            continue
        known_keys(entry, {"term", "definition", "notes", "aliases"}, term_id, refuse)
        notes = None
        if "notes" in entry:
            notes = wording(entry["notes"], languages, term_id, f"{at}.notes", refuse)
        entries[side] = SideEntry(
            wording(entry.get("term"), languages, term_id, f"{at}.term", refuse),
            wording(entry.get("definition"), languages, term_id, f"{at}.definition", refuse),
            notes,
            _aliases(entry.get("aliases", {}), languages, term_id, f"{at}.aliases", refuse),
        )
    if len(refuse) > before:
        return None
    return Term(term_id, bool(differs), difference, entries)


def _aliases(
    raw: object, languages: Sequence[str], term_id: str, at: str, refuse: Problems
) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        refuse(term_id, at, Reason.MALFORMED, "expected a list of forms per language")
        return {}
    aliases = {}
    for language, forms in raw.items():
        if language not in languages:
            refuse(term_id, f"{at}.{language}", Reason.UNKNOWN_LANGUAGE, "not a glossary language")
        elif not isinstance(forms, list) or not all(
            isinstance(f, str) and f.strip() for f in forms
        ):
            refuse(term_id, f"{at}.{language}", Reason.MALFORMED, "expected a list of forms")
        else:
            aliases[language] = tuple(forms)
    return aliases


def _check_forms(glossary: Glossary, refuse: Problems) -> None:
    """A form that belongs to two terms would highlight as either: refused."""
    for language in glossary.languages:
        owners: dict[str, str] = {}
        for form, term in _forms(glossary, language):
            if form in owners and owners[form] != term:
                refuse(
                    term,
                    f"forms.{language}",
                    Reason.DUPLICATE_ID,
                    f"{form!r} is also a form of {owners[form]}",
                )
            owners.setdefault(form, term)


# Diff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermChange:
    id: str
    fields: tuple[str, ...]  # dotted paths, e.g. "sides.cn.definition.en", "differs"


@dataclass(frozen=True)
class GlossaryDiff:
    old_version: int
    new_version: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[TermChange, ...]
    document: tuple[str, ...]  # changed fields outside the terms: note, sides, languages

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.document)


def diff(old: Glossary, new: Glossary) -> GlossaryDiff:
    """What changed from ``old`` to ``new``, term by term (in ``new``'s order)."""
    before, after = old.canonical(), new.canonical()
    changed = []
    for term_id in new.terms:
        if term_id in old.terms:
            fields = versioned.changed_paths(before["terms"][term_id], after["terms"][term_id])
            if fields:
                changed.append(TermChange(term_id, tuple(fields)))
    outside = ("terms", "version")
    return GlossaryDiff(
        old.version,
        new.version,
        tuple(t for t in new.terms if t not in old.terms),
        tuple(t for t in old.terms if t not in new.terms),
        tuple(changed),
        tuple(
            versioned.changed_paths(
                {k: v for k, v in before.items() if k not in outside},
                {k: v for k, v in after.items() if k not in outside},
            )
        ),
    )
