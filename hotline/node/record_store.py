"""Appending to a link's record: our own new entries, and the peer's verified ones.

Callers hold the link's row lock (``lock_link``) for the whole transaction, so
sequence numbers, chain heads and record positions are allocated without races,
also when several processes serve one node over one PostgreSQL database.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..protocol.envelope import (
    CONTENT_KEY_SIZE,
    NONCE_SIZE,
    SALT_SIZE,
    Envelope,
    Payload,
    new_id,
    seal,
)
from ..protocol.keys import PrivateIdentity, PublicIdentity
from ..protocol.kinds import Kind
from ..storage.fast_path import (
    Prepared,
    column_keys,
    insert_staged,
    outside_session,
    stage_new,
    stage_update,
)
from ..storage.models import ENTRIES, LINKS, Entry, Link, Outbox
from .events import record_event
from .fresh import FreshEntry


class LinkNotFound(LookupError):
    pass


# Built once: these run in every send and receive, and building a statement costs
# more than running it.
# A lock reads the row afresh, also into a Link this session already holds.
_LOCK_LINK = (
    select(Link)
    .where(Link.id == bindparam("link_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_ENTRY_HASH = Prepared(
    select(ENTRIES.c.hash).where(
        ENTRIES.c.link_id == bindparam("link_id"), ENTRIES.c.id == bindparam("entry_id")
    )
)


def lock_link(session: Session, link_id: str) -> Link:
    insert_staged(session)  # the row is read afresh: this transaction's changes first
    link = session.scalar(_LOCK_LINK, {"link_id": link_id})
    if link is None:
        raise LinkNotFound(link_id)
    return link


# The same lock on the driver's cursor, for sends, receives and replies: loading the
# row into the session (identity map, attribute state) cost twice the statement.
_LOCK_LINK_ROW = Prepared(select(LINKS).where(LINKS.c.id == bindparam("key")).with_for_update())
_LOCK_LINK_ROW_BY_NAME_OR_ID = Prepared(
    select(LINKS)
    .where(or_(LINKS.c.name == bindparam("key"), LINKS.c.id == bindparam("key")))
    .with_for_update()
)


def lock_link_outside_session(session: Session, link_id: str, *, by_name: bool = False) -> Link:
    """:func:`lock_link`, returning a Link the session does not hold: read it and
    extend its chain (:func:`advance_link`); changes made to it otherwise are not
    written. ``by_name``: ``link_id`` may also be the link's name."""
    insert_staged(session)
    query = _LOCK_LINK_ROW_BY_NAME_OR_ID if by_name else _LOCK_LINK_ROW
    rows = query.rows(session.connection(), {"key": link_id})
    if not rows:
        raise LinkNotFound(link_id)
    return link_from_row(rows[0])


def link_from_row(row: Sequence[Any]) -> Link:
    """A Link from a row of every column of ``links``, in table order."""
    return outside_session(Link, dict(zip(column_keys(LINKS), row, strict=True)))


def advance_link(session: Session, link: Link, **values: Any) -> None:
    """Change the link's chain heads and counters: on the object now, in the
    database with the transaction's staged writes (not through the unit of work,
    which cost more than the rest of a receipt)."""
    for key, value in values.items():
        set_committed_value(link, key, value)
    stage_update(session, LINKS, (link.id,), values)


def peer_identity(link: Link) -> PublicIdentity:
    return PublicIdentity(link.peer_party, link.peer_signing_key, link.peer_encryption_key)


@dataclass(frozen=True)
class Reference:
    id: str
    hash: bytes


_OUTBOX_DUE = "hotline.outbox_due"
_FRESH = "hotline.fresh_entries"


def outbox_due(session: Session) -> None:
    """Something in an outbox is due now: wake the deliverer once this commits."""
    session.info[_OUTBOX_DUE] = True


def push_outbox_now(session: Session, link_id: str, now_ms: int) -> None:
    """Make the link's whole outbox due now, with its failures forgotten, and wake
    the deliverer once this commits."""
    session.execute(
        update(Outbox).where(Outbox.link_id == link_id).values(next_attempt_ms=now_ms, attempts=0)
    )
    outbox_due(session)


def take_outbox_due(session: Session) -> bool:
    return bool(session.info.pop(_OUTBOX_DUE, False))


