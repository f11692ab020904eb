"""The two channels of a link: emergency (it rings) and routine (it never does).

Every message carries its channel in its body (``"channel": "emergency"``; a body
without the field is routine, so envelopes from before channels existed stay valid).
An emergency activation names a criterion of the policy in force and a short
justification; when the policy asks for the two-person rule, it waits for a second
authorised operator (not the requester) before it leaves. It is marked emergency in
both records, and the receiving node raises ``emergency.ringing`` for its console.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ...accounts.roles import Permission, allowed
from ...errors import Reason
from ...protocol.policy import LANGUAGE_TAG, Policy
from ...storage.models import Entry, Link, Message
from ...storage.policy_models import EmergencyActivation
from ..events import record_event
from ..message_text import MAX_TEXT_CHARS
from ..people import Person
from ..record_store import lock_link
from ..refusals import Refused, audit, jsonable
from .policy import in_force, in_force_row

EMERGENCY, ROUTINE = "emergency", "routine"
MAX_JUSTIFICATION = 500
AWAITING, SENT, REJECTED = "awaiting_approval", "sent", "rejected"


def check_activation(
    policy: Policy | None, criterion: str | None, justification: str | None
) -> Policy:
    """The rules every activation passes, whoever asks and however it is sent."""
    if not criterion or not str(criterion).strip():
        raise Refused(
            Reason.NOT_AN_EMERGENCY,
            "the emergency channel is for the agreed criteria only, and this names none: "
            "send it as routine instead",
        )
    if policy is None:
        raise Refused(
            Reason.NO_POLICY,
            "no policy is in force on this link, so no emergency criteria are agreed: "
            "send it as routine, or agree a policy first",
        )
    if policy.criterion(criterion) is None:
        agreed = ", ".join(c.id for c in policy.criteria)
        raise Refused(
            Reason.UNKNOWN_CRITERION,
            f"{criterion!r} is not an agreed criterion of policy version {policy.version} "
            f"(agreed: {agreed})",
        )
    if not justification or not justification.strip():
        raise Refused(
            Reason.JUSTIFICATION_REQUIRED, "an emergency activation needs a justification"
        )
    if len(justification) > MAX_JUSTIFICATION:
        raise Refused(
            Reason.JUSTIFICATION_TOO_LONG,
            f"the justification is {len(justification)} characters; keep it to {MAX_JUSTIFICATION}",
        )
    return policy


def emergency_body(
    activation: EmergencyActivation, policy: Policy, approved_by: str | None
) -> dict[str, Any]:
    criterion = policy.criterion(activation.criterion)
    assert criterion is not None
    body: dict[str, Any] = {
        "text": activation.text,
        "lang": activation.lang,
        "by": activation.requested_label,
        "channel": EMERGENCY,
        "criterion": activation.criterion,
        "criterion_labels": dict(criterion.labels),
        "justification": activation.justification,
        "policy_version": policy.version,
    }
    if approved_by is not None:
        body["approved_by"] = approved_by
    return body


def request(
    session: Session,
    link: Link,
    person: Person,
    *,
    criterion: str | None,
    justification: str | None,
    text: str,
    lang: str,
    now_ms: int,
) -> tuple[EmergencyActivation, Policy]:
    """Check and record an activation (the caller holds the link lock and sends it
    when no approval is needed)."""
    if not allowed(person.role, Permission.ACTIVATE_EMERGENCY):
        raise Refused(
            Reason.FORBIDDEN, f"the role {person.role} may not activate the emergency channel"
        )
    if not text.strip():
        raise Refused(Reason.EMPTY, "an emergency activation needs a message text")
    if len(text) > MAX_TEXT_CHARS:
        raise Refused(
            Reason.TOO_LONG, f"the text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}"
        )
    if not LANGUAGE_TAG.match(lang):
        raise Refused(Reason.MALFORMED, f"{lang!r} is not a language tag like 'en' or 'zh-Hans'")
    policy = check_activation(in_force(session, link.id), criterion, justification)
    assert criterion is not None and justification is not None
    activation = EmergencyActivation(
        link_id=link.id,
        state=AWAITING,
        requested_by=person.username,
        requested_label=person.label,
        criterion=criterion,
        justification=justification.strip(),
        text=text,
        lang=lang,
        policy_version=policy.version,
        created_ms=now_ms,
    )
    session.add(activation)
    session.flush()
    audit(
        session,
        actor=person.username,
        action="emergency.request",
        target=link.name,
        outcome="ok",
        detail={"activation": activation.id, "criterion": criterion},
        now=now_ms,
    )
    return activation, policy


def awaiting_approval(
    session: Session, link: Link, activation: EmergencyActivation, now_ms: int
) -> None:
    """Announce it (``emergency.awaiting_approval``); the console lists the activations
    awaiting approval from the table itself, so no alert row duplicates them."""
    event(session, activation, now_ms)


def lock_activation(session: Session, activation_id: int) -> tuple[EmergencyActivation, Link]:
    activation = session.get(EmergencyActivation, activation_id)
    if activation is None:
        raise Refused(Reason.UNKNOWN_ACTIVATION, f"no emergency activation {activation_id}")
    link = lock_link(session, activation.link_id)
    session.refresh(activation)
    return activation, link


def check_decision(activation: EmergencyActivation, person: Person) -> None:
    if not allowed(person.role, Permission.APPROVE_EMERGENCY):
        raise Refused(
            Reason.FORBIDDEN, f"the role {person.role} may not approve emergency activations"
        )
    if activation.state != AWAITING:
        raise Refused(
            Reason.NOT_AWAITING_APPROVAL,
            f"emergency activation {activation.id} is {activation.state.replace('_', ' ')}",
        )
    if activation.requested_by == person.username:
        raise Refused(
            Reason.SELF_APPROVAL,
            "the two-person rule needs a second operator: you cannot approve your own activation",
        )


def policy_for(session: Session, activation: EmergencyActivation) -> Policy:
    """The policy in force must still hold the activation's criterion."""
    policy = in_force(session, activation.link_id)
    return check_activation(policy, activation.criterion, activation.justification)


