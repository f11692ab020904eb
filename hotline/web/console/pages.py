"""What the console shows, read from the node in one place: the link board, a page
of a conversation with each message's ladder, drafts, calls and a call's session.

Pages and the live fragments that update them are rendered from these same rows,
so the screen after a reload is the screen the live updates built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ...clock import now_ms
from ...language.glossary import Glossary
from ...language.phrasebook import shipped_phrasebook
from ...node.agreed_messages import agreed_view
from ...node.calls import call_view
from ...node.desk import open_drafts
from ...node.escalation import OverdueItem, open_alerts, overdue
from ...node.link_documents import glossary_in_force
from ...node.link_policy import in_force
from ...node.people import Person
from ...node.service import Node
from ...node.translation_store import TranslationView, view
from ...protocol.envelope import Payload
from ...protocol.kinds import Kind
from ...storage.models import Entry, Link, Message, Outbox, Path
from ...storage.people_models import Call, Draft
from ...storage.policy_models import Alert, EmergencyActivation, LinkTest
from ...storage.translation_models import Translation

PAGE_SIZE = 50
DELAYED_MS = 10_000
EMERGENCY_WINDOW_MS = 7 * 24 * 3_600_000  # unacknowledged emergencies keep ringing this long
RECENT_OUTCOME_MS = 120_000
RING_GRACE_MS = 15_000  # after the ring timeout, before an unconfirmed ring stops


@dataclass
class LinkRow:
    link: Link
    health: str  # ok | delayed | no_contact
    outbox_depth: int
    last_traffic_ms: int | None
    unanswered: int
    ringing: int
    paths: list[Path] = field(default_factory=list)

    @property
    def line(self) -> str:
        """The link's liveness: its best direct path's state (``unknown`` before any
        heartbeat); a relay keeps messages moving but is not the line itself."""
        direct = [p for p in self.paths if p.kind == "direct"] or self.paths
        states = {p.state for p in direct}
        return next((s for s in ("up", "degraded", "down") if s in states), "unknown")


@dataclass
class HumanReceipt:
    """A displayed / acknowledged receipt with the agreed text it carried."""

    at_ms: int
    by: str | None
    agreed_text: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    respond_by_ms: int | None = None  # the holding reply's deadline, for local time


@dataclass
class MessageRow:
    message: Message
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


@dataclass
class ConversationPage:
    link: Link
    rows: list[MessageRow]
    older: str | None  # cursor for the previous page, if any
    drafts: list[Draft]
    calls: list[Call]


def link_board(node: Node, now: int) -> list[LinkRow]:
    with node.reading() as session:
        links = list(session.scalars(select(Link).order_by(Link.name)))
        depth = dict(
            session.execute(select(Outbox.link_id, func.count()).group_by(Outbox.link_id)).all()
        )
        oldest = dict(
            session.execute(
                select(Outbox.link_id, func.min(Entry.stored_ms))
                .join(Entry, (Entry.link_id == Outbox.link_id) & (Entry.id == Outbox.entry_id))
                .group_by(Outbox.link_id)
            ).all()
        )
        unanswered = dict(
            session.execute(
                select(Message.link_id, func.count())
                .where(
                    Message.direction == "in",
                    Message.acknowledged_ms.is_(None),
                    Message.answered_ms.is_(None),
                )
                .group_by(Message.link_id)
            ).all()
        )
        ringing = dict(
            session.execute(
                select(Call.link_id, func.count())
                .where(
                    Call.state == "ringing",
                    Call.direction == "in",
                    Call.requested_ms + Call.ring_timeout_ms + RING_GRACE_MS >= now,
                )
                .group_by(Call.link_id)
            ).all()
        )
        paths: dict[str, list[Path]] = {}
        for path in session.scalars(select(Path).order_by(Path.link_id, Path.position)):
            paths.setdefault(path.link_id, []).append(path)
    rows = []
    for link in links:
        queued_since = oldest.get(link.id)
        if queued_since is None or now - queued_since < DELAYED_MS:
            health = "ok"
        elif now - queued_since < 6 * DELAYED_MS:
            health = "delayed"
        else:
            health = "no_contact"
        traffic = [t for t in (link.last_sent_ms, link.last_received_ms) if t is not None]
        rows.append(
            LinkRow(
                link=link,
                health=health,
                outbox_depth=int(depth.get(link.id, 0)),
                last_traffic_ms=max(traffic) if traffic else None,
                unanswered=int(unanswered.get(link.id, 0)),
                ringing=int(ringing.get(link.id, 0)),
                paths=paths.get(link.id, []),
            )
        )
    # What needs a person first: links ringing, then links with unanswered messages.
    return sorted(rows, key=lambda r: (r.ringing == 0, r.unanswered == 0, r.link.name))


def find_link(session: Session, name: str) -> Link | None:
    return session.scalar(select(Link).where(or_(Link.name == name, Link.id == name)))


def conversation(
    node: Node, link_name: str, *, before: str | None = None
) -> ConversationPage | None:
    """The newest ``PAGE_SIZE`` messages (or those before a cursor), oldest first."""
    with node.reading() as session:
        link = find_link(session, link_name)
        if link is None:
            return None
        query = select(Message).where(Message.link_id == link.id)
        cursor = _parse_cursor(before)
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
        rows = _message_rows(session, link.id, messages)
        drafts = open_drafts(session, link.id)
        calls = list(
            session.scalars(
                select(Call)
                .where(Call.link_id == link.id)
                .order_by(Call.requested_ms.desc())
                .limit(5)
            )
        )
    return ConversationPage(link, rows, older, drafts, calls)


def message_row(node: Node, message_id: str) -> tuple[Link, MessageRow] | None:
    with node.reading() as session:
        message = session.get(Message, message_id)
        if message is None:
            return None
        link = session.get(Link, message.link_id)
        assert link is not None
        return link, _message_rows(session, link.id, [message])[0]


def _message_rows(session: Session, link_id: str, messages: list[Message]) -> list[MessageRow]:
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
        row = MessageRow(
            m,
            receipts.get(m.id),
            m.answered_by,
            renderings.get(m.id, []),
            agreed_view(session, link_id, m.body) if m.kind == Kind.AGREED_TEXT.value else None,
            glossary,
            ref_seq=number,
        )
        channel = rules.channels.get(str(m.body.get("channel") or "routine")) if rules else None
        if channel is not None:
            row.acknowledge_within_s, row.answer_within_s = channel.acknowledge_s, channel.answer_s
        rows.append(row)
    return rows


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_cursor(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    created, _, seq = value.partition(".")
    if not (created.isdigit() and seq.isdigit()):
        return None
    return int(created), int(seq)


def call_rows(node: Node, link_id: str | None = None, *, limit: int = 200) -> list[dict[str, Any]]:
    with node.reading() as session:
        query = select(Call).order_by(Call.requested_ms.desc()).limit(limit)
        if link_id is not None:
            query = query.where(Call.link_id == link_id)
        names = dict(session.execute(select(Link.id, Link.name)).all())
        return [
            {**call_view(c), "link": names.get(c.link_id, c.link_id)}
            for c in session.scalars(query)
        ]


def live_calls(node: Node, now: int | None = None) -> list[dict[str, Any]]:
    """Calls that need the operator now: ringing (either way) and in progress, then
    those that ended in the last ``RECENT_OUTCOME_MS`` so both sides see how they ended."""
    since = (now if now is not None else now_ms()) - RECENT_OUTCOME_MS
    with node.reading() as session:
        names = dict(session.execute(select(Link.id, Link.name)).all())
        peers = dict(session.execute(select(Link.id, Link.peer_party)).all())
        live = list(
            session.scalars(
                select(Call)
                .where(Call.state.in_(("ringing", "accepted")))
                .order_by(Call.requested_ms)
            )
        )
        finished = list(
            session.scalars(
                select(Call)
                .where(
                    Call.state.in_(("declined", "missed", "cancelled", "ended")),
                    or_(Call.ended_ms >= since, Call.answered_ms >= since),
                )
                .order_by(Call.requested_ms.desc())
                .limit(5)
            )
        )
        rows = []
        current = since + RECENT_OUTCOME_MS
        for call in [*live, *finished]:
            row = {
                **call_view(call),
                "link": names.get(call.link_id),
                "peer": peers.get(call.link_id),
            }
            if _rang_out(call, current):
                # The caller's "missed" has not reached us (the line may be down): stop
                # ringing here anyway, and say so.
                row["state"] = "missed"
                row["unconfirmed"] = True
            rows.append(row)
        return rows


def _rang_out(call: Call, now: int) -> bool:
    return (
        call.direction == "in"
        and call.state == "ringing"
        and now > call.requested_ms + call.ring_timeout_ms + RING_GRACE_MS
    )


@dataclass
class Attention:
    """What must not be missed, on every page: incoming emergencies not yet
    acknowledged, activations awaiting this operator's approval, alerts, the other
    side's link tests to confirm, and our items overdue (with how long they waited)."""

    emergencies: list[Message]
    approvals: list[EmergencyActivation]
    mine: list[EmergencyActivation]  # this operator's own, awaiting or lately rejected
    alerts: list[Alert]
    tests: list[LinkTest]
    overdue: list[OverdueItem]
    link_names: dict[str, str]
    criteria: dict[tuple[str, str], dict[str, str]]  # (link id, criterion) → labels

    @property
    def empty(self) -> bool:
        return not (
            self.emergencies
            or self.approvals
            or self.mine
            or self.alerts
            or self.tests
            or self.overdue
        )

    def criterion(self, link_id: str, criterion: str, language: str) -> str:
        labels = self.criteria.get((link_id, criterion), {})
        return labels.get(language) or labels.get("en") or criterion


