"""The peer listener under floods from strangers without a certificate, and requests a
pinned peer leaves half-sent: real node processes, real sockets, real TLS.

The floods come from loopback addresses other than 127.0.0.1 (the real peer's), so
that the per-source cap falls on them and not on washington. Beijing gets small caps
(``peer_limits`` in node.json) so that a few hundred connections are more than it
admits, and a descriptor limit under the flood's size, as the review's node had.
"""

from __future__ import annotations

import http.client
import json
import re
import resource
import select
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.flood import client_hello
from hotline.transport.limits import PeerLimits
from hotline.transport.tls import client_context
from hotline.web.peer_listener import (
    RESERVED_DESCRIPTORS,
    TRIM_AFTER_HANDSHAKES,
    fit_to_descriptors,
)
from tests.harness import LINK, Cluster, NodeHandle, inbound_texts, send, wait_until

LIMITS = PeerLimits(
    handshake_timeout_s=2.0,
    max_handshakes=24,
    # Strangers' handshakes a second, and as many at once: more than max_handshakes, so
    # that the first burst pushes some out, and than TRIM_AFTER_HANDSHAKES, so that memory
    # is handed back; far under the flood's hundreds of strangers, so that the rate
    # refuses some however slowly a loaded machine lets the listener take the flood in.
    max_handshake_rate=TRIM_AFTER_HANDSHAKES,
    max_per_source=8,
    max_connections=100,
    headers_timeout_s=1.5,
    body_timeout_s=1.5,
)
# Under the flood's 800 connections, over the caps plus what a node needs itself.
DESCRIPTORS = 400
SOURCES = [f"127.0.1.{i}" for i in range(1, 41)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Two nodes on SQLite (the floods are at the listener; storage is not in question);
    beijing with LIMITS."""
    with Cluster(tmp_path, lambda _: None) as nodes:
        home = nodes.beijing.home
        home.save_config(home.load_config().model_copy(update={"peer_limits": LIMITS}))
        yield nodes


def _peer_address(node: NodeHandle) -> tuple[str, int]:
    config = node.home.load_config()
    return config.peer_host, config.peer_port


def _rss_mb(node: NodeHandle) -> float:
    assert node.process is not None
    status = Path(f"/proc/{node.process.pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None
    return int(match.group(1)) / 1024


def _metric(node: NodeHandle, name: str, labels: str) -> float:
    text = httpx.get(f"{node.local_url}/metrics", timeout=15).text
    match = re.search(rf"^{name}{{{labels}}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _strangers_dealt_with(node: NodeHandle) -> float:
    """Connections the peer listener refused, or admitted and has not yet seen complete
    a handshake (strangers never do)."""
    text = httpx.get(f"{node.local_url}/metrics", timeout=15).text
    counts = re.findall(
        r"^(?:hotline_peer_connections_refused_total{.*}"
        r'|hotline_peer_handshakes_total{outcome="(?!completed)\w+"}'
        r'|hotline_peer_connections{stage="handshake"}) (\S+)$',
        text,
        re.MULTILINE,
    )
    return sum(map(float, counts))


def _open(source: str, address: tuple[str, int], hello: bytes | None) -> socket.socket:
    sock = socket.create_connection(address, timeout=10, source_address=(source, 0))
    if hello is not None:
        sock.sendall(hello)
    sock.setblocking(False)
    return sock


def _hung_up(sock: socket.socket) -> bool:
    """Whether the other end has closed the connection (what it sent before is read)."""
    while select.select([sock], [], [], 0)[0]:
        try:
            if not sock.recv(65536):
                return True
        except BlockingIOError:
            return False
        except OSError:
            return True
    return False


def test_a_flood_beyond_the_caps_leaves_the_node_answering_and_its_memory_at_baseline(
    cluster: Cluster,
) -> None:
    cluster.start()
    beijing, washington = cluster.beijing, cluster.washington
    assert beijing.process is not None
    # As a default soft limit of 1,024 would be, against a flood of 800 connections.
    resource.prlimit(beijing.process.pid, resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))
    with washington.client() as w, beijing.client() as b:
        for i in range(5):  # warm-up: connections both ways, caches
            send(w, f"warm w{i}")
            send(b, f"warm b{i}")
        wait_until(lambda: len(inbound_texts(beijing)) == 5, what="warm-up to beijing")
        wait_until(lambda: len(inbound_texts(washington)) == 5, what="warm-up to washington")
        baseline = _rss_mb(beijing)

        address = _peer_address(beijing)
        hello = client_hello()
        flood = [_open(s, address, None) for s in SOURCES for _ in range(15)]
        flood += [_open(s, address, hello) for _ in range(5) for s in SOURCES]

        # While the strangers hold what they opened: the local API answers, messages
        # go both ways, and the listener keeps to its caps.
        assert b.get("/healthz").status_code == 200
        assert b.get("/api/v1/links").status_code == 200
        send(w, "to beijing under flood")
        send(b, "to washington under flood")
        wait_until(lambda: "to beijing under flood" in inbound_texts(beijing), what="w -> b")
        wait_until(lambda: "to washington under flood" in inbound_texts(washington), what="b -> w")
        # The listener may still be taking the flood in (a loaded machine): the
        # counts below are read once it has dealt with every stranger.
        wait_until(lambda: _strangers_dealt_with(beijing) >= len(flood), what="flood taken in")
        handshaking = 'stage="handshake"'
        assert _metric(beijing, "hotline_peer_connections", handshaking) <= LIMITS.max_handshakes
        assert _metric(beijing, "hotline_peer_connections_refused_total", 'reason="per_source"') > 0
        assert _metric(beijing, "hotline_peer_connections_refused_total", 'reason="rate"') > 0
        assert _metric(beijing, "hotline_peer_handshakes_total", 'outcome="pushed_out"') > 0

        # Every stranger is hung up on, those the listener admitted once their
        # handshake deadline passed; then memory returns to where it was.
        wait_until(lambda: all(_hung_up(s) for s in flood), what="the flood hung up on")
        assert _metric(beijing, "hotline_peer_handshakes_total", 'outcome="timed_out"') > 0
        # Nothing is left counted: no handshake, and only washington's connections
        # established (strangers never are).
        assert _metric(beijing, "hotline_peer_connections", handshaking) == 0
        established = _metric(beijing, "hotline_peer_connections", 'stage="established"')
        assert 0 < established <= LIMITS.max_per_source
        for sock in flood:
            sock.close()
        wait_until(lambda: _rss_mb(beijing) <= 1.2 * baseline, timeout=30, what="memory back")
        send(w, "to beijing after the flood")
        wait_until(lambda: "to beijing after the flood" in inbound_texts(beijing), what="after")


def _pinned_tls(cluster: Cluster) -> socket.socket:
    """A connection to beijing's peer port with washington's pinned certificate."""
    home = cluster.washington.home
    context = client_context(home.cert_path, home.key_path, cluster.beijing.home.certificate_der())
    raw = socket.create_connection(_peer_address(cluster.beijing), timeout=15)
    return context.wrap_socket(raw)


def _read_all(sock: ssl.SSLSocket) -> bytes:
    """Everything until the node hangs up (a read timeout fails the test)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError):
            return data
        if not chunk:
            return data
        data += chunk


