"""Failover for real: three hosts in network namespaces, two veth paths between the
parties and a relay, cuts made by the kernel (link down, silent blackhole), a node
SIGKILLed and restarted, all while a stream of messages flows.

Asserted: a cut of the active path is detected by the heartbeats (the path goes down
and traffic fails over for that reason) and delivery resumes on the other path;
traffic moves back when the path is restored; the relay is used only
while both direct paths are down; every accepted message arrives exactly once and
in order; both records verify and agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.netns import LINK, Topology, available
from hotline.clock import now_ms
from hotline.node.service import Node
from hotline.protocol.bundle import compare_bundles, verify_bundle
from hotline.storage.models import RelayBatch
from tests.harness import wait_until

pytestmark = pytest.mark.netns

# How long these waits may take is not under test (bench.failover measures detection
# and resumption); they only keep a broken build from hanging the suite.
# How long a push to the relay that left before a failback may take to land there.
RELAY_LANDING_MS = 3_000
WAIT_S = 30.0


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    reason = available()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    topo = Topology(tmp_path)
    try:
        topo.create()
        topo.start()
        yield topo
    finally:
        topo.destroy()  # even on failure: processes stopped, namespaces deleted


class Stream:
    """Commits a numbered message on washington every 30 ms (as the CLI does)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.sent: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            text = f"m{n}"
            self.node.send(LINK, {"text": text, "lang": "en"})
            self.sent.append(text)
            n += 1
            time.sleep(0.03)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(10)
        return list(self.sent)


def received(node: Node) -> list[str]:
    return [m.body["text"] for m in node.messages(LINK, direction="in", limit=1_000_000)]


def active(node: Node) -> int | None:
    return next((p.position for p in node.link_paths(LINK) if p.active), None)


def relay_batches(node: Node, sender: str | None = None) -> int:
    """Sealed batches the relay took in, from one party or from both."""
    query = select(func.count()).select_from(RelayBatch)
    if sender is not None:
        query = query.where(RelayBatch.from_party == sender)
    with node.reading() as session:
        return int(session.scalar(query) or 0)


def relay_received_ms(node: Node, sender: str) -> list[int]:
    """When the relay took in each of ``sender``'s sealed batches."""
    query = select(RelayBatch.received_ms).where(RelayBatch.from_party == sender)
    with node.reading() as session:
        return [int(t) for t in session.scalars(query)]


def relay_released_ms(node: Node) -> int | None:
    """When the node last stopped using the relay."""
    times = [
        e.created_ms
        for e in node.events_after(0, 1_000_000)
        if e.type == "link.relay" and not e.data.get("using")
    ]
    return max(times, default=None)


def resumed(beijing: Node, count: int, what: str) -> None:
    wait_until(lambda: len(received(beijing)) > count + 3, timeout=WAIT_S, what=what)


def failovers(node: Node) -> list[str]:
    """The reasons of the link's failovers so far, oldest first."""
    return [e.data["reason"] for e in node.events_after(0, 1_000_000) if e.type == "link.failover"]


def went_down(node: Node, position: int = 0) -> int:
    """How many times the heartbeats declared a path (the first by default) down."""
    return sum(
        1
        for e in node.events_after(0, 1_000_000)
        if e.type == "path.state" and e.data["position"] == position and e.data["state"] == "down"
    )


def failed_over_because_the_path_failed(node: Node, before: int) -> bool:
    """The first failover after the cut left the path because it failed (heartbeats
    declared it down, or a push on it failed), not for any other reason."""
    return failovers(node)[before:][:1] in (["path down"], ["push failed"])


