"""Delivery benchmark: two real nodes on loopback, durability on (SQLite WAL, synchronous=FULL).

Latency: local API ``send`` on washington → message committed on beijing and pushed
to a subscriber of beijing's event stream, over N sequential messages.
Throughput: M messages sent concurrently to washington's local API, until beijing
has committed all of them. RSS: peak resident memory of each node process.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from hotline.demo import RunningNode, create_node, link_nodes, start_node

LINK = "bench"


class Subscriber:
    """Reads beijing's SSE stream; records when each message id was pushed."""

    def __init__(self, node: RunningNode) -> None:
        self.seen: dict[str, float] = {}
        self.count = 0
        self.changed = threading.Condition()
        self._client = node.client()
        self._client.timeout = httpx.Timeout(10.0, read=None)
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        with self._client.stream("GET", "/api/v1/events") as response:
            ready.set()
            for line in response.iter_lines():
                if line.startswith("data: ") and '"message.received"' in line:
                    now = time.perf_counter()
                    event = json.loads(line[6:])
                    with self.changed:
                        self.seen[event["id"]] = now
                        self.count += 1
                        self.changed.notify_all()

    def wait_for(self, message_id: str, timeout: float = 30) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: message_id in self.seen, timeout):
                raise TimeoutError(message_id)
            return self.seen[message_id]

    def wait_count(self, count: int, timeout: float) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: self.count >= count, timeout):
                raise TimeoutError(f"{self.count} of {count}")
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def flood(url: str, token: str, total: int, concurrency: int) -> int:
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    failures = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            i = queue.get_nowait()
            response = await client.post(
                f"/api/v1/links/{LINK}/messages", json={"text": f"throughput {i}"}
            )
            if response.status_code != 201:
                failures += 1

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as c:
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-messages", type=int, default=500)
    parser.add_argument("--throughput-messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    homes = {p: create_node(base, p) for p in ("washington", "beijing")}
    link_nodes(homes["washington"], homes["beijing"], LINK, "benchmark", base)
    nodes = {p: start_node(homes[p], base / f"{p}.log") for p in homes}
    sampler = RssSampler({p: n.process.pid for p, n in nodes.items()})
    try:
        subscriber = Subscriber(nodes["beijing"])
        latencies: list[float] = []
        with nodes["washington"].client() as client:
            for i in range(20):  # warm-up: connections, caches
                sent = client.post(f"/api/v1/links/{LINK}/messages", json={"text": f"warm {i}"})
                subscriber.wait_for(sent.json()["id"])
            for i in range(args.latency_messages):
                started = time.perf_counter()
                sent = client.post(f"/api/v1/links/{LINK}/messages", json={"text": f"latency {i}"})
                sent.raise_for_status()
                latencies.append((subscriber.wait_for(sent.json()["id"]) - started) * 1000)
        before = subscriber.count
        started = time.perf_counter()
        failures = asyncio.run(
            flood(
                nodes["washington"].local_url,
                nodes["washington"].token,
                args.throughput_messages,
                args.concurrency,
            )
        )
        accepted_at = time.perf_counter()
        finished = subscriber.wait_count(before + args.throughput_messages - failures, 600)
        rss = sampler.stop()
        result: dict[str, Any] = {
            "latency_ms": {
                "p50": round(statistics.median(latencies), 2),
                "p90": round(percentile(latencies, 90), 2),
                "p99": round(percentile(latencies, 99), 2),
                "max": round(max(latencies), 2),
                "n": len(latencies),
            },
            "throughput_msgs_per_s": round(args.throughput_messages / (finished - started), 1),
            "throughput": {
                "messages": args.throughput_messages,
                "concurrency": args.concurrency,
                "send_failures": failures,
                "accept_s": round(accepted_at - started, 2),
                "all_committed_on_peer_s": round(finished - started, 2),
            },
            "rss_mb": max(rss.values()),
            "rss_mb_per_node": rss,
            "durability": "SQLite WAL, synchronous=FULL, one commit per message",
        }
        print(json.dumps(result))
        return 0
    finally:
        for node in nodes.values():
            node.stop()


if __name__ == "__main__":
    sys.exit(main())
