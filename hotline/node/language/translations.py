"""Translations at the node: read them, keep the translator's queue, verify, dispute.

Each operation is one transaction. Verifying appends our signed ``translation`` entry bound to
the message (so the rendering reaches the sender: "how you were understood"); disputing the
peer's rendering of one of our messages appends a ``translation`` entry bound to theirs, which
alerts their translators. Every change announces ``translation.updated`` for the consoles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ...clock import now_ms
from ...errors import Reason
from ...language.translation import tags
from ...protocol.kinds import Kind
from ...storage.models import Link, Message
from ...storage.translation_models import Translation
from ..message_text import MAX_TEXT_CHARS
from ..record_store import Reference, append_own, find_entry, lock_link
from ..refusals import Refused
from ..rules.alerts import clear_alerts_for
from ..runtime import NodeRuntime
from .translation_store import (
    DISPUTED_ALERT,
    MACHINE,
    MAX_NOTE_CHARS,
    NONE,
    OURS,
    PENDING,
    THEIRS,
    VERIFIED,
    TranslationView,
    announce,
    find,
    new_row,
    translation_body,
    view,
)


@dataclass(frozen=True)
class Rendering:
    """What the node's translator made of one message in one language."""

    message_id: str
    target: str
    source: str | None
    text: str | None  # None: no translation (``reason`` says why)
    provenance: dict[str, str]
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Waiting:
    """An incoming free-text message awaiting translation into ``targets``."""

    message_id: str
    link_id: str
    text: str
    lang: str | None
    targets: tuple[str, ...]


@dataclass(frozen=True)
class QueueItem:
    """The translator's queue: an incoming message and our rendering awaiting verification."""

    message_id: str
    link_name: str
    sender: str
    seq: int
    original: str
    lang: str | None
    translation: TranslationView