def test_cuts_relay_and_sigkill_while_messages_flow(topology: Topology) -> None:
    w, b, g = (topology.nodes[p].node() for p in ("washington", "beijing", "geneva"))
    stream: Stream | None = None
    try:
        # Whichever path answered first carried traffic; once both answer, the first.
        wait_until(
            lambda: (
                [p.state for p in w.link_paths(LINK) if p.kind == "direct"] == ["up", "up"]
                and active(w) == 0
            ),
            timeout=20,
            what="both direct paths up, the first one active",
        )
        stream = Stream(w)
        wait_until(lambda: len(received(b)) > 10, what="the stream flowing")

        # 1. Link down on the active path: the kernel drops the route.
        count, before, downs = len(received(b)), len(failovers(w)), went_down(w)
        topology.link_down(1)
        wait_until(lambda: active(w) == 1, timeout=WAIT_S, what="failover (link down)")
        assert failed_over_because_the_path_failed(w, before), failovers(w)[before:]
        wait_until(lambda: went_down(w) > downs, timeout=WAIT_S, what="path 1 down")
        resumed(b, count, "delivery on path 2 after link down")
        topology.link_up(1)
        wait_until(lambda: active(w) == 0, timeout=WAIT_S, what="failback after link up")

        # 2. Silent drop: beijing blackholes its answers on the active path.
        count, before, downs = len(received(b)), len(failovers(w)), went_down(w)
        topology.blackhole(1)
        wait_until(lambda: active(w) == 1, timeout=WAIT_S, what="failover (blackhole)")
        assert failed_over_because_the_path_failed(w, before), failovers(w)[before:]
        wait_until(lambda: went_down(w) > downs, timeout=WAIT_S, what="path 1 down")
        resumed(b, count, "delivery on path 2 after blackhole")
        topology.unblackhole(1)
        wait_until(lambda: active(w) == 0, timeout=WAIT_S, what="failback after blackhole")
        assert relay_batches(g) == 0, "the relay was used while a direct path was up"

        # 3. Both direct paths down: the relay carries the sealed batches.
        topology.link_down(1)
        topology.link_down(2)
        wait_until(lambda: relay_batches(g) > 0, timeout=10, what="the relay in use")
        count = len(received(b))
        wait_until(
            lambda: len(received(b)) > count + 5, timeout=10, what="delivery through the relay"
        )
        topology.link_up(1)
        topology.link_up(2)
        wait_until(lambda: active(w) == 0, timeout=WAIT_S, what="back on the direct path")
        # (Beijing finds its own direct paths again in its own time, so its batches
        # are not counted here.)
        count = len(received(b))
        wait_until(lambda: len(received(b)) > count + 20, what="direct delivery again")
        count = len(received(b))
        wait_until(lambda: len(received(b)) > count + 20, what="more direct delivery")
        # A push to the relay that left before the failback may land a little later
        # (RELAY_LANDING_MS at most here); none leaves after it. Once that long has
        # passed, no batch of Washington's reached the relay later than that.
        released = relay_released_ms(w)
        assert released is not None
        wait_until(
            lambda: now_ms() > released + 2 * RELAY_LANDING_MS, what="a late relay batch's time"
        )
        late = [t for t in relay_received_ms(g, "washington") if t > released + RELAY_LANDING_MS]
        assert late == [], "the relay was used after failback"

        # 4. SIGKILL beijing mid-stream, restart it.
        topology.nodes["beijing"].kill()
        time.sleep(1.0)
        topology.nodes["beijing"].start()
        count = len(received(b))
        wait_until(lambda: len(received(b)) > count + 10, timeout=20, what="delivery after restart")

        sent = stream.stop()
        stream = None
        wait_until(lambda: received(b) == sent, timeout=30, what="every message once, in order")
        wait_until(
            lambda: all(s.outbox_depth == 0 for n in (w, b) for s in n.status()),
            timeout=30,
            what="both outboxes drained",
        )
        bundles = [w.export(LINK), b.export(LINK)]
    finally:
        if stream is not None:
            stream.stop()
        for node in (w, b, g):
            node.close()

    assert len(sent) > 200
    for bundle in bundles:
        summary, fault = verify_bundle(bundle)
        assert fault is None, fault.describe()
        assert summary.per_party["washington"] == len(sent)
    assert compare_bundles(*bundles).agree

    node = topology.nodes["washington"].node()
    try:
        events = node.events_after(0, 1_000_000)
    finally:
        node.close()
    reasons = [e.data["reason"] for e in events if e.type == "link.failover"]
    assert "failback" in reasons and ("path down" in reasons or "push failed" in reasons)
    assert any(e.type == "link.relay" and e.data["using"] for e in events)
