"""Translations of free-text messages: the machine's draft, a translator's verified wording,
and the other side's rendering of our own messages ("how we were understood")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class Translation(Base):
    """One message in one target language, as one side rendered it.

    ``side`` is ``ours`` (this node's rendering of an incoming message, for its readers) or
    ``theirs`` (the peer's signed rendering of one of our messages, from its ``translation``
    entry). States: pending → machine | none → verified; a verified rendering of ours stays
    verified, and one of theirs may be marked ``disputed_*`` by our sender.

    ``provenance`` is a JSON map: ``{"machine": {"provider", "kind", "engine", "model"}}``
    for a machine translation, plus ``"verified": {"translator", "at_ms", "edited"}`` once a
    translator signed it. ``reason`` and ``detail`` say why there is no translation.
    """

    __tablename__ = "translations"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"))
    link_id: Mapped[str] = mapped_column(ForeignKey("links.id"))
    side: Mapped[str] = mapped_column(String(8))  # ours | theirs
    target: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # pending | machine | none | verified
    text: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    arrived_ms: Mapped[int]  # when the message reached this node (ours) or was sent (theirs)
    created_ms: Mapped[int]
    updated_ms: Mapped[int]
    verified_ms: Mapped[int | None]
    verified_by: Mapped[str | None] = mapped_column(String(200))
    entry_id: Mapped[str | None] = mapped_column(String(26))  # the signed translation entry
    disputed_ms: Mapped[int | None]
    disputed_by: Mapped[str | None] = mapped_column(String(200))
    dispute_note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("message_id", "side", "target", name="uq_translations_message"),
        # The translator's queue: our renderings not yet verified, oldest first.
        Index("ix_translations_queue", "side", "state", "arrived_ms"),
        Index("ix_translations_entry", "entry_id"),
    )
