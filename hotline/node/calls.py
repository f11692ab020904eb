"""Calls as this node sees them: the ``calls`` table follows the ``call.*`` entries
of both chains (ringing → accepted → ended, or declined | missed | cancelled)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..protocol.kinds import Kind
from ..storage.models import Entry
from ..storage.people_models import Call
from .events import record_event

DEFAULT_RING_MS = 60_000
CALL_KINDS = frozenset(
    {
        Kind.CALL_REQUEST,
        Kind.CALL_ACCEPT,
        Kind.CALL_DECLINE,
        Kind.CALL_CANCEL,
        Kind.CALL_MISSED,
        Kind.CALL_END,
        Kind.SESSION_TEXT,
    }
)


def apply_peer_call_entry(
    session: Session, entry: Entry, kind: Kind, body: dict[str, Any], *, now_ms: int
) -> None:
    """Update the calls table when the peer's ``call.*`` or ``session.text`` entry arrives."""
    by = str(body.get("by", ""))[:128]
    if kind is Kind.CALL_REQUEST:
        call = Call(
            id=entry.id,
            link_id=entry.link_id,
            direction="in",
            state="ringing",
            topic=str(body.get("topic", ""))[:200],
            requested_by=by,
            requested_ms=now_ms,
            ring_timeout_ms=int(body.get("ring_ms", DEFAULT_RING_MS)),
        )
        session.add(call)
        call_event(session, call, now_ms)
        return
    if entry.ref is None:
        return
    if kind is Kind.SESSION_TEXT:
        record_event(
            session,
            "session.text",
            {
                "call": entry.ref,
                "id": entry.id,
                "type": body.get("type", "text"),
                "by": by,
                "text": str(body.get("text", "")),
                "from": entry.sender,
            },
            link_id=entry.link_id,
            now_ms=now_ms,
        )
        return
    transitions = {
        Kind.CALL_ACCEPT: ("accepted", {"ringing"}),
        Kind.CALL_DECLINE: ("declined", {"ringing"}),
        Kind.CALL_CANCEL: ("cancelled", {"ringing"}),
        Kind.CALL_MISSED: ("missed", {"ringing", "accepted"}),
        Kind.CALL_END: ("ended", {"accepted"}),
    }
    if kind not in transitions:
        return
    state, allowed = transitions[kind]
    values: dict[str, Any] = {"state": state}
    if kind in (Kind.CALL_ACCEPT, Kind.CALL_DECLINE):
        values.update(answered_by=by, answered_ms=now_ms)
        if kind is Kind.CALL_DECLINE:
            values["decline_reason"] = body.get("reason")
    else:
        values.update(ended_by=by, ended_ms=now_ms)
    changed = session.execute(
        update(Call).where(Call.id == entry.ref, Call.state.in_(allowed)).values(**values)
    )
    if changed.rowcount:  # type: ignore[attr-defined]
        changed_call = session.get(Call, entry.ref)
        if changed_call is not None:
            session.refresh(changed_call)
            call_event(session, changed_call, now_ms)


def call_view(call: Call) -> dict[str, Any]:
    rang_ms = None
    if call.answered_ms is not None:
        rang_ms = call.answered_ms - call.requested_ms
    elif call.ended_ms is not None and call.state in ("missed", "cancelled"):
        rang_ms = call.ended_ms - call.requested_ms
    duration_ms = None
    if call.state == "ended" and call.answered_ms is not None and call.ended_ms is not None:
        duration_ms = call.ended_ms - call.answered_ms
    return {
        "id": call.id,
        "link_id": call.link_id,
        "direction": call.direction,
        "state": call.state,
        "topic": call.topic,
        "requested_by": call.requested_by,
        "requested_ms": call.requested_ms,
        "ring_timeout_ms": call.ring_timeout_ms,
        "answered_by": call.answered_by,
        "answered_ms": call.answered_ms,
        "decline_reason": call.decline_reason,
        "ended_by": call.ended_by,
        "ended_ms": call.ended_ms,
        "rang_ms": rang_ms,
        "duration_ms": duration_ms,
    }


def call_event(session: Session, call: Call, stamp: int) -> None:
    record_event(session, f"call.{call.state}", call_view(call), link_id=call.link_id, now_ms=stamp)


def mark_seen(session: Session, call: Call, label: str, stamp: int) -> bool:
    """A person saw that this incoming call went unanswered: it leaves the board's
    missed-call count and the attention bar. Once; ``False`` if already seen."""
    if call.seen_ms is not None:
        return False
    call.seen_by, call.seen_ms = label[:128], stamp
    record_event(
        session, "call.seen", {"id": call.id, "by": label}, link_id=call.link_id, now_ms=stamp
    )
    return True
