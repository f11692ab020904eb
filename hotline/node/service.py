"""The node's operations, each one transaction: what the CLI, the local API, the
peer API and the deliverer call. Synchronous; async callers run it in a thread."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..clock import now_ms
from ..errors import Reason
from ..protocol.bundle import Bundle, make_bundle
from ..protocol.errors import Code, ProtocolError
from ..protocol.invitation import Acceptance, Invitation
from ..protocol.keys import PrivateIdentity
from ..protocol.kinds import Kind
from ..protocol.record import RecordEntry
from ..storage.database import make_engine, make_sessionmaker
from ..storage.driver import Prepared
from ..storage.models import (
    ENTRIES,
    LINKS,
    OUTBOX,
    Entry,
    Link,
    Message,
    Outbox,
    Path,
    RelayBatch,
    RelayRoute,
)
from . import linking
from .delivery import leases
from .delivery.ingest import IngestResult, ingest
from .delivery.ladder import mark_transmitted
from .delivery.outgoing import Outgoing, append_message, check_body, lock_links
from .events import (
    EventFeed,
    EventRow,
    RecentEvents,
    Signal,
    events_after,
    record_event,
    take_committed_events,
)
from .fresh import FreshEntries
from .home import NodeConfig, NodeError, NodeHome
from .language.agreed_messages import outgoing_body
from .paths import store as path_store
from .record_store import (
    LinkNotFound,
    advance_link,
    lock_link,
    lock_link_outside_session,
    push_outbox_now,
    take_fresh,
    take_outbox_due,
)
from .refusals import Refused, audit
from .status import LinkStatus as LinkStatus
from .status import link_statuses

BACKOFF_BASE_MS = 250
BACKOFF_CAP_MS = 30_000

_T = TypeVar("_T")


class Node:
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
        # that send_many_if_idle can hold it around a whole transaction.
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

    # Links -----------------------------------------------------------------

    def create_invitation(
        self, link_name: str, purpose: str, *, valid_hours: float = 24
    ) -> tuple[Invitation, str]:
        with self.transaction() as session:
            return linking.create_invitation(
                session,
                self.identity,
                link_name=link_name,
                purpose=purpose,
                tls_certificate=self.home.certificate_der(),
                endpoints=self.config.endpoints,
                now_ms=now_ms(),
                valid_ms=int(valid_hours * 3_600_000),
            )

    def preview_invitation(self, text: str) -> Invitation:
        return linking.preview_invitation(self.identity, text, now_ms=now_ms())

    def accept_invitation(self, text: str) -> tuple[Link, str]:
        with self.transaction() as session:
            return linking.accept_invitation(
                session,
                self.identity,
                text,
                tls_certificate=self.home.certificate_der(),
                endpoints=self.config.endpoints,
                now_ms=now_ms(),
            )

    def preview_acceptance(self, text: str) -> Acceptance:
        return linking.preview_acceptance(text)

    def complete_link(self, text: str) -> Link:
        with self.transaction() as session:
            return linking.complete_link(session, self.identity, text, now_ms=now_ms())

    def links(self) -> list[Link]:
        with self.reading() as session:
            return list(session.scalars(select(Link).order_by(Link.created_ms)))

    def find_link(self, name_or_id: str) -> Link:
        with self.reading() as session:
            link = session.scalar(
                select(Link).where(or_(Link.name == name_or_id, Link.id == name_or_id))
            )
        if link is None:
            raise Refused(
                Reason.UNKNOWN_LINK, f"no link named {name_or_id!r}; see 'hotline link list'"
            )
        return link

    # Sending ---------------------------------------------------------------

    def send(
        self,
        link_name_or_id: str,
        body: dict[str, Any],
        *,
        kind: Kind = Kind.MESSAGE,
        ref: str | None = None,
    ) -> Message:
        """Commit a message to the record and the outbox; returns once it is durable."""
        result = self.send_many([Outgoing(link_name_or_id, body, kind, ref)])[0]
        if isinstance(result, NodeError):
            raise result
        return result

    def send_many(
        self, items: list[Outgoing], *, queued: bool = False
    ) -> list[Message | NodeError]:
        """Group commit: several messages, one transaction. Each item gets its message
        or the error that refused it; refused items write nothing. ``queued``: the
        items were counted by :meth:`sends_queued`."""
        results: list[Message | NodeError] = []
        with self.transaction(settles_queued=len(items) if queued else 0) as session:
            links = lock_links(session, {item.link for item in items})
            stamp = now_ms()
            for item in items:
                try:
                    check_body(item.kind, item.body)
                    link = links.get(item.link)
                    if link is None:
                        raise Refused(
                            Reason.UNKNOWN_LINK,
                            f"no link named {item.link!r}; see 'hotline link list'",
                        )
                    if item.kind is Kind.AGREED_TEXT:
                        body = outgoing_body(session, link, item.body)
                        item = Outgoing(item.link, body, item.kind, item.ref)
                    results.append(append_message(session, self.identity, link, item, stamp))
                except NodeError as exc:
                    results.append(exc)
        return results

    def send_many_if_idle(
        self, items: list[Outgoing], *, queued: bool = False
    ) -> list[Message | NodeError] | None:
        """:meth:`send_many` on the calling thread, only on SQLite and only if no other
        thread of this process is writing; None (nothing done) otherwise. For the
        event loop's lone sends: a hand-off to a worker thread and back costs more
        than a small transaction when both cores are busy."""
        return self.write_if_idle(lambda: self.send_many(items, queued=queued))

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

    # Delivery (called by the deliverer and the peer API) ------------------

    def pending(
        self, link_id: str, *, limit: int, due_only: bool = True
    ) -> list[tuple[int, bytes]]:
        with self.reading() as session:
            query = (
                select(Outbox.seq, Entry.envelope)
                .join(Entry, (Entry.link_id == Outbox.link_id) & (Entry.id == Outbox.entry_id))
                .where(Outbox.link_id == link_id)
                .order_by(Outbox.seq)
                .limit(limit)
            )
            rows = session.execute(query).all()
            if due_only and rows:
                first_due = session.scalar(
                    select(func.min(Outbox.next_attempt_ms)).where(Outbox.link_id == link_id)
                )
                if first_due is not None and first_due > now_ms():
                    return []
            return [(int(seq), bytes(env)) for seq, env in rows]

    def push_batch(self, link_id: str, *, limit: int, after: int = 0) -> PushBatch | None:
        """What the deliverer pushes next, in one read: the due head of the outbox
        after seq ``after`` (what the peer is known to hold), with commit times for
        the latency metric, and how much of the peer's chain we hold. None when
        nothing is due."""
        with self.reading() as session:
            parameters = {"link_id": link_id, "after": after, "limit": limit}
            rows = _PUSH_BATCH.rows(session.connection(), parameters)
        if not rows or min(r[3] for r in rows) > now_ms():
            return None
        return PushBatch(
            peer_seq=int(rows[0][4]),
            seqs=[int(r[0]) for r in rows],
            envelopes=[bytes(r[1]) for r in rows],
            committed_ms=[int(r[2]) for r in rows],
        )

    def next_due_ms(self) -> int | None:
        with self.reading() as session:
            value = session.scalar(select(func.min(Outbox.next_attempt_ms)))
            return None if value is None else int(value)

    def receive(self, link_id: str, envelopes: list[bytes], peer_has: int) -> IngestResult:
        """The peer API: a batch of the peer's envelopes, plus how much of our chain it holds."""
        with self.transaction() as session:
            link = lock_link_outside_session(session, link_id)
            stamp = now_ms()
            self._peer_holds(session, link, peer_has, stamp)
            return ingest(session, link, self.identity, envelopes, now_ms=stamp)

    def delivered(
        self, link_id: str, peer_has: int, returned: list[bytes], *, sent_ms: int | None = None
    ) -> IngestResult:
        """The peer answered our push (sent at ``sent_ms``): it holds our chain up to
        ``peer_has`` and sent back its entries (receipts) in ``returned``."""
        with self.transaction() as session:
            link = lock_link_outside_session(session, link_id)
            stamp = now_ms()
            self._peer_holds(session, link, peer_has, sent_ms or stamp)
            return ingest(session, link, self.identity, returned, now_ms=stamp)

    def delivery_failed(self, link_id: str, error: str) -> int:
        """Back off the link's outbox: exponential with full jitter. Returns the delay."""
        with self.transaction() as session:
            link = lock_link(session, link_id)
            first = session.scalar(
                select(Outbox).where(Outbox.link_id == link.id).order_by(Outbox.seq).limit(1)
            )
            if first is None:
                return 0
            attempts = first.attempts + 1
            ceiling = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** min(attempts, 16))
            delay = random.randint(ceiling // 2, ceiling)
            stamp = now_ms()
            session.execute(
                update(Outbox)
                .where(Outbox.link_id == link.id)
                .values(attempts=attempts, next_attempt_ms=stamp + delay, last_error=error[:500])
            )
            record_event(
                session,
                "delivery.failed",
                {"error": error[:500], "attempts": attempts, "retry_in_ms": delay},
                link_id=link.id,
                now_ms=stamp,
            )
            return delay

    def acquire_lease(self, name: str, holder: str) -> bool:
        with self.transaction() as session:
            return leases.acquire(session, name, holder, now_ms())

    def own_entries_after(self, link_id: str, after_seq: int, limit: int) -> list[bytes]:
        """Our chain after ``after_seq``: what the peer asks for when it sees a gap."""
        with self.reading() as session:
            rows = session.scalars(
                select(Entry.envelope)
                .where(Entry.link_id == link_id, Entry.sender == self.party, Entry.seq > after_seq)
                .order_by(Entry.seq)
                .limit(limit)
            )
            return [bytes(r) for r in rows]

    def _peer_holds(self, session: Session, link: Link, peer_has: int, sent_ms: int) -> None:
        if peer_has > link.own_seq:
            raise ProtocolError(Code.SEQUENCE_GAP, "peer claims entries we never wrote")
        if peer_has <= link.peer_has_seq:
            return
        advance_link(session, link, peer_has_seq=peer_has)
        _DELETE_PUSHED.rows(session.connection(), {"link": link.id, "through": peer_has})
        mark_transmitted(session, link.id, peer_has, now_ms=sent_ms)

    def defer_outbox(self, link_id: str, delay_ms: int) -> None:
        """Hold the link's outbox for ``delay_ms`` without counting a failure (a relay
        took the batch; the receipt will say when it arrived)."""
        with self.transaction() as session:
            if delay_ms == 0:
                push_outbox_now(session, link_id, now_ms())
                return
            session.execute(
                update(Outbox)
                .where(Outbox.link_id == link_id)
                .values(next_attempt_ms=now_ms() + delay_ms)
            )

    # Paths -----------------------------------------------------------------

    def link_paths(self, link_name_or_id: str) -> list[Path]:
        link = self.find_link(link_name_or_id)
        with self.reading() as session:
            return path_store.list_paths(session, link.id)

    def add_path(self, link_name_or_id: str, url: str) -> Path:
        link = self.find_link(link_name_or_id)
        with self.transaction() as session:
            return path_store.add_path(session, lock_link(session, link.id), url, now_ms=now_ms())

    def add_relay_path(
        self, link_name_or_id: str, url: str, *, certificate: bytes, fingerprint: str
    ) -> Path:
        """A relay both parties accepted: its endpoint and pinned TLS certificate."""
        path_store.check_certificate(certificate, fingerprint)
        _check_pin(certificate)
        link = self.find_link(link_name_or_id)
        with self.transaction() as session:
            return path_store.add_path(
                session,
                lock_link(session, link.id),
                url,
                now_ms=now_ms(),
                kind=path_store.RELAY,
                certificate=certificate,
            )

    def save_path_states(
        self,
        link_id: str,
        updates: list[path_store.PathUpdate],
        events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        with self.transaction() as session:
            path_store.save_states(session, link_id, updates, events, now_ms())

    def pinned_certificates(self) -> set[bytes]:
        """Every certificate the peer listener accepts: linked peers, the relays our
        links accepted, and (on a relay) the parties of the links we relay."""
        with self.reading() as session:
            certs = {bytes(c) for c in session.scalars(select(Link.peer_tls_certificate))}
            certs |= {
                bytes(c)
                for c in session.scalars(
                    select(Path.certificate).where(Path.certificate.is_not(None))
                )
                if c is not None
            }
            certs |= {bytes(c) for c in session.scalars(select(RelayRoute.certificate))}
        return certs

    # Relaying for others ---------------------------------------------------

    def add_relay_route(
        self,
        link_id: str,
        party: str,
        *,
        certificate: bytes,
        fingerprint: str,
        endpoints: list[str],
    ) -> RelayRoute:
        path_store.check_certificate(certificate, fingerprint)
        _check_pin(certificate)
        with self.transaction() as session:
            return path_store.add_relay_route(
                session,
                link_id=link_id,
                party=party,
                certificate=certificate,
                endpoints=endpoints,
                now_ms=now_ms(),
            )

    def relay_routes(self, link_id: str | None = None) -> list[RelayRoute]:
        with self.reading() as session:
            routes = path_store.relay_routes(session)
        return [r for r in routes if link_id is None or r.link_id == link_id]

    def relay_store(
        self, link_id: str, from_party: str, to_party: str, body: bytes, envelopes: int
    ) -> int:
        with self.transaction() as session:
            stamp = now_ms()
            # The same batch again (the sender retries while we cannot forward):
            # keep one copy.
            same = session.scalar(
                select(RelayBatch.id).where(
                    RelayBatch.link_id == link_id,
                    RelayBatch.from_party == from_party,
                    RelayBatch.forwarded_ms.is_(None),
                    RelayBatch.body == body,
                )
            )
            if same is not None:
                return int(same)
            batch = RelayBatch(
                link_id=link_id,
                from_party=from_party,
                to_party=to_party,
                body=body,
                envelopes=envelopes,
                received_ms=stamp,
                forwarded_ms=None,
                attempts=0,
                # The request that brought it forwards it at once; the background
                # forwarder takes over only if that attempt fails or is cut short.
                next_attempt_ms=stamp + 5_000,
                last_error=None,
            )
            session.add(batch)
            session.flush()
            record_event(
                session,
                "relay.stored",
                {
                    "batch": batch.id,
                    "link": link_id,
                    "from": from_party,
                    "to": to_party,
                    "envelopes": envelopes,
                },
                link_id=None,
                now_ms=stamp,
            )
            return batch.id

    def relay_pending(self, limit: int = 32) -> list[RelayBatch]:
        with self.reading() as session:
            return list(
                session.scalars(
                    select(RelayBatch)
                    .where(
                        RelayBatch.forwarded_ms.is_(None), RelayBatch.next_attempt_ms <= now_ms()
                    )
                    .order_by(RelayBatch.id)
                    .limit(limit)
                )
            )

    def relay_prune(self, retain_ms: int) -> int:
        """Forget batches forwarded more than ``retain_ms`` ago. How many went."""
        with self.transaction() as session:
            result = session.execute(
                delete(RelayBatch).where(
                    RelayBatch.forwarded_ms.is_not(None),
                    RelayBatch.forwarded_ms < now_ms() - retain_ms,
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def relay_done(self, batch_id: int, error: str | None, *, final: bool = False) -> None:
        """The forwarding attempt's outcome: forwarded (``error`` None), retry later, or
        (``final``) refused by the receiver: kept, marked, not retried."""
        with self.transaction() as session:
            batch = session.get(RelayBatch, batch_id)
            if batch is None or batch.forwarded_ms is not None:
                return
            stamp = now_ms()
            batch.attempts += 1
            if error is None or final:
                batch.forwarded_ms = stamp
                batch.last_error = error[:500] if error else None
            else:
                batch.last_error = error[:500]
                batch.next_attempt_ms = stamp + min(30_000, 500 * 2 ** min(batch.attempts, 6))
            record_event(
                session,
                "relay.forwarded"
                if error is None
                else ("relay.refused" if final else "relay.forward_failed"),
                {
                    "batch": batch.id,
                    "link": batch.link_id,
                    "to": batch.to_party,
                    "attempts": batch.attempts,
                    **({"error": error[:200]} if error else {}),
                },
                link_id=None,
                now_ms=stamp,
            )

    # Reading ---------------------------------------------------------------

    def messages(
        self, link_name_or_id: str | None = None, *, direction: str | None = None, limit: int = 50
    ) -> list[Message]:
        with self.reading() as session:
            query = select(Message).order_by(Message.created_ms.desc(), Message.seq.desc())
            if link_name_or_id is not None:
                query = query.where(Message.link_id == self.find_link(link_name_or_id).id)
            if direction is not None:
                query = query.where(Message.direction == direction)
            return list(reversed(list(session.scalars(query.limit(limit)))))

    def message(self, message_id: str) -> Message | None:
        with self.reading() as session:
            return session.get(Message, message_id)

    def status(self) -> list[LinkStatus]:
        with self.reading() as session:
            return link_statuses(session)

    def outbox_depth(self) -> int:
        with self.reading() as session:
            return int(session.scalar(select(func.count()).select_from(Outbox)) or 0)

    def events_after(self, after_id: int, limit: int = 500) -> list[EventRow]:
        with self.reading() as session:
            return events_after(session, after_id, limit)

    def event_feed(self, after_id: int) -> EventFeed:
        """A live stream's reader of the events after ``after_id``."""

        async def read(after: int, limit: int) -> list[EventRow]:
            return await to_thread.run_sync(self.events_after, after, limit)

        return EventFeed(self.recent_events, self.committed, read, after_id)

    def export(self, link_name_or_id: str, *, with_payloads: bool = True) -> Bundle:
        link = self.find_link(link_name_or_id)
        with self.reading() as session:
            rows = session.execute(
                select(Entry.envelope, Entry.payload)
                .where(Entry.link_id == link.id)
                .order_by(Entry.position)
            ).all()
        return make_bundle(
            self.identity,
            link_id=link.id,
            link_name=link.name,
            purpose=link.purpose,
            invitation=(link.invitation_signed, link.invitation_signature),
            acceptance=(link.acceptance_signed, link.acceptance_signature),
            exported_ms=now_ms(),
            entries=[
                RecordEntry(bytes(env), bytes(payload) if with_payloads else None)
                for env, payload in rows
            ],
        )

    def audit_export(self, bundle: Bundle, *, file: str, payloads: bool, actor: str) -> None:
        """Record in the audit log that ``actor`` wrote ``bundle`` to ``file``."""
        detail = {
            "entries": len(bundle.entries),
            "link_id": bundle.link_id,
            "file": file,
            "payloads": payloads,
        }
        with self.transaction() as session:
            audit(
                session,
                actor=actor,
                action="record.export",
                target=bundle.link_name,
                outcome="ok",
                detail=detail,
                now=now_ms(),
            )


@dataclass(frozen=True)
class PushBatch:
    peer_seq: int
    seqs: list[int]
    envelopes: list[bytes]
    committed_ms: list[int]


# Built once: these run for every push and send, and building a statement costs
# more than running it.
_DELETE_PUSHED = Prepared(
    delete(OUTBOX).where(
        OUTBOX.c.link_id == bindparam("link"), OUTBOX.c.seq <= bindparam("through")
    )
)
# The due head of a link's outbox after a seq, with what push_batch needs, in one read.
_PUSH_BATCH = Prepared(
    select(
        OUTBOX.c.seq,
        ENTRIES.c.envelope,
        ENTRIES.c.stored_ms,
        OUTBOX.c.next_attempt_ms,
        LINKS.c.peer_seq,
    )
    .join(
        ENTRIES,
        (ENTRIES.c.link_id == OUTBOX.c.link_id) & (ENTRIES.c.id == OUTBOX.c.entry_id),
    )
    .join(LINKS, LINKS.c.id == OUTBOX.c.link_id)
    .where(OUTBOX.c.link_id == bindparam("link_id"), OUTBOX.c.seq > bindparam("after"))
    .order_by(OUTBOX.c.seq)
    .limit(bindparam("limit"))
)


def _check_pin(certificate: bytes) -> None:
    from ..transport.tls import check_pin as check

    try:
        check(certificate)
    except ValueError as exc:
        raise Refused(Reason.BAD_CERTIFICATE, f"certificate refused: {exc}") from None


__all__ = ["LinkNotFound", "LinkStatus", "Node"]
