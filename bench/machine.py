"""How fast this machine is right now, next to a benchmark's figures.

The shared virtual machines these benchmarks run on change speed by up to two
times within minutes (bench/RESULTS.md has examples). A fixed piece of CPU work
and a few fsyncs, timed in the same run, let a reader tell a slow machine from a
slow build.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

# Interpreter work of the kind a node does per message: dicts, JSON, hashing.
_DOCUMENT = {"id": "01KBCZ0000000000000000000A", "text": "calibration " * 8, "seq": 1, "ok": True}


def _cpu_work() -> None:
    for i in range(2_000):
        data = json.dumps({**_DOCUMENT, "seq": i}).encode()
        json.loads(data)
        hashlib.sha256(data).digest()


def cpu_ms(rounds: int = 7) -> float:
    """Median time of a fixed piece of CPU work, in ms (lower is a faster machine)."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        _cpu_work()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def fsync_ms(directory: Path, rounds: int = 31) -> float:
    """Median time to write 4 KiB and fdatasync it in ``directory``, in ms."""
    timings = []
    with tempfile.NamedTemporaryFile(dir=directory) as file:
        for _ in range(rounds):
            os.write(file.fileno(), b"\0" * 4096)
            started = time.perf_counter()
            os.fdatasync(file.fileno())
            timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 3)


def reading(directory: Path) -> dict[str, Any]:
    return {"cpu_calibration_ms": cpu_ms(), "fsync_ms": fsync_ms(directory)}
