"""A thread-safe window on the newest values numbered by consecutive integers
(sequence numbers, event ids), for readers that continue from a number they hold.

A reader gets only an unbroken run right after its number; at a gap (a value this
process never saw) it gets nothing and reads the database instead. See fresh.py
and :class:`hotline.node.events.RecentEvents`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class NumberedRun(Generic[T]):
    def __init__(self, number: Callable[[T], int], keep: int) -> None:
        self._number = number
        self._keep = keep
        self._lock = threading.Lock()
        self._values: dict[int, T] = {}

    def add(self, values: Iterable[T]) -> None:
        with self._lock:
            for value in values:
                self._values[self._number(value)] = value
            while len(self._values) > self._keep:  # nobody is taking them: keep the newest
                del self._values[next(iter(self._values))]  # numbers come in increasing order

    def after(self, number: int, limit: int) -> list[T]:
        """The values ``number + 1``, ``number + 2``, ... up to the first missing one."""
        with self._lock:
            run: list[T] = []
            while len(run) < limit:
                value = self._values.get(number + len(run) + 1)
                if value is None:
                    break
                run.append(value)
            return run

    def newest(self) -> int:
        """The highest number held (0 when empty)."""
        with self._lock:
            return next(reversed(self._values), 0)

    def forget(self, through: int) -> None:
        with self._lock:
            for number in [n for n in self._values if n <= through]:
                del self._values[number]
