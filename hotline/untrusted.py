"""Text from outside, shown as inert text.

Message bodies, party and link names, purposes, call topics, policy labels,
alerts, audit details: anything another party (or any untrusted source) wrote
reaches a terminal or a page. Shown as it is, it can drive the display:

- control characters (C0, DEL, C1) start escape sequences that recolour the
  terminal, set its window title, move the cursor up and erase lines already
  shown, or ring the bell;
- bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
  U+061C) reorder what is shown: ``Routine check \\u202eyletaidemmi kcatta ot
  deeccorp`` reads as "Routine check proceed to attack immediately";
- zero-width and other invisible characters (U+200B-U+200D, U+2060, U+FEFF, the
  tag characters, ...) hide text that the record holds but the reader never sees.

:func:`inert` writes each such character as its code point, ``<U+202E>``, so
that it is seen and does nothing. Everything else is unchanged: text in any
script (Chinese, Arabic with its vowel marks, Devanagari), emoji, and the
invisible characters that emoji are built from where they build one (a zero-width
joiner between two emoji, a variation selector after the character it selects,
the tags of a subdivision flag). :func:`inert_json` does the same for JSON
output, where a ``\\u`` escape keeps the value exact.

Display only: the record keeps the exact bytes. The notation is not an escape
that can be undone: a text that itself contains ``<U+202E>`` is shown the same
way, which at worst makes it look suspect.

The character classes are Unicode's own (through the ``regex`` module, whose
database is kept current): general categories Cc, Cf, Cs, Zl, Zp and the
property Default_Ignorable_Code_Point, less the prepended concatenation marks
(the Arabic number signs, which have a visible glyph).
"""

from __future__ import annotations

import json

import regex

__all__ = ["inert", "inert_json", "is_inert", "notation"]

# Characters that can act on a display or are not seen on it.
_INVISIBLE = r"\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}"
_HAZARD = rf"[{_INVISIBLE}--\p{{Prepended_Concatenation_Mark}}]"
# Invisible characters where they are part of what is shown, left as they are:
_ALLOWED = "|".join(
    (
        # a zero-width joiner inside an emoji ZWJ sequence (👩‍💻, 🏳️‍🌈, 👩🏽‍💻);
        r"(?<=\p{Extended_Pictographic}[\uFE0F\p{Emoji_Modifier}]?)\u200D"
        r"(?=\p{Extended_Pictographic})",
        # a subdivision flag: black flag, the tags of a region and subdivision, cancel tag (🏴󠁧󠁢󠁥󠁮󠁧󠁿);
        r"\U0001F3F4[\U000E0061-\U000E007A]{2}"
        r"[\U000E0030-\U000E0039\U000E0061-\U000E007A]{1,4}\U000E007F",
        # one variation selector right after a visible character (❤️, 1️⃣, CJK variants).
        rf"(?<=[^{_INVISIBLE}])[\uFE00-\uFE0F\U000E0100-\U000E01EF]",
    )
)
_FLAGS = regex.VERSION1
_FIND = regex.compile(_HAZARD, _FLAGS)
_FIND_MULTILINE = regex.compile(rf"(?![\t\n]){_HAZARD}", _FLAGS)
_SINGLE_LINE = regex.compile(rf"(?P<keep>{_ALLOWED})|{_HAZARD}", _FLAGS)
# In multi-line text, line breaks and tabs stay; CR LF is shown as the line break it is.
_MULTILINE = regex.compile(rf"(?P<keep>{_ALLOWED}|[\t\n])|(?P<crlf>\r\n)|{_HAZARD}", _FLAGS)


def notation(char: str) -> str:
    """How a hazardous character is shown: ``<U+202E>``."""
    return f"<U+{ord(char):04X}>"


def _replace(match: regex.Match[str]) -> str:
    if match.group("keep") is not None:
        return match.group()
    if match.groupdict().get("crlf") is not None:
        return "\n"
    return notation(match.group())


def inert(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control, bidirectional and invisible character written as
    :func:`notation`, except where it is part of an emoji (see the module's docstring).

    ``multiline``: line breaks (``\\n``, and ``\\r\\n`` shown as ``\\n``) and tabs stay,
    for a message body shown on several lines; otherwise they are shown as code
    points too, so that a one-line field (a name, a purpose, a topic) cannot start
    a line of its own that passes for the program's output."""
    finder = _FIND_MULTILINE if multiline else _FIND
    if finder.search(text) is None:  # the usual case: nothing to do, no copy
        return text
    return (_MULTILINE if multiline else _SINGLE_LINE).sub(_replace, text)


def is_inert(text: str, *, multiline: bool = False) -> bool:
    """Whether :func:`inert` leaves ``text`` as it is (nothing to flag)."""
    return inert(text, multiline=multiline) == text


def _escape(match: regex.Match[str]) -> str:
    encoded = match.group().encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{encoded[i] << 8 | encoded[i + 1]:04x}" for i in range(0, len(encoded), 2))


# json.dumps already escapes the C0 controls inside strings; a raw tab or line
# break in its output is indentation, outside any string, and stays.
_JSON_HAZARD = regex.compile(rf"(?![\t\n\r]){_HAZARD}", _FLAGS)


def inert_json(value: object, *, indent: int | None = 2) -> str:
    """``value`` as JSON text (UTF-8 characters as they are, so Chinese stays
    readable) in which every hazardous character is a ``\\u`` escape: the same value
    to any JSON reader, inert on a terminal. Raises TypeError as json.dumps does."""
    document = json.dumps(value, ensure_ascii=False, indent=indent)
    return _JSON_HAZARD.sub(_escape, document)
