"""The link board: every link with its health, queue, unanswered messages, ringing
calls and paths, what needs a person first at the top."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from ...storage.models import Entry, Link, Message, Outbox, Path
from ...storage.people_models import Call
from ..runtime import NodeRuntime
from .calls import RING_GRACE_MS
from .records import LinkRecord, PathRecord

DELAYED_MS = 10_000


@dataclass(frozen=True)
class LinkRow:
    link: LinkRecord
    health: str  # ok | delayed | no_contact
    outbox_depth: int
    last_traffic_ms: int | None
    unanswered: int
    ringing: int
    paths: list[PathRecord] = field(default_factory=list)

    @property
    def liveness(self) -> str:
        """The link's liveness: its best direct path's state (``unknown`` before any
        heartbeat); a relay keeps messages moving but is not the link's liveness."""
        direct = [p for p in self.paths if p.kind == "direct"] or self.paths
        states = {p.state for p in direct}
        return next((s for s in ("up", "degraded", "down") if s in states), "unknown")


def link_board(node: NodeRuntime, now: int) -> list[LinkRow]:
    with node.reading() as session:
        links = [LinkRecord.of(k) for k in session.scalars(select(Link).order_by(Link.name))]
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
        paths: dict[str, list[PathRecord]] = {}
        for path in session.scalars(select(Path).order_by(Path.link_id, Path.position)):
            paths.setdefault(path.link_id, []).append(PathRecord.of(path))
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


__all__ = ["DELAYED_MS", "LinkRow", "link_board"]
