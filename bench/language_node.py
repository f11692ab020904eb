"""Translation on two real nodes: committed on one node -> translated text on the other's API.

Two pairs of nodes run side by side, one with the translator on (CTranslate2 with the tiny
model the tests build, so this measures Hotline's path, not a real model's inference) and one
with translation off (``enabled: false``). After a few unmeasured warm-up messages on each, the
benchmark alternates blocks of N messages between them (on/off, then off/on, ...), so both see
the same period of a shared machine; each pair of blocks gives one ratio. Within a block a
message is sent every ``--interval-ms`` (or once the previous one was delivered, if later; 0:
back to back), without waiting for the previous one's translation, so translating one message
overlaps delivering the next, and both pairs are paced alike.

to_screen_translated_ms: from washington's local API send of a Chinese sentence to beijing's
event stream announcing its machine translation (beijing reads English), over every "on" block.

delivery_p50_ratio_with_translation: the median over the pairs of (delivery p50 with the
translator on / delivery p50 with it off), delivery being send -> ``message.received`` on
beijing's stream. The per-pair numbers and the load average are printed with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import summary
from hotline.demo import RunningNode, create_node, link_nodes, start_node

LINK = "bench"
SENTENCES = ["我们已收到你方消息，正在研究。", "请确认收到本消息。", "船只正在离开该海域。"]
WARM_UP = 5


class _Pair:
    """Washington sends to beijing; beijing's event stream is followed throughout."""

    def __init__(self, nodes: dict[str, RunningNode], translating: bool) -> None:
        self.sender, self.receiver = nodes["washington"], nodes["beijing"]
        self.translating = translating
        self._seen: dict[tuple[str, str], float] = {}
        self._changed = asyncio.Condition()
        self._sent = 0

    @contextlib.asynccontextmanager
    async def following(self) -> AsyncIterator[None]:
        listen = {"authorization": f"Bearer {self.receiver.token}"}
        send = {"authorization": f"Bearer {self.sender.token}"}
        async with (
            aiohttp.ClientSession(headers=listen) as self._listen,
            aiohttp.ClientSession(headers=send) as self._session,
        ):
            follower = asyncio.create_task(self._follow())
            await asyncio.sleep(0.5)
            try:
                yield
            finally:
                follower.cancel()

    async def _follow(self) -> None:
        url = f"{self.receiver.local_url}/api/v1/events"
        async with self._listen.get(url) as response:
            async for raw in response.content:
                line = raw.decode()
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                kind = event.get("type")
                if kind == "message.received" or (
                    kind == "translation.updated" and event.get("state") == "machine"
                ):
                    async with self._changed:
                        self._seen[(kind, event["id"])] = time.perf_counter()
                        self._changed.notify_all()

    async def _reached(self, key: tuple[str, str]) -> float:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: key in self._seen), 60)
            return self._seen[key]

    async def block(self, count: int, interval_s: float) -> tuple[list[float], list[float]]:
        """``count`` messages, one every ``interval_s`` (or as soon as the previous one was
        delivered, if later): delivery and (translating) to-screen times. The next message
        does not wait for the previous one's translation, so the two can overlap."""
        delivery, sent = [], []
        url = f"{self.sender.local_url}/api/v1/links/{LINK}/messages"
        for _ in range(count):
            body = {"text": SENTENCES[self._sent % len(SENTENCES)], "lang": "zh-Hans"}
            self._sent += 1
            start = time.perf_counter()
            async with self._session.post(url, json=body) as response:
                message_id = (await response.json())["id"]
            delivery.append((await self._reached(("message.received", message_id)) - start) * 1000)
            sent.append((message_id, start))
            await asyncio.sleep(max(0.0, start + interval_s - time.perf_counter()))
        screen = []
        if self.translating:
            for message_id, start in sent:
                done = await self._reached(("translation.updated", message_id))
                screen.append((done - start) * 1000)
        return delivery, screen


def _nodes(base: Path, translation: dict[str, Any]) -> dict[str, RunningNode]:
    homes = {p: create_node(base, p) for p in ("washington", "beijing")}
    link_nodes(homes["washington"], homes["beijing"], LINK, "benchmark", base)
    homes["beijing"].set_translation(translation)
    nodes: dict[str, RunningNode] = {}
    try:
        for party in homes:
            # a loaded shared machine can take more than the usual 20 s
            nodes[party] = start_node(homes[party], base / f"{party}.log", timeout_s=120)
    except BaseException:
        for node in nodes.values():
            node.stop()
        raise
    return nodes


async def _alternate(
    on: _Pair, off: _Pair, count: int, pairs: int, interval_s: float
) -> dict[str, Any]:
    screen: list[float] = []
    rounds = []
    async with on.following(), off.following():
        await on.block(WARM_UP, interval_s)
        await off.block(WARM_UP, interval_s)
        for index in range(pairs):
            order = (on, off) if index % 2 == 0 else (off, on)
            found: dict[bool, list[float]] = {}
            for pair in order:
                delivery, shown = await pair.block(count, interval_s)
                found[pair.translating] = delivery
                screen.extend(shown)
            p50_on, p50_off = statistics.median(found[True]), statistics.median(found[False])
            rounds.append(
                {
                    "on": round(p50_on, 2),
                    "off": round(p50_off, 2),
                    "ratio": round(p50_on / p50_off, 3),
                }
            )
    return {"screen": screen, "rounds": rounds}


def measure(count: int, pairs: int = 6, interval_ms: float = 100.0) -> dict[str, Any]:
    from hotline.demo.tiny_model import TINY_MODEL_NAME, build_tiny_model

    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as directory:
        base = Path(directory)
        build_tiny_model(base / "models" / "zh-Hans-en")
        translating = {
            "reading": ["en"],
            "providers": [{"kind": "ctranslate2", "models": str(base / "models")}],
        }
        load_before = os.getloadavg()[0]
        running = [_nodes(base / "on", translating)]
        try:
            running.append(_nodes(base / "off", {"enabled": False}))
            on, off = _Pair(running[0], True), _Pair(running[1], False)
            found = asyncio.run(_alternate(on, off, count, pairs, interval_ms / 1000))
        finally:
            for nodes in running:
                for node in nodes.values():
                    node.stop()
        load_after = os.getloadavg()[0]
    rounds = found["rounds"]
    return {
        "to_screen_translated_ms": summary(found["screen"]),
        "delivery_p50_ms_with_translation": statistics.median(r["on"] for r in rounds),
        "delivery_p50_ms_without_translation": statistics.median(r["off"] for r in rounds),
        "delivery_p50_ratio_with_translation": statistics.median(r["ratio"] for r in rounds),
        "delivery_pairs": rounds,
        "messages_per_block": count,
        "interval_ms": interval_ms,
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "to_screen_model": TINY_MODEL_NAME,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50, help="messages per block")
    parser.add_argument("--pairs", type=int, default=6, help="on/off pairs of blocks")
    parser.add_argument("--interval-ms", type=float, default=100.0, help="between sends")
    args = parser.parse_args()
    print(json.dumps(measure(args.messages, args.pairs, args.interval_ms)))


if __name__ == "__main__":
    main()
