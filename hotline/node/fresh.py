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

KEEP_PER_LINK = 4096


@dataclass(frozen=True)
class FreshEntry:
    seq: int
    envelope: bytes
    stored_ms: int


class FreshEntries:
    """Thread-safe: transactions add from worker threads, the deliverer reads."""

    def __init__(self, keep_per_link: int = KEEP_PER_LINK) -> None:
        self._lock = threading.Lock()
        self._keep = keep_per_link
        self._links: dict[str, dict[int, FreshEntry]] = {}

    def add(self, link_id: str, entries: list[FreshEntry]) -> None:
        with self._lock:
            kept = self._links.setdefault(link_id, {})
            for entry in entries:
                kept[entry.seq] = entry
            while len(kept) > self._keep:  # nobody is taking them: keep the newest
                del kept[next(iter(kept))]  # seqs are added in increasing order

    def after(self, link_id: str, seq: int, limit: int) -> list[FreshEntry]:
        """The kept entries ``seq + 1``, ``seq + 2``, ... up to the first missing one."""
        with self._lock:
            kept = self._links.get(link_id, {})
            run: list[FreshEntry] = []
            while len(run) < limit and (entry := kept.get(seq + len(run) + 1)) is not None:
                run.append(entry)
            return run

    def forget(self, link_id: str, through: int) -> None:
        """The peer holds our chain through ``through``: those need no push."""
        with self._lock:
            kept = self._links.get(link_id)
            if kept:
                for seq in [s for s in kept if s <= through]:
                    del kept[seq]
