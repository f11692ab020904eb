"""Glossary protection: agreed terms pass through a machine translation engine untouched.

Before translation each occurrence of a protected source term becomes a placeholder, a short
token of Latin letters and digits (``HLT1``) that translation engines copy as they copy a
serial number; after translation each placeholder becomes the term's agreed rendering. An
engine can still drop or mangle a placeholder: ``restore`` then names the terms it could not
put back, and the caller shows them as missing instead of letting them vanish.

Invariants:

- the placeholder's letters occur nowhere in the text (compared without case), so restoring
  never touches the writer's own words;
- placeholders have one width per text (``HLT01`` ... ``HLT12``), so a digit that follows a
  term in the original never reads as part of the placeholder's number;
- with every term's rendering equal to its source, ``restore(protect(text).text)`` is ``text``.

Matching is exact and case-sensitive, longest term first; a term that begins or ends with a
Latin letter or digit matches only as a whole word there ("EEZ" not inside "EEZA").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

_MARKERS = ("HLT", "QZX", "XJQ", "ZKV", "JQZ", "VXZ")
_WORD = "A-Za-z0-9"


@dataclass(frozen=True)
class ProtectedTerm:
    """A glossary term in the source language and its agreed rendering in the target language."""

    source: str
    target: str

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ValueError("a protected term needs a non-blank source text")


@dataclass(frozen=True)
class Protected:
    """A text with its protected terms replaced by placeholders, and how to put them back.

    ``occurrences[i]`` is the term behind placeholder number ``i + 1``.
    """

    text: str
    marker: str
    width: int
    occurrences: tuple[ProtectedTerm, ...]

    def placeholder(self, index: int) -> str:
        return f"{self.marker}{index + 1:0{self.width}d}"


def protect(text: str, terms: Iterable[ProtectedTerm]) -> Protected:
    """Replace each occurrence of a term in ``text`` by a numbered placeholder."""
    ordered = sorted({term.source: term for term in terms}.values(), key=lambda t: -len(t.source))
    marker = _free_marker(text)
    if not ordered:
        return Protected(text, marker, 1, ())
    pattern = re.compile("|".join(_term_pattern(term.source) for term in ordered))
    by_source = {term.source: term for term in ordered}
    found = tuple(by_source[match.group(0)] for match in pattern.finditer(text))
    width = len(str(len(found)))
    numbers = itertools.count(1)
    replaced = pattern.sub(lambda _: f"{marker}{next(numbers):0{width}d}", text)
    return Protected(replaced, marker, width, found)


def restore(translated: str, protected: Protected) -> tuple[str, tuple[ProtectedTerm, ...]]:
    """Put each term's agreed rendering where its placeholder is; return the terms not found.

    Engines sometimes change a placeholder's case or put a space or hyphen inside it; both are
    still recognised. A number the protection never handed out is left as the engine wrote it.
    """
    if not protected.occurrences:
        return translated, ()
    pattern = re.compile(
        rf"{re.escape(protected.marker)}[ \-]?(\d{{{protected.width}}})", re.IGNORECASE
    )
    seen: set[int] = set()

    def substitute(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        if not 0 <= index < len(protected.occurrences):
            return match.group(0)
        seen.add(index)
        return protected.occurrences[index].target

    restored = pattern.sub(substitute, translated)
    missing = tuple(term for index, term in enumerate(protected.occurrences) if index not in seen)
    return restored, missing


def _term_pattern(source: str) -> str:
    pattern = re.escape(source)
    if re.match(f"[{_WORD}]", source):
        pattern = f"(?<![{_WORD}]){pattern}"
    if re.search(f"[{_WORD}]$", source):
        pattern = f"{pattern}(?![{_WORD}])"
    return pattern


def _free_marker(text: str) -> str:
    folded = text.casefold()
    for marker in _MARKERS:
        if marker.casefold() not in folded:
            return marker
    # Every usual marker occurs in the text: lengthen one until it does not.
    marker = _MARKERS[0]
    while marker.casefold() in folded:
        marker += "Q"
    return marker
