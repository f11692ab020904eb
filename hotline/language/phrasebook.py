"""The phrasebook: agreed texts both parties accepted in advance, in every working
language, with typed parameters.

A phrasebook is a versioned document (id, version, languages, categories, entries).
An entry has a stable id, a category, declared parameters (name -> type and
constraints, see :mod:`hotline.language.parameters`) and its wording in every
language of the phrasebook, with ``{name}`` placeholders. A message built from an
entry travels as ``{"entry": id, "version": n, "parameters": {...}}`` with canonical
parameter values, and each side renders it exactly, in its own language, with no
translation in between.

Loading refuses the whole document, listing every problem by entry and field, when a
language is missing, placeholders and declared parameters differ, a type is unknown,
an id repeats, an enumeration option lacks wording, or a template is malformed.

The shipped phrasebook lives in ``data/phrasebook/``: ``index.json`` (id, version,
languages, categories, shared enumerations) and one file per category holding that
category's entries, so that translators read and diff one subject at a time.
:meth:`Phrasebook.digest` (SHA-256 of the canonical encoding) is what both parties
sign; it covers meaning, not file layout or entry order.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from . import versioned
from .conventions import shipped_languages
from .declarations import DeclarationError, parse_declaration
from .errors import InvalidDocument, Problem, Reason, Refused
from .parameters import Canonical, Enumeration, ParameterType, validate_parameters
from .text_index import TextIndex, fold
from .versioned import DOCUMENT, ID, Problems, known_keys, wording

FORMAT = 1  # the layout of the document; part of the canonical encoding
_PARAMETER = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class Template:
    """One entry's wording in one language, parsed once: literal text and placeholders."""

    text: str
    pieces: tuple[tuple[str, str | None], ...]

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(name for _, name in self.pieces if name is not None)

    def fill(self, rendered: Mapping[str, str]) -> str:
        return "".join(lit + (rendered[name] if name else "") for lit, name in self.pieces)


def parse_template(text: str) -> Template:
    """Parses ``text`` (``{name}`` placeholders, ``{{`` and ``}}`` for braces); raises
    ValueError for unbalanced braces, positional fields, formats and conversions."""
    pieces = []
    for literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None and (spec or conversion or not _PARAMETER.fullmatch(name)):
            raise ValueError(f"placeholder {{{name}}} is not a plain parameter name")
        pieces.append((literal, name))
    return Template(text, tuple(pieces))


@dataclass(frozen=True)
class Category:
    id: str
    names: Mapping[str, str]  # language -> name


@dataclass(frozen=True)
class Entry:
    """One agreed text. ``text`` holds the wording as written; ``templates`` the same,
    parsed. Every language's placeholders are exactly the declared parameters."""

    id: str
    category: str
    parameters: Mapping[str, ParameterType]
    text: Mapping[str, str]
    templates: Mapping[str, Template] = field(repr=False, compare=False)

    def validate(self, parameters: object) -> dict[str, Canonical]:
        """Every declared parameter, and only those, in canonical form."""
        return validate_parameters(self.parameters, parameters)

    def render(self, language: str, parameters: object) -> str:
        """The exact text in ``language``, parameters validated first."""
        template = self.templates.get(language)
        if template is None:
            raise Refused(Reason.UNKNOWN_LANGUAGE, f"{self.id} has no wording in {language!r}")
        values = self.validate(parameters)
        return template.fill(
            {name: kind.render(values[name], language) for name, kind in self.parameters.items()}
        )

    def canonical(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "parameters": {n: t.declaration() for n, t in self.parameters.items()},
            "text": dict(self.text),
        }


@dataclass(frozen=True)
class PhraseMessage:
    """A message body made from an entry, parameters in canonical form."""

    entry: str
    version: int
    parameters: Mapping[str, Canonical]

    def body(self) -> dict[str, Any]:
        return {"entry": self.entry, "version": self.version, "parameters": dict(self.parameters)}


@dataclass(frozen=True)
class SearchHit:
    entry: Entry
    score: int  # higher is better; only comparable within one search


