"""A running node beats at the interval in its node.json (``hotline heartbeats``
sets it; tests/test_cli.py covers the command)."""

from __future__ import annotations

import time
from pathlib import Path

from .harness import LINK, Cluster, wait_until


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
            time.sleep(3.0)
            beats = {
                "w": _echoes(w.get("/metrics").text) - start["w"],
                "b": _echoes(b.get("/metrics").text) - start["b"],
            }
    # Every 0.2 s against the default second (allowing for a loaded machine).
    assert beats["w"] >= 9, beats
    assert beats["b"] <= 4, beats
