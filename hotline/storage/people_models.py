"""Tables for what people do around the record: drafts awaiting approval, and calls."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base

# Drafts in these states are done with: the console no longer lists them.
CLOSED_DRAFT_STATES = ("sent", "discarded")


class Draft(Base):
    """A reply being written; may need a principal's approval before it is sent.

    States: draft → awaiting_approval → approved → sent (or rejected → draft);
    a draft in state ``draft`` may instead be discarded by its author."""

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str | None] = mapped_column(String(26))
    state: Mapped[str] = mapped_column(String(24))
    created_ms: Mapped[int]
    updated_ms: Mapped[int]
    submitted_ms: Mapped[int | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_ms: Mapped[int | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    sent_message_id: Mapped[str | None] = mapped_column(String(26))


class Call(Base):
    """A call on a link, from its request to its outcome, as this node saw it.

    States: ringing → accepted → ended, or ringing → declined | missed | cancelled.
    Every transition is also an entry in the record (kinds ``call.*``)."""

    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(String(26), primary_key=True)  # the call.request entry
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # out | in
    state: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_ms: Mapped[int]
    ring_timeout_ms: Mapped[int]
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_ms: Mapped[int | None]
    decline_reason: Mapped[str | None] = mapped_column(String(64))
    ended_by: Mapped[str | None] = mapped_column(String(128))
    ended_ms: Mapped[int | None]
    # An incoming call nobody answered stays in view until a person marks it seen.
    seen_by: Mapped[str | None] = mapped_column(String(128))
    seen_ms: Mapped[int | None]