@dataclass(frozen=True)
class Phrasebook:
    """A validated phrasebook. Mappings keep the files' order (for presentation);
    the order is not part of what is signed."""

    id: str
    version: int
    languages: tuple[str, ...]
    categories: Mapping[str, Category]
    entries: Mapping[str, Entry]

    def entry(self, entry_id: str) -> Entry:
        found = self.entries.get(entry_id)
        if found is None:
            raise Refused(Reason.UNKNOWN_ENTRY, f"no entry {entry_id[:64]!r}", parameter="entry")
        return found

    def render(self, entry_id: str, language: str, parameters: object = None) -> str:
        """The exact text of an entry in ``language`` with ``parameters`` (validated)."""
        return self.entry(entry_id).render(language, {} if parameters is None else parameters)

    def message(self, entry_id: str, parameters: object = None) -> PhraseMessage:
        """A message body for an entry of this version, parameters validated."""
        entry = self.entry(entry_id)
        values = entry.validate({} if parameters is None else parameters)
        return PhraseMessage(entry.id, self.version, values)

    def validate_message(self, body: object) -> PhraseMessage:
        """A received ``{"entry", "version", "parameters"}`` body checked against this
        version; refuses (naming the field or parameter) anything else, including
        parameter values that are valid but not in canonical form."""
        if not isinstance(body, Mapping):
            raise Refused(Reason.NOT_A_MESSAGE, "expected a map")
        for key in body:
            if key not in ("entry", "version", "parameters"):
                raise Refused(Reason.UNKNOWN_FIELD, "not part of a message", parameter=str(key))
        entry_id, version = body.get("entry"), body.get("version")
        if not isinstance(entry_id, str):
            raise Refused(Reason.NOT_A_MESSAGE, "expected an entry id", parameter="entry")
        if not isinstance(version, int) or isinstance(version, bool):
            raise Refused(Reason.NOT_A_MESSAGE, "expected a version number", parameter="version")
        if version != self.version:
            raise Refused(
                Reason.WRONG_VERSION,
                f"version {version}, this phrasebook is version {self.version}",
                parameter="version",
            )
        if "parameters" not in body:
            raise Refused(Reason.NOT_A_MESSAGE, "no parameters", parameter="parameters")
        entry = self.entry(entry_id)
        values = entry.validate(body["parameters"])
        for name, value in values.items():
            if body["parameters"][name] != value:
                raise Refused(Reason.BAD_FORMAT, "not in canonical form", parameter=name)
        return PhraseMessage(entry.id, version, values)

    def canonical(self) -> dict[str, Any]:
        """The signed content: maps keyed by id, so file layout and order do not count."""
        return {
            "document": "phrasebook",
            "format": FORMAT,
            "id": self.id,
            "version": self.version,
            "languages": sorted(self.languages),
            "categories": {c.id: {"names": dict(c.names)} for c in self.categories.values()},
            "entries": {e.id: e.canonical() for e in self.entries.values()},
        }

    def encode(self) -> bytes:
        """Deterministic CBOR of :meth:`canonical`."""
        return versioned.encoding(self.canonical())

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`encode`: what both parties sign."""
        return versioned.digest(self.canonical())

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Entries matching ``query``, best first: words of a word-separated language
        (whole word, or a prefix of two letters or more), substrings of the others
        (Chinese), and romanised words (pinyin, at syllable boundaries)."""
        return [SearchHit(entry, score) for entry, score in self._index.search(query, limit)]

    @functools.cached_property
    def _index(self) -> TextIndex[Entry]:
        entries = list(self.entries.values())
        texts = [{lang: _searchable(e, lang, self) for lang in self.languages} for e in entries]
        return TextIndex(entries, texts)


# Loading -----------------------------------------------------------------------------


def shipped_phrasebook() -> Phrasebook:
    """The phrasebook that ships with Hotline (read once per process)."""
    return _shipped()


@functools.cache
def _shipped() -> Phrasebook:
    folder = resources.files("hotline.language").joinpath("data", "phrasebook")
    index = versioned.read_json(folder.joinpath("index.json").read_text("utf-8"), "index.json")
    files = {}
    for category in index.get("categories", []) if isinstance(index, dict) else []:
        name = f"{category.get('id')}.json"
        files[category.get("id")] = versioned.read_json(
            folder.joinpath(name).read_text("utf-8"), name
        )
    return load_phrasebook(index, files)