def on_incoming(
    session: Session, entry: Entry, message: Message, body: dict[str, Any], now_ms: int
) -> None:
    """The peer's emergency message arrived: ring this side's console."""
    row = in_force_row(session, entry.link_id)
    policy = None if row is None else Policy.from_map(row.document)
    criterion = body.get("criterion") if isinstance(body.get("criterion"), str) else None
    agreed_criterion = None
    if policy is not None and criterion is not None:
        agreed_criterion = policy.criterion(criterion)
    agreed = agreed_criterion is not None
    labels = agreed_criterion.labels if agreed_criterion is not None else {}
    record_event(
        session,
        "emergency.ringing",
        jsonable(
            {
                "id": message.id,
                "sender": entry.sender,
                "criterion": criterion,
                "criterion_labels": dict(labels) or body.get("criterion_labels"),
                "agreed_criterion": agreed,
                "justification": body.get("justification"),
                "text": body.get("text"),
                "lang": body.get("lang"),
                "by": body.get("by"),
                "approved_by": body.get("approved_by"),
                "received_ms": now_ms,
                # What the policy in force here expects of this side (the console's clock).
                "acknowledge_by_ms": (
                    now_ms + policy.channels[EMERGENCY].acknowledge_s * 1000 if policy else None
                ),
                "answer_by_ms": (
                    now_ms + policy.channels[EMERGENCY].answer_s * 1000 if policy else None
                ),
            }
        ),
        link_id=entry.link_id,
        now_ms=now_ms,
    )


def activation_view(activation: EmergencyActivation) -> dict[str, Any]:
    return {
        "id": activation.id,
        "link_id": activation.link_id,
        "state": activation.state,
        "requested_by": activation.requested_by,
        "requested_label": activation.requested_label,
        "criterion": activation.criterion,
        "justification": activation.justification,
        "text": activation.text,
        "lang": activation.lang,
        "policy_version": activation.policy_version,
        "created_ms": activation.created_ms,
        "decided_by": activation.decided_by,
        "decided_label": activation.decided_label,
        "decided_ms": activation.decided_ms,
        "decision_note": activation.decision_note,
        "message_id": activation.message_id,
    }


def event(session: Session, activation: EmergencyActivation, now_ms: int) -> None:
    """``emergency.awaiting_approval`` | ``emergency.sent`` | ``emergency.rejected``."""
    record_event(
        session,
        f"emergency.{activation.state}",
        activation_view(activation),
        link_id=activation.link_id,
        now_ms=now_ms,
    )
