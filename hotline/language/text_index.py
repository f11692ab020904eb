"""Finding texts by words in several languages at once: whole words and prefixes of a
word-separated language (English), substrings of the others (Chinese), and their
romanised syllables (pinyin). The phrasebook's search (:meth:`.Phrasebook.search`)."""

from __future__ import annotations

import bisect
import heapq
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

from .conventions import conventions

T = TypeVar("T")


class TextIndex(Generic[T]):
    """Precomputed once per set of items: the vocabulary of the word-separated languages
    (exact look-ups, and prefixes by bisection of the sorted words), and three corpora
    (each the items' texts joined into one string, so that one scan in C finds a
    token in every item): the word-separated texts for phrases, the others' folded
    text for substrings, and their romanisation with its syllable boundaries.

    ``texts`` gives each item's searchable text (already :func:`fold`-ed) by language."""

    def __init__(self, items: Sequence[T], texts: Sequence[Mapping[str, str]]) -> None:
        self.items = list(items)
        words: dict[str, set[int]] = {}
        separated_texts, unseparated_texts, roman_texts = [], [], []
        for number, by_language in enumerate(texts):
            separated, unseparated, roman = [], [], []
            for language, text in by_language.items():
                c = conventions(language)
                if c.word_boundaries:
                    separated.append(text)
                    for word in re.findall(r"\w+", text):
                        words.setdefault(word, set()).add(number)
                else:
                    unseparated.append(text)
                    if c.romanisation == "pinyin":
                        roman.extend(_pinyin(text))
            separated_texts.append(" | ".join(separated))
            unseparated_texts.append(" | ".join(unseparated))
            roman_texts.append(roman)
        self.words = words
        self.vocabulary = sorted(words)
        self.phrases = Corpus(separated_texts)
        self.unseparated = Corpus(unseparated_texts)
        self.roman = Corpus(["".join(syllables) for syllables in roman_texts])
        self.starts, self.ends = set(), set()  # syllable boundaries in self.roman.text
        for offset, syllables in zip(self.roman.offsets, roman_texts, strict=True):
            for syllable in syllables:
                self.starts.add(offset)
                offset += len(syllable)
                self.ends.add(offset)

    def search(self, query: str, limit: int) -> list[tuple[T, int]]:
        """(item, score) of the items matching ``query``, best first."""
        tokens = re.findall(r"\w+", fold(query))
        if not tokens:
            return []
        scores: dict[int, int] = {}
        matched: dict[int, int] = {}
        for token in tokens:
            for number, score in self._token_scores(token).items():
                scores[number] = scores.get(number, 0) + score
                matched[number] = matched.get(number, 0) + 1
        if len(tokens) > 1:
            for number in self.phrases.containing(" ".join(tokens)):
                scores[number] += 2
        ranked = heapq.nsmallest(limit, scores, key=lambda n: (-matched[n], -scores[n], n))
        return [(self.items[n], scores[n]) for n in ranked]

    def _token_scores(self, token: str) -> dict[int, int]:
        """Entry -> the best score of ``token`` in it; later updates outrank earlier."""
        if _has_ideographs(token):
            return dict.fromkeys(self.unseparated.containing(token), 3)
        best = dict.fromkeys(self.unseparated.containing(token), 1)
        if len(token) >= 2:
            start = bisect.bisect_left(self.vocabulary, token)
            end = bisect.bisect_left(self.vocabulary, token + "\U0010ffff", start)
            prefixed = set().union(*(self.words[w] for w in self.vocabulary[start:end]))
            best.update(dict.fromkeys(prefixed | self._spelled(token), 2))
        best.update(dict.fromkeys(self.words.get(token, ()), 3))
        return best

    def _spelled(self, token: str) -> set[int]:
        """Entries whose romanisation has ``token`` as whole consecutive syllables
        (``hangxiang``, ``xiang``; not ``angxi``)."""
        found: set[int] = set()
        text, at = self.roman.text, self.roman.text.find(token)
        while at >= 0:
            if at in self.starts and at + len(token) in self.ends:
                number = self.roman.owner(at)
                found.add(number)
                at = text.find(token, self.roman.end(number))
            else:
                at = text.find(token, at + 1)
        return found


class Corpus:
    """Texts joined by NUL (which no token contains) into one string."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.offsets: list[int] = []
        at = 0
        for text in texts:
            self.offsets.append(at)
            at += len(text) + 1
        self.text = "\x00".join(texts)

    def owner(self, position: int) -> int:
        return bisect.bisect_right(self.offsets, position) - 1

    def end(self, number: int) -> int:
        return self.offsets[number + 1] if number + 1 < len(self.offsets) else len(self.text)

    def containing(self, token: str) -> set[int]:
        found: set[int] = set()
        at = self.text.find(token)
        while at >= 0:
            number = self.owner(at)
            found.add(number)
            at = self.text.find(token, self.end(number))
        return found


def fold(text: str) -> str:
    """Text as the index compares it: NFKC, case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _has_ideographs(token: str) -> bool:
    return any(unicodedata.category(char) == "Lo" for char in token)


def _pinyin(text: str) -> list[str]:
    """Toneless pinyin syllables of the Chinese characters in ``text``."""
    from pypinyin import lazy_pinyin  # its dictionaries load on first use, for search only

    return [s for s in lazy_pinyin(text) if s.isascii() and s.isalpha()]
