"""Instructions per message cycle (bench/cycle.py), counted by callgrind: the same
for the same code whatever else the machine is doing, so two versions can be
compared in one run each. Runs the cycle twice (``--low`` and ``--high`` cycles)
and divides the difference in instructions by the difference in cycles, so that
start-up and set-up cancel out. Needs valgrind. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile

COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(cycles: int) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={scratch}/callgrind.out",
            sys.executable,
            "-m",
            "bench.cycle",
            "--cycles",
            str(cycles),
            "--warm-up",
            "20",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--low", type=int, default=40)
    parser.add_argument("--high", type=int, default=140)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    low, high = instructions(args.low), instructions(args.high)
    per_cycle = (high - low) / (args.high - args.low)
    print(json.dumps({"instructions_per_cycle": round(per_cycle), "cycles": [args.low, args.high]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
