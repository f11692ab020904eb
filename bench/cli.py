"""Command-line start-up: ``hotline --help`` and ``hotline status`` as whole processes,
the way an operator (or the test suite, which runs the installed ``hotline`` hundreds
of times) starts them.

``status_ms`` is ``hotline status`` against a node made by ``hotline init`` that is
not serving (the command reads the database itself); ``status_serving_ms`` the same
node while ``hotline serve`` runs (the command asks its local API). Each figure is
wall time from the start of the process to its exit, over ``--runs`` runs after one
untimed warm-up; ``*_cpu_ms`` is the user + system time the processes took, which a
busy machine inflates less than wall time. ``machine`` is bench.machine's reading
and the load average, to tell a slow machine from a slow build. Prints one JSON
object.

    python -m bench.cli [--runs 15] [--no-serving] [--source DIR]

``--source DIR`` runs the ``hotline`` of another checkout's source (DIR first on
PYTHONPATH, e.g. ``git archive main hotline | tar -x -C DIR``), to compare with it
at the same hour.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import machine
from bench.stats import summary


def hotline_command() -> str:
    """The installed ``hotline`` beside this interpreter (as users and tests run it)."""
    beside = Path(sys.executable).with_name("hotline")
    return str(beside) if beside.exists() else shutil.which("hotline") or "hotline"


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "HOTLINE_HOME"}


def hotline_argv() -> list[str]:
    """The command that starts ``hotline``: the installed one, or (``--source``) this
    interpreter running another checkout's hotline.cli:main, as its entry point does."""
    if not SOURCE:
        return [hotline_command()]
    start = (
        "import sys; "
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
        f"sys.path.insert(0, {SOURCE!r}); sys.argv[0] = 'hotline'; "
        "from hotline.cli import main; main()"
    )
    return [sys.executable, "-c", start]


# Another checkout's source directory to run instead of this one (--source).
SOURCE = ""


def time_runs(args: list[str], runs: int) -> tuple[dict[str, float], dict[str, float]]:
    """Wall and CPU milliseconds of ``runs`` runs of ``hotline args`` (each must exit 0)."""
    env = environment()
    command = [*hotline_argv(), *args]
    subprocess.run(command, check=True, capture_output=True, env=env)  # warm the caches
    wall, cpu = [], []
    for _ in range(runs):
        cpu_before = _children_cpu_s()
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((_children_cpu_s() - cpu_before) * 1000)
    return _p50_p90(wall), _p50_p90(cpu)


def _p50_p90(values: list[float]) -> dict[str, float]:
    full = summary(values)
    return {"p50": full["p50"], "p90": full["p90"]}


def free_port() -> int:
    from hotline.demo import free_port as port

    return port()


def init_node(base: Path) -> Path:
    home = base / "bench"
    subprocess.run(
        [
            *hotline_argv(),
            "init",
            "bench",
            "--home",
            str(home),
            *("--peer-port", str(free_port()), "--local-port", str(free_port())),
        ],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env=environment(),
    )
    return home


def wait_until_serving(
    home: Path, process: subprocess.Popen[bytes], timeout_s: float = 180
) -> None:
    from hotline.cli.local import ask_serving_node

    deadline = time.monotonic() + timeout_s
    while ask_serving_node(home, "/api/v1/status") is None:
        if process.poll() is not None:
            raise RuntimeError(f"hotline serve exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("hotline serve did not answer on its local API")
        time.sleep(0.1)


@contextmanager
def serving(home: Path, log: Path) -> Iterator[None]:
    """``hotline serve`` on ``home`` until the block ends (its local API answering)."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*hotline_argv(), "serve", "--home", str(home)],
            stdout=output,
            stderr=output,
            env=environment(),
        )
    try:
        wait_until_serving(home, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(runs: int, with_serving: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as directory:
        base = Path(directory)
        report: dict[str, Any] = {"runs": runs, "source": SOURCE or "this checkout"}
        report["machine"] = {"before": machine.reading(base)}
        report["help_ms"], report["help_cpu_ms"] = time_runs(["--help"], runs)
        home = init_node(base)
        status = ["status", "--home", str(home)]
        report["status_ms"], report["status_cpu_ms"] = time_runs(status, runs)
        if with_serving:
            with serving(home, base / "serve.log"):
                timed = time_runs(status, runs)
            report["status_serving_ms"], report["status_serving_cpu_ms"] = timed
        report["machine"]["after"] = machine.reading(base)
        report["machine"]["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    parser.add_argument(
        "--no-serving", action="store_true", help="skip status against a serving node"
    )
    parser.add_argument("--source", default="", help="run another checkout's hotline")
    options = parser.parse_args()
    global SOURCE
    SOURCE = options.source
    print(json.dumps(run(options.runs, not options.no_serving)))


if __name__ == "__main__":
    main()
