"""A running node beats at the interval in its node.json (``hotline heartbeats``
sets it; tests/cli/test_cli.py covers the command)."""

from __future__ import annotations

from pathlib import Path

from hotline.node.delivery.deliverer import _timeouts
from hotline.node.heartbeat_timings import HeartbeatTimings
from hotline.node.paths.liveness import LinkPaths
from tests.harness import LINK, Cluster, wait_until


def _echoes(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(f'hotline_heartbeat_rtt_seconds_count{{link="{LINK}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_a_running_node_beats_at_its_configured_interval(tmp_path: Path) -> None:
    with Cluster(tmp_path, lambda _path: None) as cluster:
        home = cluster.washington.home
        config = home.load_config()
        fast = config.heartbeats.model_copy(update={"interval_s": 0.2})
        home.save_config(config.model_copy(update={"heartbeats": fast}))
        cluster.start()
        with cluster.washington.client() as w, cluster.beijing.client() as b:
            wait_until(lambda: _echoes(w.get("/metrics").text) > 0, what="washington beating")
            wait_until(lambda: _echoes(b.get("/metrics").text) > 0, what="beijing beating")
            start = {"w": _echoes(w.get("/metrics").text), "b": _echoes(b.get("/metrics").text)}
            wait_until(
                lambda: _echoes(w.get("/metrics").text) - start["w"] >= 20,
                timeout=60,
                what="twenty more echoes on washington",
            )
            beats = {
                "w": _echoes(w.get("/metrics").text) - start["w"],
                "b": _echoes(b.get("/metrics").text) - start["b"],
            }
    # Every 0.2 s against the default second: over the same stretch, washington beats
    # about five times as often. Half as often would still be far from beijing's rate,
    # however slowly a loaded machine runs both.
    assert beats["b"] * 2 < beats["w"], beats


def test_pushes_connect_within_the_nodes_timings(tmp_path: Path) -> None:
    """A satellite path needs more than the default half second to connect: pushes
    and pulls take the node's connect timeout too, not only the heartbeats."""
    timings = HeartbeatTimings(
        interval_s=5, timeout_s=4, connect_s=2, slow_rtt_ms=1_500, down_after_ms=12_000
    )
    with Cluster(tmp_path, lambda _path: None) as cluster:
        node = cluster.washington.node()
        try:
            link = node.find_link(LINK)
            paths = LinkPaths.from_rows(link.id, link.name, node.link_paths(link.id), timings)
        finally:
            node.close()
    [path] = paths.direct
    up, suspect = _timeouts(path.timings)
    assert (up.connect, suspect.connect) == (2, 2)
    assert suspect.read is not None and suspect.read >= timings.timeout_s
    assert path.timings == timings
