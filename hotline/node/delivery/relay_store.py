"""Batches relayed for others, as this node stores them (:mod:`.relay` forwards
them): kept once, forwarded or retried with backoff, forgotten a while after.
Each operation is one transaction or one read."""

from __future__ import annotations

from sqlalchemy import delete, select

from ...clock import now_ms
from ...storage.models import RelayBatch, RelayRoute
from ..events import record_event
from ..paths import store as path_store
from ..runtime import NodeRuntime


def relay_routes(node: NodeRuntime, link_id: str | None = None) -> list[RelayRoute]:
    with node.reading() as session:
        routes = path_store.relay_routes(session)
    return [r for r in routes if link_id is None or r.link_id == link_id]


def relay_store(
    node: NodeRuntime, link_id: str, from_party: str, to_party: str, body: bytes, envelopes: int
) -> int:
    with node.transaction() as session:
        stamp = now_ms()
        # The same batch again (the sender retries while we cannot forward): keep one copy.
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


def relay_pending(node: NodeRuntime, limit: int = 32) -> list[RelayBatch]:
    with node.reading() as session:
        return list(
            session.scalars(
                select(RelayBatch)
                .where(RelayBatch.forwarded_ms.is_(None), RelayBatch.next_attempt_ms <= now_ms())
                .order_by(RelayBatch.id)
                .limit(limit)
            )
        )


def relay_prune(node: NodeRuntime, retain_ms: int) -> int:
    """Forget batches forwarded more than ``retain_ms`` ago. How many went."""
    with node.transaction() as session:
        result = session.execute(
            delete(RelayBatch).where(
                RelayBatch.forwarded_ms.is_not(None),
                RelayBatch.forwarded_ms < now_ms() - retain_ms,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def relay_done(node: NodeRuntime, batch_id: int, error: str | None, *, final: bool = False) -> None:
    """The forwarding attempt's outcome: forwarded (``error`` None), retry later, or
    (``final``) refused by the receiver: kept, marked, not retried."""
    with node.transaction() as session:
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
