"""The identifier parameter type: a vessel, aircraft or object named in one scheme's
syntax (hull number, callsign, ICAO address, IMO and NORAD numbers, ...)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from .conventions import conventions
from .errors import Reason, Refused
from .parameters import Canonical, ParameterType

_IMO_FORM = re.compile(r"IMO ?([0-9]{7})")


def _imo(text: str) -> str | None:
    match = _IMO_FORM.fullmatch(text)
    if not match:
        return None
    digits = match.group(1)
    check = sum(int(d) * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10
    return f"IMO {digits}" if check == int(digits[6]) else None


def _norad(text: str) -> str | None:
    return str(int(text)) if re.fullmatch(r"[0-9]{1,9}", text) and int(text) > 0 else None


def _pattern(form: str) -> Any:
    compiled = re.compile(form)
    return lambda text: text if compiled.fullmatch(text) else None


class Identifier(ParameterType):
    """The identifier of a vessel, aircraft or object, in one scheme's syntax. Input is
    trimmed, inner spaces single, letters upper-case; the scheme may normalise further
    (a NORAD number loses its leading zeros, an IMO number reads ``IMO 1234567`` and
    must pass its check digit). Identifiers read the same in every language."""

    kind = "identifier"
    schemes: ClassVar[Mapping[str, Any]] = {
        "hull": _pattern(r"[A-Z0-9][A-Z0-9 -]{0,15}"),  # pennant or hull number: DDG-89, 173
        "callsign": _pattern(r"[A-Z0-9][A-Z0-9 -]{1,11}"),  # radio callsign: NAVY 123
        "registration": _pattern(r"[A-Z0-9][A-Z0-9-]{1,9}"),  # aircraft tail: B-1234
        "icao24": _pattern(r"[0-9A-F]{6}"),  # ICAO 24-bit address, hex
        "mmsi": _pattern(r"[0-9]{9}"),  # Maritime Mobile Service Identity
        "imo": _imo,  # IMO ship number
        "norad": _norad,  # NORAD / US Space Command catalogue number
        "cospar": _pattern(r"[0-9]{4}-[0-9]{3}[A-Z]{1,3}"),  # international designator
    }

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        self._check = self.schemes[scheme]

    def validate(self, value: object, name: str) -> Canonical:
        if not isinstance(value, str):
            raise Refused(Reason.WRONG_TYPE, "expected text", parameter=name)
        canonical = self._check(" ".join(value.split()).upper()) if len(value) <= 64 else None
        if canonical is None:
            raise Refused(
                Reason.BAD_FORMAT, f"not a valid {self.scheme} identifier", parameter=name
            )
        return cast(str, canonical)

    def render(self, value: Canonical, language: str) -> str:
        conventions(language)
        return cast(str, value)

    def _constraints(self) -> dict[str, Any]:
        return {"scheme": self.scheme}
