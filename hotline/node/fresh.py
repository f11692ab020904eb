"""This process's newest own entries, kept in memory once committed, so that the
deliverer can push a message the moment it is durable without reading it back.

Only entries due at once are kept (a receipt waits to ride back in a reply). The
deliverer uses them only for an unbroken run of sequence numbers right after what
the peer is known to hold; otherwise (another process appended entries, a receipt
is queued among them, the process restarted, a push failed) it reads the outbox.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .numbered import NumberedRun

KEEP_PER_LINK = 4096


@dataclass(frozen=True)
class FreshEntry:
    seq: int
    envelope: bytes
    stored_ms: int


class FreshEntries:
    """Per link; transactions add from worker threads, the deliverer reads."""

    def __init__(self, keep_per_link: int = KEEP_PER_LINK) -> None:
        self._keep = keep_per_link
        self._lock = threading.Lock()
        self._links: dict[str, NumberedRun[FreshEntry]] = {}

    def _link(self, link_id: str) -> NumberedRun[FreshEntry]:
        with self._lock:
            kept = self._links.get(link_id)
            if kept is None:
                kept = self._links[link_id] = NumberedRun(lambda e: e.seq, self._keep)
            return kept

    def add(self, link_id: str, entries: list[FreshEntry]) -> None:
        self._link(link_id).add(entries)

    def after(self, link_id: str, seq: int, limit: int) -> list[FreshEntry]:
        """The kept entries ``seq + 1``, ``seq + 2``, ... up to the first missing one."""
        return self._link(link_id).after(seq, limit)

    def forget(self, link_id: str, through: int) -> None:
        """The peer holds our chain through ``through``: those need no push."""
        self._link(link_id).forget(through)
