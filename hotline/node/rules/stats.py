"""How a link is used: emergency, routine and test traffic per hour or day.

Messages count by channel and direction; link tests (``link.test`` and their
confirmations) count only as ``test``, never as real traffic. Buckets are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...errors import Reason
from ...storage.models import Entry, Link, Message
from ..refusals import Refused
from .emergency import EMERGENCY, ROUTINE
from .link_tests import TEST_KINDS

BUCKETS = {"hour": 3_600_000, "day": 86_400_000}
CATEGORIES = (EMERGENCY, ROUTINE, "test")


@dataclass
class Usage:
    link: str
    bucket: str
    since_ms: int | None
    until_ms: int | None
    buckets: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)
    # Per channel, for our messages: how many the other side acknowledged and answered,
    # and the median and 90th percentile of the time it took (seconds).
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, start_ms: int, category: str, direction: str, count: int) -> None:
        slot = self.buckets.setdefault(start_ms, {c: {"out": 0, "in": 0} for c in CATEGORIES})
        slot[category][direction] += count

    @property
    def totals(self) -> dict[str, dict[str, int]]:
        totals = {c: {"out": 0, "in": 0} for c in CATEGORIES}
        for slot in self.buckets.values():
            for category, counts in slot.items():
                for direction, count in counts.items():
                    totals[category][direction] += count
        return totals

    def view(self) -> dict[str, Any]:
        return {
            "link": self.link,
            "bucket": self.bucket,
            "since_ms": self.since_ms,
            "until_ms": self.until_ms,
            "buckets": [
                {"start_ms": start, **self.buckets[start]} for start in sorted(self.buckets)
            ],
            "totals": self.totals,
            "responses": self.responses,
        }


def usage(
    session: Session,
    link: Link,
    *,
    bucket: str = "day",
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> Usage:
    if bucket not in BUCKETS:
        raise Refused(Reason.UNKNOWN_BUCKET, f"bucket must be one of {', '.join(BUCKETS)}")
    size = BUCKETS[bucket]
    result = Usage(link.name, bucket, since_ms, until_ms)
    start = (Message.created_ms // size) * size
    query = (
        select(start, Message.channel, Message.direction, func.count())
        .where(Message.link_id == link.id)
        .group_by(start, Message.channel, Message.direction)
    )
    if since_ms is not None:
        query = query.where(Message.created_ms >= since_ms)
    if until_ms is not None:
        query = query.where(Message.created_ms < until_ms)
    for slot, channel, direction, count in session.execute(query):
        category = EMERGENCY if channel == EMERGENCY else ROUTINE
        result.add(int(slot), category, direction, int(count))
    result.responses = _responses(session, link, since_ms, until_ms)
    test_start = (Entry.time_ms // size) * size
    tests = (
        select(test_start, Entry.sender, func.count())
        .where(Entry.link_id == link.id, Entry.kind.in_([k.value for k in TEST_KINDS]))
        .group_by(test_start, Entry.sender)
    )
    if since_ms is not None:
        tests = tests.where(Entry.time_ms >= since_ms)
    if until_ms is not None:
        tests = tests.where(Entry.time_ms < until_ms)
    for slot, sender, count in session.execute(tests):
        result.add(int(slot), "test", "in" if sender == link.peer_party else "out", int(count))
    return result


def _responses(
    session: Session, link: Link, since_ms: int | None, until_ms: int | None
) -> dict[str, dict[str, Any]]:
    query = select(
        Message.channel, Message.created_ms, Message.acknowledged_ms, Message.answered_ms
    ).where(Message.link_id == link.id, Message.direction == "out")
    if since_ms is not None:
        query = query.where(Message.created_ms >= since_ms)
    if until_ms is not None:
        query = query.where(Message.created_ms < until_ms)
    waits: dict[str, dict[str, list[int]]] = {
        c: {"acknowledged": [], "answered": []} for c in (EMERGENCY, ROUTINE)
    }
    sent = {EMERGENCY: 0, ROUTINE: 0}
    for channel, created, acknowledged, answered in session.execute(query):
        key = EMERGENCY if channel == EMERGENCY else ROUTINE
        sent[key] += 1
        if acknowledged is not None:
            waits[key]["acknowledged"].append(int(acknowledged) - int(created))
        if answered is not None:
            waits[key]["answered"].append(int(answered) - int(created))
    result: dict[str, dict[str, Any]] = {}
    for channel, rungs in waits.items():
        result[channel] = {"sent": sent[channel]}
        for rung, values in rungs.items():
            values.sort()
            result[channel][rung] = {
                "count": len(values),
                "median_s": _quantile(values, 0.5),
                "p90_s": _quantile(values, 0.9),
            }
    return result


def _quantile(values: list[int], q: float) -> float | None:
    """Nearest-rank quantile of sorted milliseconds, in seconds."""
    if not values:
        return None
    index = min(len(values) - 1, max(0, int(-(-q * len(values) // 1)) - 1))
    return round(values[index] / 1000, 3)
