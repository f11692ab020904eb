"""How each language writes values: its locale, the words it needs (hemispheres, unit
names) and the order of the parts, read from ``data/languages/<language>.json``."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

from babel import Locale
from babel.numbers import format_decimal

from .errors import Reason, Refused


@dataclass(frozen=True)
class Conventions:
    """How one language writes values; read from ``data/languages/<language>.json``."""

    language: str
    locale: Locale
    word_boundaries: bool  # whether terms match whole words (English) or substrings
    romanisation: str | None  # "pinyin": search also matches the text's romanised form
    hemispheres: Mapping[str, str]
    latitude: str
    longitude: str
    position: str
    minutes_format: str
    bearing: str
    bearing_format: str
    datetime_patterns: Mapping[str, str]
    units: Mapping[str, Mapping[str, str]]  # unit -> plural category -> "{0} ..."

    def quantity(self, number: Decimal | int, unit: str) -> str:
        """``number`` of ``unit`` in words, with the language's plural form."""
        forms = self.units[unit]
        category = self.locale.plural_form(number)
        pattern = forms.get(category) or forms["other"]
        return pattern.replace("{0}", self.number(number))

    def number(self, number: Decimal | int) -> str:
        return format_decimal(number, locale=self.locale, decimal_quantization=False)


@functools.cache
def conventions(language: str) -> Conventions:
    """The shipped conventions of ``language``; refuses a language with none."""
    if language not in shipped_languages():
        raise Refused(Reason.UNKNOWN_LANGUAGE, f"no conventions for language {language!r}")
    raw = json.loads(_data_file("languages", f"{language}.json"))
    return Conventions(
        language=raw["language"],
        locale=Locale.parse(raw["babel_locale"]),
        word_boundaries=bool(raw["word_boundaries"]),
        romanisation=raw["romanisation"],
        hemispheres=raw["hemispheres"],
        latitude=raw["latitude"],
        longitude=raw["longitude"],
        position=raw["position"],
        minutes_format=raw["minutes_format"],
        bearing=raw["bearing"],
        bearing_format=raw["bearing_format"],
        datetime_patterns=raw["datetime"],
        units=raw["units"],
    )


@functools.cache
def shipped_languages() -> tuple[str, ...]:
    """Languages whose conventions ship with Hotline."""
    folder = resources.files("hotline.language").joinpath("data", "languages")
    return tuple(sorted(p.name.removesuffix(".json") for p in folder.iterdir()))


def _data_file(*parts: str) -> str:
    return resources.files("hotline.language").joinpath("data", *parts).read_text("utf-8")
