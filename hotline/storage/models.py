"""Tables. The record (``entries``) is append-only; everything else is the node's
working state around it: the outbox, entries held for a gap, message ladders,
and the event log that feeds live streams."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    # BIGINT everywhere, but INTEGER on SQLite so that an integer primary key is its rowid.
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a plain dict)
        int: BigInteger().with_variant(Integer(), "sqlite"),
        bytes: LargeBinary,
        dict[str, Any]: JSON,
    }


class Invitation(Base):
    """Invitations this node issued, until an acceptance completes them."""

    __tablename__ = "invitations"
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    link_name: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    signed: Mapped[bytes]
    signature: Mapped[bytes]
    created_ms: Mapped[int]
    expires_ms: Mapped[int]
    used_ms: Mapped[int | None]


class Link(Base):
    __tablename__ = "links"
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))  # inviter | acceptor
    peer_party: Mapped[str] = mapped_column(String(64))
    peer_signing_key: Mapped[bytes]
    peer_encryption_key: Mapped[bytes]
    peer_tls_certificate: Mapped[bytes]
    peer_endpoints: Mapped[list[str]] = mapped_column(JSON)
    invitation_signed: Mapped[bytes]
    invitation_signature: Mapped[bytes]
    acceptance_signed: Mapped[bytes]
    acceptance_signature: Mapped[bytes]
    created_ms: Mapped[int]
    # Our own chain on this link.
    own_seq: Mapped[int] = mapped_column(default=0)
    own_head: Mapped[bytes | None]
    # The peer's chain as we hold it (contiguous prefix).
    peer_seq: Mapped[int] = mapped_column(default=0)
    peer_head: Mapped[bytes | None]
    # How much of our chain the peer has told us it holds.
    peer_has_seq: Mapped[int] = mapped_column(default=0)
    # Number of entries in our copy of the record (positions are 1..record_length).
    record_length: Mapped[int] = mapped_column(default=0)
    last_sent_ms: Mapped[int | None]
    last_received_ms: Mapped[int | None]
    # Settings for people's receipts and replies (policy work will make them signed by both).
    share_displayed: Mapped[bool] = mapped_column(default=True, server_default=true())
    replies_need_approval: Mapped[bool] = mapped_column(default=True, server_default=true())


class Entry(Base):
    """The record: every envelope on the link, both chains, in this node's order."""

    __tablename__ = "entries"
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(26))
    sender: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(26))
    hash: Mapped[bytes]
    time_ms: Mapped[int]
    stored_ms: Mapped[int]
    envelope: Mapped[bytes]
    payload: Mapped[bytes]
    __table_args__ = (
        UniqueConstraint("link_id", "sender", "seq", name="uq_entries_chain"),
        UniqueConstraint("link_id", "id", name="uq_entries_id"),
        Index("ix_entries_ref", "link_id", "ref"),
    )


class Message(Base):
    """A message's receipt ladder as this node sees it (outgoing or incoming)."""

    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # out | in
    sender: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    ref: Mapped[str | None] = mapped_column(String(26))
    created_ms: Mapped[int]  # the sender's time in the envelope
    queued_ms: Mapped[int | None]
    transmitted_ms: Mapped[int | None]
    delivered_ms: Mapped[int | None]  # time in the peer's signed delivery receipt
    received_ms: Mapped[int | None]  # incoming: when this node stored it
    displayed_ms: Mapped[int | None]
    displayed_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_ms: Mapped[int | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    answered_ms: Mapped[int | None]
    answered_by: Mapped[str | None] = mapped_column(String(26))
    # emergency | routine (from the body's "channel"; absent means routine), and the
    # agreed criterion an emergency activation named.
    channel: Mapped[str] = mapped_column(String(16), default="routine", server_default="routine")
    criterion: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_messages_link_created", "link_id", "created_ms", "seq"),
        # A push answered and a receipt: the rung goes on our messages that lack it, a
        # few at the end of the link, whatever its length (not a scan of the link).
        Index("ix_messages_untransmitted", "link_id", "direction", "transmitted_ms", "seq"),
        Index("ix_messages_undelivered", "link_id", "direction", "delivered_ms", "seq"),
        # The console's incoming items still to acknowledge, over a recent window.
        Index("ix_messages_direction_received", "direction", "received_ms"),
    )


class Outbox(Base):
    """Our entries the peer has not yet confirmed holding."""

    __tablename__ = "outbox"
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    entry_id: Mapped[str] = mapped_column(String(26))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_ms: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(Text)


class Held(Base):
    """Peer entries that arrived ahead of a gap: verified, not yet applied."""

    __tablename__ = "held"
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    envelope: Mapped[bytes]
    received_ms: Mapped[int]


class Event(Base):
    """Everything that happens on the node's links, in order, for live streams."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str | None] = mapped_column(String(26), index=True)
    type: Mapped[str] = mapped_column(String(48))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_ms: Mapped[int]


class Lease(Base):
    """Which process delivers a link's outbox, so two processes never interleave."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_ms: Mapped[int]


class Path(Base):
    """One way to reach a link's peer: a direct endpoint of the peer, or a relay
    both parties accepted. Liveness is written here by the process that holds the
    link's delivery lease, so every process (and the console) reads the same state."""

    __tablename__ = "paths"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), index=True)
    position: Mapped[int]  # lower is preferred; direct paths come before relays
    kind: Mapped[str] = mapped_column(String(8))  # direct | relay
    url: Mapped[str] = mapped_column(String(512))
    certificate: Mapped[bytes | None]  # a relay's pinned TLS certificate (DER)
    state: Mapped[str] = mapped_column(String(10), default="unknown")  # up|degraded|down|unknown
    active: Mapped[bool] = mapped_column(default=False)
    last_good_ms: Mapped[int | None]
    last_attempt_ms: Mapped[int | None]
    rtt_ms: Mapped[int | None]
    failures: Mapped[int] = mapped_column(default=0)  # consecutive
    successes: Mapped[int] = mapped_column(default=0)  # consecutive
    changed_ms: Mapped[int]
    created_ms: Mapped[int]
    # Set by an escalation's "switch_path": traffic keeps off this path until then,
    # even while it answers heartbeats (it may still not take pushes).
    avoid_until_ms: Mapped[int | None]
    __table_args__ = (UniqueConstraint("link_id", "url", name="uq_paths_url"),)


class RelayRoute(Base):
    """On a relay node: a link it agreed to relay, one row per party of the link."""

    __tablename__ = "relay_routes"
    link_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    party: Mapped[str] = mapped_column(String(64), primary_key=True)
    certificate: Mapped[bytes]  # the party's TLS certificate (DER), pinned
    endpoints: Mapped[list[str]] = mapped_column(JSON)
    created_ms: Mapped[int]


class RelayBatch(Base):
    """On a relay node: a sealed batch taken in for forwarding (ciphertext only)."""

    __tablename__ = "relay_batches"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(String(26))
    from_party: Mapped[str] = mapped_column(String(64))
    to_party: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes]
    envelopes: Mapped[int]
    received_ms: Mapped[int]
    forwarded_ms: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_ms: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_relay_batches_pending", "forwarded_ms", "next_attempt_ms"),)


# The same tables for Core statements, where a hot path needs no ORM objects.
LINKS = cast(Table, Link.__table__)
ENTRIES = cast(Table, Entry.__table__)
MESSAGES = cast(Table, Message.__table__)
OUTBOX = cast(Table, Outbox.__table__)
HELD = cast(Table, Held.__table__)
EVENTS = cast(Table, Event.__table__)
