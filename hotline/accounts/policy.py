"""The time limits of a console session and the lockout rule."""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000


@dataclass(frozen=True)
class AccountPolicy:
    """Time limits and the lockout rule (the defaults are the production values)."""

    idle_timeout_ms: int = 30 * MINUTE_MS
    absolute_timeout_ms: int = 12 * 60 * MINUTE_MS
    # A session's last_seen is written at most this often, to limit writes; so the idle
    # timeout is honoured to within this much (a session may end up to that much early).
    touch_interval_ms: int = MINUTE_MS
    max_failures: int = 5
    lockout_ms: int = 15 * MINUTE_MS


__all__ = ["MINUTE_MS", "AccountPolicy"]
