"""Flood benchmark: two real nodes on loopback, and beijing's peer port flooded by
strangers without a certificate, from many loopback source addresses.

Each round sends one message on beijing's local API (``send_ms``: until the API
answers 201) and one on washington's that must reach beijing through its flooded
peer port (``delivery_ms``: until beijing's event stream shows it). Rounds are run
at rest, under an idle flood (``--connections`` TCP connections that never send a
byte, opened as fast as the flooders can and then held), and under a handshake
flood (``--handshakes`` connections at a time that send a ClientHello and then
stall, each replaced as soon as beijing hangs up on it, at most ``--handshake-rate``
new ones a second). ``errors`` counts sends that failed and deliveries that did not
arrive. Beijing's resident memory is read before the floods, at its peak during
them, and ``--settle`` seconds after. Prints one JSON object.

    python -m bench.flood
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import multiprocessing
import queue
import resource
import selectors
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import aiohttp

from bench.delivery import Subscriber
from bench.stats import summary
from hotline.demo import RunningNode, create_node, link_nodes, start_node

LINK = "bench"
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
# Longest any flooder runs, whatever it is told: the benchmark stops by itself.
FLOODER_MAX_S = 600.0


def sources(count: int) -> list[str]:
    """``count`` loopback addresses other than 127.0.0.1 (the real peer's)."""
    return [f"127.77.{i // 250}.{i % 250 + 1}" for i in range(count)]


def client_hello() -> bytes:
    """A TLS 1.3 ClientHello, made once and sent by every half handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=False)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def raise_descriptor_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect(source: str, port: int) -> socket.socket | None:
    """Start a TCP connection from ``source`` to 127.0.0.1:``port`` (not waiting)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # The kernel picks the port at connect time, per destination: more connections
        # per source address than there are ephemeral ports for bind() alone.
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        return None
    return sock


def hold_idle(port: int, addresses: list[str], count: int, stop: Event, opened: Any) -> None:
    """Open ``count`` connections that never send a byte and hold them until ``stop``;
    put how many opened on ``opened`` once they are."""
    raise_descriptor_limit()
    held: list[socket.socket] = []
    deadline = time.monotonic() + FLOODER_MAX_S
    for i in range(count):
        if stop.is_set() or time.monotonic() > deadline:
            break
        sock = connect(addresses[i % len(addresses)], port)
        if sock is not None:
            held.append(sock)
    opened.put(len(held))
    stop.wait(max(0.0, deadline - time.monotonic()))
    for sock in held:
        sock.close()


def half_handshakes(
    port: int,
    addresses: list[str],
    concurrency: int,
    rate: float,
    stop: Event,
    opened: Any,
) -> None:
    """Keep ``concurrency`` connections that sent a ClientHello and nothing more; open a
    new one (at most ``rate`` a second) whenever the node hangs up on one. Put how many
    were opened in all on ``opened`` when stopped."""
    raise_descriptor_limit()
    hello = client_hello()
    selector = selectors.DefaultSelector()
    deadline = time.monotonic() + FLOODER_MAX_S
    started = time.monotonic()
    total = 0

    def open_one() -> None:
        nonlocal total
        sock = connect(addresses[total % len(addresses)], port)
        total += 1
        if sock is not None:
            selector.register(sock, selectors.EVENT_WRITE, "connecting")

    while not stop.is_set() and time.monotonic() < deadline:
        allowed = int((time.monotonic() - started) * rate) + concurrency - total
        for _ in range(min(allowed, concurrency - len(selector.get_map()))):
            open_one()
        for key, _ in selector.select(timeout=0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if key.data == "connecting":
                    sock.send(hello)
                    selector.modify(sock, selectors.EVENT_READ, "waiting")
                    continue
                if sock.recv(65536):
                    continue  # the node's ServerHello: ignored, the handshake stalls
            except OSError:
                pass
            selector.unregister(sock)
            sock.close()
    for key in list(selector.get_map().values()):
        sock = key.fileobj
        assert isinstance(sock, socket.socket)
        sock.close()
    opened.put(total)


class Flood:
    """Flooders in their own processes (their descriptors and CPU are not ours); each
    reports one count."""

    def __init__(self, target: Callable[..., None], jobs: list[tuple[Any, ...]]) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop_event = context.Event()
        self.queue = context.Queue()
        self.counts: list[int] = []
        self.processes = [
            context.Process(target=target, args=(*job, self.stop_event, self.queue)) for job in jobs
        ]
        for process in self.processes:
            process.start()

    def reported(self) -> bool:
        """Whether every flooder has reported its count."""
        with contextlib.suppress(queue.Empty):
            while len(self.counts) < len(self.processes):
                self.counts.append(self.queue.get_nowait())
        return len(self.counts) == len(self.processes)

    def total(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while not self.reported():
            if time.monotonic() > deadline:
                raise TimeoutError("a flooder did not report")
            time.sleep(0.05)
        return sum(self.counts)

    def stop(self, timeout: float = 60) -> None:
        self.stop_event.set()
        for process in self.processes:
            process.join(timeout)
            if process.is_alive():
                process.kill()


def idle_flood(port: int, connections: int, source_count: int, processes: int) -> Flood:
    addresses = sources(source_count)
    share = -(-connections // processes)
    jobs = [
        (port, addresses[i::processes] or addresses, min(share, connections - i * share))
        for i in range(processes)
    ]
    return Flood(hold_idle, [job for job in jobs if job[2] > 0])


def handshake_flood(port: int, concurrency: int, rate: float, source_count: int) -> Flood:
    return Flood(half_handshakes, [(port, sources(source_count), concurrency, rate)])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return self.peak


class Rounds:
    """Send on beijing (timed to its 201), then send on washington and time its arrival
    on beijing's event stream."""

    def __init__(
        self, beijing: aiohttp.ClientSession, washington: aiohttp.ClientSession, sub: Subscriber
    ) -> None:
        self.beijing, self.washington, self.subscriber = beijing, washington, sub
        self.count = 0

    async def send(self, session: aiohttp.ClientSession, text: str) -> str:
        async with session.post(f"/api/v1/links/{LINK}/messages", json={"text": text}) as reply:
            if reply.status != 201:
                raise RuntimeError(f"send refused: {reply.status} {await reply.text()}")
            return str((await reply.json())["id"])

    async def run(
        self, rounds: int, until: Callable[[], bool] = lambda: True, max_s: float = 300
    ) -> dict[str, Any]:
        send_ms: list[float] = []
        delivery_ms: list[float] = []
        errors = 0
        deadline = time.monotonic() + max_s
        done = 0
        while (done < rounds or not until()) and time.monotonic() < deadline:
            done += 1
            self.count += 1
            try:
                started = time.perf_counter()
                await asyncio.wait_for(self.send(self.beijing, f"from beijing {self.count}"), 30)
                send_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                sent = await asyncio.wait_for(
                    self.send(self.washington, f"to beijing {self.count}"), 30
                )
                arrived = await self.subscriber.wait_for(sent, timeout=30)
                delivery_ms.append((arrived - started) * 1000)
            except (RuntimeError, TimeoutError, aiohttp.ClientError):
                errors += 1
        send = summary(send_ms) if send_ms else {"p50": -1.0, "p99": -1.0}
        delivery = summary(delivery_ms) if delivery_ms else {"p50": -1.0}
        return {
            "send_ms": {"p50": send["p50"], "p99": send["p99"]},
            "delivery_ms": {"p50": delivery["p50"]},
            "errors": errors,
        }


async def measure(
    nodes: dict[str, RunningNode], peer_port: int, args: argparse.Namespace
) -> dict[str, Any]:
    def session(node: RunningNode) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            node.local_url,
            headers={"authorization": f"Bearer {node.token}"},
            connector=aiohttp.TCPConnector(limit=4),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )

    pid = nodes["beijing"].process.pid
    async with session(nodes["beijing"]) as b, session(nodes["washington"]) as w:
        subscriber = Subscriber(b)
        reader = asyncio.create_task(subscriber.run())
        await asyncio.wait_for(subscriber.ready.wait(), 10)
        try:
            rounds = Rounds(b, w, subscriber)
            await rounds.run(20)  # warm-up: connections, caches
            before = rss_mb(pid)
            rest = await rounds.run(args.rounds)
            rest.pop("errors")
            peak = PeakRss(pid)

            # Rounds go on until the flooders have opened every connection.
            flood = idle_flood(peer_port, args.connections, args.sources, args.processes)
            idle = await rounds.run(args.rounds, until=flood.reported)
            idle = {"connections": await asyncio.to_thread(flood.total), **idle}
            await asyncio.to_thread(flood.stop)

            flood = handshake_flood(peer_port, args.handshakes, args.handshake_rate, args.sources)
            handshake = await rounds.run(args.rounds)
            await asyncio.to_thread(flood.stop)
            during = peak.stop()

            await asyncio.sleep(args.settle)
            after = rss_mb(pid)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await reader
    return {
        "rest": rest,
        "idle_flood": idle,
        "handshake_flood": handshake,
        "rss_mb": {
            "before": round(before, 1),
            "during": round(during, 1),
            "after": round(after, 1),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300, help="rounds in each phase")
    parser.add_argument("--connections", type=int, default=20_000, help="idle connections")
    parser.add_argument("--sources", type=int, default=1_000, help="loopback source addresses")
    parser.add_argument("--processes", type=int, default=4, help="idle flooder processes")
    parser.add_argument("--handshakes", type=int, default=1_000, help="half handshakes at once")
    parser.add_argument(
        "--handshake-rate", type=float, default=2_000, help="new half handshakes a second, at most"
    )
    parser.add_argument("--settle", type=float, default=60, help="seconds before RSS 'after'")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hotline-flood-"))
    homes = {p: create_node(base, p) for p in ("washington", "beijing")}
    link_nodes(homes["washington"], homes["beijing"], LINK, "benchmark", base)
    nodes = {p: start_node(homes[p], base / f"{p}.log") for p in homes}
    try:
        peer_port = homes["beijing"].load_config().peer_port
        result = asyncio.run(measure(nodes, peer_port, args))
        print(json.dumps(result))
        return 0
    finally:
        for node in nodes.values():
            node.stop()


if __name__ == "__main__":
    sys.exit(main())