def attention(node: Node, person: Person, *, can_approve: bool, now: int) -> Attention:
    with node.reading() as session:
        names = dict(session.execute(select(Link.id, Link.name)).all())
        unacknowledged = session.scalars(
            select(Message)
            .where(
                Message.direction == "in",
                Message.acknowledged_ms.is_(None),
                Message.answered_ms.is_(None),
                Message.received_ms >= now - EMERGENCY_WINDOW_MS,
            )
            .order_by(Message.received_ms.desc())
            .limit(200)
        )
        emergencies = [m for m in unacknowledged if m.body.get("channel") == "emergency"]
        approvals = []
        if can_approve:
            approvals = list(
                session.scalars(
                    select(EmergencyActivation)
                    .where(
                        EmergencyActivation.state == "awaiting_approval",
                        EmergencyActivation.requested_by != person.username,
                    )
                    .order_by(EmergencyActivation.created_ms)
                )
            )
        mine = list(
            session.scalars(
                select(EmergencyActivation)
                .where(
                    EmergencyActivation.requested_by == person.username,
                    or_(
                        EmergencyActivation.state == "awaiting_approval",
                        and_(
                            EmergencyActivation.state == "rejected",
                            EmergencyActivation.decided_ms >= now - RECENT_OUTCOME_MS * 15,
                        ),
                    ),
                )
                .order_by(EmergencyActivation.created_ms)
            )
        )
        criteria: dict[tuple[str, str], dict[str, str]] = {}
        for link_id in {a.link_id for a in [*approvals, *mine]}:
            rules = in_force(session, link_id)
            for c in rules.criteria if rules else ():
                criteria[(link_id, c.id)] = dict(c.labels)
        alerts = open_alerts(session, role=person.role, username=person.username)
        tests = list(
            session.scalars(
                select(LinkTest)
                .where(
                    LinkTest.direction == "in",
                    LinkTest.state == "awaiting",
                    LinkTest.deadline_ms > now,  # lapsed, even before the watch marks it
                )
                .order_by(LinkTest.sent_ms)
            )
        )
        # A missed test of ours is shown once: as its alert, which says why and clears.
        alerted = {a.message_id for a in alerts if a.kind == "link_test_missed"}
        late = [i for i in overdue(session, now) if i.kind != "link_test" or i.id not in alerted]
    return Attention(emergencies, approvals, mine, alerts[:20], tests, late, names, criteria)


