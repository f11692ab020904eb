"""Delivery benchmark: two real nodes on loopback, durability on (SQLite WAL, synchronous=FULL;
or PostgreSQL, the production store, with ``--database-url``: one fresh database per
node on that server, dropped afterwards).

Latency: local API ``send`` on washington → message committed on beijing and pushed
to a subscriber of beijing's event stream, over N sequential messages.
Throughput: M messages sent concurrently to washington's local API, until beijing
has committed all of them. RSS: peak resident memory of each node process.
Machine: a fixed piece of CPU work and a few fsyncs, timed before and after (see
bench/machine.py). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from bench import machine
from bench.stats import summary
from hotline.demo import RunningNode, free_port, link_nodes, start_node
from hotline.node.home import NodeHome, init_node

# A liveness bound: imports and migrations take far longer when every core is busy.
START_TIMEOUT_S = 120.0
LINK = "bench"
PARTIES = ("washington", "beijing")


class Subscriber:
    """Reads beijing's SSE stream; records when each message id was pushed."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.seen: dict[str, float] = {}
        self.count = 0
        self.changed = asyncio.Condition()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with self.session.get("/api/v1/events") as response:
            self.ready.set()
            async for raw in response.content:
                line = raw.decode()
                if line.startswith("data: ") and '"message.received"' in line:
                    now = time.perf_counter()
                    event = json.loads(line[6:])
                    async with self.changed:
                        self.seen[event["id"]] = now
                        self.count += 1
                        self.changed.notify_all()

    async def wait_for(self, message_id: str, timeout: float = 30) -> float:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: message_id in self.seen), timeout)
            return self.seen[message_id]

    async def wait_count(self, count: int, timeout: float) -> float:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: self.count >= count), timeout)
            return time.perf_counter()


class RssSampler:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for party, pid in self.pids.items():
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak[party] = max(self.peak[party], int(line.split()[1]) / 1024)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        return {k: round(v, 1) for k, v in self.peak.items()}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_now(nodes: dict[str, RunningNode]) -> dict[str, float]:
    return {party: cpu_seconds(node.process.pid) for party, node in nodes.items()}


def cpu_ms_per_message(
    nodes: dict[str, RunningNode], since: dict[str, float], messages: int
) -> dict[str, float]:
    """Each node's CPU time since ``since``, in ms per message."""
    now = cpu_now(nodes)
    return {party: round((now[party] - since[party]) * 1000 / messages, 3) for party in nodes}


async def send(session: aiohttp.ClientSession, text: str) -> dict[str, Any]:
    async with session.post(f"/api/v1/links/{LINK}/messages", json={"text": text}) as response:
        if response.status != 201:
            raise RuntimeError(f"send refused: {response.status} {await response.text()}")
        return dict(await response.json())


async def flood(session: aiohttp.ClientSession, total: int, concurrency: int) -> int:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while not queue.empty():
            i = queue.get_nowait()
            try:
                await send(session, f"throughput {i}")
            except RuntimeError:
                failures += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


