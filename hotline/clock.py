"""Wall-clock time in milliseconds: the one place Hotline reads the clock (the node and
the accounts alike; the protocol is given the time by its callers)."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
