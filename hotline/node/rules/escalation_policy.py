"""An escalation policy: for each rung of a link's ladder, a deadline and the actions
to take when it passes. Checked and stored here; taken by :mod:`.escalation_steps`.

Each link may have an escalation policy, set by an administrator on this node (it is
this party's own procedure: not signed, not sent to the peer). For each rung of the
ladder it gives a deadline, counted from when the message was sent, and ordered
actions, each optionally some seconds after the deadline::

    {"acknowledged": {"deadline_s": {"emergency": 300, "routine": 86400},
                      "actions": [{"do": "resend"},
                                  {"do": "alert", "role": "supervisor"},
                                  {"do": "suggest_link", "link": "leaders", "after_s": 600}]}}

Rungs: ``delivered``, ``displayed``, ``acknowledged``, ``answered``. Actions:
``resend``, ``switch_path``, ``relay``, ``alert`` (for a ``role`` or a named
``user``), ``suggest_link`` (naming an alternate ``link``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...accounts.roles import Role
from ...errors import Reason
from ...storage.account_models import User
from ...storage.models import Link
from ...storage.policy_models import EscalationPolicy
from ..events import record_event
from ..refusals import Refused, audit
from .emergency import EMERGENCY, ROUTINE

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


def deadline_ms(spec: dict[str, Any], channel: str) -> int | None:
    deadline = spec["deadline_s"]
    if isinstance(deadline, dict):
        value = deadline.get(channel)
        return None if value is None else int(value) * 1000
    return int(deadline) * 1000
