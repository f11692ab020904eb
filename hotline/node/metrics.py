"""Prometheus metrics, one registry per node (tests run two nodes in one process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NodeMetrics:
    def __init__(self, outbox_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.outbox_depth = Gauge(
            "hotline_outbox_depth",
            "Entries waiting for the peer to hold them",
            registry=self.registry,
        )
        self.outbox_depth.set_function(outbox_depth)
        self.deliveries = Counter(
            "hotline_deliveries",
            "Envelopes the peer confirmed holding",
            ["link"],
            registry=self.registry,
        )
        self.delivery_failures = Counter(
            "hotline_delivery_failures",
            "Failed delivery attempts",
            ["link", "reason"],
            registry=self.registry,
        )
        self.received = Counter(
            "hotline_envelopes_received",
            "Envelopes received from peers by outcome",
            ["link", "status"],
            registry=self.registry,
        )
        self.refused = Counter(
            "hotline_envelopes_refused",
            "Envelopes refused, by code",
            ["code"],
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "hotline_delivery_latency_seconds",
            "From commit in our outbox to the peer's confirmation that it holds the entry",
            ["link"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
