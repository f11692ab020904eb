"""Each link's outbox, as the deliverer and the peer API work it: what is due, what
the peer answered and sent back, backing off when it did not, and our chain again
when the peer saw a gap. Each operation is one transaction or one read."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from ...clock import now_ms
from ...protocol.errors import Code, ProtocolError
from ...storage.fast_path import Prepared
from ...storage.models import ENTRIES, LINKS, OUTBOX, Entry, Link, Outbox
from ..events import record_event
from ..record_store import advance_link, lock_link, lock_link_outside_session, push_outbox_now
from ..runtime import NodeRuntime
from . import leases
from .ingest import IngestResult, ingest
from .ladder import mark_transmitted

BACKOFF_BASE_MS = 250
BACKOFF_CAP_MS = 30_000


@dataclass(frozen=True)
class PushBatch:
    peer_seq: int
    seqs: list[int]
    envelopes: list[bytes]
    committed_ms: list[int]


def pending(
    node: NodeRuntime, link_id: str, *, limit: int, due_only: bool = True
) -> list[tuple[int, bytes]]:
    with node.reading() as session:
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


def push_batch(node: NodeRuntime, link_id: str, *, limit: int, after: int = 0) -> PushBatch | None:
    """What the deliverer pushes next, in one read: the due head of the outbox after
    seq ``after`` (what the peer is known to hold), with commit times for the latency
    metric, and how much of the peer's chain we hold. None when nothing is due."""
    with node.reading() as session:
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


def receive(node: NodeRuntime, link_id: str, envelopes: list[bytes], peer_has: int) -> IngestResult:
    """The peer API: a batch of the peer's envelopes, plus how much of our chain it holds."""
    with node.transaction() as session:
        link = lock_link_outside_session(session, link_id)
        stamp = now_ms()
        _peer_holds(session, link, peer_has, stamp)
        return ingest(session, link, node.identity, envelopes, now_ms=stamp)


def delivered(
    node: NodeRuntime,
    link_id: str,
    peer_has: int,
    returned: list[bytes],
    *,
    sent_ms: int | None = None,
) -> IngestResult:
    """The peer answered our push (sent at ``sent_ms``): it holds our chain up to
    ``peer_has`` and sent back its entries (receipts) in ``returned``."""
    with node.transaction() as session:
        link = lock_link_outside_session(session, link_id)
        stamp = now_ms()
        _peer_holds(session, link, peer_has, sent_ms or stamp)
        return ingest(session, link, node.identity, returned, now_ms=stamp)


def delivery_failed(node: NodeRuntime, link_id: str, error: str) -> int:
    """Back off the link's outbox: exponential with full jitter. Returns the delay."""
    with node.transaction() as session:
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


def acquire_lease(node: NodeRuntime, name: str, holder: str) -> bool:
    with node.transaction() as session:
        return leases.acquire(session, name, holder, now_ms())


def own_entries_after(node: NodeRuntime, link_id: str, after_seq: int, limit: int) -> list[bytes]:
    """Our chain after ``after_seq``: what the peer asks for when it sees a gap."""
    with node.reading() as session:
        rows = session.scalars(
            select(Entry.envelope)
            .where(Entry.link_id == link_id, Entry.sender == node.party, Entry.seq > after_seq)
            .order_by(Entry.seq)
            .limit(limit)
        )
        return [bytes(r) for r in rows]


def defer_outbox(node: NodeRuntime, link_id: str, delay_ms: int) -> None:
    """Hold the link's outbox for ``delay_ms`` without counting a failure (a relay
    took the batch; the receipt will say when it arrived)."""
    with node.transaction() as session:
        if delay_ms == 0:
            push_outbox_now(session, link_id, now_ms())
            return
        session.execute(
            update(Outbox)
            .where(Outbox.link_id == link_id)
            .values(next_attempt_ms=now_ms() + delay_ms)
        )


def _peer_holds(session: Session, link: Link, peer_has: int, sent_ms: int) -> None:
    if peer_has > link.own_seq:
        raise ProtocolError(Code.SEQUENCE_GAP, "peer claims entries we never wrote")
    if peer_has <= link.peer_has_seq:
        return
    advance_link(session, link, peer_has_seq=peer_has)
    _DELETE_PUSHED.rows(session.connection(), {"link": link.id, "through": peer_has})
    mark_transmitted(session, link.id, peer_has, now_ms=sent_ms)


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
