"""What waits for a person, counted for every page: the tab's title and icon, the
board's missed-call count, the principal's replies to approve, and the desktop
notifications all read it from here.

A missed incoming call (missed, or rung out without the caller's word) stays here
until an operator marks it seen; a reply awaiting approval until it is decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, or_, select

from ...storage.models import Link, Message
from ...storage.people_models import Call, Draft
from ..runtime import NodeRuntime
from .calls import RING_GRACE_MS
from .records import CallRecord, DraftRecord

MISSED_WINDOW_MS = 7 * 24 * 3_600_000  # older unseen missed calls are left to the history


@dataclass(frozen=True)
class Waiting:
    """Counts of what waits, and the items the attention bar lists."""

    ringing: int = 0
    emergencies: int = 0
    unanswered: int = 0
    approvals: int = 0  # replies and emergency activations awaiting this operator
    missed: list[CallRecord] = field(default_factory=list)
    replies: list[DraftRecord] = field(default_factory=list)  # awaiting this operator's approval
    link_names: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.ringing + self.emergencies + self.unanswered + self.approvals + len(self.missed)


def unseen_missed(now: int) -> ColumnElement[bool]:
    """Incoming calls nobody answered and nobody has yet marked seen."""
    rang_out = and_(
        Call.state == "ringing", Call.requested_ms + Call.ring_timeout_ms + RING_GRACE_MS < now
    )
    return and_(
        Call.direction == "in",
        Call.seen_ms.is_(None),
        Call.requested_ms >= now - MISSED_WINDOW_MS,
        or_(Call.state == "missed", rang_out),
    )


def missed_per_link(node: NodeRuntime, now: int) -> dict[str, int]:
    """Each link's missed calls nobody has seen yet."""
    with node.reading() as session:
        rows = session.execute(
            select(Call.link_id, func.count()).where(unseen_missed(now)).group_by(Call.link_id)
        )
        return {str(link): int(n) for link, n in rows}


def waiting(
    node: NodeRuntime,
    username: str,
    *,
    may_approve_replies: bool,
    emergencies: int,
    activations: int,
    now: int,
) -> Waiting:
    """What waits for the person ``username`` now (``emergencies`` and ``activations``
    come from the attention bar, which has already read them)."""
    with node.reading() as session:
        ringing = session.scalar(
            select(func.count()).where(
                Call.direction == "in",
                Call.state == "ringing",
                Call.requested_ms + Call.ring_timeout_ms + RING_GRACE_MS >= now,
            )
        )
        unanswered = session.scalar(
            select(func.count()).where(
                Message.direction == "in",
                Message.acknowledged_ms.is_(None),
                Message.answered_ms.is_(None),
            )
        )
        missed = [
            CallRecord.of(c)
            for c in session.scalars(
                select(Call).where(unseen_missed(now)).order_by(Call.requested_ms.desc()).limit(20)
            )
        ]
        replies: list[DraftRecord] = []
        if may_approve_replies:
            replies = [
                DraftRecord.of(d)
                for d in session.scalars(
                    select(Draft)
                    .where(
                        Draft.state == "awaiting_approval",
                        Draft.author != username,
                    )
                    .order_by(Draft.submitted_ms)
                )
            ]
        names = dict(session.execute(select(Link.id, Link.name)).all())
    return Waiting(
        ringing=int(ringing or 0),
        emergencies=emergencies,
        unanswered=int(unanswered or 0),
        approvals=len(replies) + activations,
        missed=missed,
        replies=replies,
        link_names={str(k): str(v) for k, v in names.items()},
    )


__all__ = ["MISSED_WINDOW_MS", "Waiting", "missed_per_link", "unseen_missed", "waiting"]