def call_detail(
    node: Node, call_id: str
) -> tuple[dict[str, Any], Link, list[dict[str, Any]]] | None:
    with node.reading() as session:
        call = session.get(Call, call_id)
        if call is None:
            return None
        link = session.get(Link, call.link_id)
        assert link is not None
        lines = []
        for entry in session.scalars(
            select(Entry)
            .where(
                Entry.link_id == call.link_id,
                Entry.ref == call_id,
                Entry.kind == Kind.SESSION_TEXT.value,
            )
            .order_by(Entry.time_ms, Entry.position)
        ):
            body = Payload.from_bytes(bytes(entry.payload)).body
            lines.append(
                {
                    "id": entry.id,
                    "from": entry.sender,
                    "at_ms": entry.time_ms,
                    "type": str(body.get("type", "text")),
                    "by": str(body.get("by", "")),
                    "text": str(body.get("text", "")),
                }
            )
        return call_view(call), link, lines


def presence(lines: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Who is in the session now (party, person), from its join/leave lines."""
    present: dict[tuple[str, str], bool] = {}
    for line in lines:
        key = (line["from"], line["by"])
        if line["type"] == "join":
            present[key] = True
        elif line["type"] == "leave":
            present[key] = False
        else:
            present.setdefault(key, True)
    return [key for key, here in present.items() if here]


def participants(lines: list[dict[str, Any]]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for line in lines:
        seen[(line["from"], line["by"])] = None
    return list(seen)