def test_requests_a_pinned_peer_leaves_half_sent_time_out(cluster: Cluster) -> None:
    cluster.beijing.start()
    path = f"/peer/v1/links/{_link(cluster.beijing)[0]}/push"

    headers = _pinned_tls(cluster)
    headers.sendall(f"POST {path} HTTP/1.1\r\nhost: beijing\r\ncontent-type: appl".encode())
    assert _read_all(headers).startswith(b"HTTP/1.1 408 ")

    body = _pinned_tls(cluster)
    body.sendall(f"POST {path} HTTP/1.1\r\nhost: beijing\r\ncontent-length: 100\r\n\r\n".encode())
    body.sendall(b"\xa2" * 10)
    assert _read_all(body) == b""  # hung up on, the push refused unread

    # The node is none the worse: a whole request on a new connection is answered.
    whole = _pinned_tls(cluster)
    whole.sendall(b"GET /healthz HTTP/1.1\r\nhost: beijing\r\nconnection: close\r\n\r\n")
    assert _read_all(whole).startswith(b"HTTP/1.1 200 ")
    assert _link(cluster.beijing)[1] == 0


def _link(handle: NodeHandle) -> tuple[str, int]:
    """The link's id and its record's length on ``handle``'s node."""
    node = handle.node()
    try:
        link = node.find_link(LINK)
        return link.id, link.record_length
    finally:
        node.close()


def test_a_pinned_peers_idle_connection_stays_open_for_reuse(cluster: Cluster) -> None:
    """Longer than uvicorn's default keep-alive (5 s), so that pushes and heartbeats
    between quiet periods find their connection warm."""
    cluster.beijing.start()
    sock = _pinned_tls(cluster)
    for pause in (6, 0):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: beijing\r\n\r\n")
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        assert answer.status == 200 and not answer.will_close
        assert answer.read() == b'{"status":"ok","party":"beijing"}'
        time.sleep(pause)
    sock.close()


def test_connection_caps_leave_the_reserve_of_descriptors_free() -> None:
    fitted = fit_to_descriptors(PeerLimits(), 1024)
    assert fitted.max_connections == 1024 - RESERVED_DESCRIPTORS
    assert fitted.max_handshakes <= fitted.max_connections
    assert fitted.max_per_source <= fitted.max_connections
    assert fit_to_descriptors(PeerLimits(), 1 << 20) == PeerLimits()


def test_flood_benchmark_reports_latency_errors_and_memory_in_its_keys() -> None:
    """The benchmark end to end on a small flood (its figures are not judged here)."""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.flood",
            *("--rounds", "5", "--connections", "300", "--sources", "20", "--processes", "2"),
            *("--handshakes", "40", "--handshake-rate", "200", "--settle", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"rest", "idle_flood", "handshake_flood", "rss_mb"}
    assert set(report["rest"]) == {"send_ms", "delivery_ms"}
    assert set(report["idle_flood"]) == {"connections", "send_ms", "delivery_ms", "errors"}
    assert set(report["handshake_flood"]) == {"send_ms", "delivery_ms", "errors"}
    assert set(report["rss_mb"]) == {"before", "during", "after"}
    assert report["idle_flood"]["connections"] == 300
    for phase in ("rest", "idle_flood", "handshake_flood"):
        assert set(report[phase]["send_ms"]) == {"p50", "p99"}
        assert 0 < report[phase]["send_ms"]["p50"] <= report[phase]["send_ms"]["p99"]
        assert set(report[phase]["delivery_ms"]) == {"p50"}
        assert report[phase]["delivery_ms"]["p50"] > 0
    assert report["idle_flood"]["errors"] == report["handshake_flood"]["errors"] == 0
    assert all(20 < mb < 2048 for mb in report["rss_mb"].values())


def test_every_peer_limit_is_documented_in_english_and_chinese() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    english = guide.split("## The listeners' limits")[1].split("### 监听器的限制")[0]
    chinese = guide.split("### 监听器的限制")[1].split("\n## ")[0]
    for field, info in PeerLimits.model_fields.items():
        for section in (english, chinese):
            assert f"| `{field}` | {info.default:g} |" in section, field
