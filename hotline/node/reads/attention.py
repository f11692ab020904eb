"""The attention bar: what must not be missed, on every page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select

from ...storage.models import Link, Message
from ...storage.policy_models import EmergencyActivation, LinkTest
from ..people import Person
from ..rules.escalation import OverdueItem, open_alerts, overdue
from ..rules.policy import in_force
from ..runtime import NodeRuntime
from .calls import RECENT_OUTCOME_MS
from .records import ActivationRecord, AlertRecord, LinkTestRecord, MessageRecord

EMERGENCY_WINDOW_MS = 7 * 24 * 3_600_000  # unacknowledged emergencies keep ringing this long


@dataclass(frozen=True)
class Attention:
    """What must not be missed, on every page: incoming emergencies not yet
    acknowledged, activations awaiting this operator's approval, alerts, the other
    side's link tests to confirm, and our items overdue (with how long they waited)."""

    emergencies: list[MessageRecord]
    approvals: list[ActivationRecord]
    mine: list[ActivationRecord]  # this operator's own, awaiting or lately rejected
    alerts: list[AlertRecord]
    tests: list[LinkTestRecord]
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


def attention(node: NodeRuntime, person: Person, *, can_approve: bool, now: int) -> Attention:
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
        emergencies = [
            MessageRecord.of(m) for m in unacknowledged if m.body.get("channel") == "emergency"
        ]
        approvals: list[ActivationRecord] = []
        if can_approve:
            approvals = [
                ActivationRecord.of(a)
                for a in session.scalars(
                    select(EmergencyActivation)
                    .where(
                        EmergencyActivation.state == "awaiting_approval",
                        EmergencyActivation.requested_by != person.username,
                    )
                    .order_by(EmergencyActivation.created_ms)
                )
            ]
        mine = [
            ActivationRecord.of(a)
            for a in session.scalars(
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
        ]
        criteria: dict[tuple[str, str], dict[str, str]] = {}
        for link_id in {a.link_id for a in [*approvals, *mine]}:
            rules = in_force(session, link_id)
            for c in rules.criteria if rules else ():
                criteria[(link_id, c.id)] = dict(c.labels)
        alerts = open_alerts(session, role=person.role, username=person.username)
        tests = [
            LinkTestRecord.of(t)
            for t in session.scalars(
                select(LinkTest)
                .where(
                    LinkTest.direction == "in",
                    LinkTest.state == "awaiting",
                    LinkTest.deadline_ms > now,  # lapsed, even before the watch marks it
                )
                .order_by(LinkTest.sent_ms)
            )
        ]
        # A missed test of ours is shown once: as its alert, which says why and clears.
        alerted = {a.message_id for a in alerts if a.kind == "link_test_missed"}
        late = [i for i in overdue(session, now) if i.kind != "link_test" or i.id not in alerted]
        shown = [AlertRecord.of(a) for a in alerts[:20]]
    return Attention(emergencies, approvals, mine, shown, tests, late, names, criteria)


__all__ = ["EMERGENCY_WINDOW_MS", "Attention", "attention"]
