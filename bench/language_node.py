"""Translation on two real nodes: committed on one node -> translated text on the other's API.

to_screen_translated_ms: from washington's local API send of a Chinese sentence to beijing's
event stream announcing its machine translation (beijing reads English; CTranslate2 with the
tiny model the tests build, so this measures Hotline's path, not a real model's inference),
over N sequential messages.

delivery_p50_ratio_with_translation: delivery p50 (send -> ``message.received`` on beijing's
stream) with the translator on, divided by the same with translation off (``enabled: false``),
each over N sequential messages on a fresh pair of nodes. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import summary
from hotline.demo import create_node, link_nodes, start_node
from hotline.language.translation.settings import NodeTranslationSettings

LINK = "bench"
SENTENCES = ["我们已收到你方消息，正在研究。", "请确认收到本消息。", "船只正在离开该海域。"]


async def _run(nodes: dict[str, Any], count: int) -> dict[str, list[float]]:
    sender, receiver = nodes["washington"], nodes["beijing"]
    seen: dict[tuple[str, str], float] = {}
    changed = asyncio.Condition()

    async def follow(session: aiohttp.ClientSession) -> None:
        async with session.get(f"{receiver.local_url}/api/v1/events") as response:
            async for raw in response.content:
                line = raw.decode()
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                kind = event.get("type")
                if kind == "message.received" or (
                    kind == "translation.updated" and event.get("state") == "machine"
                ):
                    async with changed:
                        seen[(kind, event["id"])] = time.perf_counter()
                        changed.notify_all()

    async def reached(key: tuple[str, str]) -> float:
        async with changed:
            await asyncio.wait_for(changed.wait_for(lambda: key in seen), 60)
            return seen[key]

    delivery, screen = [], []
    headers = {"authorization": f"Bearer {receiver.token}"}
    async with aiohttp.ClientSession(headers=headers) as listen:
        follower = asyncio.create_task(follow(listen))
        await asyncio.sleep(0.5)
        sending = {"authorization": f"Bearer {sender.token}"}
        async with aiohttp.ClientSession(headers=sending) as session:
            for i in range(count):
                body = {"text": SENTENCES[i % len(SENTENCES)], "lang": "zh-Hans"}
                start = time.perf_counter()
                async with session.post(
                    f"{sender.local_url}/api/v1/links/{LINK}/messages", json=body
                ) as response:
                    message_id = (await response.json())["id"]
                delivery.append((await reached(("message.received", message_id)) - start) * 1000)
                if nodes["translating"]:
                    done = await reached(("translation.updated", message_id))
                    screen.append((done - start) * 1000)
        follower.cancel()
    return {"delivery": delivery, "screen": screen}


def _pair(base: Path, translation: dict[str, Any], count: int) -> dict[str, list[float]]:
    homes = {p: create_node(base, p) for p in ("washington", "beijing")}
    link_nodes(homes["washington"], homes["beijing"], LINK, "benchmark", base)
    home = homes["beijing"]
    config = home.load_config()
    settings = NodeTranslationSettings.model_validate(translation)
    home.save_config(config.model_copy(update={"translation": settings}))
    nodes: dict[str, Any] = {p: start_node(homes[p], base / f"{p}.log") for p in homes}
    try:
        nodes["translating"] = settings.enabled
        return asyncio.run(_run(nodes, count))
    finally:
        for party in ("washington", "beijing"):
            nodes[party].stop()


def measure(count: int) -> dict[str, Any]:
    from tests.language.tiny_model import TINY_MODEL_NAME, build_tiny_model

    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as directory:
        base = Path(directory)
        build_tiny_model(base / "models" / "zh-Hans-en")
        on = {
            "reading": ["en"],
            "providers": [{"kind": "ctranslate2", "models": str(base / "models")}],
        }
        with_translation = _pair(base / "on", on, count)
        without = _pair(base / "off", {"enabled": False}, count)
    p50_on = summary(with_translation["delivery"])["p50"]
    p50_off = summary(without["delivery"])["p50"]
    return {
        "to_screen_translated_ms": summary(with_translation["screen"]),
        "delivery_ms_with_translation": summary(with_translation["delivery"]),
        "delivery_ms_without_translation": summary(without["delivery"]),
        "delivery_p50_ratio_with_translation": round(p50_on / p50_off, 3),
        "to_screen_model": TINY_MODEL_NAME,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    print(json.dumps(measure(parser.parse_args().messages)))


if __name__ == "__main__":
    main()
