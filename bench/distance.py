"""Distance benchmark: two real nodes joined through a forwarder that adds a one-way
delay (bench/forwarder.py), for a trans-Pacific (150 ms) and a geostationary
satellite (600 ms) round trip, and on plain loopback.

Each figure is the time from the send call on washington's local API to washington's
event stream showing the message's *delivered* rung (beijing's signed receipt came
back and was recorded). For each round trip:

* ``busy_ms``: sequential messages, ``--gap`` seconds apart;
* ``after_idle_ms``: messages each after ``--idle-seconds`` of quiet (heartbeats
  still cross the path every second, as they do on a real link).

Then ``loopback_delivered_tick_ms``: the same on loopback, no forwarder. Both
nodes use SQLite (WAL, synchronous=FULL), as ``bench.delivery`` does by default.
On a satellite round trip the default heartbeat timings (0.5 s to connect) cannot
make a connection at all; the nodes get timings fitted to the round trip
(:func:`timings_for`), as an operator's would.

Prints one JSON object on stdout; what it saw along the way (connections the
forwarders accepted, path states) goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from bench.forwarder import DelayForwarder
from bench.stats import percentile
from hotline.demo import RunningNode, free_port, link_nodes, start_node
from hotline.node.heartbeat_timings import HeartbeatTimings
from hotline.node.home import NodeHome, init_node

# A liveness bound: imports and migrations take far longer when every core is busy.
START_TIMEOUT_S = 120.0
LINK = "distance"
PARTIES = ("washington", "beijing")
# A liveness bound for one message, not a target.
DELIVERED_TIMEOUT_S = 60.0


def timings_for(rtt_ms: int) -> HeartbeatTimings:
    """Heartbeat timings an operator would set for a path of this round trip: the
    defaults while they fit, else room for a new connection (TCP and TLS: two round
    trips) and a request (one more)."""
    default = HeartbeatTimings()
    rtt = rtt_ms / 1000
    connect = max(default.connect_s, 3 * rtt)
    timeout = max(default.timeout_s, 5 * rtt)
    return HeartbeatTimings(
        interval_s=default.interval_s,
        timeout_s=timeout,
        connect_s=connect,
        slow_rtt_ms=max(default.slow_rtt_ms, 2 * rtt_ms),
        down_after_ms=max(default.down_after_ms, math.ceil(timeout * 2000)),
    )


class Pair:
    """washington and beijing, linked, each reached by the other through a forwarder
    (or directly, with ``one_way_s`` None)."""

    def __init__(
        self, base: Path, one_way_s: float | None, timings: HeartbeatTimings | None
    ) -> None:
        self.forwarders: dict[str, DelayForwarder] = {}
        homes: dict[str, NodeHome] = {}
        for party in PARTIES:
            peer_port = free_port()
            endpoints = None
            if one_way_s is not None:
                forwarder = DelayForwarder(peer_port, one_way_s).start()
                self.forwarders[party] = forwarder
                endpoints = [f"https://127.0.0.1:{forwarder.port}"]
            home = init_node(
                base / party,
                party,
                peer_port=peer_port,
                local_port=free_port(),
                endpoints=endpoints,
            )
            if timings is not None:
                config = home.load_config()
                home.save_config(config.model_copy(update={"heartbeats": timings}))
            homes[party] = home
        with contextlib.redirect_stdout(sys.stderr):  # stdout is for the JSON
            link_nodes(homes["washington"], homes["beijing"], LINK, "distance benchmark", base)
        self.nodes: dict[str, RunningNode] = {}
        try:
            for party in PARTIES:
                self.nodes[party] = start_node(
                    homes[party], base / f"{party}.log", timeout_s=START_TIMEOUT_S
                )
        except BaseException:
            self.stop()
            raise

    def connections_to_beijing(self) -> int:
        forwarder = self.forwarders.get("beijing")
        return forwarder.connections if forwarder is not None else 0

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
        for forwarder in self.forwarders.values():
            forwarder.stop()


@contextlib.contextmanager
def pair(base: Path, one_way_s: float | None, timings: HeartbeatTimings | None) -> Iterator[Pair]:
    running = Pair(base, one_way_s, timings)
    try:
        yield running
    finally:
        running.stop()


class Delivered:
    """Follows washington's event stream; notes when each message's *delivered*
    rung appears."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.seen: dict[str, float] = {}
        self.changed = asyncio.Condition()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with self.session.get("/api/v1/events") as response:
            self.ready.set()
            async for raw in response.content:
                line = raw.decode()
                if not line.startswith("data: ") or '"message.ladder"' not in line:
                    continue
                now = time.perf_counter()
                event = json.loads(line[6:])
                if event.get("rung") == "delivered":
                    async with self.changed:
                        self.seen[event["id"]] = now
                        self.changed.notify_all()

    async def wait_for(self, message_id: str) -> float:
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: message_id in self.seen), DELIVERED_TIMEOUT_S
            )
            return self.seen[message_id]


