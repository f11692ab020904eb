"""How a link is used: emergency, routine and test traffic per hour or day.

Messages count by channel and direction; link tests (``link.test`` and their
confirmations) count only as ``test``, never as real traffic. Buckets are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..storage.models import Entry, Link, Message
from .emergency import EMERGENCY, ROUTINE
from .link_tests import TEST_KINDS
from .refusals import Refused

BUCKETS = {"hour": 3_600_000, "day": 86_400_000}
CATEGORIES = (EMERGENCY, ROUTINE, "test")


@dataclass
class Usage:
    link: str
    bucket: str
    since_ms: int | None
    until_ms: int | None
    buckets: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)

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
        raise Refused("unknown_bucket", f"bucket must be one of {', '.join(BUCKETS)}")
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
