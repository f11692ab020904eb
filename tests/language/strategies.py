"""Hypothesis strategies: valid inputs for a declared parameter type, in the forms a
caller may give them (strings, integers, datetime and timedelta objects)."""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from hotline.language import parameters as p
from hotline.language.identifiers import Identifier

OFFSETS = st.integers(-48, 56).map(lambda q: timezone(timedelta(minutes=15 * q)))


def _decimal_text(thousandths: int, digits: int) -> str:
    return str(Decimal(thousandths).scaleb(-digits))


@st.composite
def _datetime(draw: Any) -> object:
    moment = draw(
        st.datetimes(datetime(1900, 1, 2), datetime(9998, 12, 30), timezones=OFFSETS)
    ).replace(microsecond=0)
    form = draw(st.sampled_from(["object", "iso", "z"]))
    if form == "object":
        return moment
    if form == "z" and moment.utcoffset() == timedelta(0):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


def _in_units(kind: p.Quantity) -> st.SearchStrategy[dict[str, object]]:
    def for_unit(unit: str) -> st.SearchStrategy[dict[str, object]]:
        size = kind.units[unit]
        low = Decimal(kind.minimum[0]) * kind.units[kind.minimum[1]] / size
        high = Decimal(kind.maximum[0]) * kind.units[kind.maximum[1]] / size
        return st.integers(math.ceil(low * 1000), math.floor(high * 1000)).map(
            lambda t: {"value": _decimal_text(t, 3), "unit": unit}
        )

    return st.sampled_from(kind.allowed).flatmap(for_unit)


def _identifier(scheme: str) -> st.SearchStrategy[str]:
    if scheme == "imo":

        def with_check(digits: str) -> str:
            check = sum(int(d) * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
            return f"imo{digits}{check}"

        return st.from_regex(r"[0-9]{6}", fullmatch=True).map(with_check)
    if scheme == "norad":
        return st.integers(1, 999_999_999).map(lambda n: str(n).zfill(5))
    patterns = {
        "hull": r"[A-Za-z0-9][A-Za-z0-9 -]{0,15}",
        "callsign": r"[A-Za-z0-9][A-Za-z0-9 -]{1,11}",
        "registration": r"[A-Za-z0-9][A-Za-z0-9-]{1,9}",
        "icao24": r"[0-9A-Fa-f]{6}",
        "mmsi": r"[0-9]{9}",
        "cospar": r"[0-9]{4}-[0-9]{3}[A-Za-z]{1,3}",
    }
    text = st.from_regex(patterns[scheme], fullmatch=True)
    # Inner runs of spaces collapse to one; a value that then loses its second
    # character (callsign "A " -> "A") is not one a caller could mean.
    return text.filter(lambda t: len(" ".join(t.split())) >= (2 if scheme == "callsign" else 1))


NAME_CHARACTERS = st.characters(categories=["L", "M", "N"]) | st.sampled_from(" '’-.·(),")


def values(kind: p.ParameterType) -> st.SearchStrategy[Any]:
    """Valid inputs for ``kind``."""
    if isinstance(kind, p.DateTime):
        return _datetime()
    if isinstance(kind, p.Duration):
        seconds = st.integers(kind.minimum, kind.maximum)
        return seconds | seconds.map(lambda s: timedelta(seconds=s))
    if isinstance(kind, p.Position):
        micro = {
            "lat": st.integers(-90_000_000, 90_000_000),
            "lon": st.integers(-180_000_000, 180_000_000),
        }
        return st.fixed_dictionaries(
            {axis: ints.map(lambda m: _decimal_text(m, 6)) for axis, ints in micro.items()}
        )
    if isinstance(kind, p.Bearing):
        return st.integers(0, 360)
    if isinstance(kind, p.Quantity):
        return _in_units(kind)
    if isinstance(kind, Identifier):
        return _identifier(kind.scheme)
    if isinstance(kind, p.Name):
        return st.text(NAME_CHARACTERS, min_size=1, max_size=kind.max_length).filter(
            lambda t: 0 < len(" ".join(unicodedata.normalize("NFC", t).split())) <= kind.max_length
        )
    if isinstance(kind, p.Integer):
        return st.integers(kind.minimum, kind.maximum)
    if isinstance(kind, p.Number):
        scale = 10**kind.fraction_digits
        low, high = math.ceil(kind.minimum * scale), math.floor(kind.maximum * scale)
        return st.integers(low, high).map(lambda t: _decimal_text(t, kind.fraction_digits))
    if isinstance(kind, p.Enumeration):
        return st.sampled_from(sorted(kind.options))
    raise AssertionError(f"no strategy for {kind.kind}")


def parameters(declared: dict[str, p.ParameterType]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: values(kind) for name, kind in declared.items()})
