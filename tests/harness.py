"""Real nodes for tests: each ``hotline serve`` runs as its own process (forked from
a server that has imported Hotline already: see tests/forked.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from hotline.demo import free_port
from hotline.node.home import NodeHome, init_node
from hotline.node.service import Node
from hotline.protocol.bundle import verify_bundle
from hotline.protocol.envelope import Envelope, Payload, parse
from tests import forked

LINK = "defence"
# Liveness bounds, not assertions: a node starts in a second or two on a quiet
# machine, but imports and migrations take far longer when every core is busy.
START_TIMEOUT_S = 90.0


class NodeHandle:
    def __init__(self, home: NodeHome, log_path: Path, *, extra_args: tuple[str, ...] = ()) -> None:
        self.home = home
        self.extra_args = extra_args
        self.party = home.load_config().party
        self.log_path = log_path
        self.process: BaseProcess | None = None
        config = home.load_config()
        local_port = config.local_port
        if "--local-port" in extra_args:
            local_port = int(extra_args[extra_args.index("--local-port") + 1])
        self.local_url = f"http://{config.local_host}:{local_port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (see :meth:`wait_ready`)."""
        assert self.process is None or self.process.exitcode is not None
        self.process = forked.start(
            ["serve", "--home", str(self.home.path), "--verbose", *self.extra_args],
            self.log_path,
        )

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                if self.process.exitcode is not None:
                    raise RuntimeError(f"{self.party} exited:\n{self.log_path.read_text()[-3000:]}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    time.sleep(0.05)
        raise RuntimeError(f"{self.party} did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None:
            self.process.kill()
            self.process.join(10)

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped()

    def terminate(self) -> None:
        """SIGTERM: the node shuts down in its own time (see :meth:`wait_stopped`)."""
        if self.process is not None:
            self.process.terminate()

    def wait_stopped(self) -> None:
        if self.process is not None:
            self.process.join(15)
            if self.process.exitcode is None:
                self.process.kill()
                self.process.join(5)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.local_url,
            headers={"authorization": f"Bearer {self.home.api_token()}"},
            timeout=kwargs.pop("timeout", 15.0),
            **kwargs,
        )

    def node(self) -> Node:
        """Direct access to the node's storage (as the CLI has)."""
        return Node(self.home)


class Cluster:
    """Two nodes linked through the real invitation / acceptance path."""

    def __init__(self, base: Path, database_url: Callable[[Path], str | None]) -> None:
        self.base = base
        homes = {}
        for party in ("washington", "beijing"):
            homes[party] = init_node(
                base / party,
                party,
                database_url=database_url(base / party),
                peer_port=free_port(),
                local_port=free_port(),
            )
        self.washington = NodeHandle(homes["washington"], base / "washington.log")
        self.beijing = NodeHandle(homes["beijing"], base / "beijing.log")
        a, b = Node(homes["washington"]), Node(homes["beijing"])
        try:
            _, invitation = a.create_invitation(LINK, "Defence ministries' crisis link")
            _, acceptance = b.accept_invitation(invitation)
            a.complete_link(acceptance)
        finally:
            a.close()
            b.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Both at once: each takes a second or two to start or stop on its own.
        for node in self.nodes:
            node.terminate()
        for node in self.nodes:
            node.wait_stopped()

    def start(self) -> None:
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready()

    @property
    def nodes(self) -> tuple[NodeHandle, NodeHandle]:
        return self.washington, self.beijing


def send(client: httpx.Client, text: str, **extra: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/links/{LINK}/messages", json={"text": text, **extra})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_until(predicate: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def inbound_texts(handle: NodeHandle) -> list[str]:
    node = handle.node()
    try:
        return [m.body["text"] for m in node.messages(LINK, direction="in", limit=100_000)]
    finally:
        node.close()


class EventStream:
    """Reads a node's SSE stream in a background thread."""

    def __init__(self, handle: NodeHandle) -> None:
        self.events: list[dict[str, Any]] = []
        self._client = handle.client(timeout=httpx.Timeout(10.0, read=None))
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "event stream did not connect"

    def _run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            if not self._stop.is_set():
                raise

    def _read(self) -> None:
        with self._client.stream("GET", "/api/v1/events") as response:
            self._ready.set()
            data = None
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data is not None:
                    self.events.append(data)
                    data = None

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    def close(self) -> None:
        self._stop.set()
        self._client.close()


def iter_ids(events: list[dict[str, Any]]) -> Iterator[str]:
    for event in events:
        yield event["id"]


def record(handle: NodeHandle) -> list[tuple[Envelope, dict[str, Any]]]:
    """The node's record, verified as a bundle, with each entry's opened payload body."""
    node = handle.node()
    try:
        bundle = node.export(LINK)
    finally:
        node.close()
    _, fault = verify_bundle(bundle)
    assert fault is None, fault
    return [
        (parse(e.envelope_bytes), Payload.from_bytes(e.payload_bytes or b"").body)
        for e in bundle.entries
    ]


def kinds_in_record(handle: NodeHandle) -> list[str]:
    return [envelope.header.kind.value for envelope, _ in record(handle)]


# What a fresh interpreter loads -------------------------------------------------------


def loaded_by(code: str, watched: Sequence[str], *args: str) -> tuple[str, list[str]]:
    """Run ``code`` in a fresh interpreter (``args`` as ``sys.argv[1:]``), which must
    exit 0: its standard output, and which of the ``watched`` modules it left loaded."""
    report = (
        "\nimport json as _json, sys as _sys\n"
        f"_sys.stderr.write(_json.dumps([m for m in {list(watched)!r} if m in _sys.modules]))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code + report, *args], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout, list(json.loads(ran.stderr.strip().splitlines()[-1]))


# The command line as users run it ------------------------------------------------------


def hotline_command() -> str:
    """The installed ``hotline`` command: the entry point beside this interpreter."""
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        found = shutil.which("hotline", path=directory)
        if found is not None:
            return found
    raise RuntimeError("the hotline command is not installed beside this Python (pip install -e .)")


@dataclass(frozen=True)
class Ran:
    """One run of the ``hotline`` command."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Standard output and error, each run of whitespace one space (rich wraps)."""
        return " ".join((self.stdout + self.stderr).split())

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"hotline {' '.join(self.args)} -> {self.code}\n{self.stdout}{self.stderr}"


def hotline(
    *args: str | Path,
    input: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    columns: int | None = None,
    timeout: float = 120,
) -> Ran:
    """Run the installed ``hotline`` with ``args`` in a process of its own, standard
    input ``input`` (not a terminal; empty when None), and wait for it to exit."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_HOME")}
    if columns is not None:
        environment["COLUMNS"] = str(columns)
    environment.update(env or {})
    words = tuple(str(a) for a in args)
    result = subprocess.run(
        [hotline_command(), *words],
        input=input or "",
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=timeout,
    )
    return Ran(words, result.returncode, result.stdout, result.stderr)


def hotline_ok(*args: str | Path, **kwargs: Any) -> Ran:
    """:func:`hotline`, which must exit 0."""
    ran = hotline(*args, **kwargs)
    assert ran.code == 0, str(ran)
    return ran


def started_cluster(base: Path, database_url: Callable[[Path], str | None]) -> Iterator[Cluster]:
    """A linked pair of serving nodes for a module's tests (a generator for a fixture)."""
    with Cluster(base, database_url) as cluster:
        cluster.start()
        yield cluster


def module_database(kind: str) -> Iterator[Any]:
    """A DatabaseFactory (see conftest) for fixtures wider than one test: skips when
    PostgreSQL is not configured, drops what it made at the end."""
    import pytest

    from tests.conftest import PG_URL, DatabaseFactory

    if kind == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL not configured: set HOTLINE_TEST_DATABASE_URL")
    factory = DatabaseFactory(kind)
    try:
        yield factory
    finally:
        factory.drop_all()
