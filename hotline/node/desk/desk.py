"""What people at a console do on a link: the human rungs of the receipt ladder
(displayed, acknowledged with the agreed holding reply), drafts and approvals,
and calls with their live sessions.

Each action is one transaction that appends our signed entry to the record (so it
reaches the peer and both records) and updates this node's working tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...clock import now_ms
from ...errors import Reason
from ...language.errors import LanguageError
from ...protocol.kinds import Kind
from ...storage.account_models import User
from ...storage.models import Entry, Link, Message
from ...storage.people_models import CLOSED_DRAFT_STATES, Call, Draft
from ..calls import DEFAULT_RING_MS, call_event
from ..delivery.outgoing import Outgoing, append_message
from ..events import record_event
from ..home import NodeError
from ..language.agreed_messages import HOLDING_REPLY, decline_reasons, link_phrasebook, refused_from
from ..people import Person
from ..record_store import Reference, append_own, find_entry, lock_link
from ..refusals import Refused
from ..rules.alerts import clear_alerts_for
from ..runtime import NodeRuntime
from .language import LanguageDesk
from .rules import RulesDesk

MAX_SESSION_TEXT = 4_000


class Desk(RulesDesk, LanguageDesk):
    """What people at a console do; the link's rules (policy, emergency channel,
    escalation, link tests, alerts, statistics) come from :class:`RulesDesk`, its
    agreed phrasebook and glossary from :class:`LanguageDesk`."""

    def __init__(self, node: NodeRuntime) -> None:
        self.node = node

    # Receipts from people -----------------------------------------------

    def displayed(self, message_id: str, person: Person) -> bool:
        """An incoming message was shown on ``person``'s screen. Records it once, and
        sends a signed ``receipt.displayed`` unless the link's settings keep it private."""
        with self.node.transaction() as session:
            message, link, entry = self._incoming(session, message_id)
            if message.displayed_ms is not None:
                return False
            stamp = now_ms()
            message.displayed_ms, message.displayed_by = stamp, person.label
            if link.share_displayed:
                append_own(
                    session,
                    link,
                    self.node.identity,
                    Kind.RECEIPT_DISPLAYED,
                    {"stage": "displayed", "by": person.label},
                    now_ms=stamp,
                    ref=Reference(entry.id, entry.hash),
                )
            _event(session, "message.displayed", message, stamp, by=person.label)
            return True

    def acknowledge(self, message_id: str, person: Person, *, respond_by_ms: int) -> None:
        """One click: the agreed holding reply ("received; under review; we will respond
        by …"), which commits to nothing, sent as a signed ``receipt.acknowledged``."""
        with self.node.transaction() as session:
            message, link, entry = self._incoming(session, message_id)
            if message.acknowledged_ms is not None:
                raise Refused(
                    Reason.ALREADY_ACKNOWLEDGED, "this message has already been acknowledged"
                )
            stamp = now_ms()
            if respond_by_ms <= stamp:
                raise Refused(
                    Reason.NOT_IN_FUTURE, "the promised response time must be in the future"
                )
            if message.displayed_ms is None:
                message.displayed_ms, message.displayed_by = stamp, person.label
            message.acknowledged_ms, message.acknowledged_by = stamp, person.label
            clear_alerts_for(session, message.id, person.username, stamp)
            book = link_phrasebook(session, link.id)
            try:
                parameters = book.entry(HOLDING_REPLY).validate({"respond_by": _iso(respond_by_ms)})
            except LanguageError as exc:
                raise refused_from(exc) from None
            append_own(
                session,
                link,
                self.node.identity,
                Kind.RECEIPT_ACKNOWLEDGED,
                {
                    "stage": "acknowledged",
                    "by": person.label,
                    "agreed_text": HOLDING_REPLY,
                    "phrasebook_version": book.version,
                    "parameters": parameters,
                    "respond_by_ms": respond_by_ms,
                },
                now_ms=stamp,
                ref=Reference(entry.id, entry.hash),
            )
            _event(session, "message.acknowledged", message, stamp, by=person.label)

    def _incoming(self, session: Session, message_id: str) -> tuple[Message, Link, Entry]:
        message = session.get(Message, message_id)
        if message is None or message.direction != "in":
            raise Refused(Reason.UNKNOWN_MESSAGE, f"no incoming message {message_id}")
        link = lock_link(session, message.link_id)
        entry = find_entry(session, link.id, message_id)
        assert entry is not None
        return message, link, entry

    # Drafts and approvals -----------------------------------------------

    def save_draft(
        self,
        link_id: str,
        person: Person,
        text: str,
        *,
        lang: str,
        ref: str | None,
        draft_id: int | None = None,
    ) -> Draft:
        """A new draft, or with ``draft_id`` an edit of one (:meth:`edit_draft`: what
        it replies to stays as it was, whatever ``ref`` says)."""
        if draft_id is not None:
            return self.edit_draft(draft_id, person, text, lang=lang)
        if not text.strip():
            raise Refused(Reason.EMPTY, "a draft needs text")
        with self.node.transaction() as session:
            stamp = now_ms()
            draft = Draft(
                link_id=link_id,
                author=person.username,
                text=text,
                lang=lang,
                ref=ref,
                state="draft",
                created_ms=stamp,
                updated_ms=stamp,
            )
            session.add(draft)
            session.flush()
            _draft_event(session, draft, stamp)
            return draft

    def edit_draft(self, draft_id: int, person: Person, text: str, *, lang: str) -> Draft:
        """The author rewrites a draft, one a principal sent back included. What it
        replies to stays as it was, so an edit cannot take a reply out of approval."""
        if not text.strip():
            raise Refused(Reason.EMPTY, "a draft needs text")
        with self.node.transaction() as session:
            draft = self._own_draft(session, draft_id, person, "change")
            stamp = now_ms()
            draft.text, draft.lang, draft.updated_ms = text, lang, stamp
            _draft_event(session, draft, stamp)
            return draft

    def submit_draft(self, draft_id: int, person: Person, *, may_send: bool) -> Draft:
        """Send it, or put it to a principal when the link requires approval and
        ``person`` may not send substantive replies on their own."""
        with self.node.transaction() as session:
            draft = self._own_draft(session, draft_id, person, "submit")
            link = lock_link(session, draft.link_id)
            stamp = now_ms()
            if draft.ref is not None and link.replies_need_approval and not may_send:
                draft.state, draft.submitted_ms, draft.updated_ms = (
                    "awaiting_approval",
                    stamp,
                    stamp,
                )
                _draft_event(session, draft, stamp)
                return draft
            draft.submitted_ms = stamp
            return self._send_draft(session, link, draft, person, stamp)

    def decide_draft(
        self, draft_id: int, person: Person, *, approve: bool, note: str = ""
    ) -> Draft:
        """A principal approves (the draft leaves at once) or sends it back to its author."""
        with self.node.transaction() as session:
            draft = self._draft(session, draft_id, {"awaiting_approval"})
            link = lock_link(session, draft.link_id)
            stamp = now_ms()
            draft.decided_by, draft.decided_ms, draft.decision_note = person.username, stamp, note
            draft.updated_ms = stamp
            if not approve:
                draft.state = "draft"
                _draft_event(session, draft, stamp, decision="rejected")
                return draft
            draft.state = "approved"
            _draft_event(session, draft, stamp, decision="approved")
            return self._send_draft(session, link, draft, person, stamp)

    def _send_draft(
        self, session: Session, link: Link, draft: Draft, person: Person, stamp: int
    ) -> Draft:
        """In the caller's transaction: the draft becomes a message, or nothing happens."""
        # The author's shown name and role (as emergency activations carry), also
        # when someone else approved it; the account name only if it has gone.
        by = person.label if person.username == draft.author else _label_of(session, draft.author)
        body: dict[str, Any] = {"text": draft.text, "lang": draft.lang, "by": by}
        if draft.decided_by:
            body["approved_by"] = person.label
        message = append_message(
            session, self.node.identity, link, Outgoing(link.id, body, ref=draft.ref), stamp
        )
        draft.state, draft.sent_message_id, draft.updated_ms = "sent", message.id, stamp
        _draft_event(session, draft, stamp)
        return draft

    def discard_draft(self, draft_id: int, person: Person) -> Draft:
        """The author drops a draft they no longer mean to send; it stays in the
        database (and its events in the log) but leaves the console's list."""
        with self.node.transaction() as session:
            draft = self._own_draft(session, draft_id, person, "discard")
            stamp = now_ms()
            draft.state, draft.updated_ms = "discarded", stamp
            _draft_event(session, draft, stamp)
            return draft

    def drafts(self, link_id: str) -> list[Draft]:
        with self.node.reading() as session:
            return open_drafts(session, link_id)

    def _draft(self, session: Session, draft_id: int, states: set[str]) -> Draft:
        draft = session.get(Draft, draft_id, with_for_update=True)
        if draft is None:
            raise Refused(Reason.UNKNOWN_DRAFT, f"no draft {draft_id}")
        if draft.state not in states:
            raise Refused(
                Reason.WRONG_STATE, f"draft {draft_id} is {draft.state.replace('_', ' ')}"
            )
        return draft

    def _own_draft(self, session: Session, draft_id: int, person: Person, verb: str) -> Draft:
        """A draft still in state ``draft`` that ``person`` wrote; only they may
        change, submit or discard it."""
        draft = self._draft(session, draft_id, {"draft"})
        if draft.author != person.username:
            raise Refused(Reason.NOT_AUTHOR, f"only the author can {verb} a draft")
        return draft

    # Calls ----------------------------------------------------------------

    def request_call(
        self, link_id: str, person: Person, *, topic: str = "", ring_ms: int = DEFAULT_RING_MS
    ) -> Call:
        with self.node.transaction() as session:
            link = lock_link(session, link_id)
            if session.scalar(
                select(Call).where(Call.link_id == link.id, Call.state.in_(("ringing", "accepted")))
            ):
                raise Refused(
                    Reason.CALL_IN_PROGRESS, "a call on this link is already ringing or in progress"
                )
            stamp = now_ms()
            entry, _ = append_own(
                session,
                link,
                self.node.identity,
                Kind.CALL_REQUEST,
                {"by": person.label, "topic": topic[:200], "ring_ms": ring_ms},
                now_ms=stamp,
            )
            call = Call(
                id=entry.id,
                link_id=link.id,
                direction="out",
                state="ringing",
                topic=topic[:200],
                requested_by=person.label,
                requested_ms=stamp,
                ring_timeout_ms=ring_ms,
            )
            session.add(call)
            call_event(session, call, stamp)
            return call

    def answer_call(
        self, call_id: str, person: Person, *, accept: bool, reason: str | None = None
    ) -> Call:
        with self.node.transaction() as session:
            call, link, request = self._call(session, call_id, direction="in", states={"ringing"})
            if (
                not accept
                and reason
                and reason not in decline_reasons(link_phrasebook(session, link.id))
            ):
                raise Refused(Reason.UNKNOWN_DECLINE_REASON, f"unknown decline reason {reason!r}")
            stamp = now_ms()
            body: dict[str, Any] = {"by": person.label}
            if not accept and reason:
                body["reason"] = reason
            append_own(
                session,
                link,
                self.node.identity,
                Kind.CALL_ACCEPT if accept else Kind.CALL_DECLINE,
                body,
                now_ms=stamp,
                ref=Reference(request.id, request.hash),
            )
            call.state = "accepted" if accept else "declined"
            call.answered_by, call.answered_ms = person.label, stamp
            call.decline_reason = None if accept else reason
            call_event(session, call, stamp)
            return call

    def end_call(self, call_id: str, person: Person | None, *, outcome: str = "end") -> Call:
        """Hang up (accepted call), cancel (our ringing call), or mark missed (ours, timed out)."""
        kind, state, states = {
            "end": (Kind.CALL_END, "ended", {"accepted"}),
            "cancel": (Kind.CALL_CANCEL, "cancelled", {"ringing"}),
            "missed": (Kind.CALL_MISSED, "missed", {"ringing"}),
        }[outcome]
        with self.node.transaction() as session:
            direction = None if outcome == "end" else "out"
            call, link, request = self._call(session, call_id, direction=direction, states=states)
            stamp = now_ms()
            by = person.label if person else "system"
            append_own(
                session,
                link,
                self.node.identity,
                kind,
                {"by": by},
                now_ms=stamp,
                ref=Reference(request.id, request.hash),
            )
            call.state, call.ended_by, call.ended_ms = state, by, stamp
            call_event(session, call, stamp)
            return call

    def session_text(self, call_id: str, person: Person, text: str, *, kind: str = "text") -> None:
        if kind == "text" and not 0 < len(text.strip()) <= MAX_SESSION_TEXT:
            raise Refused(Reason.TOO_LONG, f"session text must be 1..{MAX_SESSION_TEXT} characters")
        with self.node.transaction() as session:
            call, link, request = self._call(session, call_id, direction=None, states={"accepted"})
            stamp = now_ms()
            entry, _ = append_own(
                session,
                link,
                self.node.identity,
                Kind.SESSION_TEXT,
                {"type": kind, "by": person.label, "text": text},
                now_ms=stamp,
                ref=Reference(request.id, request.hash),
            )
            record_event(
                session,
                "session.text",
                {
                    "call": call.id,
                    "id": entry.id,
                    "type": kind,
                    "by": person.label,
                    "text": text,
                    "from": self.node.party,
                },
                link_id=link.id,
                now_ms=stamp,
            )

    def expire_calls(self) -> list[str]:
        """Mark our ringing calls that nobody answered in time as missed."""
        stamp = now_ms()
        with self.node.reading() as session:
            due = [
                c.id
                for c in session.scalars(
                    select(Call).where(Call.direction == "out", Call.state == "ringing")
                )
                if c.requested_ms + c.ring_timeout_ms <= stamp
            ]
        for call_id in due:
            try:
                self.end_call(call_id, None, outcome="missed")
            except NodeError:
                continue  # answered meanwhile
        return due

    def calls(self, link_id: str, limit: int = 100) -> list[Call]:
        with self.node.reading() as session:
            return list(
                session.scalars(
                    select(Call)
                    .where(Call.link_id == link_id)
                    .order_by(Call.requested_ms.desc())
                    .limit(limit)
                )
            )

    def session_entries(self, call_id: str) -> list[dict[str, Any]]:
        from ...protocol.envelope import Payload

        with self.node.reading() as session:
            call = session.get(Call, call_id)
            if call is None:
                raise Refused(Reason.UNKNOWN_CALL, f"no call {call_id}")
            rows = session.scalars(
                select(Entry)
                .where(
                    Entry.link_id == call.link_id,
                    Entry.ref == call_id,
                    Entry.kind == Kind.SESSION_TEXT.value,
                )
                .order_by(Entry.time_ms, Entry.position)
            )
            result = []
            for row in rows:
                body = Payload.from_bytes(row.payload).body
                result.append({"id": row.id, "from": row.sender, "at_ms": row.time_ms, **body})
            return result

    def _call(
        self, session: Session, call_id: str, *, direction: str | None, states: set[str]
    ) -> tuple[Call, Link, Entry]:
        call = session.get(Call, call_id)
        if call is None or (direction is not None and call.direction != direction):
            raise Refused(Reason.UNKNOWN_CALL, f"no such call {call_id}")
        link = lock_link(session, call.link_id)
        session.refresh(call)
        if call.state not in states:
            raise Refused(Reason.WRONG_STATE, f"the call is {call.state}")
        request = find_entry(session, link.id, call_id)
        assert request is not None
        return call, link, request


def open_drafts(session: Session, link_id: str) -> list[Draft]:
    """The link's drafts not yet sent or discarded, the latest change first."""
    return list(
        session.scalars(
            select(Draft)
            .where(Draft.link_id == link_id, Draft.state.not_in(CLOSED_DRAFT_STATES))
            .order_by(Draft.updated_ms.desc())
        )
    )


def _label_of(session: Session, username: str) -> str:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        return username
    return Person(user.username, user.display_name, user.role).label


def _draft_event(session: Session, draft: Draft, stamp: int, decision: str | None = None) -> None:
    record_event(
        session,
        "draft.updated",
        {
            "draft": draft.id,
            "state": draft.state,
            "author": draft.author,
            "decision": decision,
            "by": draft.decided_by,
            "note": draft.decision_note,
            "message": draft.sent_message_id,
        },
        link_id=draft.link_id,
        now_ms=stamp,
    )


def _event(session: Session, type_: str, message: Message, stamp: int, *, by: str) -> None:
    record_event(
        session,
        type_,
        {"id": message.id, "by": by, "at_ms": stamp},
        link_id=message.link_id,
        now_ms=stamp,
    )


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
