"""Calls as the console lists them: the history, the calls that need the operator
now (the call bar), and one call with its session's lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from ...clock import now_ms
from ...protocol.envelope import Payload
from ...protocol.kinds import Kind
from ...storage.models import Entry, Link
from ...storage.people_models import Call
from ..calls import call_view
from ..runtime import NodeRuntime
from .records import LinkRecord

RECENT_OUTCOME_MS = 120_000
RING_GRACE_MS = 15_000  # after the ring timeout, before an unconfirmed ring stops


def call_rows(
    node: NodeRuntime, link_id: str | None = None, *, limit: int = 200
) -> list[dict[str, Any]]:
    with node.reading() as session:
        query = select(Call).order_by(Call.requested_ms.desc()).limit(limit)
        if link_id is not None:
            query = query.where(Call.link_id == link_id)
        names = dict(session.execute(select(Link.id, Link.name)).all())
        return [
            {**call_view(c), "link": names.get(c.link_id, c.link_id)}
            for c in session.scalars(query)
        ]


def live_calls(node: NodeRuntime, now: int | None = None) -> list[dict[str, Any]]:
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


def call_detail(
    node: NodeRuntime, call_id: str
) -> tuple[dict[str, Any], LinkRecord, list[dict[str, Any]]] | None:
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
        return call_view(call), LinkRecord.of(link), lines


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


__all__ = [
    "RECENT_OUTCOME_MS",
    "RING_GRACE_MS",
    "call_detail",
    "call_rows",
    "live_calls",
    "participants",
    "presence",
]