class Translations:
    def __init__(self, node: NodeRuntime) -> None:
        self.node = node

    # Reading ------------------------------------------------------------------

    def of_message(self, message_id: str) -> list[TranslationView]:
        return self.of_messages([message_id]).get(message_id, [])

    def of_messages(self, message_ids: Sequence[str]) -> dict[str, list[TranslationView]]:
        found: dict[str, list[TranslationView]] = {}
        if not message_ids:
            return found
        with self.node.reading() as session:
            rows = session.scalars(
                select(Translation)
                .where(Translation.message_id.in_(list(message_ids)))
                .order_by(Translation.side, Translation.target)
            )
            for row in rows:
                found.setdefault(row.message_id, []).append(view(row))
        return found

    def queue(self, *, limit: int = 100) -> list[QueueItem]:
        """Our renderings not yet verified (machine drafts, and texts with none), and verified
        ones the sender disputed since; oldest arrival first."""
        with self.node.reading() as session:
            waiting = (Translation.state != VERIFIED) | (
                Translation.disputed_ms.is_not(None)
                & (Translation.disputed_ms >= Translation.verified_ms)
            )
            rows = session.execute(
                select(Translation, Message, Link.name)
                .join(Message, Message.id == Translation.message_id)
                .join(Link, Link.id == Translation.link_id)
                .where(Translation.side == OURS, waiting)
                .order_by(Translation.arrived_ms, Translation.id)
                .limit(limit)
            ).all()
            return [
                QueueItem(
                    message_id=message.id,
                    link_name=name,
                    sender=message.sender,
                    seq=message.seq,
                    original=str(message.body.get("text", "")),
                    lang=_lang(message.body.get("lang")),
                    translation=view(row),
                )
                for row, message, name in rows
            ]

    def waiting(self, reading: Sequence[str], *, limit: int = 64) -> list[Waiting]:
        """Incoming free-text messages lacking our rendering in one of the ``reading``
        languages (the translator's start-up catch-up), oldest first."""
        with self.node.reading() as session:
            done: dict[str, set[str]] = {}
            messages = list(
                session.scalars(
                    select(Message)
                    .where(Message.direction == "in", Message.kind == Kind.MESSAGE.value)
                    .order_by(Message.received_ms.desc())
                    .limit(limit * 4)
                )
            )
            ids = [m.id for m in messages]
            for message_id, target in session.execute(
                select(Translation.message_id, Translation.target).where(
                    Translation.message_id.in_(ids), Translation.side == OURS
                )
            ):
                done.setdefault(message_id, set()).add(target)
        result = []
        for message in reversed(messages):
            missing = tuple(t for t in reading if t not in done.get(message.id, set()))
            text = message.body.get("text")
            if missing and isinstance(text, str):
                result.append(
                    Waiting(
                        message.id, message.link_id, text, _lang(message.body.get("lang")), missing
                    )
                )
        return result[-limit:]

    # Writing ------------------------------------------------------------------

    def store(self, renderings: Sequence[Rendering]) -> None:
        """The translator's results, in one transaction. A rendering never replaces a
        verified one (a person's word stands over the machine's)."""
        if not renderings:
            return
        ids = list({rendering.message_id for rendering in renderings})
        with self.node.transaction() as session:
            stamp = now_ms()
            messages = {
                m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))
            }
            rows = {
                (row.message_id, row.target): row
                for row in session.scalars(
                    select(Translation).where(
                        Translation.message_id.in_(ids), Translation.side == OURS
                    )
                )
            }
            for rendering in renderings:
                message = messages.get(rendering.message_id)
                if message is None:
                    continue
                row = rows.get((message.id, rendering.target))
                if row is None:
                    row = new_row(message, OURS, rendering.target, stamp)
                    rows[(message.id, rendering.target)] = row
                    session.add(row)
                elif row.state == VERIFIED:
                    continue
                row.source = rendering.source
                row.updated_ms = stamp
                if rendering.text is None:
                    row.state, row.text, row.provenance = NONE, None, {}
                    row.reason, row.detail = rendering.reason, (rendering.detail or "")[:2000]
                else:
                    row.state, row.text = MACHINE, rendering.text
                    row.provenance = {"machine": dict(rendering.provenance)}
                    row.reason = row.detail = None
                session.flush()
                announce(session, row, stamp)

    def verify(self, message_id: str, target: str, text: str, translator: str) -> TranslationView:
        """A translator's verified rendering (the machine draft confirmed, or corrected),
        signed as our ``translation`` entry bound to the message."""
        text = text.strip()
        _check_text(text)
        if not tags.is_tag(target):
            raise Refused(Reason.MALFORMED, f"{target!r} is not a language tag like 'zh-Hans'")
        with self.node.transaction() as session:
            message = session.get(Message, message_id)
            if message is None or message.direction != "in" or message.kind != Kind.MESSAGE.value:
                raise Refused(Reason.UNKNOWN_MESSAGE, f"no incoming free-text message {message_id}")
            link = lock_link(session, message.link_id)
            entry = find_entry(session, link.id, message.id)
            if entry is None:
                raise Refused(Reason.UNKNOWN_ENTRY, f"no entry {message_id} on {link.name}")
            stamp = now_ms()
            row = find(session, message.id, OURS, target)
            if row is None:
                row = new_row(message, OURS, target, stamp)
                session.add(row)
            body = translation_body(row, text, translator, stamp)
            own, _ = append_own(
                session,
                link,
                self.node.identity,
                Kind.TRANSLATION,
                body,
                now_ms=stamp,
                ref=Reference(entry.id, entry.hash),
            )
            row.state, row.text, row.provenance = VERIFIED, text, body["provenance"]
            row.reason = row.detail = None
            row.verified_ms, row.verified_by, row.entry_id = stamp, translator[:200], own.id
            row.updated_ms = stamp
            session.flush()
            clear_alerts_for(session, message.id, translator, stamp, kind=DISPUTED_ALERT)
            announce(session, row, stamp)
            return view(row)

    def dispute(self, message_id: str, target: str, by: str, note: str) -> TranslationView:
        """Our sender says the peer's rendering of our message is not what we meant: a
        ``translation`` entry bound to their rendering tells their translators."""
        note = note.strip()
        if len(note) > MAX_NOTE_CHARS:
            raise Refused(
                Reason.TOO_LONG, f"the note is {len(note)} characters; at most {MAX_NOTE_CHARS}"
            )
        with self.node.transaction() as session:
            row = find(session, message_id, THEIRS, target)
            if row is None or row.entry_id is None:
                raise Refused(
                    Reason.UNKNOWN_MESSAGE,
                    f"no rendering of message {message_id} in {target} from the other side",
                )
            link = lock_link(session, row.link_id)
            entry = find_entry(session, link.id, row.entry_id)
            if entry is None:
                raise Refused(Reason.UNKNOWN_ENTRY, f"no entry {row.entry_id} on {link.name}")
            stamp = now_ms()
            append_own(
                session,
                link,
                self.node.identity,
                Kind.TRANSLATION,
                {"dispute": {"by": by, "note": note}, "target": target},
                now_ms=stamp,
                ref=Reference(entry.id, entry.hash),
            )
            row.disputed_ms, row.disputed_by, row.dispute_note = stamp, by[:200], note
            row.updated_ms = stamp
            session.flush()
            announce(session, row, stamp)
            return view(row)


def _check_text(text: str) -> None:
    if not text:
        raise Refused(Reason.EMPTY, "a verified translation needs text")
    if len(text) > MAX_TEXT_CHARS:
        raise Refused(
            Reason.TOO_LONG, f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}"
        )


def _lang(value: object) -> str | None:
    return value if isinstance(value, str) and tags.is_tag(value) else None


__all__ = [
    "MACHINE",
    "NONE",
    "PENDING",
    "VERIFIED",
    "QueueItem",
    "Rendering",
    "Translations",
    "Waiting",
]
