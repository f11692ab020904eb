"""The node's event log and the wake-up signal for live streams.

Events are rows written in the same transaction as the change they describe, so
a stream resumed from an event id misses nothing. A transaction's events are
inserted together just before it commits, in the order recorded. Processes wake
their own subscribers at once after a commit and hand them the events just
committed (:class:`RecentEvents`); a subscriber in another process sees new rows
on its next poll.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, SessionTransaction

from ..storage.fast_path import execute, insert_rows
from ..storage.models import EVENTS
from .numbered import NumberedRun

# Every type of event the node writes. Live streams, the console and scripts read
# these names, and docs/operations.md documents each one (tests/node/test_documents.py
# keeps the two the same); record_event refuses any other.
EVENT_TYPES: frozenset[str] = frozenset(
    {
        # the record and delivery
        "entry.committed",
        "message.queued",
        "message.received",
        "message.ladder",
        "message.displayed",
        "message.acknowledged",
        "delivery.failed",
        "envelope.held",
        "envelope.refused",
        # links, paths and relays
        "link.created",
        "path.added",
        "path.state",
        "link.failover",
        "link.relay",
        "relay.route_added",
        "relay.stored",
        "relay.forwarded",
        "relay.forward_failed",
        "relay.refused",
        # the link's rules
        "policy.proposed",
        "policy.refused",
        "policy.in_force",
        "emergency.awaiting_approval",
        "emergency.sent",
        "emergency.rejected",
        "emergency.ringing",
        "escalation.policy",
        "escalation.step",
        "alert.raised",
        "alert.cleared",
        "link_test.sent",
        "link_test.received",
        "link_test.confirmed",
        "link_test.missed",
        "link_test.lapsed",
        # the desk: drafts, calls and their sessions
        "draft.updated",
        "call.ringing",
        "call.accepted",
        "call.declined",
        "call.cancelled",
        "call.missed",
        "call.ended",
        "call.seen",
        "session.text",
        # understanding: the phrasebook and glossary agreed per link, and renderings
        "phrasebook.proposed",
        "phrasebook.in_force",
        "phrasebook.refused",
        "glossary.proposed",
        "glossary.in_force",
        "glossary.refused",
        "translation.updated",
    }
)


def record_event(
    session: Session, type_: str, data: dict[str, Any], *, link_id: str | None, now_ms: int
) -> None:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}: add it to EVENT_TYPES and the docs")
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
_INSERT_EVENTS = EVENTS.insert().returning(EVENTS.c.id, sort_by_parameter_order=True)
_INSERTED = "hotline.inserted_events"
_COMMITTED = "hotline.committed_events"


@event.listens_for(Session, "before_commit")
def _insert_events(session: Session) -> None:
    pending: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    connection = session.connection()
    ids: Sequence[int]
    if connection.dialect.name == "sqlite":
        # The transaction holds SQLite's only write lock, so the rows just inserted
        # took the ids after the largest: a run ending at the last inserted rowid.
        # RETURNING in row order would cost about as much again as the insert.
        insert_rows(connection, EVENTS, pending)
        last = int(execute(connection, "SELECT last_insert_rowid()")[0][0])
        ids = range(last - len(pending) + 1, last + 1)
    else:
        ids = connection.execute(_INSERT_EVENTS, pending).scalars().all()
    session.info[_INSERTED] = [
        EventRow(int(i), r["link_id"], r["type"], r["data"], r["created_ms"])
        for i, r in zip(ids, pending, strict=True)
    ]


@event.listens_for(Session, "after_commit")
def _events_committed(session: Session) -> None:
    inserted = session.info.pop(_INSERTED, None)
    if inserted:
        session.info[_COMMITTED] = inserted


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back, or a commit that failed: gone
        session.info.pop(_PENDING, None)
        session.info.pop(_INSERTED, None)


def take_committed_events(session: Session) -> list[EventRow]:
    """The events of the session's last commit, with their ids (once)."""
    committed: list[EventRow] = session.info.pop(_COMMITTED, [])
    return committed


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
    columns = EVENTS.c
    rows = session.connection().execute(
        select(columns.id, columns.link_id, columns.type, columns.data, columns.created_ms)
        .where(columns.id > after_id)
        .order_by(columns.id)
        .limit(limit)
    )
    return [EventRow(*row) for row in rows]


class RecentEvents(NumberedRun[EventRow]):
    """The events this process committed lately, so that a live stream woken by a
    commit here sends them without reading them back. A stream takes them only as
    an unbroken run of ids right after the last one it sent; otherwise (events of
    another process, an id a rollback used up) it reads the database."""

    def __init__(self, keep: int = 4096) -> None:
        super().__init__(lambda row: row.id, keep)


class EventFeed:
    """One live stream's reader: the events after the last one it took. They come
    from :class:`RecentEvents` when this process just committed them. The database
    is read only when memory cannot answer: a commit notified since the last look
    whose events memory does not continue, a gap in memory, or a poll timeout
    (another process's commits wake nobody here)."""

    READ_LIMIT = 500

    def __init__(
        self,
        recent: RecentEvents,
        committed: Signal,
        read: Callable[[int, int], Awaitable[list[EventRow]]],
        after: int,
    ) -> None:
        self.after = after
        self._recent = recent
        self._committed = committed
        self._read = read
        # The signal's generation when this feed last had all this process had
        # committed; -1: read the database at the next look.
        self._known = -1
        self._quiet_since = time.monotonic()

    async def next(self, timeout: float) -> list[EventRow]:
        """The next events; if there are none yet, waits up to ``timeout`` for a
        commit and looks again. May return none."""
        seen, rows = await self._look()
        if not rows:
            if await self._committed.wait(seen, timeout) == seen:
                self._known = -1
            rows = (await self._look())[1]
        if rows:
            self._quiet_since = time.monotonic()
        return rows

    def quiet_for(self, seconds: float) -> bool:
        """Nothing came for ``seconds``, since the last events or since this last
        said so: a stream's cue to send a keep-alive."""
        if time.monotonic() - self._quiet_since < seconds:
            return False
        self._quiet_since = time.monotonic()
        return True

    async def _look(self) -> tuple[int, list[EventRow]]:
        seen = self._committed.generation
        rows = self._recent.after(self.after, self.READ_LIMIT)
        if rows:
            if rows[-1].id >= self._recent.newest():
                self._known = seen
        elif seen != self._known or self._recent.newest() > self.after:
            rows = await self._read(self.after, self.READ_LIMIT)
            if len(rows) < self.READ_LIMIT:
                self._known = seen
        if rows:
            self.after = rows[-1].id
        return seen, rows


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
