"""Node processes forked from an interpreter that has already imported Hotline.

A node started as ``python -m hotline serve`` spends most of its start-up importing,
and the suite starts nearly two hundred of them (bench/RESULTS.md, 2026-12-03
evening). Each test worker therefore keeps one fork server (the standard library's
``multiprocessing`` "forkserver"), which imports the node's modules once, before any
thread or connection exists; every node is then a fresh process forked from it that
runs the same ``hotline serve`` command line (``hotline.cli.main``) as a user's.

What this skips is only the imports: the node still builds its database engine, TLS
contexts, routes and event loop, and listens on real sockets, in a process of its own
that the tests signal and kill. Start-up itself (what a fresh interpreter loads) is
tested with a real ``hotline`` process in tests/node/test_node_startup.py and the CLI
tests, which always run the installed command. (As with any use of ``multiprocessing``, a
script that starts nodes through the harness keeps its own work under
``if __name__ == "__main__":``: the forked process imports the script's main module.)
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from hotline.cli import main

# Imported by the fork server before it forks anything (see the module's docstring):
# this module (hotline.cli with it), and what `serve` imports as it starts.
PRELOAD = ["tests.forked", "hotline.cli.node", "hotline.web.server"]

_CONTEXT: ForkServerContext | None = None


def _context() -> ForkServerContext:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def _run(argv: list[str], log_path: str, environment: dict[str, str]) -> None:
    """In the forked process: standard output and error to the log, the caller's
    environment, then the ``hotline`` command with ``argv``."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.clear()
    os.environ.update(environment)
    sys.argv = ["hotline", *argv]
    main()


def start(argv: list[str], log_path: Path) -> BaseProcess:
    """A forked ``hotline`` process with ``argv``, writing to ``log_path``; it has the
    ``multiprocessing`` interface (``pid``, ``exitcode``, ``terminate``, ``kill``,
    ``join``). A daemon: should a test leave one running, the worker ends it as it exits."""
    process = _context().Process(
        target=_run, args=(argv, str(log_path), dict(os.environ)), daemon=True
    )
    process.start()
    return process
