"""Decimal values of parameters: read from an integer or a decimal string (never a
float), and written in their one canonical form."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .errors import Reason, Refused

# At most 15 digits either side of the point. With each type's limit on fraction digits
# (9 at most), every product and comparison stays within Decimal's default 28 digits.
DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer every JSON reader keeps exactly


def parse_decimal(value: object, digits: int, name: str) -> Decimal:
    """An integer or decimal string (no exponent, no float) with at most ``digits``
    fraction digits, once trailing zeros are dropped."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Refused(Reason.WRONG_TYPE, "expected an integer or a decimal string", parameter=name)
    if isinstance(value, str) and not DECIMAL.fullmatch(value):
        raise Refused(Reason.BAD_FORMAT, "expected a decimal such as 12.5", parameter=name)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Refused(Reason.BAD_FORMAT, "not a number", parameter=name) from None
    if len(decimal_text(number).partition(".")[2]) > digits:
        raise Refused(Reason.BAD_FORMAT, f"at most {digits} fraction digits", parameter=name)
    return number


def decimal_text(number: Decimal) -> str:
    """The one written form of a decimal: no exponent, no trailing zeros, no ``-0``."""
    text = format(number, "f")  # exact: formatting applies no context precision
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def check_bounds(value: Decimal | int, low: Decimal | int, high: Decimal | int, name: str) -> None:
    if not low <= value <= high:
        raise Refused(Reason.OUT_OF_RANGE, f"must lie between {low} and {high}", parameter=name)
