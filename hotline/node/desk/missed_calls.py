"""A person marks a missed incoming call seen, so it stops waiting for anyone."""

from __future__ import annotations

from ...clock import now_ms
from ...errors import Reason, Refused
from ...storage.people_models import Call
from ..calls import mark_seen
from ..runtime import NodeRuntime


def call_seen(node: NodeRuntime, call_id: str, label: str) -> bool:
    """Record that a person saw the missed call ``call_id``."""
    with node.transaction() as session:
        call = session.get(Call, call_id)
        if call is None or call.direction != "in":
            raise Refused(Reason.UNKNOWN_CALL, f"no such call {call_id}")
        return mark_seen(session, call, label, now_ms())


__all__ = ["call_seen"]
