"""Prometheus metrics, one registry per node (tests run two nodes in one process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NodeMetrics:
    def __init__(self, outbox_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        # Registered in this order, which is the order /metrics lists them in.
        self._add_delivery(outbox_depth)
        self._add_liveness()
        self._add_relay_and_storage()

    def _add_delivery(self, outbox_depth: Callable[[], float]) -> None:
        """Entries waiting, delivered, failed, received and refused, and latency."""
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

    def _add_liveness(self) -> None:
        """Paths and links: their state, heartbeats, failovers and pushes via a relay."""
        self.path_state = Gauge(
            "hotline_path_state",
            "Liveness of each path of a link: 2 up, 1 degraded, 0 down, -1 unknown",
            ["link", "path"],
            registry=self.registry,
        )
        self.path_active = Gauge(
            "hotline_path_active",
            "1 for the path the link's traffic uses now, else 0",
            ["link", "path"],
            registry=self.registry,
        )
        self.link_state = Gauge(
            "hotline_link_state",
            "Liveness of a link (its best direct path): 2 up, 1 degraded, 0 down, -1 unknown",
            ["link"],
            registry=self.registry,
        )
        self.heartbeat_rtt = Histogram(
            "hotline_heartbeat_rtt_seconds",
            "Round-trip time of answered heartbeats (signed heartbeat to verified echo)",
            ["link"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8),
            registry=self.registry,
        )
        self.heartbeat_failures = Counter(
            "hotline_heartbeat_failures",
            "Heartbeats that got no valid echo (timeout, refused, bad signature)",
            ["link", "path"],
            registry=self.registry,
        )
        self.failovers = Counter(
            "hotline_failovers",
            "Changes of a link's active path, by reason "
            "(path down, push failed, escalation, failback, relay)",
            ["link", "reason"],
            registry=self.registry,
        )
        self.relay_pushes = Counter(
            "hotline_relay_pushes",
            "Batches this node sent through a relay because no direct path answered",
            ["link", "outcome"],
            registry=self.registry,
        )

    def _add_relay_and_storage(self) -> None:
        """SQLite's checkpoints, and what this node forwards as a relay."""
        self.checkpoint_seconds = Histogram(
            "hotline_sqlite_checkpoint_seconds",
            "SQLite only: passive checkpoints of the write-ahead log, run off the commit path",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.relay_forwards = Counter(
            "hotline_relay_forwards",
            "On a relay: batches taken in and forwarded to their destination, by outcome",
            ["outcome"],
            registry=self.registry,
        )
