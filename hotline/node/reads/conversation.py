"""A link's conversation: a page of messages, each with its ladder, its holding
reply, its translations and the deadlines of the policy in force, plus the link's
open drafts and latest calls.

Pages and the live fragments that update them are built from these same rows, so
the screen after a reload is the screen the live updates built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ...language.glossary import Glossary
from ...language.phrasebook import shipped_phrasebook
from ...protocol.envelope import Payload
from ...protocol.kinds import Kind
from ...storage.models import Entry, Link, Message
from ...storage.people_models import Call
from ...storage.translation_models import Translation
from ..desk.desk import open_drafts
from ..language.agreed_messages import agreed_view
from ..language.documents import glossary_in_force
from ..language.translation_store import TranslationView, view
from ..rules.policy import in_force
from ..runtime import NodeRuntime
from .records import CallRecord, DraftRecord, LinkRecord, MessageRecord

PAGE_SIZE = 50


@dataclass(frozen=True)
class HumanReceipt:
    """A displayed / acknowledged receipt with the agreed text it carried."""

    at_ms: int
    by: str | None
    agreed_text: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    respond_by_ms: int | None = None  # the holding reply's deadline, for local time


@dataclass(frozen=True)
class MessageRow:
    message: MessageRecord
    acknowledgement: HumanReceipt | None  # the holding reply, either direction
    answer_id: str | None
    # Our renderings of an incoming message; the other side's of an outgoing one.
    translations: list[TranslationView] = field(default_factory=list)
    # A message from the phrasebook: its exact text in every language (or "error").
    agreed: dict[str, Any] | None = None
    glossary: Glossary | None = None  # the link's glossary in force, for highlighting
    # The link policy in force for this message's channel (None: no policy signed).
    acknowledge_within_s: int | None = None
    answer_within_s: int | None = None
    ref_seq: int | None = None  # the number of the message this one replies to

    @property
    def id(self) -> str:
        return self.message.id


@dataclass(frozen=True)
class ConversationPage:
    link: LinkRecord
    rows: list[MessageRow]
    older: str | None  # cursor for the previous page, if any
    drafts: list[DraftRecord]
    calls: list[CallRecord]


def find_link(session: Session, name: str) -> Link | None:
    return session.scalar(select(Link).where(or_(Link.name == name, Link.id == name)))


def conversation(
    node: NodeRuntime, link_name: str, *, before: str | None = None
) -> ConversationPage | None:
    """The newest ``PAGE_SIZE`` messages (or those before a cursor), oldest first."""
    with node.reading() as session:
        link = find_link(session, link_name)
        if link is None:
            return None
        query = select(Message).where(Message.link_id == link.id)
        cursor = parse_cursor(before)
        if cursor is not None:
            created, seq = cursor
            query = query.where(
                or_(
                    Message.created_ms < created,
                    and_(Message.created_ms == created, Message.seq < seq),
                )
            )
        newest_first = list(
            session.scalars(
                query.order_by(Message.created_ms.desc(), Message.seq.desc()).limit(PAGE_SIZE + 1)
            )
        )
        older = None
        if len(newest_first) > PAGE_SIZE:
            newest_first = newest_first[:PAGE_SIZE]
            last = newest_first[-1]
            older = f"{last.created_ms}.{last.seq}"
        messages = list(reversed(newest_first))
        rows = message_rows(session, link.id, messages)
        drafts = [DraftRecord.of(d) for d in open_drafts(session, link.id)]
        calls = [
            CallRecord.of(c)
            for c in session.scalars(
                select(Call)
                .where(Call.link_id == link.id)
                .order_by(Call.requested_ms.desc())
                .limit(5)
            )
        ]
        return ConversationPage(LinkRecord.of(link), rows, older, drafts, calls)


def message_row(node: NodeRuntime, message_id: str) -> tuple[LinkRecord, MessageRow] | None:
    with node.reading() as session:
        message = session.get(Message, message_id)
        if message is None:
            return None
        link = session.get(Link, message.link_id)
        assert link is not None
        return LinkRecord.of(link), message_rows(session, link.id, [message])[0]


def message_rows(session: Session, link_id: str, messages: list[Message]) -> list[MessageRow]:
    acknowledged = [m.id for m in messages if m.acknowledged_ms is not None]
    receipts: dict[str, HumanReceipt] = {}
    if acknowledged:
        for ref, time_ms, payload in session.execute(
            select(Entry.ref, Entry.time_ms, Entry.payload).where(
                Entry.link_id == link_id,
                Entry.kind == Kind.RECEIPT_ACKNOWLEDGED.value,
                Entry.ref.in_(acknowledged),
            )
        ):
            body = Payload.from_bytes(bytes(payload)).body
            parameters = body.get("parameters")
            receipts[str(ref)] = HumanReceipt(
                at_ms=int(time_ms),
                by=body.get("by") if isinstance(body.get("by"), str) else None,
                agreed_text=body.get("agreed_text")
                if body.get("agreed_text") in shipped_phrasebook().entries
                else None,
                parameters=parameters if isinstance(parameters, dict) else {},
                respond_by_ms=_int_or_none(body.get("respond_by_ms")),
            )
    renderings: dict[str, list[TranslationView]] = {}
    free_text = [m.id for m in messages if m.kind == Kind.MESSAGE.value]
    if free_text:
        for translation in session.scalars(
            select(Translation)
            .where(Translation.message_id.in_(free_text))
            .order_by(Translation.target)
        ):
            renderings.setdefault(translation.message_id, []).append(view(translation))
    rules = in_force(session, link_id)
    glossary = glossary_in_force(session, link_id)
    refs = [m.ref for m in messages if m.ref]
    numbers = (
        dict(session.execute(select(Message.id, Message.seq).where(Message.id.in_(refs))).all())
        if refs
        else {}
    )
    rows = []
    for m in messages:
        number = numbers.get(m.ref) if m.ref else None
        channel = rules.channels.get(str(m.body.get("channel") or "routine")) if rules else None
        rows.append(
            MessageRow(
                MessageRecord.of(m),
                receipts.get(m.id),
                m.answered_by,
                renderings.get(m.id, []),
                agreed_view(session, link_id, m.body) if m.kind == Kind.AGREED_TEXT.value else None,
                glossary,
                acknowledge_within_s=channel.acknowledge_s if channel is not None else None,
                answer_within_s=channel.answer_s if channel is not None else None,
                ref_seq=number,
            )
        )
    return rows


def parse_cursor(value: str | None) -> tuple[int, int] | None:
    """A page cursor ``"created_ms.seq"`` (``None`` if absent or malformed)."""
    if not value:
        return None
    created, _, seq = value.partition(".")
    if not (created.isdigit() and seq.isdigit()):
        return None
    return int(created), int(seq)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = [
    "PAGE_SIZE",
    "ConversationPage",
    "HumanReceipt",
    "MessageRow",
    "conversation",
    "find_link",
    "message_row",
    "message_rows",
    "parse_cursor",
]
