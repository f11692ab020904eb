"""Failover benchmark: two nodes in network namespaces with two veth paths, a stream
of messages, and the active path cut again and again (alternately link down and a
silent blackhole), restored, and failed back to.

For each cut: ``detect_s`` is the time from the cut to the sender moving off the
cut path (its ``link.failover`` event), ``resume_s`` the time from the cut to the
first message the receiver stored after that move. At the end every message sent
must have arrived exactly once, in order. Needs root. Prints one JSON object.

    sudo .venv/bin/python -m bench.failover --cuts 50
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from bench.netns import LINK, Topology, available
from bench.stats import summary
from hotline.node import events
from hotline.node.service import Node
from hotline.storage.models import Message

T = TypeVar("T")
TARGETS = {"detect_p50_s": 2.0, "resume_p50_s": 3.0, "lost": 0, "duplicated": 0}


class Stream:
    def __init__(self, node: Node, interval: float) -> None:
        self.node = node
        self.interval = interval
        self.sent: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            text = f"m{n}"
            self.node.send(LINK, {"text": text, "lang": "en"})
            self.sent.append(text)
            n += 1
            time.sleep(self.interval)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(10)
        return list(self.sent)


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def poll(fetch: Callable[[], T | None], timeout: float, what: str) -> T:
    """The first value ``fetch`` returns that is not None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if value is not None:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def active(node: Node) -> int | None:
    return next((p.position for p in node.link_paths(LINK) if p.active), None)


def first_failover(node: Node, after_id: int) -> tuple[int, int] | None:
    """(event id, time) of the first move off the cut path after ``after_id``."""
    for row in node.events_after(after_id, 10_000):
        if row.type == "link.failover" and row.data.get("reason") != "failback":
            return row.id, row.created_ms
    return None


def first_received_after(node: Node, stamp_ms: int) -> int | None:
    with node.reading() as session:
        value = session.scalar(
            select(func.min(Message.received_ms)).where(
                Message.direction == "in", Message.received_ms >= stamp_ms
            )
        )
    return None if value is None else int(value)


def last_event_id(node: Node) -> int:
    with node.reading() as session:
        return events.last_event_id(session)


def run(cuts: int, interval: float) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="hotline-failover-"))
    topology = Topology(base, relay=False)
    detect: list[float] = []
    resume: list[float] = []
    kinds = {"link_down": 0, "blackhole": 0}
    try:
        topology.create()
        topology.start()
        w = topology.nodes["washington"].node()
        b = topology.nodes["beijing"].node()
        try:
            wait(
                lambda: all(p.state == "up" for p in w.link_paths(LINK)),
                30,
                "both paths up",
            )
            stream = Stream(w, interval)
            try:
                for n in range(cuts):
                    wait(lambda: active(w) == 0, 20, "the primary path active")
                    wait(
                        lambda: all(p.state == "up" for p in w.link_paths(LINK)),
                        20,
                        "both paths up",
                    )
                    # A random phase against the heartbeat clock, so that cuts fall
                    # anywhere between two heartbeats.
                    time.sleep(random.uniform(0.3, 1.3))
                    kind = "link_down" if n % 2 == 0 else "blackhole"
                    kinds[kind] += 1
                    after = last_event_id(w)
                    cut_ms = time.time() * 1000
                    if kind == "link_down":
                        topology.link_down(1)
                    else:
                        topology.blackhole(1)
                    _, moved_ms = poll(
                        partial(first_failover, w, after),
                        15,
                        f"failover after cut {n} ({kind})",
                    )
                    detect.append(max(0.0, moved_ms - cut_ms) / 1000)
                    arrived_ms = poll(
                        partial(first_received_after, b, moved_ms),
                        15,
                        f"delivery after cut {n}",
                    )
                    resume.append(max(0.0, arrived_ms - cut_ms) / 1000)
                    if kind == "link_down":
                        topology.link_up(1)
                    else:
                        topology.unblackhole(1)
            finally:
                sent = stream.stop()
            wait(
                lambda: len(incoming(b)) >= len(set(sent)),
                60,
                "the last messages to arrive",
            )
            time.sleep(1.0)
            got = incoming(b)
        finally:
            w.close()
            b.close()
    finally:
        topology.destroy()
    lost = len(set(sent) - set(got))
    duplicated = len(got) - len(set(got))
    result: dict[str, Any] = {
        "cuts": len(detect),
        "cut_kinds": kinds,
        "detect_s": summary(detect),
        "resume_s": summary(resume),
        "lost": lost,
        "duplicated": duplicated,
        "in_order": got == sent,
        "messages": len(sent),
        "message_interval_s": interval,
        "targets": TARGETS,
    }
    result["targets_met"] = (
        result["detect_s"]["p50"] <= TARGETS["detect_p50_s"]
        and result["resume_s"]["p50"] <= TARGETS["resume_p50_s"]
        and lost == 0
        and duplicated == 0
        and got == sent
    )
    return result


def incoming(node: Node) -> list[str]:
    return [m.body["text"] for m in node.messages(LINK, direction="in", limit=10_000_000)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cuts", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between messages")
    args = parser.parse_args()
    reason = available()
    if reason is not None:
        print(json.dumps({"error": f"network namespaces unavailable: {reason}"}))
        return 2
    print(json.dumps(run(args.cuts, args.interval)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
