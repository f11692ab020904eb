"""Translations in the node's tables, inside the caller's transaction.

Three writers: the node's translator stores machine drafts (or why there is none) for incoming
free text; a translator's verification appends our signed ``translation`` entry; and the
peer's ``translation`` entries, applied at ingest, become "how we were understood" rows, or
(when they dispute one of our renderings) an alert for our translators.

The ``translation`` entry's body (docs/protocol.md §7)::

    {"target": tag, "source": tag, "text": text,
     "provenance": {"verified": {"translator": text, "at_ms": uint, "edited": bool},
                    "machine"?: {"provider": text, "kind": text, "engine": text, "model": text}},
     "arrived_ms": uint}                      ref: the message translated

    {"dispute": {"by": text, "note": text}, "target": tag}
                                              ref: the translation entry disputed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...language.translation import tags
from ...storage.models import Entry, Message
from ...storage.translation_models import Translation
from ..events import record_event
from ..message_text import MAX_TEXT_CHARS
from ..rules.alerts import raise_alert

OURS, THEIRS = "ours", "theirs"
PENDING, MACHINE, NONE, VERIFIED = "pending", "machine", "none", "verified"
MAX_NOTE_CHARS = 2_000
DISPUTED_ALERT = "translation_disputed"


@dataclass(frozen=True)
class TranslationView:
    """A rendering of one message in one language, as the console and the API show it."""

    message_id: str
    link_id: str
    side: str
    target: str
    source: str | None
    state: str
    text: str | None
    provenance: dict[str, Any]
    reason: str | None
    detail: str | None
    arrived_ms: int
    verified_ms: int | None
    verified_by: str | None
    entry_id: str | None
    disputed_ms: int | None
    disputed_by: str | None
    dispute_note: str | None

    @property
    def to_verified_ms(self) -> int | None:
        """Time from the message's arrival to its verified translation."""
        return None if self.verified_ms is None else max(0, self.verified_ms - self.arrived_ms)

    @property
    def machine(self) -> dict[str, Any]:
        found = self.provenance.get("machine")
        return found if isinstance(found, dict) else {}

    def as_json(self) -> dict[str, Any]:
        return {
            "message": self.message_id,
            "side": self.side,
            "target": self.target,
            "source": self.source,
            "state": self.state,
            "text": self.text,
            "provenance": self.provenance,
            "reason": self.reason,
            "detail": self.detail,
            "arrived_ms": self.arrived_ms,
            "verified_ms": self.verified_ms,
            "verified_by": self.verified_by,
            "to_verified_ms": self.to_verified_ms,
            "entry": self.entry_id,
            "disputed_ms": self.disputed_ms,
            "disputed_by": self.disputed_by,
            "dispute_note": self.dispute_note,
        }


def view(row: Translation) -> TranslationView:
    return TranslationView(
        message_id=row.message_id,
        link_id=row.link_id,
        side=row.side,
        target=row.target,
        source=row.source,
        state=row.state,
        text=row.text,
        provenance=dict(row.provenance or {}),
        reason=row.reason,
        detail=row.detail,
        arrived_ms=row.arrived_ms,
        verified_ms=row.verified_ms,
        verified_by=row.verified_by,
        entry_id=row.entry_id,
        disputed_ms=row.disputed_ms,
        disputed_by=row.disputed_by,
        dispute_note=row.dispute_note,
    )


def find(session: Session, message_id: str, side: str, target: str) -> Translation | None:
    return session.scalar(
        select(Translation).where(
            Translation.message_id == message_id,
            Translation.side == side,
            Translation.target == target,
        )
    )


def new_row(message: Message, side: str, target: str, now_ms: int) -> Translation:
    arrived = message.received_ms if side == OURS else message.created_ms
    return Translation(
        message_id=message.id,
        link_id=message.link_id,
        side=side,
        target=target,
        state=PENDING,
        provenance={},
        arrived_ms=arrived if arrived is not None else now_ms,
        created_ms=now_ms,
        updated_ms=now_ms,
    )


