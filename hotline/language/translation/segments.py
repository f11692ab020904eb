"""Cutting a message into sentences for a sentence-level engine, and joining the results.

OPUS-MT and NLLB models are trained on single sentences and read at most a few hundred tokens:
a paragraph fed whole is translated worse and may be cut short. The engine therefore sees each
sentence alone, and the message's line breaks and blank lines come back where they were.

The rules are deliberately few: a line break always ends a sentence; Chinese and Japanese
full stops, question and exclamation marks end one where they stand; a Latin full stop,
question or exclamation mark ends one when a space and a capital, a digit or a CJK character
follow, unless the word before it is an abbreviation ("U.S.", "Gen.", "No.").

Invariant: ``split(text).join(split(text).sentences)`` is ``text``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_CLOSERS = re.escape("\"'”’」』）)]")
_BREAK = re.compile(
    r"\n\s*"  # a line break, with the blank lines and indentation after it
    rf"|(?:(?<=[。！？；])|(?<=[。！？；][{_CLOSERS}]))[ \t]*(?![{_CLOSERS}])"  # after a CJK mark
    rf"|(?:(?<=[.!?])|(?<=[.!?][{_CLOSERS}]))[ \t]+(?=\S)(?![a-z])"  # after a Latin one
)
_ABBREVIATION = re.compile(
    r"(?<!\S)(?:[A-Za-z]|(?:[A-Za-z]\.)+[A-Za-z]|Mr|Mrs|Ms|Dr|St|No|Nos|Gen|Adm|Col|Lt|Capt"
    r"|Cmdr|Sgt|Maj|Brig|Fig|vs|etc|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
    r"\.$"
)


@dataclass(frozen=True)
class Segments:
    """A text as sentences and the whitespace around them.

    ``gaps`` has one more entry than ``sentences``: the whitespace before the first sentence,
    between each two, and after the last.
    """

    sentences: tuple[str, ...]
    gaps: tuple[str, ...]

    def join(self, sentences: Sequence[str], *, spaced: bool | None = None) -> str:
        """Rebuild the text around ``sentences`` (translations, one for each original).

        ``spaced`` says whether the language of ``sentences`` puts spaces between sentences:
        an English translation of two Chinese sentences needs one where the original had none,
        and a Chinese translation of English sentences drops the spaces between them. ``None``
        keeps the original's gaps as they are.
        """
        if len(sentences) != len(self.sentences):
            raise ValueError(f"{len(sentences)} sentences for {len(self.sentences)} places")
        parts = [self.gaps[0]]
        for index, sentence in enumerate(sentences):
            parts.append(sentence)
            parts.append(self._gap(index + 1, spaced))
        return "".join(parts)

    def _gap(self, index: int, spaced: bool | None) -> str:
        gap = self.gaps[index]
        if spaced is None or index == len(self.gaps) - 1 or "\n" in gap:
            return gap
        if spaced:
            return gap or " "
        return ""


def split(text: str) -> Segments:
    """Cut ``text`` into sentences; whitespace-only text has no sentences."""
    cuts = [match.span() for match in _BREAK.finditer(text) if _ends_sentence(text, match)]
    sentences: list[str] = []
    gaps: list[str] = []
    pending = ""  # whitespace seen since the last sentence
    position = 0
    for start, end in [*cuts, (len(text), len(text))]:
        chunk, separator = text[position:start], text[start:end]
        sentence = chunk.strip()
        if sentence:
            lead = chunk[: len(chunk) - len(chunk.lstrip())]
            gaps.append(pending + lead)
            sentences.append(sentence)
            pending = chunk[len(chunk.rstrip()) :] + separator
        else:
            pending += chunk + separator
        position = end
    gaps.append(pending)
    return Segments(tuple(sentences), tuple(gaps))


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    if match.group(0).startswith("\n") or text[match.start() - 1] != ".":
        return True
    return _ABBREVIATION.search(text, max(0, match.start() - 24), match.start()) is None
