"""Parameter declarations in a phrasebook: ``{"type": ..., constraints}`` read into the
:class:`~hotline.language.parameters.ParameterType` they name."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from .decimals import decimal_text, parse_decimal
from .errors import Reason, Refused
from .identifiers import Identifier
from .parameters import (
    Altitude,
    Bearing,
    DateTime,
    Depth,
    Distance,
    Duration,
    Enumeration,
    Integer,
    Name,
    Number,
    ParameterType,
    Position,
    Quantity,
    Speed,
)


class DeclarationError(Exception):
    """A parameter declaration that cannot be used; ``field`` is the path inside it."""

    def __init__(self, reason: Reason, field: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


TYPES: Mapping[str, type[ParameterType]] = {
    t.kind: t
    for t in (
        DateTime,
        Duration,
        Position,
        Bearing,
        Altitude,
        Depth,
        Speed,
        Distance,
        Identifier,
        Name,
        Integer,
        Number,
        Enumeration,
    )
}

_OPTION_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def parse_declaration(declaration: object, languages: Sequence[str]) -> ParameterType:
    """The type a declaration names, with its constraints (an enumeration's options
    already resolved to a map). Raises :class:`DeclarationError` naming the field."""
    if not isinstance(declaration, Mapping) or not isinstance(declaration.get("type"), str):
        raise DeclarationError(Reason.MALFORMED, "type", 'expected {"type": ..., ...}')
    kind = declaration["type"]
    if kind not in TYPES:
        raise DeclarationError(Reason.UNKNOWN_TYPE, "type", f"unknown parameter type {kind!r}")
    rest = {k: v for k, v in declaration.items() if k != "type"}
    try:
        if kind == "enum":
            return _enumeration(rest, languages)
        if kind == "identifier":
            _only(rest, {"scheme"}, required=frozenset({"scheme"}))
            if rest["scheme"] not in Identifier.schemes:
                raise DeclarationError(
                    Reason.BAD_CONSTRAINT, "scheme", f"unknown scheme {rest['scheme']!r}"
                )
            return Identifier(rest["scheme"])
        if issubclass(TYPES[kind], Quantity):
            return _quantity(cast(type[Quantity], TYPES[kind]), rest)
        if kind in ("duration", "integer"):
            _only(rest, {"minimum", "maximum"})
            for key, bound in rest.items():
                if not isinstance(bound, int) or isinstance(bound, bool):
                    raise DeclarationError(Reason.BAD_CONSTRAINT, key, "expected an integer")
            made = Duration(**rest) if kind == "duration" else Integer(**rest)
            if made.minimum > made.maximum:
                raise DeclarationError(Reason.BAD_CONSTRAINT, "minimum", "exceeds the maximum")
            return made
        if kind == "number":
            _only(rest, {"minimum", "maximum", "fraction_digits"})
            digits = rest.get("fraction_digits", 3)
            if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 9:
                raise DeclarationError(Reason.BAD_CONSTRAINT, "fraction_digits", "0 to 9")
            bounds = {
                k: decimal_text(parse_decimal(rest[k], 9, k))
                for k in ("minimum", "maximum")
                if k in rest
            }
            number = Number(**bounds, fraction_digits=digits)
            if number.minimum > number.maximum:
                raise DeclarationError(Reason.BAD_CONSTRAINT, "minimum", "exceeds the maximum")
            return number
        if kind == "name":
            _only(rest, {"max_length"})
            length = rest.get("max_length", 80)
            if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= 200:
                raise DeclarationError(Reason.BAD_CONSTRAINT, "max_length", "1 to 200")
            return Name(length)
        _only(rest, set())
        return TYPES[kind]()
    except Refused as exc:  # a bound that is not itself a valid value
        raise DeclarationError(Reason.BAD_CONSTRAINT, exc.parameter or "", exc.detail) from None


def _enumeration(rest: Mapping[str, Any], languages: Sequence[str]) -> Enumeration:
    _only(rest, {"options"}, required=frozenset({"options"}))
    options = rest["options"]
    if not isinstance(options, Mapping) or not options:
        raise DeclarationError(Reason.BAD_ENUM, "options", "expected a map of options")
    for key, wording in options.items():
        if not isinstance(key, str) or not _OPTION_ID.fullmatch(key):
            raise DeclarationError(Reason.BAD_ENUM, f"options.{key}", "option ids: a-z, 0-9, - _")
        if not isinstance(wording, Mapping):
            raise DeclarationError(
                Reason.BAD_ENUM, f"options.{key}", "expected wording per language"
            )
        for language in languages:
            text = wording.get(language)
            if not isinstance(text, str) or not text.strip():
                raise DeclarationError(
                    Reason.BAD_ENUM, f"options.{key}.{language}", f"no wording in {language}"
                )
        extra = set(wording) - set(languages)
        if extra:
            raise DeclarationError(
                Reason.BAD_ENUM, f"options.{key}", f"wording in undeclared {sorted(extra)}"
            )
    return Enumeration(options)


def _quantity(kind: type[Quantity], rest: Mapping[str, Any]) -> Quantity:
    _only(rest, {"units", "minimum", "maximum"})
    units = rest.get("units")
    if units is not None and (
        not isinstance(units, list) or not units or any(u not in kind.units for u in units)
    ):
        raise DeclarationError(
            Reason.BAD_CONSTRAINT, "units", f"a list drawn from {', '.join(kind.units)}"
        )
    bounds: dict[str, tuple[str, str]] = {}
    for key in ("minimum", "maximum"):
        if key in rest:
            canonical = cast(dict[str, str], kind().validate(rest[key], key))
            bounds[key] = (canonical["value"], canonical["unit"])
    return kind(units, **bounds)


def _only(
    rest: Mapping[str, Any], allowed: set[str], required: frozenset[str] = frozenset()
) -> None:
    for key in rest:
        if key not in allowed:
            raise DeclarationError(Reason.BAD_CONSTRAINT, key, f"unknown constraint {key!r}")
    for key in required:
        if key not in rest:
            raise DeclarationError(Reason.BAD_CONSTRAINT, key, f"{key!r} is required")