def announce(session: Session, row: Translation, now_ms: int) -> None:
    record_event(
        session,
        "translation.updated",
        {"id": row.message_id, "state": row.state, "message": row.message_id},
        link_id=row.link_id,
        now_ms=now_ms,
    )


def apply_peer_translation(
    session: Session, entry: Entry, body: dict[str, Any], *, now_ms: int
) -> None:
    """The peer's ``translation`` entry: its verified rendering of our message, or its
    dispute of one of our renderings. A body this node cannot read stays in the record
    and changes nothing else."""
    if entry.ref is None:
        return
    dispute = body.get("dispute")
    if isinstance(dispute, dict):
        _apply_dispute(session, entry, dispute, now_ms)
        return
    target, text = body.get("target"), body.get("text")
    if not _tag(target) or not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT_CHARS:
        return
    assert isinstance(target, str)
    message = session.get(Message, entry.ref)
    if message is None or message.direction != "out":
        return
    provenance = body.get("provenance")
    provenance = provenance if isinstance(provenance, dict) else {}
    verified = provenance.get("verified")
    verified = verified if isinstance(verified, dict) else {}
    row = find(session, message.id, THEIRS, target) or new_row(message, THEIRS, target, now_ms)
    source = body.get("source")
    row.source = source if _tag(source) else None
    row.state, row.text, row.provenance = VERIFIED, text, _plain(provenance)
    at = verified.get("at_ms")
    row.verified_ms = at if isinstance(at, int) and at >= 0 else entry.time_ms
    by = verified.get("translator")
    row.verified_by = by[:200] if isinstance(by, str) and by else entry.sender
    row.entry_id, row.updated_ms = entry.id, now_ms
    row.disputed_ms = row.disputed_by = row.dispute_note = None
    session.add(row)
    session.flush()
    announce(session, row, now_ms)


def _apply_dispute(session: Session, entry: Entry, dispute: dict[str, Any], now_ms: int) -> None:
    row = session.scalar(
        select(Translation).where(Translation.entry_id == entry.ref, Translation.side == OURS)
    )
    if row is None:
        return
    by, note = dispute.get("by"), dispute.get("note")
    row.disputed_ms = entry.time_ms
    row.disputed_by = by[:200] if isinstance(by, str) and by else entry.sender
    row.dispute_note = note[:MAX_NOTE_CHARS] if isinstance(note, str) else ""
    row.updated_ms = now_ms
    session.flush()
    who, said = row.disputed_by, row.dispute_note
    text = f"{who} says our rendering of message {row.message_id[-6:]} is not what they meant"
    text_zh = f"{who}表示我方对消息 {row.message_id[-6:]} 的译文并非其本意"
    if said:
        text, text_zh = f"{text}: “{said}”", f"{text_zh}：“{said}”"
    raise_alert(
        session,
        link_id=row.link_id,
        kind=DISPUTED_ALERT,
        role="translator",
        message_id=row.message_id,
        text=text,
        data={"target": row.target, "texts": {"en": text, "zh-Hans": text_zh}},
        now_ms=now_ms,
    )
    announce(session, row, now_ms)


def translation_body(row: Translation, text: str, translator: str, at_ms: int) -> dict[str, Any]:
    """The body of our ``translation`` entry for a verified rendering of ``row``."""
    provenance: dict[str, Any] = {
        "verified": {"translator": translator, "at_ms": at_ms, "edited": text != row.text}
    }
    machine = (row.provenance or {}).get("machine")
    if isinstance(machine, dict):
        provenance["machine"] = machine
    body: dict[str, Any] = {
        "target": row.target,
        "text": text,
        "provenance": provenance,
        "arrived_ms": row.arrived_ms,
    }
    if row.source:
        body["source"] = row.source
    return body


def _tag(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 16 and tags.is_tag(value)


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """Only the text, integer and boolean leaves of a peer's provenance, two levels deep."""
    kept: dict[str, Any] = {}
    for key, inner in value.items():
        if not isinstance(key, str) or not isinstance(inner, dict):
            continue
        kept[key[:32]] = {
            str(k)[:32]: (v[:200] if isinstance(v, str) else v)
            for k, v in inner.items()
            if isinstance(v, (str, int, bool))
        }
    return kept