def load_phrasebook(index: object, entries_by_category: Mapping[str, object]) -> Phrasebook:
    """A phrasebook from its index document and, per category id, that category's list
    of entries (each file's content). Refuses with every problem listed."""
    if not isinstance(index, Mapping):
        raise InvalidDocument([Problem(DOCUMENT, "index", Reason.MALFORMED, "expected a map")])
    entries: list[Any] = []
    problems = []
    for category, listed in entries_by_category.items():
        if not isinstance(listed, list):
            problems.append(Problem(DOCUMENT, category, Reason.MALFORMED, "expected a list"))
            continue
        entries.extend(
            {**item, "category": category} if isinstance(item, Mapping) else item for item in listed
        )
    if problems:
        raise InvalidDocument(problems)
    return parse_phrasebook({**index, "entries": entries})


def parse_phrasebook(document: object) -> Phrasebook:
    """A phrasebook from one document: ``{"format", "id", "version", "languages",
    "categories": [{"id", "names"}], "enumerations"?: {name: options},
    "entries": [{"id", "category", "parameters"?, "text"}]}``."""
    refuse = problems = Problems()
    if not isinstance(document, Mapping):
        raise InvalidDocument([Problem(DOCUMENT, "", Reason.MALFORMED, "expected a map")])
    known_keys(
        document,
        {"format", "id", "version", "languages", "categories", "enumerations", "entries"},
        DOCUMENT,
        refuse,
    )
    book_id, version, languages = _header(document, refuse)
    categories = _categories(document.get("categories"), languages, refuse)
    shared = document.get("enumerations", {})
    if not isinstance(shared, Mapping):
        refuse(DOCUMENT, "enumerations", Reason.MALFORMED, "expected a map")
        shared = {}
    entries: dict[str, Entry] = {}
    listed = document.get("entries")
    if not isinstance(listed, list):
        refuse(DOCUMENT, "entries", Reason.MALFORMED, "expected a list")
        listed = []
    for position, raw in enumerate(listed):
        entry = _entry(raw, position, languages, categories, shared, refuse)
        if entry is None:
            continue
        if entry.id in entries:
            refuse(entry.id, "id", Reason.DUPLICATE_ID, "this id is used by an earlier entry")
            continue
        entries[entry.id] = entry
    if problems:
        raise InvalidDocument(problems)
    return Phrasebook(book_id, version, languages, categories, entries)


def _header(document: Mapping[str, Any], refuse: Problems) -> tuple[str, int, tuple[str, ...]]:
    if document.get("format") != FORMAT:
        refuse(DOCUMENT, "format", Reason.MALFORMED, f"expected format {FORMAT}")
    book_id = document.get("id")
    if not isinstance(book_id, str) or not ID.fullmatch(book_id):
        refuse(DOCUMENT, "id", Reason.MALFORMED, "expected an id (a-z, 0-9, -)")
        book_id = ""
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        refuse(DOCUMENT, "version", Reason.MALFORMED, "expected a positive integer")
        version = 0
    languages = document.get("languages")
    if not isinstance(languages, list) or not languages or len(set(languages)) != len(languages):
        refuse(DOCUMENT, "languages", Reason.MALFORMED, "expected distinct languages")
        return book_id, version, ()
    for language in languages:
        if language not in shipped_languages():
            refuse(DOCUMENT, "languages", Reason.UNKNOWN_LANGUAGE, f"no conventions: {language!r}")
            return book_id, version, ()
    return book_id, version, tuple(languages)


def _categories(listed: object, languages: Sequence[str], refuse: Problems) -> dict[str, Category]:
    categories: dict[str, Category] = {}
    if not isinstance(listed, list):
        refuse(DOCUMENT, "categories", Reason.MALFORMED, "expected a list")
        return categories
    for raw in listed:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
            refuse(DOCUMENT, "categories", Reason.MALFORMED, "expected {id, names}")
            continue
        category_id = raw["id"]
        known_keys(raw, {"id", "names"}, category_id, refuse)
        if category_id in categories:
            refuse(category_id, "id", Reason.DUPLICATE_ID, "this category is listed twice")
            continue
        names = wording(raw.get("names"), languages, category_id, "names", refuse)
        categories[category_id] = Category(category_id, names)
    return categories


