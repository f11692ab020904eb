"""Typed parameters of agreed texts: what a value may be, its one canonical form, and
how it reads in each language.

Every type turns an input into a *canonical value* (:meth:`ParameterType.validate`) or
refuses it with :class:`~hotline.language.errors.Refused` naming the parameter and
why; :meth:`ParameterType.render` turns a canonical value into text in a language.
Canonical values are what travels in a message and what both parties sign, so they
are JSON- and CBOR-safe and have exactly one form each: text, integers, and maps of
text. There are no floats anywhere: a float has no single decimal reading and
encodes differently across implementations, so fractional quantities travel as
decimal strings with a bounded number of digits (``"2.5"``, never ``"2.50"`` or
``2.5``), and whole ones (bearings, durations, integers) as integers.

The canonical wire forms:

========== ================================================= ===========================
type       canonical value                                   example
========== ================================================= ===========================
datetime   ISO 8601, seconds, numeric offset (never ``Z``)   ``"2026-12-03T14:05:00+08:00"``
duration   whole seconds                                     ``5400``
position   decimal degrees, at most 6 fraction digits        ``{"lat": "24.5", "lon": "122.25"}``
bearing    whole degrees true, 0-359                         ``45``
altitude   decimal string and unit (m, ft, km)               ``{"unit": "ft", "value": "10000"}``
depth      decimal string and unit (m, ft)                   ``{"unit": "m", "value": "150"}``
speed      decimal string and unit (kn, km/h)                ``{"unit": "kn", "value": "12"}``
distance   decimal string and unit (nmi, km, m, ft)          ``{"unit": "nmi", "value": "2.5"}``
identifier upper-case text in its scheme's syntax            ``"DDG-89"``, ``"7C1234"``
name       NFC text, single spaces                           ``"Zhang Wei"``
integer    integer within bounds                             ``3``
number     decimal string within bounds                      ``"121.5"``
enum       the option's id                                   ``"port"``
========== ================================================= ===========================

A time travels with its UTC offset rather than as epoch milliseconds and an IANA zone:
zone rules change with each tzdata release, and the two parties' machines need not
carry the same release, so a zone name could make one value read as two different
local times. An offset reads the same everywhere.

Rendering follows each language's conventions through Babel (numbers, dates, plural
rules); the words a language needs (hemispheres, unit names) and the order of the
parts come from ``data/languages/<language>.json``, so adding a language is data.

The identifier type lives in :mod:`.identifiers`; each language's conventions in
:mod:`.conventions`; reading and writing decimals in :mod:`.decimals`; reading a
phrasebook's declaration into its type in :mod:`.declarations`.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, cast

from babel.dates import format_datetime
from babel.lists import format_list
from babel.numbers import format_decimal

from .conventions import Conventions, conventions
from .decimals import MAX_SAFE_INTEGER, check_bounds, decimal_text, parse_decimal
from .errors import Reason, Refused

Canonical = str | int | dict[str, str]
"""A canonical parameter value: JSON- and CBOR-safe, one form per value."""


# The types --------------------------------------------------------------------------


class ParameterType(ABC):
    """One declared type of parameter, with its constraints.

    Invariants: ``validate`` returns a canonical value or raises :class:`Refused`
    naming ``name``; ``validate`` of a canonical value returns it unchanged; ``render``
    of a value ``validate`` returned never raises for a language with conventions.
    """

    kind: ClassVar[str]

    @abstractmethod
    def validate(self, value: object, name: str) -> Canonical:
        """The canonical form of ``value``, or :class:`Refused` naming ``name``."""

    @abstractmethod
    def render(self, value: Canonical, language: str) -> str:
        """A canonical value as text in ``language``."""

    def declaration(self) -> dict[str, Any]:
        """The type and its constraints in canonical form (part of what is signed)."""
        return {"type": self.kind, **self._constraints()}

    def _constraints(self) -> dict[str, Any]:
        return {}


class DateTime(ParameterType):
    """A moment with its UTC offset, to the second. Accepts an ISO 8601 string with
    ``Z`` or ``±HH:MM`` (seconds optional, no fractions) or an aware ``datetime``."""

    kind = "datetime"
    _FORM = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})")
    _MAX_OFFSET = timedelta(hours=14)  # the widest offset any zone uses

    def validate(self, value: object, name: str) -> Canonical:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            if not self._FORM.fullmatch(value):
                raise Refused(
                    Reason.BAD_FORMAT,
                    "expected ISO 8601 with an offset, e.g. 2026-12-03T14:05+08:00",
                    parameter=name,
                )
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise Refused(Reason.BAD_FORMAT, str(exc), parameter=name) from None
        else:
            raise Refused(Reason.WRONG_TYPE, "expected an ISO 8601 string", parameter=name)
        offset = moment.utcoffset()
        if offset is None:
            raise Refused(Reason.BAD_FORMAT, "a time needs its UTC offset", parameter=name)
        if abs(offset) > self._MAX_OFFSET or offset.seconds % 60 or offset.microseconds:
            raise Refused(Reason.OUT_OF_RANGE, "offset beyond ±14:00", parameter=name)
        if moment.microsecond:
            raise Refused(Reason.BAD_FORMAT, "fractions of a second", parameter=name)
        return moment.isoformat(timespec="seconds")

    def render(self, value: Canonical, language: str) -> str:
        c = conventions(language)
        moment = datetime.fromisoformat(cast(str, value))
        pattern = c.datetime_patterns["seconds" if moment.second else "minutes"]
        text = format_datetime(moment, pattern, locale=c.locale)
        offset = cast(str, value)[-6:]
        if offset == "+00:00":
            return c.datetime_patterns["utc"].format(datetime=text)
        return c.datetime_patterns["offset"].format(datetime=text, offset=offset)


class Duration(ParameterType):
    """A span of whole seconds within bounds. Accepts an integer number of seconds, a
    ``timedelta`` of whole seconds, or ISO 8601 ``PnDTnHnMnS``."""

    kind = "duration"
    _FORM = re.compile(r"P(?:(\d{1,6})D)?(?:T(?:(\d{1,7})H)?(?:(\d{1,9})M)?(?:(\d{1,11})S)?)?")
    _PARTS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))

    def __init__(self, minimum: int = 0, maximum: int = 366 * 86_400) -> None:
        self.minimum, self.maximum = minimum, maximum

    def validate(self, value: object, name: str) -> Canonical:
        if isinstance(value, timedelta):
            if value.microseconds:
                raise Refused(Reason.BAD_FORMAT, "fractions of a second", parameter=name)
            seconds = int(value.total_seconds())
        elif isinstance(value, str):
            match = self._FORM.fullmatch(value)
            if not match or value in ("P", "PT") or value.endswith("T"):
                raise Refused(Reason.BAD_FORMAT, "expected e.g. PT1H30M", parameter=name)
            days, hours, minutes, secs = (int(g or 0) for g in match.groups())
            seconds = days * 86_400 + hours * 3_600 + minutes * 60 + secs
        elif isinstance(value, int) and not isinstance(value, bool):
            seconds = value
        else:
            raise Refused(Reason.WRONG_TYPE, "expected whole seconds", parameter=name)
        check_bounds(seconds, self.minimum, self.maximum, name)
        return seconds

    def render(self, value: Canonical, language: str) -> str:
        c = conventions(language)
        left, parts = cast(int, value), []
        for unit, size in self._PARTS:
            count, left = divmod(left, size)
            if count:
                parts.append(c.quantity(count, unit))
        return (
            format_list(parts, style="unit", locale=c.locale) if parts else c.quantity(0, "second")
        )

    def _constraints(self) -> dict[str, Any]:
        return {"minimum": self.minimum, "maximum": self.maximum}


class Position(ParameterType):
    """A point on the Earth: ``{"lat": ..., "lon": ...}`` in decimal degrees (integers or
    decimal strings, at most six fraction digits, about 0.1 m). Longitude 180 and -180
    are one meridian; the canonical form is 180. Rendered in degrees and minutes to a
    thousandth of a minute (about 2 m)."""

    kind = "position"
    _DIGITS = 6

    def validate(self, value: object, name: str) -> Canonical:
        if not isinstance(value, Mapping) or set(value) != {"lat", "lon"}:
            raise Refused(Reason.WRONG_TYPE, 'expected {"lat": ..., "lon": ...}', parameter=name)
        lat = parse_decimal(value["lat"], self._DIGITS, f"{name}.lat")
        lon = parse_decimal(value["lon"], self._DIGITS, f"{name}.lon")
        check_bounds(lat, Decimal(-90), Decimal(90), f"{name}.lat")
        check_bounds(lon, Decimal(-180), Decimal(180), f"{name}.lon")
        if lon == -180:
            lon = Decimal(180)
        return {"lat": decimal_text(lat), "lon": decimal_text(lon)}

    def render(self, value: Canonical, language: str) -> str:
        c, point = conventions(language), cast(dict[str, str], value)
        return c.position.format(
            latitude=self._axis(c, Decimal(point["lat"]), c.latitude, "N", "S"),
            longitude=self._axis(c, Decimal(point["lon"]), c.longitude, "E", "W"),
        )

    @staticmethod
    def _axis(c: Conventions, degrees: Decimal, pattern: str, plus: str, minus: str) -> str:
        # Whole thousandths of a minute first, so that 59.9996′ carries into the degree.
        thousandths = int((abs(degrees) * 60_000).to_integral_value())
        whole, rest = divmod(thousandths, 60_000)
        minutes = format_decimal(Decimal(rest) / 1000, c.minutes_format, locale=c.locale)
        return pattern.format(
            degrees=whole, minutes=minutes, hemisphere=c.hemispheres[minus if degrees < 0 else plus]
        )


class Bearing(ParameterType):
    """Whole degrees true, 0-359; 360 is accepted as north and becomes 0."""

    kind = "bearing"

    def validate(self, value: object, name: str) -> Canonical:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Refused(Reason.WRONG_TYPE, "expected whole degrees", parameter=name)
        check_bounds(value, 0, 360, name)
        return value % 360

    def render(self, value: Canonical, language: str) -> str:
        c = conventions(language)
        degrees = format_decimal(cast(int, value), c.bearing_format, locale=c.locale)
        return c.bearing.format(degrees=degrees)


class Quantity(ParameterType):
    """A measured value with its unit: ``{"value": "2.5", "unit": "nmi"}``, the value an
    integer or a decimal string of at most three fraction digits. Bounds compare across
    units exactly (1 nmi = 1852 m and 1 ft = 0.3048 m by definition). A declaration may
    narrow the units and the bounds (given as quantities)."""

    units: ClassVar[Mapping[str, Decimal]]  # unit -> its size in the base unit
    default_minimum: ClassVar[tuple[str, str]]
    default_maximum: ClassVar[tuple[str, str]]
    _DIGITS = 3

    def __init__(
        self,
        units: Sequence[str] | None = None,
        minimum: tuple[str, str] | None = None,
        maximum: tuple[str, str] | None = None,
    ) -> None:
        self.allowed = tuple(units) if units is not None else tuple(self.units)
        self.minimum = minimum or self.default_minimum  # (value, unit)
        self.maximum = maximum or self.default_maximum

    def validate(self, value: object, name: str) -> Canonical:
        if not isinstance(value, Mapping) or set(value) != {"value", "unit"}:
            raise Refused(Reason.WRONG_TYPE, 'expected {"value": ..., "unit": ...}', parameter=name)
        unit = value["unit"]
        if unit not in self.allowed:
            raise Refused(
                Reason.UNKNOWN_UNIT,
                f"unit must be one of {', '.join(self.allowed)}",
                parameter=name,
            )
        number = parse_decimal(value["value"], self._DIGITS, name)
        base = number * self.units[unit]
        low, high = (Decimal(v) * self.units[u] for v, u in (self.minimum, self.maximum))
        if not low <= base <= high:
            raise Refused(
                Reason.OUT_OF_RANGE,
                f"must lie between {self.minimum[0]} {self.minimum[1]}"
                f" and {self.maximum[0]} {self.maximum[1]}",
                parameter=name,
            )
        return {"value": decimal_text(number), "unit": unit}

    def render(self, value: Canonical, language: str) -> str:
        quantity = cast(dict[str, str], value)
        return conventions(language).quantity(Decimal(quantity["value"]), quantity["unit"])

    def _constraints(self) -> dict[str, Any]:
        return {
            "units": list(self.allowed),
            "minimum": {"value": self.minimum[0], "unit": self.minimum[1]},
            "maximum": {"value": self.maximum[0], "unit": self.maximum[1]},
        }


class Altitude(Quantity):
    """Height above mean sea level; kilometres serve objects in space."""

    kind = "altitude"
    units: ClassVar[Mapping[str, Decimal]] = {
        "m": Decimal(1),
        "ft": Decimal("0.3048"),
        "km": Decimal(1000),
    }
    default_minimum, default_maximum = ("-500", "m"), ("1000000", "km")


class Depth(Quantity):
    kind = "depth"
    units: ClassVar[Mapping[str, Decimal]] = {"m": Decimal(1), "ft": Decimal("0.3048")}
    default_minimum, default_maximum = ("0", "m"), ("12000", "m")


class Speed(Quantity):
    kind = "speed"
    units: ClassVar[Mapping[str, Decimal]] = {
        "kn": Decimal(1852),
        "km/h": Decimal(1000),
    }  # in metres per hour
    default_minimum, default_maximum = ("0", "km/h"), ("100000", "km/h")


class Distance(Quantity):
    kind = "distance"
    units: ClassVar[Mapping[str, Decimal]] = {
        "nmi": Decimal(1852),
        "km": Decimal(1000),
        "m": Decimal(1),
        "ft": Decimal("0.3048"),
    }
    default_minimum, default_maximum = ("0", "m"), ("2000000", "km")


class Name(ParameterType):
    """The name of a person, ship or place, as written (it is not translated): letters
    of any script, digits, single spaces and ``' ’ - . · ( ) ,``. A name both sides
    write differently belongs in an enumeration, where each language has its wording."""

    kind = "name"
    _PUNCTUATION = frozenset("'’-.·(),")

    def __init__(self, max_length: int = 80) -> None:
        self.max_length = max_length

    def validate(self, value: object, name: str) -> Canonical:
        if not isinstance(value, str):
            raise Refused(Reason.WRONG_TYPE, "expected text", parameter=name)
        text = " ".join(unicodedata.normalize("NFC", value).split())
        if not 0 < len(text) <= self.max_length:
            raise Refused(Reason.OUT_OF_RANGE, f"1 to {self.max_length} characters", parameter=name)
        for char in text:
            if not (
                char == " " or char in self._PUNCTUATION or unicodedata.category(char)[0] in "LMN"
            ):
                raise Refused(
                    Reason.BAD_FORMAT, f"character {char!r} is not allowed", parameter=name
                )
        return text

    def render(self, value: Canonical, language: str) -> str:
        conventions(language)
        return cast(str, value)

    def _constraints(self) -> dict[str, Any]:
        return {"max_length": self.max_length}


class Integer(ParameterType):
    """A whole number within bounds (by default those every JSON reader keeps exactly)."""

    kind = "integer"

    def __init__(self, minimum: int = -MAX_SAFE_INTEGER, maximum: int = MAX_SAFE_INTEGER) -> None:
        self.minimum, self.maximum = minimum, maximum

    def validate(self, value: object, name: str) -> Canonical:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Refused(Reason.WRONG_TYPE, "expected a whole number", parameter=name)
        check_bounds(value, self.minimum, self.maximum, name)
        return value

    def render(self, value: Canonical, language: str) -> str:
        return conventions(language).number(cast(int, value))

    def _constraints(self) -> dict[str, Any]:
        return {"minimum": self.minimum, "maximum": self.maximum}


class Number(ParameterType):
    """A decimal number within bounds, as a decimal string of at most
    ``fraction_digits`` fraction digits (an integer is accepted too)."""

    kind = "number"

    def __init__(
        self, minimum: str = "-1000000000", maximum: str = "1000000000", fraction_digits: int = 3
    ) -> None:
        self.minimum, self.maximum = Decimal(minimum), Decimal(maximum)
        self.fraction_digits = fraction_digits

    def validate(self, value: object, name: str) -> Canonical:
        number = parse_decimal(value, self.fraction_digits, name)
        check_bounds(number, self.minimum, self.maximum, name)
        return decimal_text(number)

    def render(self, value: Canonical, language: str) -> str:
        return conventions(language).number(Decimal(cast(str, value)))

    def _constraints(self) -> dict[str, Any]:
        return {
            "minimum": decimal_text(self.minimum),
            "maximum": decimal_text(self.maximum),
            "fraction_digits": self.fraction_digits,
        }


class Enumeration(ParameterType):
    """One of a fixed set of options, each with its wording in every language."""

    kind = "enum"

    def __init__(self, options: Mapping[str, Mapping[str, str]]) -> None:
        self.options = {key: dict(wording) for key, wording in options.items()}

    def validate(self, value: object, name: str) -> Canonical:
        if not isinstance(value, str):
            raise Refused(Reason.WRONG_TYPE, "expected an option", parameter=name)
        if value not in self.options:
            raise Refused(
                Reason.UNKNOWN_OPTION,
                f"{value[:40]!r} is not one of {', '.join(self.options)}",
                parameter=name,
            )
        return value

    def render(self, value: Canonical, language: str) -> str:
        wording = self.options[cast(str, value)]
        if language not in wording:
            raise Refused(Reason.UNKNOWN_LANGUAGE, f"no wording in {language!r}")
        return wording[language]

    def _constraints(self) -> dict[str, Any]:
        return {"options": self.options}


def validate_parameters(
    declared: Mapping[str, ParameterType], values: object, *, field: str = "parameters"
) -> dict[str, Canonical]:
    """Every declared parameter, and only those, validated to canonical form."""
    if not isinstance(values, Mapping):
        raise Refused(Reason.WRONG_TYPE, "expected a map of parameters", parameter=field)
    for name in values:
        if name not in declared:
            raise Refused(Reason.UNEXPECTED_PARAMETER, "not declared", parameter=str(name)[:40])
    canonical = {}
    for name, kind in declared.items():
        if name not in values:
            raise Refused(Reason.MISSING_PARAMETER, "no value given", parameter=name)
        canonical[name] = kind.validate(values[name], name)
    return canonical
