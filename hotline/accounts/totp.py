"""Time-based one-time passwords (RFC 6238, via pyotp): 6 digits, 30-second steps.

A code is accepted in the step it was made for or one step either side (pyotp's
``valid_window=1``: up to ±30 s of clock drift). Each accepted code's step is stored on
the user, and a code for that step or an earlier one is refused afterwards, so a code
seen over a shoulder or replayed from a captured request is worth nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import pyotp

VALID_WINDOW = 1
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """A fresh 160-bit base32 secret."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str, party: str | None) -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually from a QR code)."""
    issuer = f"Hotline {party}" if party else "Hotline"
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def current_step(at_ms: int, interval: int = 30) -> int:
    return at_ms // 1000 // interval


class TotpOutcome(StrEnum):
    ACCEPTED = "accepted"
    INVALID = "invalid"  # wrong, malformed, or outside the window
    REUSED = "reused"  # right code, but its step was already used


@dataclass(frozen=True)
class TotpCheck:
    outcome: TotpOutcome
    step: int | None = None  # the step to store as used when accepted


def check(secret: str, code: str, *, at_ms: int, last_step: int | None) -> TotpCheck:
    """Check ``code`` at ``at_ms`` against the window, refusing steps up to ``last_step``."""
    code = "".join(code.split())  # "123 456" as some apps show it
    if not _CODE.fullmatch(code):
        return TotpCheck(TotpOutcome.INVALID)
    totp = pyotp.TOTP(secret)
    now = current_step(at_ms, totp.interval)
    # Compare with every step in the window (no early exit), then choose.
    matching = [
        step
        for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1)
        if pyotp.utils.strings_equal(code, totp.generate_otp(step))
    ]
    fresh = [step for step in matching if last_step is None or step > last_step]
    if fresh:
        return TotpCheck(TotpOutcome.ACCEPTED, max(fresh))
    if matching:
        return TotpCheck(TotpOutcome.REUSED)
    return TotpCheck(TotpOutcome.INVALID)
