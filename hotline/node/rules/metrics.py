"""Prometheus metrics for the rules of a link, read from the database at each scrape,
so they count what every process serving the node did and survive restarts:

* ``hotline_overdue_items`` (gauge, by link and kind): outgoing messages and link
  tests waiting past their deadline;
* ``hotline_escalation_steps_total`` (by link and action);
* ``hotline_emergency_activations`` (gauge, by link and state: sent, rejected,
  awaiting_approval): activations in each state now; one awaiting approval moves to
  sent or rejected, so this is not a counter;
* ``hotline_link_tests_total`` (by link and outcome: sent, confirmed, missed), for
  the tests this node sent;
* ``hotline_link_tests_received_total`` (by link and outcome: received, confirmed,
  lapsed), for the other side's tests: how often our desk did not answer in time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ...clock import now_ms
from ...storage.models import Link
from ...storage.policy_models import EmergencyActivation, EscalationStep, LinkTest
from .escalation import overdue

if TYPE_CHECKING:
    from ..runtime import NodeRuntime


def _families() -> tuple[
    GaugeMetricFamily,
    CounterMetricFamily,
    GaugeMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
]:
    return (
        GaugeMetricFamily(
            "hotline_overdue_items",
            "Outgoing messages and link tests waiting past their deadline",
            labels=["link", "kind"],
        ),
        CounterMetricFamily(
            "hotline_escalation_steps",
            "Escalation steps taken because a deadline passed",
            labels=["link", "action"],
        ),
        GaugeMetricFamily(
            "hotline_emergency_activations",
            "Emergency activations in each state now (sent, rejected, awaiting_approval)",
            labels=["link", "state"],
        ),
        CounterMetricFamily(
            "hotline_link_tests",
            "Link tests this node sent: sent, confirmed by the other side, missed",
            labels=["link", "outcome"],
        ),
        CounterMetricFamily(
            "hotline_link_tests_received",
            "The other side's link tests: received, confirmed by us, lapsed unconfirmed",
            labels=["link", "outcome"],
        ),
    )


class RulesCollector(Collector):
    def __init__(self, node: NodeRuntime) -> None:
        self.node = node

    def describe(self) -> Iterator[Metric]:
        yield from _families()

    def collect(self) -> Iterator[Metric]:
        overdue_g, steps_c, activations_c, tests_c, received_c = _families()
        with self.node.reading() as session:
            names = dict(session.execute(select(Link.id, Link.name)).all())
            items = overdue(session, now_ms())
            steps = session.execute(
                select(EscalationStep.link_id, EscalationStep.action, func.count()).group_by(
                    EscalationStep.link_id, EscalationStep.action
                )
            ).all()
            activations = session.execute(
                select(
                    EmergencyActivation.link_id, EmergencyActivation.state, func.count()
                ).group_by(EmergencyActivation.link_id, EmergencyActivation.state)
            ).all()
            tests = session.execute(
                select(LinkTest.link_id, LinkTest.direction, LinkTest.state, func.count()).group_by(
                    LinkTest.link_id, LinkTest.direction, LinkTest.state
                )
            ).all()
        counts = Counter((item.link_name, item.kind) for item in items)
        for link_name in names.values():
            for kind in ("message", "link_test"):
                overdue_g.add_metric([link_name, kind], counts.get((link_name, kind), 0))
        for link_id, action, count in steps:
            steps_c.add_metric([names.get(link_id, link_id), action], count)
        for link_id, state, count in activations:
            activations_c.add_metric([names.get(link_id, link_id), state], count)
        # Ours count as sent, the other side's as received, then by how each ended.
        by_direction = {"out": (tests_c, "sent"), "in": (received_c, "received")}
        totals: Counter[tuple[str, str]] = Counter()
        for link_id, direction, state, count in tests:
            name = names.get(link_id, link_id)
            totals[(name, direction)] += count
            if state != "awaiting":
                by_direction[direction][0].add_metric([name, state], count)
        for (name, direction), count in totals.items():
            family, label = by_direction[direction]
            family.add_metric([name, label], count)
        yield from (overdue_g, steps_c, activations_c, tests_c, received_c)