async def send(session: aiohttp.ClientSession, text: str) -> str:
    async with session.post(f"/api/v1/links/{LINK}/messages", json={"text": text}) as response:
        if response.status != 201:
            raise RuntimeError(f"send refused: {response.status} {await response.text()}")
        return str((await response.json())["id"])


async def wait_path_usable(session: aiohttp.ClientSession, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    states: list[str] = []
    while time.monotonic() < deadline:
        async with session.get(f"/api/v1/links/{LINK}/paths") as response:
            states = [p["state"] for p in await response.json()]
        if any(state in ("up", "degraded") for state in states):
            return ",".join(states)
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no usable path after {timeout} s: {states}")


class Sender:
    """Sends on washington and times each message to its *delivered* rung."""

    def __init__(self, session: aiohttp.ClientSession, delivered: Delivered) -> None:
        self.session = session
        self.delivered = delivered

    async def one(self, text: str) -> float:
        started = time.perf_counter()
        message_id = await send(self.session, text)
        return (await self.delivered.wait_for(message_id) - started) * 1000

    async def series(self, label: str, count: int, quiet_s: float) -> list[float]:
        """``count`` messages, each after ``quiet_s`` of quiet."""
        times = []
        for i in range(count):
            await asyncio.sleep(quiet_s)
            times.append(await self.one(f"{label} {i}"))
        return times


@contextlib.asynccontextmanager
async def following(node: RunningNode) -> Any:
    async with aiohttp.ClientSession(
        node.local_url,
        headers={"authorization": f"Bearer {node.token}"},
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
    ) as session:
        delivered = Delivered(session)
        reader = asyncio.create_task(delivered.run())
        try:
            await asyncio.wait_for(delivered.ready.wait(), 10)
            yield Sender(session, delivered)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await reader


def p50_p99(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "p99": round(percentile(values, 99), 1)}


async def measure_distance(running: Pair, args: argparse.Namespace, rtt_ms: int) -> dict[str, Any]:
    async with following(running.nodes["washington"]) as sender:
        states = await wait_path_usable(sender.session)
        for i in range(args.warmup):
            await sender.one(f"warm-up {i}")
        before = running.connections_to_beijing()
        busy = await sender.series("busy", args.busy, args.gap)
        during_busy = running.connections_to_beijing() - before
        before = running.connections_to_beijing()
        idle = await sender.series("after idle", args.idle, args.idle_seconds)
        during_idle = running.connections_to_beijing() - before
    note = {
        "rtt_ms": rtt_ms,
        "path_states_at_start": states,
        "busy_ms": busy,
        "after_idle_ms": idle,
        "new_connections_to_beijing": {"busy": during_busy, "after_idle": during_idle},
    }
    print(json.dumps(note), file=sys.stderr)
    return {"busy_ms": p50_p99(busy), "after_idle_ms": p50_p99(idle)}


async def measure_loopback(running: Pair, args: argparse.Namespace) -> dict[str, float]:
    async with following(running.nodes["washington"]) as sender:
        await wait_path_usable(sender.session)
        for i in range(args.warmup):
            await sender.one(f"warm-up {i}")
        ticks = await sender.series("loopback", args.loopback, args.loopback_gap)
    print(json.dumps({"loopback_ms": [round(t, 2) for t in ticks]}), file=sys.stderr)
    return p50_p99(ticks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rtts", default="150,600", help="round trips in ms, comma-separated")
    parser.add_argument("--busy", type=int, default=25, help="messages per round trip, busy")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between busy messages")
    parser.add_argument("--idle", type=int, default=6, help="messages per round trip, after quiet")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="quiet before each")
    parser.add_argument("--loopback", type=int, default=60, help="messages on loopback")
    parser.add_argument("--loopback-gap", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hotline-distance-"))
    print(f"distance benchmark in {base}", file=sys.stderr)
    result: dict[str, Any] = {"rtt_ms": {}}
    for rtt in (int(r) for r in args.rtts.split(",") if r.strip()):
        with pair(base / f"rtt-{rtt}", rtt / 2000, timings_for(rtt)) as running:
            result["rtt_ms"][str(rtt)] = asyncio.run(measure_distance(running, args, rtt))
    with pair(base / "loopback", None, None) as running:
        result["loopback_delivered_tick_ms"] = asyncio.run(measure_loopback(running, args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
