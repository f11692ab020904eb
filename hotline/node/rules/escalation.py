"""Escalation on the sender's side, as the desk reads it: what of ours is overdue, and
the alerts still open.

The policy (per rung, a deadline and actions) is checked and stored by
:mod:`.escalation_policy`; the steps it calls for are taken by :mod:`.escalation_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ...storage.models import Link, Message
from ...storage.policy_models import Alert, EscalationPolicy, EscalationStep, LinkTest
from ..message_text import MESSAGE_KINDS
from .emergency import EMERGENCY, ROUTINE
from .escalation_policy import MAX_AGE_MS, RUNGS, deadline_ms
from .policy import in_force

MAX_OVERDUE_PER_LINK = 1000


@dataclass(frozen=True)
class OverdueItem:
    """Something of ours the other side has not answered in time."""

    kind: str  # message | link_test
    link_id: str
    link_name: str
    id: str
    channel: str  # emergency | routine | test
    awaiting: str  # the rung awaited (or "confirmed" for a link test)
    since_ms: int
    deadline_ms: int
    waiting_ms: int  # how long it has been waiting
    overdue_ms: int  # how long past its deadline
    steps: int  # escalation steps taken so far
    text: str

    def view(self) -> dict[str, Any]:
        return dict(self.__dict__)


def overdue(session: Session, now_ms: int) -> list[OverdueItem]:
    items: list[OverdueItem] = []
    for link in session.scalars(select(Link)):
        items += _overdue_messages(session, link, now_ms)
    for test in session.scalars(
        select(LinkTest).where(
            LinkTest.direction == "out",
            LinkTest.state != "confirmed",
            LinkTest.deadline_ms <= now_ms,
            LinkTest.sent_ms >= now_ms - MAX_AGE_MS,
        )
    ):
        test_link = session.get(Link, test.link_id)
        assert test_link is not None
        items.append(
            OverdueItem(
                "link_test",
                test_link.id,
                test_link.name,
                test.id,
                "test",
                "confirmed",
                test.sent_ms,
                test.deadline_ms,
                now_ms - test.sent_ms,
                now_ms - test.deadline_ms,
                0,
                "link test",
            )
        )
    items.sort(key=lambda i: (i.channel != EMERGENCY, -i.overdue_ms))
    return items


def _deadlines(session: Session, link: Link) -> dict[str, dict[str, int]]:
    """rung → channel → deadline in ms: the escalation policy's, else the link policy's
    expected times to acknowledge and to answer."""
    row = session.get(EscalationPolicy, link.id)
    result: dict[str, dict[str, int]] = {}
    if row is not None:
        for rung, spec in row.document.items():
            for channel in (EMERGENCY, ROUTINE):
                value = deadline_ms(spec, channel)
                if value is not None:
                    result.setdefault(rung, {})[channel] = value
    policy = in_force(session, link.id)
    if policy is not None:
        for channel in (EMERGENCY, ROUTINE):
            times = policy.channels[channel]
            result.setdefault("acknowledged", {}).setdefault(channel, times.acknowledge_s * 1000)
            result.setdefault("answered", {}).setdefault(channel, times.answer_s * 1000)
    if not link.share_displayed:
        result.pop("displayed", None)
    return result


def _overdue_messages(session: Session, link: Link, now_ms: int) -> list[OverdueItem]:
    """At most MAX_OVERDUE_PER_LINK items per link, the longest waiting first."""
    deadlines = _deadlines(session, link)
    if not deadlines:
        return []
    shortest = min(v for per in deadlines.values() for v in per.values())
    rows = session.scalars(
        select(Message)
        .where(
            Message.link_id == link.id,
            Message.direction == "out",
            Message.kind.in_([k.value for k in MESSAGE_KINDS]),
            Message.created_ms <= now_ms - shortest,
            Message.created_ms >= now_ms - MAX_AGE_MS,
            Message.answered_ms.is_(None),
        )
        .order_by(Message.created_ms)
        .limit(MAX_OVERDUE_PER_LINK)
    )
    found: list[tuple[Message, str, int]] = []
    for message in rows:
        for rung in RUNGS:
            if any(getattr(message, f"{r}_ms") is not None for r in RUNGS[RUNGS.index(rung) :]):
                continue  # reached, or passed
            if rung == "answered" and message.ref is not None:
                break
            deadline = deadlines.get(rung, {}).get(message.channel)
            if deadline is None:
                continue
            if message.created_ms + deadline <= now_ms:
                found.append((message, rung, message.created_ms + deadline))
                break
    steps = (
        dict(
            session.execute(
                select(EscalationStep.message_id, func.count())
                .where(EscalationStep.message_id.in_([m.id for m, _, _ in found]))
                .group_by(EscalationStep.message_id)
            ).all()
        )
        if found
        else {}
    )
    return [
        OverdueItem(
            "message",
            link.id,
            link.name,
            message.id,
            message.channel,
            rung,
            message.created_ms,
            due,
            now_ms - message.created_ms,
            now_ms - due,
            int(steps.get(message.id, 0)),
            str(message.body.get("text", ""))[:120],
        )
        for message, rung, due in found
    ]


def open_alerts(
    session: Session, *, role: str | None = None, username: str | None = None
) -> list[Alert]:
    query = (
        select(Alert)
        .where(Alert.cleared_ms.is_(None))
        .order_by(Alert.created_ms.desc(), Alert.id.desc())
    )
    if role is not None or username is not None:
        query = query.where(
            or_(
                and_(Alert.target_role.is_(None), Alert.target_user.is_(None)),
                Alert.target_role == role,
                Alert.target_user == username,
            )
        )
    return list(session.scalars(query))
