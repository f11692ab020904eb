"""Escalation on the sender's side: silence triggers action instead of waiting.

Each link may have an escalation policy, set by an administrator on this node (it is
this party's own procedure: not signed, not sent to the peer). For each rung of the
ladder it gives a deadline, counted from when the message was sent, and ordered
actions, each optionally some seconds after the deadline::

    {"acknowledged": {"deadline_s": {"emergency": 300, "routine": 86400},
                      "actions": [{"do": "resend"},
                                  {"do": "alert", "role": "supervisor"},
                                  {"do": "suggest_link", "link": "leaders", "after_s": 600}]}}

Rungs: ``delivered``, ``displayed``, ``acknowledged``, ``answered``. A later rung
reached counts for the earlier ones (an answer is also an acknowledgement); the
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

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from ..accounts.roles import Role
from ..errors import Reason
from ..storage.account_models import User
from ..storage.models import Link, Message, Path
from ..storage.policy_models import Alert, EscalationPolicy, EscalationStep, LinkTest
from .alerts import alert_view, raise_alert
from .emergency import EMERGENCY, ROUTINE
from .events import record_event
from .ladder import MESSAGE_KINDS
from .link_policy import in_force
from .paths import DIRECT, RELAY, list_paths
from .record_store import push_outbox_now
from .refusals import Refused, audit

RUNGS = ("delivered", "displayed", "acknowledged", "answered")
ACTIONS = ("resend", "switch_path", "relay", "alert", "suggest_link")
ACTION_FIELDS = {
    "resend": {"do", "after_s"},
    "switch_path": {"do", "after_s"},
    "relay": {"do", "after_s"},
    "alert": {"do", "after_s", "role", "user"},
    "suggest_link": {"do", "after_s", "link", "role", "user"},
}
MAX_ACTIONS = 10
MAX_DEADLINE_S = 30 * 86_400
# Messages older than this are no longer escalated (nor shown as overdue).
MAX_AGE_MS = 7 * 86_400_000
BATCH = 100
MAX_OVERDUE_PER_LINK = 1000
# How long "switch_path" keeps traffic off the path it found active.
SWITCH_AVOID_MS = 10 * 60_000


# Validation -------------------------------------------------------------------------


def check_escalation(session: Session, link: Link, document: Any) -> dict[str, Any]:
    """The normalised document, or :class:`Refused` naming the first fault."""
    if not isinstance(document, dict) or not document:
        raise Refused(Reason.MALFORMED, "an escalation policy is a map from rung to its deadline")
    result: dict[str, Any] = {}
    for rung, spec in document.items():
        if rung not in RUNGS:
            raise Refused(
                Reason.UNKNOWN_RUNG, f"unknown rung {rung!r}: choose from {', '.join(RUNGS)}"
            )
        if not isinstance(spec, dict) or set(spec) - {"deadline_s", "actions"}:
            raise Refused(
                Reason.UNKNOWN_FIELD, f"{rung}: only 'deadline_s' and 'actions' may be given"
            )
        if "deadline_s" not in spec or "actions" not in spec:
            raise Refused(Reason.MALFORMED, f"{rung}: 'deadline_s' and 'actions' are both required")
        deadline = _deadline(rung, spec["deadline_s"])
        actions = spec["actions"]
        if not isinstance(actions, list) or not 0 < len(actions) <= MAX_ACTIONS:
            raise Refused(Reason.MALFORMED, f"{rung}: 'actions' must list 1..{MAX_ACTIONS} actions")
        result[rung] = {
            "deadline_s": deadline,
            "actions": [_action(session, link, rung, a) for a in actions],
        }
    return result


def _seconds(value: Any, what: str, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_DEADLINE_S:
        raise Refused(
            Reason.MALFORMED, f"{what} must be a whole number of seconds, {low}..{MAX_DEADLINE_S}"
        )
    return value


def _deadline(rung: str, value: Any) -> Any:
    if isinstance(value, dict):
        unknown = set(value) - {EMERGENCY, ROUTINE}
        if unknown or not value:
            raise Refused(
                Reason.UNKNOWN_CHANNEL,
                f"{rung}: deadlines are per channel 'emergency' and 'routine'",
            )
        return {ch: _seconds(v, f"{rung}.deadline_s.{ch}") for ch, v in value.items()}
    return _seconds(value, f"{rung}.deadline_s")


def _action(session: Session, link: Link, rung: str, action: Any) -> dict[str, Any]:
    if not isinstance(action, dict) or not isinstance(action.get("do"), str):
        raise Refused(Reason.MALFORMED, f"{rung}: each action is a map with 'do'")
    name = action["do"]
    if name not in ACTIONS:
        raise Refused(
            Reason.UNKNOWN_ACTION,
            f"{rung}: unknown action {name!r}: choose from {', '.join(ACTIONS)}",
        )
    extra = set(action) - ACTION_FIELDS[name]
    if extra:
        raise Refused(Reason.UNKNOWN_FIELD, f"{rung}: {name} does not take {sorted(extra)}")
    result: dict[str, Any] = {"do": name}
    if "after_s" in action:
        result["after_s"] = _seconds(action["after_s"], f"{rung}.{name}.after_s", low=0)
    if name in ("alert", "suggest_link"):
        if "role" in action and "user" in action:
            raise Refused(Reason.MALFORMED, f"{rung}: {name} names a role or a user, not both")
        if "role" in action:
            try:
                result["role"] = Role(action["role"]).value
            except ValueError:
                roles = ", ".join(r.value for r in Role)
                raise Refused(
                    Reason.UNKNOWN_ROLE,
                    f"{rung}: unknown role {action['role']!r}: choose from {roles}",
                ) from None
        elif "user" in action:
            user = action["user"]
            if (
                not isinstance(user, str)
                or session.scalar(select(User.id).where(User.username == user)) is None
            ):
                raise Refused(Reason.UNKNOWN_USER, f"{rung}: no console user {user!r}")
            result["user"] = user
        elif name == "alert":
            raise Refused(Reason.MALFORMED, f"{rung}: alert needs a 'role' or a 'user'")
        else:
            result["role"] = Role.DUTY_OFFICER.value
    if name == "suggest_link":
        other = action.get("link")
        target = None
        if isinstance(other, str):
            target = session.scalar(select(Link).where(or_(Link.name == other, Link.id == other)))
        if target is None:
            raise Refused(
                Reason.UNKNOWN_LINK, f"{rung}: suggest_link names no link of this node: {other!r}"
            )
        if target.id == link.id:
            raise Refused(Reason.MALFORMED, f"{rung}: the alternate link must be another link")
        result["link"] = target.name
    return result


def set_policy(
    session: Session, link: Link, document: Any, *, actor: str, now_ms: int
) -> dict[str, Any]:
    checked = check_escalation(session, link, document)
    row = session.get(EscalationPolicy, link.id)
    if row is None:
        session.add(
            EscalationPolicy(link_id=link.id, document=checked, updated_ms=now_ms, updated_by=actor)
        )
    else:
        row.document, row.updated_ms, row.updated_by = checked, now_ms, actor
    audit(
        session,
        actor=actor,
        action="escalation.set",
        target=link.name,
        outcome="ok",
        detail={"policy": checked},
        now=now_ms,
    )
    record_event(
        session,
        "escalation.policy",
        {"policy": checked, "by": actor},
        link_id=link.id,
        now_ms=now_ms,
    )
    return checked


# Deadlines ----------------------------------------------------------------------------


def _rung_columns(rung: str) -> list[Any]:
    """The columns that, when set, mean ``rung`` has been reached (or passed)."""
    index = RUNGS.index(rung)
    return [getattr(Message, f"{r}_ms") for r in RUNGS[index:]]


def _deadline_ms(spec: dict[str, Any], channel: str) -> int | None:
    deadline = spec["deadline_s"]
    if isinstance(deadline, dict):
        value = deadline.get(channel)
        return None if value is None else int(value) * 1000
    return int(deadline) * 1000


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
            deadline = _deadline_ms(spec, channel)
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
    waited_text = _duration(waited)
    what = (
        f"{message.channel} message {message.id} on {link.name}: "
        f"no {rung} receipt after {waited_text}"
    )
    what_zh = (
        f"{link.name}线路上的{CHANNEL_ZH[message.channel]}消息{message.id}"
        f"在{_duration_zh(waited)}后仍未{RUNG_ZH[rung]}"
    )
    target = action.get("role") or action.get("user") or action.get("link")
    outcome, detail = "done", ""
    if name == "resend":
        if link.peer_has_seq >= message.seq:
            outcome, detail = "not_needed", f"{link.peer_party} already holds it; nothing to resend"
        else:
            push_outbox_now(session, link.id, now_ms)
            detail = f"pushing again to {link.peer_party} now"
    elif name in ("switch_path", "relay"):
        outcome, detail = _path_step(session, link, message, name, now_ms)
    elif name == "alert":
        _alert(
            session,
            link,
            message,
            "escalation",
            action,
            f"Overdue: {what}",
            {
                "rung": rung,
                "waited_ms": waited,
                "texts": {"en": f"Overdue: {what}", "zh-Hans": f"逾期：{what_zh}"},
            },
            now_ms,
        )
        detail = f"alerted {target}"
    elif name == "suggest_link":
        _alert(
            session,
            link,
            message,
            "alternate_link",
            action,
            f"Overdue: {what}. Try the {action['link']} link instead.",
            {
                "rung": rung,
                "waited_ms": waited,
                "alternate_link": action["link"],
                "texts": {
                    "en": f"Overdue: {what}. Try the {action['link']} link instead.",
                    "zh-Hans": f"逾期：{what_zh}。请改用{action['link']}线路。",
                },
            },
            now_ms,
        )
        detail = f"suggested the {action['link']} link to {target}"
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


# Overdue items ------------------------------------------------------------------------


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
                value = _deadline_ms(spec, channel)
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


# Alerts --------------------------------------------------------------------------------


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