def _entry(
    raw: object,
    position: int,
    languages: Sequence[str],
    categories: Mapping[str, Category],
    shared: Mapping[str, Any],
    refuse: Problems,
) -> Entry | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        refuse(f"(entry {position + 1})", "id", Reason.MALFORMED, "expected an entry with an id")
        return None
    entry_id = raw["id"]
    before = len(refuse)
    if not ID.fullmatch(entry_id):
        refuse(entry_id, "id", Reason.MALFORMED, "ids use a-z, 0-9 and -")
    known_keys(raw, {"id", "category", "parameters", "text"}, entry_id, refuse)
    if raw.get("category") not in categories:
        refuse(
            entry_id, "category", Reason.UNKNOWN_CATEGORY, f"no category {raw.get('category')!r}"
        )
    parameters = _parameters(raw.get("parameters", {}), languages, shared, entry_id, refuse)
    text = wording(raw.get("text"), languages, entry_id, "text", refuse)
    templates = {}
    for language, written in text.items():
        try:
            template = parse_template(written)
        except ValueError as exc:
            refuse(entry_id, f"text.{language}", Reason.BAD_TEMPLATE, str(exc))
            continue
        templates[language] = template
        if parameters is not None and template.placeholders != set(parameters):
            missing = sorted(set(parameters) - template.placeholders)
            undeclared = sorted(template.placeholders - set(parameters))
            refuse(
                entry_id,
                f"text.{language}",
                Reason.PARAMETER_MISMATCH,
                f"placeholders differ from the parameters: missing {missing},"
                f" undeclared {undeclared}",
            )
    if len(refuse) > before or parameters is None:
        return None
    return Entry(entry_id, raw["category"], parameters, text, templates)


def _parameters(
    raw: object,
    languages: Sequence[str],
    shared: Mapping[str, Any],
    entry_id: str,
    refuse: Problems,
) -> dict[str, ParameterType] | None:
    if not isinstance(raw, Mapping):
        refuse(entry_id, "parameters", Reason.MALFORMED, "expected a map of parameters")
        return None
    parameters: dict[str, ParameterType] = {}
    ok = True
    for name, declaration in raw.items():
        at = f"parameters.{name}"
        if not _PARAMETER.fullmatch(name):
            refuse(entry_id, at, Reason.MALFORMED, "names use a-z, 0-9 and _")
            ok = False
            continue
        if isinstance(declaration, Mapping) and isinstance(declaration.get("options"), str):
            named = declaration["options"]
            if named not in shared:
                refuse(entry_id, f"{at}.options", Reason.BAD_ENUM, f"no enumeration {named!r}")
                ok = False
                continue
            declaration = {**declaration, "options": shared[named]}
        try:
            parameters[name] = parse_declaration(declaration, languages)
        except DeclarationError as exc:
            refuse(entry_id, f"{at}.{exc.field}".rstrip("."), exc.reason, exc.detail)
            ok = False
    return parameters if ok else None


def _searchable(entry: Entry, language: str, book: Phrasebook) -> str:
    """The entry's wording without placeholders, its category's name and the wording
    of its enumerations' options, folded."""
    parts = [literal for literal, _ in entry.templates[language].pieces]
    parts.append(book.categories[entry.category].names[language])
    for kind in entry.parameters.values():
        if isinstance(kind, Enumeration):
            parts.extend(option[language] for option in kind.options.values())
    return fold(" ".join(parts))


# Diff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryChange:
    id: str
    fields: tuple[str, ...]  # dotted paths, e.g. "text.zh-Hans", "parameters.course"

    @property
    def wording(self) -> tuple[str, ...]:
        """Languages whose wording changed."""
        return tuple(f.removeprefix("text.") for f in self.fields if f.startswith("text."))


@dataclass(frozen=True)
class PhrasebookDiff:
    old_version: int
    new_version: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[EntryChange, ...]
    document: tuple[str, ...]  # changed fields outside the entries: languages, categories

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.document)


def diff(old: Phrasebook, new: Phrasebook) -> PhrasebookDiff:
    """What changed from ``old`` to ``new``, entry by entry (in ``new``'s order)."""
    before, after = old.canonical(), new.canonical()
    changed = []
    for entry_id in new.entries:
        if entry_id in old.entries:
            fields = versioned.changed_paths(
                before["entries"][entry_id], after["entries"][entry_id]
            )
            if fields:
                changed.append(EntryChange(entry_id, tuple(fields)))
    document = versioned.changed_paths(
        {k: v for k, v in before.items() if k not in ("entries", "version")},
        {k: v for k, v in after.items() if k not in ("entries", "version")},
    )
    return PhrasebookDiff(
        old.version,
        new.version,
        tuple(e for e in new.entries if e not in old.entries),
        tuple(e for e in old.entries if e not in new.entries),
        tuple(changed),
        tuple(document),
    )
