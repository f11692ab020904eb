"""Escalation steps: silence triggers action instead of waiting.

A step is due when a message has not reached a rung of its link's escalation policy
(:mod:`.escalation_policy`) by the rung's deadline plus the action's delay. A later
rung reached counts for the earlier ones (an answer is also an acknowledgement); the
``displayed`` rung is skipped on links whose policy keeps displayed receipts private;
``answered`` is awaited only for messages that do not themselves answer another.

Actions: ``resend`` (push the entry again now, when the peer does not hold it yet;
the receiver takes duplicates idempotently), ``switch_path`` and ``relay`` (asked of
the path failover, recorded as requested), ``alert`` (a console alert for a ``role``
or a named ``user``), ``suggest_link`` (an alert naming an alternate ``link``).
Every step is recorded once (table ``escalation_steps``), announced as an
``escalation.step`` event and audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from ...storage.models import Link, Message, Path
from ...storage.policy_models import Alert, EscalationPolicy, EscalationStep
from ..events import record_event
from ..message_text import MESSAGE_KINDS
from ..paths.store import DIRECT, RELAY, list_paths
from ..record_store import push_outbox_now
from ..refusals import audit
from .alerts import alert_view, raise_alert
from .emergency import EMERGENCY, ROUTINE
from .escalation_policy import MAX_AGE_MS, RUNGS, deadline_ms

BATCH = 100
# How long "switch_path" keeps traffic off the path it found active.
SWITCH_AVOID_MS = 10 * 60_000


def _rung_columns(rung: str) -> list[Any]:
    """The columns that, when set, mean ``rung`` has been reached (or passed)."""
    index = RUNGS.index(rung)
    return [getattr(Message, f"{r}_ms") for r in RUNGS[index:]]


def _candidates(
    session: Session,
    link: Link,
    rung: str,
    channel: str,
    cutoff_ms: int,
    now_ms: int,
    step: int | None,
) -> Any:
    conditions = [
        Message.link_id == link.id,
        Message.direction == "out",
        Message.kind.in_([k.value for k in MESSAGE_KINDS]),
        Message.channel == channel,
        Message.created_ms <= cutoff_ms,
        Message.created_ms >= now_ms - MAX_AGE_MS,
        *[c.is_(None) for c in _rung_columns(rung)],
    ]
    if rung == "answered":
        conditions.append(Message.ref.is_(None))
    if step is not None:
        conditions.append(
            ~exists().where(
                and_(
                    EscalationStep.message_id == Message.id,
                    EscalationStep.rung == rung,
                    EscalationStep.step == step,
                )
            )
        )
    return select(Message).where(*conditions).order_by(Message.created_ms)


@dataclass(frozen=True)
class StepTaken:
    link: str
    message_id: str
    rung: str
    step: int
    action: str
    outcome: str
    detail: str


def _due(
    session: Session, link: Link, now_ms: int
) -> Iterator[tuple[str, int, dict[str, Any], Any]]:
    """(rung, step index, action, query of the messages for which that step is due)."""
    row = session.get(EscalationPolicy, link.id)
    if row is None:
        return
    for rung, spec in row.document.items():
        if rung == "displayed" and not link.share_displayed:
            continue
        for channel in (EMERGENCY, ROUTINE):
            deadline = deadline_ms(spec, channel)
            if deadline is None:
                continue
            for index, action in enumerate(spec["actions"]):
                delay = deadline + int(action.get("after_s", 0)) * 1000
                query = _candidates(session, link, rung, channel, now_ms - delay, now_ms, index)
                yield rung, index, action, query


def has_due(session: Session, link: Link, now_ms: int) -> bool:
    """Whether any step is due (a read: the watch takes the link's lock only then)."""
    return any(
        session.scalar(query.with_only_columns(Message.id).limit(1)) is not None
        for _, _, _, query in _due(session, link, now_ms)
    )


def run(session: Session, link: Link, now_ms: int) -> list[StepTaken]:
    """Take every escalation step now due on ``link`` (the caller holds its lock)."""
    taken = []
    for rung, index, action, query in _due(session, link, now_ms):
        for message in session.scalars(query.limit(BATCH)):
            taken.append(_take(session, link, message, rung, index, action, now_ms))
    return taken


def _take(
    session: Session,
    link: Link,
    message: Message,
    rung: str,
    index: int,
    action: dict[str, Any],
    now_ms: int,
) -> StepTaken:
    name = action["do"]
    waited = now_ms - message.created_ms
    target = action.get("role") or action.get("user") or action.get("link")
    outcome, detail = _act(session, link, message, rung, action, waited, now_ms)
    session.add(
        EscalationStep(
            link_id=link.id,
            message_id=message.id,
            rung=rung,
            step=index,
            action=name,
            target=target,
            outcome=outcome,
            detail=detail,
            waited_ms=waited,
            created_ms=now_ms,
        )
    )
    data = {
        "message": message.id,
        "channel": message.channel,
        "rung": rung,
        "step": index,
        "action": name,
        "target": target,
        "outcome": outcome,
        "detail": detail,
        "waited_ms": waited,
    }
    record_event(session, "escalation.step", data, link_id=link.id, now_ms=now_ms)
    audit(
        session,
        actor="system:escalation",
        action=f"escalation.{name}",
        target=link.name,
        outcome="ok",
        detail=data,
        now=now_ms,
    )
    return StepTaken(link.name, message.id, rung, index, name, outcome, detail)


def _act(
    session: Session,
    link: Link,
    message: Message,
    rung: str,
    action: dict[str, Any],
    waited: int,
    now_ms: int,
) -> tuple[str, str]:
    """Do the step's action: (outcome, detail)."""
    name = action["do"]
    target = action.get("role") or action.get("user") or action.get("link")
    if name == "resend":
        if link.peer_has_seq >= message.seq:
            return "not_needed", f"{link.peer_party} already holds it; nothing to resend"
        push_outbox_now(session, link.id, now_ms)
        return "done", f"pushing again to {link.peer_party} now"
    if name in ("switch_path", "relay"):
        return _path_step(session, link, message, name, now_ms)
    what, what_zh = _overdue_texts(link, message, rung, waited)
    data: dict[str, Any] = {"rung": rung, "waited_ms": waited}
    if name == "alert":
        texts = {"en": f"Overdue: {what}", "zh-Hans": f"逾期：{what_zh}"}
        _alert(
            session,
            link,
            message,
            "escalation",
            action,
            f"Overdue: {what}",
            {**data, "texts": texts},
            now_ms,
        )
        return "done", f"alerted {target}"
    if name == "suggest_link":
        texts = {
            "en": f"Overdue: {what}. Try the {action['link']} link instead.",
            "zh-Hans": f"逾期：{what_zh}。请改用{action['link']}线路。",
        }
        _alert(
            session,
            link,
            message,
            "alternate_link",
            action,
            f"Overdue: {what}. Try the {action['link']} link instead.",
            {**data, "alternate_link": action["link"], "texts": texts},
            now_ms,
        )
        return "done", f"suggested the {action['link']} link to {target}"
    return "done", ""


def _overdue_texts(link: Link, message: Message, rung: str, waited: int) -> tuple[str, str]:
    """What is overdue, in English and in Chinese."""
    what = (
        f"{message.channel} message {message.id} on {link.name}: "
        f"no {rung} receipt after {_duration(waited)}"
    )
    what_zh = (
        f"{link.name}线路上的{CHANNEL_ZH[message.channel]}消息{message.id}"
        f"在{_duration_zh(waited)}后仍未{RUNG_ZH[rung]}"
    )
    return what, what_zh


def _path_step(
    session: Session, link: Link, message: Message, name: str, now_ms: int
) -> tuple[str, str]:
    """Ask the path failover for another way to the peer. ``switch_path`` marks the
    active direct path to be avoided for ``SWITCH_AVOID_MS``, if another direct path
    is not down: it may answer heartbeats and still not take pushes. The process
    delivering the link reads the mark within seconds and moves (failover reason
    ``escalation``), and does not fail back to it meanwhile. Both actions bring the
    next push forward and record which paths there are."""
    paths = list_paths(session, link.id)
    if name == "relay":
        relays = [p for p in paths if p.kind == RELAY]
        if not relays:
            return "unavailable", (
                f"no relay accepted by both parties on {link.name} ('hotline link add-relay')"
            )
        _push_unless_held(session, link, message, now_ms)
        return "requested", f"relays: {_listed(relays)}; used while every direct path is down"
    direct = [p for p in paths if p.kind == DIRECT]
    if len(direct) < 2:
        return "unavailable", (
            f"only one path to {link.peer_party}: add another with 'hotline link add-path'"
        )
    active = next((p for p in direct if p.active), direct[0])
    if all(p.state == "down" for p in direct if p.id != active.id):
        return "unavailable", (
            f"every other path to {link.peer_party} is down; staying on {active.url}"
        )
    active.avoid_until_ms = max(active.avoid_until_ms or 0, now_ms + SWITCH_AVOID_MS)
    _push_unless_held(session, link, message, now_ms)
    return "requested", (
        f"moving off {active.url} for {SWITCH_AVOID_MS // 60_000} min; "
        f"paths: {_listed(direct)}; pushing now"
    )


def _push_unless_held(session: Session, link: Link, message: Message, now_ms: int) -> None:
    if link.peer_has_seq < message.seq:
        push_outbox_now(session, link.id, now_ms)


def _listed(paths: list[Path]) -> str:
    return ", ".join(f"{p.url} ({p.state}{', active' if p.active else ''})" for p in paths)


def _alert(
    session: Session,
    link: Link,
    message: Message,
    kind: str,
    action: dict[str, Any],
    text: str,
    data: dict[str, Any],
    now_ms: int,
) -> None:
    """One open alert per link, kind, rung and target: a backlog of overdue messages
    raises one alert that counts them (``data.count``), not one alert each."""
    role, user = action.get("role"), action.get("user")
    for open_alert in session.scalars(
        select(Alert).where(
            Alert.link_id == link.id,
            Alert.kind == kind,
            Alert.cleared_ms.is_(None),
            Alert.target_role == role if role else Alert.target_role.is_(None),
            Alert.target_user == user if user else Alert.target_user.is_(None),
        )
    ):
        same = {k: open_alert.data.get(k) for k in ("rung", "alternate_link")}
        if same == {k: data.get(k) for k in ("rung", "alternate_link")}:
            count = int(open_alert.data.get("count", 1)) + 1
            texts = dict(data["texts"])
            texts["en"] += f" ({count - 1} more overdue before it)"
            texts["zh-Hans"] += f"（此前另有{count - 1}条逾期）"
            open_alert.data = {**data, "count": count, "texts": texts}
            open_alert.text = texts["en"]
            open_alert.message_id = message.id
            record_event(
                session, "alert.raised", alert_view(open_alert), link_id=link.id, now_ms=now_ms
            )
            return
    raise_alert(
        session,
        link_id=link.id,
        kind=kind,
        role=role,
        user=user,
        message_id=message.id,
        text=text,
        data={**data, "count": 1},
        now_ms=now_ms,
    )


CHANNEL_ZH = {EMERGENCY: "紧急", ROUTINE: "常规"}
RUNG_ZH = {"delivered": "送达", "displayed": "显示", "acknowledged": "确认收到", "answered": "答复"}


def _duration_zh(ms: int) -> str:
    seconds = ms // 1000
    if seconds < 120:
        return f"{seconds}秒"
    if seconds < 7200:
        return f"{seconds // 60}分钟"
    return f"{seconds // 3600}小时{seconds % 3600 // 60}分钟"


def _duration(ms: int) -> str:
    seconds = ms // 1000
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
