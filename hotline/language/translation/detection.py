"""Which language a free text is in, so that it reaches the right engine.

Detection uses Lingua (``lingua-language-detector``), whose language models ship inside the
package: nothing is downloaded, ever. Chinese is then told apart by script with
``hanzidentifier``: a text written only with traditional characters is "zh-Hant", any other
Chinese text "zh-Hans" (characters common to both scripts read as simplified).

Detection answers ``UNKNOWN`` rather than guess: when the text has too few letters to carry a
signal (a word like "ok" or a single character), or when Lingua finds two languages too close
to call. The caller then falls back on the language it expected (the other party's). Only the
configured languages are candidates: fewer candidates mean fewer near ties and less memory
(Lingua loads each language's model on first need: tens of megabytes in its high-accuracy
mode, a few in its low-accuracy mode, which a node uses by default for its two languages).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from hotline.language.translation import tags

# The six UN languages, and the other languages of the region.
DEFAULT_LANGUAGES = ("en", "zh", "ru", "fr", "es", "ar", "ja", "ko")


@dataclass(frozen=True)
class Detection:
    """A detected language: a Hotline tag (or ``UNKNOWN``) and Lingua's confidence, 0 to 1."""

    tag: str
    confidence: float

    @property
    def known(self) -> bool:
        return self.tag != tags.UNKNOWN


UNDETERMINED = Detection(tags.UNKNOWN, 0.0)


class LanguageDetector:
    """Detects the language of texts among a fixed set of candidates. Thread-safe.

    ``minimum_letters`` is how much text is enough to judge: letters count one each, and a
    Chinese, Japanese or Korean character counts two, so "收到" is enough and "是" is not.
    ``minimum_relative_distance`` is Lingua's margin between the best and the second-best
    language below which it will not decide (0 decides always; 0.1 leaves "Roger" and
    "Yes" undecided among the default languages, and full sentences decided).
    ``high_accuracy`` loads Lingua's full models (about 30 MB more for English and Chinese,
    more for each other language): worth it to tell apart short texts in languages of one
    script; English from Chinese needs only the low-accuracy (trigram) models.
    """

    def __init__(
        self,
        languages: Iterable[str] = DEFAULT_LANGUAGES,
        *,
        minimum_letters: int = 4,
        minimum_relative_distance: float = 0.1,
        high_accuracy: bool = True,
    ) -> None:
        candidates = [_lingua_language(tag) for tag in languages]
        if len(candidates) < 2:
            raise ValueError("language detection needs at least two candidate languages")
        self._builder = LanguageDetectorBuilder.from_languages(*candidates)
        self._builder.with_minimum_relative_distance(minimum_relative_distance)
        if not high_accuracy:
            self._builder.with_low_accuracy_mode()
        self._minimum_letters = minimum_letters
        self._detector = self._builder.build()
        self._warm = threading.Lock()

    def detect(self, text: str) -> Detection:
        if _letter_weight(text) < self._minimum_letters:
            return UNDETERMINED
        language = self._detector.detect_language_of(text)
        if language is None:
            return UNDETERMINED
        confidence = self._detector.compute_language_confidence(text, language)
        return Detection(_hotline_tag(language, text), round(confidence, 3))

    def warm_up(self) -> None:
        """Load every candidate's model now (seconds of CPU) rather than on first need."""
        with self._warm:
            self._detector = self._builder.with_preloaded_language_models().build()


def _lingua_language(tag: str) -> Language:
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(tags.language_of(tag)))
    except ValueError:
        raise ValueError(f"{tag!r} is not a language that detection knows") from None


def _hotline_tag(language: Language, text: str) -> str:
    code = language.iso_code_639_1.name.lower()
    if language == Language.CHINESE:
        # Imported here: its character tables take a tenth of a node's start-up CPU,
        # and only a text already detected as Chinese needs them.
        import hanzidentifier

        if hanzidentifier.identify(text) == hanzidentifier.TRADITIONAL:
            return tags.TRADITIONAL_CHINESE
        return tags.SIMPLIFIED_CHINESE
    return code


def _letter_weight(text: str) -> int:
    weight = 0
    for character in text:
        if not character.isalpha():
            continue
        name = unicodedata.name(character, "")
        wide = name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))
        weight += 2 if wide else 1
    return weight
