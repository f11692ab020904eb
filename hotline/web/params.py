"""Bounds on the integers a request may carry, on every API: what the database's
64-bit integers hold. A larger number is refused with the request (400 or 422)
rather than failing in the database (a 500)."""

from __future__ import annotations

MAX_ID = 2**63 - 1


def bounded_int(text: str, *, low: int = 0, high: int = MAX_ID) -> int | None:
    """``text`` as an integer in ``[low, high]``: ASCII digits only (no sign, spaces,
    underscores or other scripts' digits, which ``int()`` accepts), else None."""
    if not (0 < len(text) <= len(str(high)) and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None
