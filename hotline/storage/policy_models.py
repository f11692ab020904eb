"""Tables for the rules of a link: signed policies, emergency activations awaiting a
second operator, escalation policies and the steps they took, console alerts, and
human-confirmed link tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class LinkPolicy(Base):
    """A policy version proposed on a link, by either side, and what became of it.

    States: proposed → in_force → superseded (by the next version in force), or
    proposed → refused (it failed a check; ``refusal`` says which) | withdrawn (another
    proposal of that version came into force first)."""

    __tablename__ = "link_policies"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"))
    version: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    proposed_by: Mapped[str] = mapped_column(String(64))  # party
    proposal_entry: Mapped[str] = mapped_column(String(26))
    document: Mapped[dict[str, Any]]  # the policy map (JSON view; the record has the CBOR)
    proposer_signature: Mapped[bytes]
    proposed_ms: Mapped[int]
    accepted_by: Mapped[str | None] = mapped_column(String(64))
    acceptance_entry: Mapped[str | None] = mapped_column(String(26))
    acceptor_signature: Mapped[bytes | None]
    in_force_ms: Mapped[int | None]
    refusal: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("link_id", "proposal_entry", name="uq_link_policies_entry"),
        Index("ix_link_policies_link_version", "link_id", "version"),
    )


class EmergencyActivation(Base):
    """An emergency activation: requested by one operator, approved by a second when the
    policy in force asks for it, then sent. States: awaiting_approval → sent, or
    awaiting_approval → rejected."""

    __tablename__ = "emergency_activations"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), index=True)
    state: Mapped[str] = mapped_column(String(24))
    requested_by: Mapped[str] = mapped_column(String(64))  # username
    requested_label: Mapped[str] = mapped_column(String(200))
    criterion: Mapped[str] = mapped_column(String(64))
    justification: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[int]
    created_ms: Mapped[int]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_label: Mapped[str | None] = mapped_column(String(200))
    decided_ms: Mapped[int | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(26))


class EscalationPolicy(Base):
    """This node's escalation ladder for a link (not signed, not shared with the peer)."""

    __tablename__ = "escalation_policies"
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), primary_key=True)
    document: Mapped[dict[str, Any]]
    updated_ms: Mapped[int]
    updated_by: Mapped[str] = mapped_column(String(128))


class EscalationStep(Base):
    """One action taken because an outgoing message (or link test) missed a deadline."""

    __tablename__ = "escalation_steps"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"))
    message_id: Mapped[str] = mapped_column(String(26))
    rung: Mapped[str] = mapped_column(String(16))
    step: Mapped[int]  # index of the action in the rung's list
    action: Mapped[str] = mapped_column(String(24))
    target: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(24))  # done | requested | not_needed
    detail: Mapped[str] = mapped_column(Text)
    waited_ms: Mapped[int]
    created_ms: Mapped[int]
    __table_args__ = (
        UniqueConstraint("message_id", "rung", "step", name="uq_escalation_steps_step"),
        Index("ix_escalation_steps_link", "link_id", "created_ms"),
    )


class Alert(Base):
    """Something the console must put in front of a role or a named user until cleared."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str | None] = mapped_column(ForeignKey("links.id"))
    kind: Mapped[str] = mapped_column(String(32))  # escalation | alternate_link | ...
    target_role: Mapped[str | None] = mapped_column(String(32))
    target_user: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(26))
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]
    created_ms: Mapped[int]
    cleared_ms: Mapped[int | None]
    cleared_by: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("ix_alerts_open", "cleared_ms", "created_ms"),)


class LinkTest(Base):
    """A human-confirmed link test, sent (out) or received (in).

    States: awaiting → confirmed | missed (out: not confirmed within the deadline) |
    lapsed (in: we did not confirm it within the deadline; it can no longer be)."""

    __tablename__ = "link_tests"
    id: Mapped[str] = mapped_column(String(26), primary_key=True)  # the link.test entry
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"))
    direction: Mapped[str] = mapped_column(String(3))
    seq: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    sent_ms: Mapped[int]
    deadline_ms: Mapped[int]
    confirmed_ms: Mapped[int | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(128))
    confirm_entry: Mapped[str | None] = mapped_column(String(26))
    __table_args__ = (
        Index("ix_link_tests_link", "link_id", "direction", "sent_ms"),
        Index("ix_link_tests_state_deadline", "state", "deadline_ms"),  # the watch, each second
    )


class LinkDocument(Base):
    """A phrasebook or glossary version proposed on a link, by either side, and what
    became of it (states as :class:`LinkPolicy`'s). ``content`` is the canonical CBOR
    both parties sign the digest of; ``digest`` is its SHA-256 in hex."""

    __tablename__ = "link_documents"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"))
    document: Mapped[str] = mapped_column(String(16))  # phrasebook | glossary
    version: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes]
    state: Mapped[str] = mapped_column(String(16))
    proposed_by: Mapped[str] = mapped_column(String(64))  # party
    proposal_entry: Mapped[str] = mapped_column(String(26))
    proposer_signature: Mapped[bytes]
    proposed_ms: Mapped[int]
    accepted_by: Mapped[str | None] = mapped_column(String(64))
    acceptance_entry: Mapped[str | None] = mapped_column(String(26))
    acceptor_signature: Mapped[bytes | None]
    in_force_ms: Mapped[int | None]
    refusal: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("link_id", "proposal_entry", name="uq_link_documents_entry"),
        Index("ix_link_documents_link_document", "link_id", "document", "version"),
    )