def take_fresh(session: Session) -> list[tuple[str, FreshEntry]]:
    """Our entries appended in this transaction and due at once (see fresh.py)."""
    fresh: list[tuple[str, FreshEntry]] = session.info.pop(_FRESH, [])
    return fresh


def find_entry(session: Session, link_id: str, entry_id: str) -> Entry | None:
    insert_staged(session)  # the entry may be one this transaction just appended
    return session.scalar(select(Entry).where(Entry.link_id == link_id, Entry.id == entry_id))


def entry_hash(session: Session, link_id: str, entry_id: str) -> bytes | None:
    """:func:`find_entry`'s hash alone, on the driver: ingest checks every reference."""
    insert_staged(session)
    parameters = {"link_id": link_id, "entry_id": entry_id}
    value: bytes | None = _ENTRY_HASH.scalar(session.connection(), parameters)
    return value


# An entry's randomness: salt, the id's 10 random bytes, content key, nonce,
# wrapped-key nonce.
_RANDOM_BYTES = SALT_SIZE + 10 + CONTENT_KEY_SIZE + 2 * NONCE_SIZE


def append_own(
    session: Session,
    link: Link,
    me: PrivateIdentity,
    kind: Kind,
    body: dict[str, Any],
    *,
    now_ms: int,
    ref: Reference | None = None,
    deliver_after_ms: int = 0,
) -> tuple[Entry, Envelope]:
    """Seal the next entry of our chain, store it in the record and queue it."""
    # All the entry's randomness in one read: each os.urandom call releases the GIL,
    # and under load the event loop takes it each time, stretching the transaction.
    randomness = io.BytesIO(os.urandom(_RANDOM_BYTES))
    salt = randomness.read(SALT_SIZE)
    envelope = seal(
        sender=me,
        recipients=[peer_identity(link)],
        link=link.id,
        envelope_id=new_id(now_ms, randomness.read(10)),
        seq=link.own_seq + 1,
        time_ms=now_ms,
        kind=kind,
        body=body,
        prev=link.own_head,
        ref=ref.id if ref else None,
        ref_hash=ref.hash if ref else None,
        salt=salt,
        content_key=randomness.read(CONTENT_KEY_SIZE),
        nonce=randomness.read(NONCE_SIZE),
        key_nonces=[randomness.read(NONCE_SIZE)],
    )
    payload = Payload(body, salt).to_bytes()
    entry = _store(session, link, envelope, payload, now_ms)
    advance_link(
        session, link, own_seq=envelope.header.seq, own_head=envelope.hash, last_sent_ms=now_ms
    )
    stage_new(
        session,
        Outbox,
        link_id=link.id,
        seq=envelope.header.seq,
        entry_id=entry.id,
        attempts=0,
        next_attempt_ms=now_ms + deliver_after_ms,
        last_error=None,
    )
    if deliver_after_ms == 0:
        outbox_due(session)
        fresh = FreshEntry(envelope.header.seq, entry.envelope, now_ms)
        session.info.setdefault(_FRESH, []).append((link.id, fresh))
    record_event(
        session,
        "entry.committed",
        {
            "id": entry.id,
            "kind": kind.value,
            "sender": me.party,
            "seq": entry.seq,
            "ref": entry.ref,
        },
        link_id=link.id,
        now_ms=now_ms,
    )
    return entry, envelope


def append_peer(
    session: Session, link: Link, envelope: Envelope, payload: bytes, *, now_ms: int
) -> Entry:
    """Store the peer's next verified entry and advance our copy of its chain."""
    entry = _store(session, link, envelope, payload, now_ms)
    advance_link(
        session,
        link,
        peer_seq=envelope.header.seq,
        peer_head=envelope.hash,
        last_received_ms=now_ms,
    )
    return entry


def _store(session: Session, link: Link, envelope: Envelope, payload: bytes, now_ms: int) -> Entry:
    header = envelope.header
    advance_link(session, link, record_length=link.record_length + 1)
    return stage_new(
        session,
        Entry,
        link_id=link.id,
        position=link.record_length,
        id=header.id,
        sender=header.sender,
        seq=header.seq,
        kind=header.kind.value,
        ref=header.ref,
        hash=envelope.hash,
        time_ms=header.time_ms,
        stored_ms=now_ms,
        envelope=envelope.to_bytes(),
        payload=payload,
    )
