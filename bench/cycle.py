"""One message's transactions, in one process, with no network: washington sends,
beijing takes the push, washington records beijing's reply (its receipt). Prints
one JSON object: the CPU time of each step (the calling thread's, in µs) over N
cycles, after a warm-up.

Thread CPU time still moves with the machine's speed. For a count that does not,
run it under callgrind with two values of N and divide the difference in
instructions by the difference in cycles (the set-up cancels out)::

    valgrind --tool=callgrind python -m bench.cycle --cycles 40 --warm-up 20
    valgrind --tool=callgrind python -m bench.cycle --cycles 140 --warm-up 20
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from bench.stats import summary
from hotline.demo import create_node, link_nodes
from hotline.node.delivery.outgoing import Outgoing
from hotline.node.service import Node

LINK = "bench"
T = TypeVar("T")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=2_000)
    parser.add_argument("--warm-up", type=int, default=200)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hotline-cycle-"))
    homes = {p: create_node(base, p) for p in ("washington", "beijing")}
    link_nodes(homes["washington"], homes["beijing"], LINK, "benchmark", base)
    washington, beijing = Node(homes["washington"]), Node(homes["beijing"])
    link_id = washington.find_link(LINK).id
    steps: dict[str, list[float]] = {"send": [], "receive": [], "record_reply": []}

    def timed(step: str, work: Callable[[], T]) -> T:
        started = time.thread_time_ns()
        result = work()
        steps[step].append((time.thread_time_ns() - started) / 1_000)
        return result

    try:
        for i in range(args.warm_up + args.cycles):
            if i == args.warm_up:
                for values in steps.values():
                    values.clear()
            item = Outgoing(LINK, {"text": f"cycle {i}"})
            (message,) = timed("send", partial(washington.send_many, [item]))
            assert not isinstance(message, Exception), message
            envelopes = washington.own_entries_after(link_id, i, 1)
            result = timed("receive", partial(beijing.receive, link_id, envelopes, i))
            assert result.applied == 1, result.outcomes
            timed("record_reply", partial(washington.delivered, link_id, i + 1, result.receipts))
    finally:
        washington.close()
        beijing.close()
    cycle = [sum(values) for values in zip(*steps.values(), strict=True)]
    print(
        json.dumps(
            {
                "cpu_us": {step: summary(values) for step, values in steps.items()},
                "cycle_cpu_us": summary(cycle),
                "cycles": args.cycles,
                "durability": "SQLite WAL, synchronous=FULL",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
