"""Taking in the peer's envelopes: verify everything first, then apply in order.

An envelope is applied only when it is the next entry of the peer's chain. One
that arrives ahead of a gap is verified and held; the gap is reported so the
sender resends and the receiver can pull. Every refusal names a code and writes
nothing. A batch that applied entries
warranting it is answered with one signed, cumulative ``receipt.delivered`` in
our own chain, naming the last of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from ...protocol.envelope import Envelope, Payload, open_payload, parse, verify
from ...protocol.errors import Code, ProtocolError
from ...protocol.keys import PrivateIdentity
from ...protocol.kinds import RECEIPTED_KINDS, Kind
from ...protocol.record import ChainHead, Placement, place
from ...storage.fast_path import Prepared, insert_staged
from ...storage.models import HELD, Entry, Held, Link
from ..events import record_event
from ..message_text import MESSAGE_KINDS
from ..record_store import Reference, append_own, append_peer, entry_hash, peer_identity
from .ladder import apply_peer_entry

log = logging.getLogger("hotline.ingest")

# Receipts ride back in the response; the outbox pushes them only if the peer
# has not confirmed holding them by then.
RECEIPT_PUSH_DELAY_MS = 2_000


@dataclass(frozen=True)
class Outcome:
    id: str | None
    status: str  # accepted | duplicate | held | refused
    code: str | None = None
    detail: str | None = None


@dataclass
class IngestResult:
    outcomes: list[Outcome] = field(default_factory=list)
    receipts: list[bytes] = field(default_factory=list)  # our receipt envelopes to return
    missing: tuple[int, int] | None = None  # peer seqs we still need (inclusive)
    have: int = 0  # how much of the peer's chain we now hold
    applied: int = 0
    holding: bool = False  # some of the peer's envelopes are held ahead of a gap
    # The last receipted entry applied in this batch (and its seq): what our receipt names.
    receipt_for: tuple[Reference, int] | None = None


def ingest(
    session: Session, link: Link, me: PrivateIdentity, raw_envelopes: list[bytes], *, now_ms: int
) -> IngestResult:
    """Verify and apply a batch from the peer. The caller holds the link lock and
    commits. Stops at the first refusal: later envelopes of a chain cannot apply."""
    result = IngestResult()
    # What this batch adds is written in one flush, at commit: an autoflush before
    # each query would cost as much as the inserts themselves. The few queries that
    # may need this batch's own rows flush first (duplicates, held envelopes,
    # references, and the rare kinds under _autoflushing).
    with session.no_autoflush:
        result.holding = _lowest_held(session, link) is not None
        for raw in raw_envelopes:
            try:
                envelope, payload = _check(session, link, me, raw)
            except ProtocolError as exc:
                _refuse(session, link, result, raw, exc, now_ms)
                break
            outcome = _place_and_apply(session, link, me, envelope, payload, result, now_ms)
            result.outcomes.append(outcome)
            if outcome.status == "refused":
                break
        if result.receipt_for is not None:
            _append_receipt(session, link, me, result, now_ms)
        result.have = link.peer_seq
        if result.holding:
            session.flush()
            lowest_held = _lowest_held(session, link)
            result.holding = lowest_held is not None
            if lowest_held is not None and lowest_held > link.peer_seq + 1:
                result.missing = (link.peer_seq + 1, lowest_held - 1)
    return result


# Built once: this runs for every batch received.
_LOWEST_HELD = Prepared(
    select(HELD.c.seq).where(HELD.c.link_id == bindparam("link_id")).order_by(HELD.c.seq).limit(1)
)


def _lowest_held(session: Session, link: Link) -> int | None:
    lowest: int | None = _LOWEST_HELD.scalar(session.connection(), {"link_id": link.id})
    return lowest


@contextmanager
def _autoflushing(session: Session) -> Iterator[None]:
    """Autoflush back on, for code written expecting it (calls, policy, tests,
    emergencies: rare entries whose handlers may look up this batch's rows)."""
    session.flush()
    previous, session.autoflush = session.autoflush, True
    try:
        yield
    finally:
        session.autoflush = previous


def _check(
    session: Session, link: Link, me: PrivateIdentity, raw: bytes
) -> tuple[Envelope, Payload]:
    envelope = parse(raw)
    header = envelope.header
    if header.link != link.id:
        raise ProtocolError(Code.WRONG_LINK, f"envelope is for link {header.link}, not {link.id}")
    if header.sender != link.peer_party:
        raise ProtocolError(Code.UNKNOWN_SENDER, f"{header.sender!r} is not this link's peer")
    if me.party not in header.recipients:
        raise ProtocolError(Code.WRONG_RECIPIENT, f"envelope is not addressed to {me.party!r}")
    peer = peer_identity(link)
    verify(envelope, peer)
    payload = open_payload(envelope, me, peer)
    return envelope, payload


def _place_and_apply(
    session: Session,
    link: Link,
    me: PrivateIdentity,
    envelope: Envelope,
    payload: Payload,
    result: IngestResult,
    now_ms: int,
) -> Outcome:
    header = envelope.header
    held_hash = None
    if header.seq <= link.peer_seq:
        # A duplicate may be of an entry applied earlier in this batch, and staged: a
        # flush writes nothing while no ORM object changed (the link is staged too).
        insert_staged(session)
        held_hash = session.scalar(
            select(Entry.hash).where(
                Entry.link_id == link.id, Entry.sender == header.sender, Entry.seq == header.seq
            )
        )
    try:
        placement = place(ChainHead(link.peer_seq, link.peer_head), envelope, held_hash)
        if placement is Placement.NEXT:
            _check_reference(session, link, envelope)
    except ProtocolError as exc:
        _log_refusal(session, link, header.id, exc, now_ms)
        return Outcome(header.id, "refused", exc.code.value, exc.detail)
    if placement is Placement.DUPLICATE:
        receipt = _latest_receipt(session, link)
        if (
            receipt is not None
            and header.kind in RECEIPTED_KINDS
            and receipt not in result.receipts
        ):
            result.receipts.append(receipt)
        return Outcome(header.id, "duplicate")
    if placement is Placement.AHEAD:  # place() refused anything too far ahead
        if session.get(Held, (link.id, header.seq)) is None:  # each is flushed when added
            session.add(
                Held(
                    link_id=link.id,
                    seq=header.seq,
                    envelope=envelope.to_bytes(),
                    received_ms=now_ms,
                )
            )
            record_event(
                session,
                "envelope.held",
                {"id": header.id, "seq": header.seq, "expected": link.peer_seq + 1},
                link_id=link.id,
                now_ms=now_ms,
            )
            session.flush()  # so that _drain_held finds it
        result.holding = True
        return Outcome(header.id, "held")
    _apply(session, link, me, envelope, payload, result, now_ms)
    if result.holding:
        _drain_held(session, link, me, result, now_ms)
    return Outcome(header.id, "accepted")


def _apply(
    session: Session,
    link: Link,
    me: PrivateIdentity,
    envelope: Envelope,
    payload: Payload,
    result: IngestResult,
    now_ms: int,
) -> None:
    entry = append_peer(session, link, envelope, payload.to_bytes(), now_ms=now_ms)
    kind = envelope.header.kind
    routine = kind is Kind.RECEIPT_DELIVERED or (
        kind in MESSAGE_KINDS and payload.body.get("channel", "routine") == "routine"
    )
    if routine:
        apply_peer_entry(session, entry, kind, payload.body, now_ms=now_ms)
    else:
        with _autoflushing(session):
            apply_peer_entry(session, entry, kind, payload.body, now_ms=now_ms)
    result.applied += 1
    if envelope.header.kind in RECEIPTED_KINDS:
        result.receipt_for = (Reference(entry.id, entry.hash), entry.seq)


def _append_receipt(
    session: Session, link: Link, me: PrivateIdentity, result: IngestResult, now_ms: int
) -> None:
    """One cumulative receipt for the batch: it names the last entry applied, whose
    hash commits to the peer's whole chain up to it."""
    assert result.receipt_for is not None
    reference, seq = result.receipt_for
    _, receipt = append_own(
        session,
        link,
        me,
        Kind.RECEIPT_DELIVERED,
        {"stage": "delivered", "received_ms": now_ms, "through_seq": seq},
        now_ms=now_ms,
        ref=reference,
        deliver_after_ms=RECEIPT_PUSH_DELAY_MS,
    )
    result.receipts.append(receipt.to_bytes())


def _drain_held(
    session: Session, link: Link, me: PrivateIdentity, result: IngestResult, now_ms: int
) -> None:
    while True:
        held = session.get(Held, (link.id, link.peer_seq + 1))
        if held is None:
            return
        raw = held.envelope
        session.delete(held)
        try:
            envelope, payload = _check(session, link, me, raw)
            if (
                place(ChainHead(link.peer_seq, link.peer_head), envelope, None)
                is not Placement.NEXT
            ):
                raise ProtocolError(Code.CHAIN_BROKEN, "held entry does not follow")
            _check_reference(session, link, envelope)
        except ProtocolError as exc:
            # A held entry that no longer fits (e.g. a fork) is dropped; the sender resends.
            _log_refusal(session, link, None, exc, now_ms)
            session.execute(delete(Held).where(Held.link_id == link.id))
            return
        _apply(session, link, me, envelope, payload, result, now_ms)


def _check_reference(session: Session, link: Link, envelope: Envelope) -> None:
    header = envelope.header
    if header.ref is None:
        return
    target_hash = entry_hash(session, link.id, header.ref)
    if target_hash is None or target_hash != header.ref_hash:
        raise ProtocolError(Code.BAD_REFERENCE, f"ref {header.ref} is not an entry of this record")


def _latest_receipt(session: Session, link: Link) -> bytes | None:
    """Our latest delivery receipt: being cumulative, it covers any duplicate."""
    return session.scalar(
        select(Entry.envelope)
        .where(
            Entry.link_id == link.id,
            Entry.kind == Kind.RECEIPT_DELIVERED.value,
            Entry.sender != link.peer_party,
        )
        .order_by(Entry.position.desc())
        .limit(1)
    )


def _refuse(
    session: Session,
    link: Link,
    result: IngestResult,
    raw: bytes,
    exc: ProtocolError,
    now_ms: int,
) -> None:
    envelope_id = _id_if_readable(raw)
    _log_refusal(session, link, envelope_id, exc, now_ms)
    result.outcomes.append(Outcome(envelope_id, "refused", exc.code.value, exc.detail))


def _log_refusal(
    session: Session, link: Link, envelope_id: str | None, exc: ProtocolError, now_ms: int
) -> None:
    log.warning(
        "refused envelope on link %s: id=%s code=%s detail=%s",
        link.id,
        envelope_id,
        exc.code.value,
        exc.detail,
    )
    data: dict[str, Any] = {"id": envelope_id, "code": exc.code.value, "detail": exc.detail}
    record_event(session, "envelope.refused", data, link_id=link.id, now_ms=now_ms)


def _id_if_readable(raw: bytes) -> str | None:
    try:
        return parse(raw).header.id
    except ProtocolError:
        return None
