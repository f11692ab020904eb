"""The node's event log and the wake-up signal for live streams.

Events are rows written in the same transaction as the change they describe, so
a stream resumed from an event id misses nothing. They are staged rows
(storage/staging.py): inserted together, in the order recorded. Processes wake their own
subscribers at once after a commit; a subscriber in another process sees new
rows on its next poll.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..storage.models import EVENTS
from ..storage.staging import stage


def record_event(
    session: Session, type_: str, data: dict[str, Any], *, link_id: str | None, now_ms: int
) -> None:
    transaction = session.get_transaction()
    is_postgres = session.get_bind().dialect.name == "postgresql"
    if is_postgres and session.info.get("event_lock") is not transaction:
        # Commit events in id order across concurrent transactions, so a reader
        # that has seen id N never later finds a smaller id appear.
        session.execute(text("SELECT pg_advisory_xact_lock(7220001)"))
        session.info["event_lock"] = transaction  # once per transaction
    stage(session, EVENTS, {"link_id": link_id, "type": type_, "data": data, "created_ms": now_ms})


@dataclass(frozen=True)
class EventRow:
    id: int
    link_id: str | None
    type: str
    data: dict[str, Any]
    created_ms: int


def events_after(session: Session, after_id: int, limit: int = 500) -> list[EventRow]:
    """Events after ``after_id``, oldest first. Core, not ORM objects: every live
    stream runs this after every commit."""
    events = EVENTS
    rows = session.connection().execute(
        select(events.c.id, events.c.link_id, events.c.type, events.c.data, events.c.created_ms)
        .where(events.c.id > after_id)
        .order_by(events.c.id)
        .limit(limit)
    )
    return [EventRow(*row) for row in rows]


def last_event_id(session: Session) -> int:
    value = session.scalar(select(EVENTS.c.id).order_by(EVENTS.c.id.desc()).limit(1))
    return int(value or 0)


class Signal:
    """Wakes waiting coroutines when something was committed (thread-safe).

    Callers remember :attr:`generation` before reading, then ``wait(seen)``:
    a notification between their read and their wait is never lost.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        with self._lock:
            self._generation += 1
            waiters = list(self._waiters)
        for loop, wakeup in waiters:
            loop.call_soon_threadsafe(wakeup.set)

    async def wait(self, seen: int, timeout: float) -> int:
        wakeup = asyncio.Event()
        key = (asyncio.get_running_loop(), wakeup)
        with self._lock:
            if self._generation != seen:
                return self._generation
            self._waiters.add(key)
        try:
            await asyncio.wait_for(wakeup.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(key)
        return self._generation
