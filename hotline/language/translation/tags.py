"""Language tags as Hotline writes them: "en", "zh-Hans", "zh-Hant", "ru" (BCP 47, a subset).

A tag is a lowercase language code of two or three letters, optionally followed by a script
("Hans", "Latn") and a region ("TW"). Engines have their own codes ("zho_Hans", "cmn_Hans",
"zh"); each provider maps Hotline's tags to them at its own edge.
"""

from __future__ import annotations

import re

ENGLISH = "en"
SIMPLIFIED_CHINESE = "zh-Hans"
TRADITIONAL_CHINESE = "zh-Hant"
UNKNOWN = "unknown"  # what detection says when it will not guess

_TAG = re.compile(r"[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?")
# Languages written without spaces between words: joined sentences need no space between them.
_UNSPACED = frozenset({"zh", "ja", "th", "lo", "km", "my"})


def is_tag(tag: str) -> bool:
    return _TAG.fullmatch(tag) is not None


def language_of(tag: str) -> str:
    """The language subtag: "zh" for "zh-Hans"."""
    return tag.split("-", 1)[0]


def spaced(tag: str) -> bool:
    """Whether the language puts spaces between words (and so between sentences)."""
    return language_of(tag) not in _UNSPACED
