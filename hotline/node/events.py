"""The node's event log and the wake-up signal for live streams.

Events are rows written in the same transaction as the change they describe, so
a stream resumed from an event id misses nothing. A transaction's events are
inserted together, in the order they were recorded, just before it commits: one
statement instead of an ORM object each. Processes wake their own
subscribers at once after a commit; a subscriber in another process sees new
rows on its next poll.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session, SessionTransaction

from ..storage.models import Event


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
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    pending.append({"link_id": link_id, "type": type_, "data": data, "created_ms": now_ms})


_PENDING = "hotline.pending_events"


@event.listens_for(Session, "before_commit")
def _insert_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.execute(insert(Event), pending)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    # After a rollback (or a commit that failed), the events go with the rest.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def events_after(session: Session, after_id: int, limit: int = 500) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit))
    )


def last_event_id(session: Session) -> int:
    value = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
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
