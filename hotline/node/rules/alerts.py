"""Console alerts: put something in front of a role or a named user until cleared."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...storage.policy_models import Alert
from ..events import record_event


def raise_alert(
    session: Session,
    *,
    link_id: str | None,
    kind: str,
    text: str,
    now_ms: int,
    role: str | None = None,
    user: str | None = None,
    message_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> Alert:
    """Store the alert and announce it (event ``alert.raised``) in the caller's
    transaction."""
    alert = Alert(
        link_id=link_id,
        kind=kind,
        target_role=role,
        target_user=user,
        message_id=message_id,
        text=text,
        data=data or {},
        created_ms=now_ms,
    )
    session.add(alert)
    session.flush()
    record_event(session, "alert.raised", alert_view(alert), link_id=link_id, now_ms=now_ms)
    return alert


def alert_view(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "link_id": alert.link_id,
        "kind": alert.kind,
        "target_role": alert.target_role,
        "target_user": alert.target_user,
        "message_id": alert.message_id,
        "text": alert.text,
        "data": alert.data,
        "created_ms": alert.created_ms,
        "cleared_ms": alert.cleared_ms,
        "cleared_by": alert.cleared_by,
    }


def clear_alerts_for(
    session: Session, message_id: str, who: str, now_ms: int, *, kind: str | None = None
) -> None:
    """Clear the open alerts about an entry (it was acknowledged or confirmed); with
    ``kind``, only the alerts of that kind."""
    query = select(Alert).where(Alert.message_id == message_id, Alert.cleared_ms.is_(None))
    if kind is not None:
        query = query.where(Alert.kind == kind)
    for alert in session.scalars(query):
        alert.cleared_ms, alert.cleared_by = now_ms, who
        record_event(
            session, "alert.cleared", alert_view(alert), link_id=alert.link_id, now_ms=now_ms
        )
