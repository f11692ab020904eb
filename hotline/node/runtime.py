"""The node's unit of work: the database engine, write transactions and reads, and
what a commit wakes (live streams, the deliverer, the fresh entries it pushes from
memory). Everything that acts on the node takes a :class:`NodeRuntime`; the
façade :class:`hotline.node.service.Node` is one, with the operations on top."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TypeVar

from anyio import to_thread
from sqlalchemy.orm import Session

from ..protocol.keys import PrivateIdentity
from ..storage.database import make_engine, make_sessionmaker
from .events import EventFeed, EventRow, RecentEvents, Signal, events_after, take_committed_events
from .fresh import FreshEntries
from .home import NodeConfig, NodeHome
from .record_store import take_fresh, take_outbox_due

_T = TypeVar("_T")


class NodeRuntime:
    def __init__(
        self,
        home: NodeHome,
        *,
        database_url: str | None = None,
        background_checkpoints: bool = False,
    ) -> None:
        self.home = home
        self.config: NodeConfig = home.load_config()
        self.identity: PrivateIdentity = home.load_identity()
        self.engine = make_engine(
            database_url or self.config.database_url,
            background_checkpoints=background_checkpoints,
        )
        self.sessions = make_sessionmaker(self.engine)
        self.readers = make_sessionmaker(self.engine, read_only=True)
        # SQLite: this process's writers queue here (see transaction). Re-entrant so
        # that write_if_idle can hold it around a whole transaction.
        self._sqlite_writer: threading.RLock | None = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else None
        )
        self.committed = Signal()
        # A subset of commits: something in an outbox became due (or a pull was asked
        # for). The deliverer waits on this one, not on every commit.
        self.outbox = Signal()
        self.fresh = FreshEntries()
        self.recent_events = RecentEvents()
        # Sends queued in this process (the local API's group commit) and not yet
        # committed: the deliverer waits briefly for them to push them together.
        self._queued_sends = 0
        self._queued_lock = threading.Lock()

    @property
    def party(self) -> str:
        return self.identity.party

    @property
    def sends_waiting(self) -> int:
        return self._queued_sends

    def sends_queued(self, count: int) -> None:
        with self._queued_lock:
            self._queued_sends += count

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self, *, settles_queued: int = 0) -> Iterator[Session]:
        """A write transaction; ``settles_queued`` queued sends are no longer waiting
        once it ends (counted before the commit wakes anyone)."""
        # SQLite has one writer at a time, and a writer that finds the lock taken
        # sleeps in SQLite's busy handler (1, 2, 5, 10 ms...). Queueing this process's
        # writers on a lock of our own instead hands the database over at once.
        try:
            with self._sqlite_writer or nullcontext(), self.sessions.begin() as session:
                yield session
                due, fresh = take_outbox_due(session), take_fresh(session)
        finally:
            if settles_queued:
                self.sends_queued(-settles_queued)
        for link_id, entry in fresh:
            self.fresh.add(link_id, [entry])
        self.recent_events.add(take_committed_events(session))
        self.committed.notify()
        if due:
            self.outbox.notify()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.readers() as session:
            yield session

    def write_if_idle(self, write: Callable[[], _T]) -> _T | None:
        """``write()`` (which writes in a transaction) on the calling thread, only on
        SQLite and only if no other thread of this process is writing; None (nothing
        done) otherwise."""
        if self._sqlite_writer is None or not self._sqlite_writer.acquire(blocking=False):
            return None
        try:
            return write()
        finally:
            self._sqlite_writer.release()

    def events_after(self, after_id: int, limit: int = 500) -> list[EventRow]:
        with self.reading() as session:
            return events_after(session, after_id, limit)

    def event_feed(self, after_id: int) -> EventFeed:
        """A live stream's reader of the events after ``after_id``."""

        async def read(after: int, limit: int) -> list[EventRow]:
            return await to_thread.run_sync(self.events_after, after, limit)

        return EventFeed(self.recent_events, self.committed, read, after_id)
