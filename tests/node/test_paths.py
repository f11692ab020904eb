"""Two paths on loopback: heartbeats, failover on a silent or refused path, failback,
exactly-once in-order delivery throughout (real nodes, real TLS, a real TCP cut)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.demo import free_port
from hotline.protocol.bundle import compare_bundles, read_bundle, verify_bundle
from tests.conftest import DatabaseFactory
from tests.harness import LINK, Cluster, hotline, hotline_ok, inbound_texts, send, wait_until
from tests.paths_harness import cluster_with_endpoints
from tests.tcp_proxy import TcpProxy

# How long these waits may take is not under test (bench.failover measures detection
# and resumption); they only keep a broken build from hanging the suite.
WAIT_S = 30.0


@pytest.fixture
def two_paths(tmp_path: Path, database: DatabaseFactory) -> Iterator[tuple[Cluster, TcpProxy]]:
    """beijing is reached through a cuttable proxy (path 0) and directly (path 1)."""
    proxies: list[TcpProxy] = []

    def endpoints(party: str, peer_port: int) -> list[str] | None:
        if party != "beijing":
            return None
        proxy = TcpProxy(free_port(), peer_port)
        proxies.append(proxy)
        return [proxy.url, f"https://127.0.0.1:{peer_port}"]

    with cluster_with_endpoints(tmp_path, database.url_for, endpoints) as cluster:
        proxy = proxies[0]
        proxy.start()
        try:
            yield cluster, proxy
        finally:
            proxy.close()


def paths(client: httpx.Client) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = client.get(f"/api/v1/links/{LINK}/paths").json()
    return result


def active_position(client: httpx.Client) -> int | None:
    return next((p["position"] for p in paths(client) if p["active"]), None)


class Stream:
    """Sends a numbered message every 40 ms until stopped; remembers what was accepted."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.sent: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            text = f"stream {n}"
            send(self.client, text)
            self.sent.append(text)
            n += 1
            time.sleep(0.04)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(10)
        return self.sent


def test_failover_to_the_second_path_and_back_loses_and_duplicates_nothing(
    two_paths: tuple[Cluster, TcpProxy],
) -> None:
    cluster, proxy = two_paths
    cluster.start()
    with (
        cluster.washington.client() as w,
        cluster.beijing.client() as b,
        cluster.washington.client() as sender,
    ):
        # Whichever path answered first carried traffic; once both answer, the first.
        wait_until(
            lambda: [p["state"] for p in paths(w)] == ["up", "up"] and active_position(w) == 0,
            what="both paths up, the first one active",
        )
        stream = Stream(sender)
        wait_until(lambda: len(inbound_texts(cluster.beijing)) > 5, what="the stream flowing")
        accepted = [len(stream.sent)]  # at each cut: messages kept flowing through all of them

        # 1. The active path goes silent: connections stay open, nothing answers.
        proxy.blackhole()
        wait_until(lambda: active_position(w) == 1, timeout=WAIT_S, what="failover after blackhole")
        # The failover may have begun on a slow heartbeat before the blackhole bit (a
        # busy machine): the silent path is judged not up, if not at that very moment.
        wait_until(
            lambda: paths(w)[0]["state"] in ("degraded", "down"), what="the silent path not up"
        )
        before = len(inbound_texts(cluster.beijing))
        wait_until(
            lambda: len(inbound_texts(cluster.beijing)) > before + 5, what="delivery resumes"
        )

        # 2. It answers again: traffic moves back after a few good heartbeats.
        accepted.append(len(stream.sent))
        proxy.restore()
        wait_until(lambda: active_position(w) == 0, timeout=WAIT_S, what="failback")
        flowed = len(inbound_texts(cluster.beijing))
        wait_until(
            lambda: len(inbound_texts(cluster.beijing)) > flowed + 5, what="delivery after failback"
        )

        # 3. Refused outright (listener gone, connections reset).
        accepted.append(len(stream.sent))
        proxy.close()
        wait_until(lambda: active_position(w) == 1, timeout=WAIT_S, what="failover after reset")
        flowed = len(inbound_texts(cluster.beijing))
        wait_until(
            lambda: len(inbound_texts(cluster.beijing)) > flowed + 5, what="delivery after reset"
        )
        sent = stream.stop()

        wait_until(
            lambda: inbound_texts(cluster.beijing) == sent,
            timeout=30,
            what="every accepted message delivered once, in order",
        )
        wait_until(
            lambda: all(
                c.get("/api/v1/status").json()["links"][0]["outbox_depth"] == 0 for c in (w, b)
            ),
            what="both outboxes to drain (the last receipts included)",
        )
        metrics = w.get("/metrics").text
        bundles = [read_bundle(c.get(f"/api/v1/links/{LINK}/export").text) for c in (w, b)]
    accepted.append(len(sent))
    assert 0 < accepted[0] < accepted[1] < accepted[2] < accepted[3], accepted
    assert 'hotline_failovers_total{link="defence",reason="path down"}' in metrics or (
        'hotline_failovers_total{link="defence",reason="push failed"}' in metrics
    )
    assert 'reason="failback"' in metrics
    assert "hotline_path_state{" in metrics and "hotline_heartbeat_rtt_seconds_bucket" in metrics

    node = cluster.washington.node()
    try:
        events = node.events_after(0, limit=100_000)
    finally:
        node.close()
    failovers = [e.data for e in events if e.type == "link.failover"]
    reasons = [f["reason"] for f in failovers]
    assert "failback" in reasons and any(r in ("path down", "push failed") for r in reasons)
    assert any(e.type == "path.state" and e.data["state"] == "down" for e in events)
    # heartbeats never enter the record
    for bundle in bundles:
        summary, fault = verify_bundle(bundle)
        assert fault is None, fault.describe()
        assert summary.per_party["washington"] == len(sent)
    assert compare_bundles(*bundles).agree