async def measure(nodes: dict[str, RunningNode], args: argparse.Namespace) -> dict[str, Any]:
    def session(node: RunningNode, connections: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            node.local_url,
            headers={"authorization": f"Bearer {node.token}"},
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )

    async with session(nodes["beijing"], 1) as b, session(nodes["washington"], 64) as w:
        subscriber = Subscriber(b)
        reader = asyncio.create_task(subscriber.run())
        await asyncio.wait_for(subscriber.ready.wait(), 10)
        try:
            for i in range(20):  # warm-up: connections, caches
                await subscriber.wait_for((await send(w, f"warm {i}"))["id"])
            latencies: list[float] = []
            send_ms: list[float] = []
            cpu_at_start = cpu_now(nodes)
            for i in range(args.latency_messages):
                started = time.perf_counter()
                sent = await send(w, f"latency {i}")
                send_ms.append((time.perf_counter() - started) * 1000)
                latencies.append((await subscriber.wait_for(sent["id"]) - started) * 1000)
            latency_cpu_ms = cpu_ms_per_message(nodes, cpu_at_start, args.latency_messages)
            before = subscriber.count
            cpu_before = cpu_now(nodes)
            client_cpu_before = time.process_time()
            started = time.perf_counter()
            failures = await flood(w, args.throughput_messages, args.concurrency)
            accepted_at = time.perf_counter()
            expected = before + args.throughput_messages - failures
            finished = await subscriber.wait_count(expected, 600)
            cpu_ms = cpu_ms_per_message(nodes, cpu_before, args.throughput_messages)
            client_cpu = time.process_time() - client_cpu_before
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await reader
    return {
        "latency_ms": summary(latencies),
        "send_committed_ms": summary(send_ms),
        "latency_cpu_ms_per_message": latency_cpu_ms,
        "throughput_msgs_per_s": round(args.throughput_messages / (finished - started), 1),
        "throughput": {
            "messages": args.throughput_messages,
            "concurrency": args.concurrency,
            "send_failures": failures,
            "accepted_per_s": round(args.throughput_messages / (accepted_at - started), 1),
            "accept_s": round(accepted_at - started, 2),
            "all_committed_on_peer_s": round(finished - started, 2),
            "cpu_ms_per_message": cpu_ms,
            # The benchmark's own HTTP client shares the machine's cores with the nodes.
            "client_cpu_ms_per_message": round(client_cpu * 1000 / args.throughput_messages, 3),
        },
    }


@contextlib.contextmanager
def node_databases(server_url: str | None) -> Iterator[dict[str, str | None]]:
    """Each node's database URL: its own SQLite file (None), or a fresh database on
    the PostgreSQL server of ``server_url``, dropped at the end."""
    if server_url is None:
        yield dict.fromkeys(PARTIES)
        return
    import psycopg

    base, _, _ = server_url.rpartition("/")
    libpq = server_url.replace("postgresql+psycopg://", "postgresql://")
    names = {p: f"hotline_bench_{p}_{uuid.uuid4().hex[:8]}" for p in PARTIES}
    with psycopg.connect(libpq, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {p: f"{base}/{name}" for p, name in names.items()}
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_node(base: Path, party: str, database_url: str | None) -> NodeHome:
    return init_node(
        base / party,
        party,
        database_url=database_url,
        peer_port=free_port(),
        local_port=free_port(),
    )


def durability(database_url: str | None) -> str:
    if database_url is None:
        return "SQLite WAL, synchronous=FULL; a send returns once committed"
    return "PostgreSQL (synchronous_commit as the server has it); a send returns once committed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-messages", type=int, default=500)
    parser.add_argument("--throughput-messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server (postgresql+psycopg://user@host:port/db) to run the "
        "nodes on, each in a database of its own; SQLite files by default",
    )
    parser.add_argument(
        "--no-translation",
        action="store_true",
        help="turn the nodes' translator off (to compare with versions that had none)",
    )
    args = parser.parse_args()
    with node_databases(args.database_url) as urls:
        result = run(args, urls)
    result["database"] = "postgresql" if args.database_url else "sqlite"
    result["durability"] = durability(args.database_url)
    result["translation"] = "off" if args.no_translation else "on (the defaults)"
    print(json.dumps(result))
    return 0


def run(args: argparse.Namespace, urls: dict[str, str | None]) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    machine_before = machine.reading(base)
    homes = {p: create_node(base, p, urls[p]) for p in PARTIES}
    if args.no_translation:
        for home in homes.values():
            home.set_translation({"enabled": False})
    with contextlib.redirect_stdout(sys.stderr):  # stdout is for the JSON
        link_nodes(homes["washington"], homes["beijing"], LINK, "benchmark", base)
    nodes: dict[str, RunningNode] = {}
    try:
        for party in PARTIES:
            nodes[party] = start_node(
                homes[party], base / f"{party}.log", timeout_s=START_TIMEOUT_S
            )
        sampler = RssSampler({p: n.process.pid for p, n in nodes.items()})
        result = asyncio.run(measure(nodes, args))
        rss = sampler.stop()
        result["rss_mb"] = max(rss.values())
        result["rss_mb_per_node"] = rss
        result["cpus"] = os.cpu_count()
        result["machine"] = {"before": machine_before, "after": machine.reading(base)}
        return result
    finally:
        for node in nodes.values():
            node.stop()


if __name__ == "__main__":
    sys.exit(main())