def test_paths_cli_and_bad_input(two_paths: tuple[Cluster, TcpProxy]) -> None:
    """hotline link paths / add-path / add-relay, run as users run them, beside the
    serving node that picks the new path up; bad input changes nothing."""
    cluster, _ = two_paths
    cluster.start()
    home = ("--home", str(cluster.washington.home.path))
    listed = hotline_ok("link", "paths", LINK, "--json", *home).json()
    assert [(p["position"], p["kind"], p["active"]) for p in listed] == [
        (0, "direct", True),
        (1, "direct", False),
    ]
    ran = hotline_ok("link", "add-path", LINK, "https://10.9.9.9:7443/", *home)
    assert "Path 2 of link defence: https://10.9.9.9:7443" in ran.output
    with cluster.washington.client() as w:
        wait_until(lambda: len(paths(w)) == 3, what="the serving node's third path")
    for bad, reason in (
        ("http://10.9.9.9:7443", "not an https URL"),
        ("https://10.9.9.9:7443/x", ""),
        ("https://", ""),
        ("https://10.9.9.9:7443", "already"),
    ):
        ran = hotline("link", "add-path", LINK, bad, *home)
        assert ran.code == 1 and reason in ran.output, str(ran)
        assert "Traceback" not in ran.output
    certificate = cluster.beijing.home.cert_path
    ran = hotline(
        "link", "add-relay", LINK, "https://10.9.9.8:7443",
        "--certificate", str(certificate), "--fingerprint", "00" * 32, *home,
    )  # fmt: skip
    assert ran.code == 1 and "fingerprint does not match" in ran.output, str(ran)
    ran = hotline(
        "link", "add-relay", LINK, "https://10.9.9.8:7443",
        "--certificate", str(cluster.base / "missing.pem"), "--fingerprint", "00" * 32, *home,
    )  # fmt: skip
    assert ran.code == 1 and "cannot read" in ran.output, str(ran)
    # Refusals changed nothing.
    assert len(hotline_ok("link", "paths", LINK, "--json", *home).json()) == 3
    assert "https://10.9.9.9:7443" in hotline_ok("link", "paths", LINK, *home, columns=200).output


def test_an_escalation_moves_traffic_off_a_path_that_still_answers_and_keeps_it_off(
    two_paths: tuple[Cluster, TcpProxy],
) -> None:
    """A path may answer heartbeats and still not take pushes: the escalation step
    "switch_path" moves traffic off the path in use, with no failback meanwhile."""
    cluster, _proxy = two_paths
    cluster.start()
    with cluster.washington.client() as w:
        wait_until(
            lambda: [p["state"] for p in paths(w)] == ["up", "up"] and active_position(w) == 0,
            what="both paths up, the first one active",
        )
        # Getting there may itself have taken a failover and a failback (the first
        # path answering later than the second): only what follows counts.
        before = failovers(w.get("/metrics").text)
        escalation = {"acknowledged": {"deadline_s": 1, "actions": [{"do": "switch_path"}]}}
        response = w.put(f"/api/v1/links/{LINK}/escalation", json=escalation)
        assert response.status_code == 200, response.text
        send(w, "Nobody acknowledges this one.")
        wait_until(lambda: active_position(w) == 1, timeout=15, what="traffic off the first path")
        first = paths(w)[0]
        assert first["avoid_until_ms"] is not None
        # Past a failback (three answers in a row on the first path): it stays off.
        answered = first["last_good_ms"]
        for _ in range(4):
            wait_until(
                lambda seen=answered: (paths(w)[0]["last_good_ms"] or 0) > seen,
                what="another answer on the first path",
            )
            answered = paths(w)[0]["last_good_ms"]
        assert active_position(w) == 1
        assert paths(w)[0]["state"] != "down"  # the first still answers (maybe slowly)
        send(w, "On the second path.")
        wait_until(
            lambda: "On the second path." in inbound_texts(cluster.beijing),
            what="delivery on the second path",
        )
        after = failovers(w.get("/metrics").text)
        steps = w.get(f"/api/v1/links/{LINK}/escalation/steps").json()
    # The escalation's own step moved it (a busy machine may also have moved traffic
    # for a slow answer meanwhile, so the reason counted is not asserted).
    assert [(s["action"], s["outcome"]) for s in steps] == [("switch_path", "requested")]
    assert after.get("failback", 0) == before.get("failback", 0)


def failovers(metrics: str) -> dict[str, float]:
    """hotline_failovers_total by reason, for the test link."""
    found = re.findall(
        rf'^hotline_failovers_total{{link="{LINK}",reason="([^"]+)"}} (\S+)$', metrics, re.M
    )
    return {reason: float(value) for reason, value in found}
