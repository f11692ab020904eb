"""Shared fixtures: real nodes (separate processes), real databases, real TLS.

Tests take the ``database`` fixture (or a module's ``databases``) to run on SQLite and
on PostgreSQL (marked ``postgres`` there). The storage, node and e2e tiers run every
such test on both. The tiers above the node (``cli``, ``web``, ``language``) reach the
database only through the node, which the tiers below prove on both: each of their
tests runs once, on PostgreSQL or SQLite alternately in each module (the test id
shows which; see pytest_generate_tests).

PostgreSQL comes from HOTLINE_TEST_DATABASE_URL (``.ci/run`` sets it); without it
those tests skip with a reason, and under CI=true any skip, or any test deselected
with -m/-k, fails the run.
"""

from __future__ import annotations

import os
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.harness import Cluster

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# `make test` runs the suite in two processes beside the nodes they start, so an
# example's wall time says little about the code under test: no deadlines there.
settings.register_profile("shared-machine", deadline=None)
settings.load_profile("shared-machine")

# Each worker picks the ports its nodes listen on from its own share of the range
# (free_port), and the nodes and demos it starts inherit it: two workers checking
# the same free port at once would both take it.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER is not None:
    _share = 12_000 // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    _first = 20_000 + int(_WORKER.removeprefix("gw")) * _share
    os.environ["HOTLINE_PORT_RANGE"] = f"{_first}-{_first + _share - 1}"


BACKENDS = ("sqlite", "postgresql")
# Tiers whose tests run on one backend each (see the module's docstring).
ONE_BACKEND_TIERS = frozenset({"cli", "web", "language"})
_TAKEN: Counter[str] = Counter()  # one-backend tests parametrized so far, per module


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """In a one-backend tier, parametrize ``database`` with one backend instead of both:
    PostgreSQL for a module's first such test, SQLite for its second, and so on (the
    same whatever subset runs, as a module is always collected whole). A module-wide
    ``databases`` fixture gets PostgreSQL, the production store."""
    module = metafunc.module.__name__
    if module.partition(".")[2].partition(".")[0] not in ONE_BACKEND_TIERS:
        return
    if "databases" in metafunc.fixturenames:
        name, kind = "databases", "postgresql"
    elif "database" in metafunc.fixturenames:
        name, kind = "database", ("postgresql", "sqlite")[_TAKEN[module] % 2]
        _TAKEN[module] += 1
    else:
        return
    metafunc.definition.add_marker(pytest.mark.parametrize(name, [kind], indirect=True))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what each test needs, from the test itself: ``-m 'not postgres'`` then
    means what it says (and under CI=true, deselecting anything fails the run)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if "postgresql" in (params.get("database"), params.get("databases")):
            item.add_marker(pytest.mark.postgres)


_DESELECTED: set[str] = set()


def pytest_deselected(items: list[pytest.Item]) -> None:
    _DESELECTED.update(item.nodeid for item in items)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: the workers collect and deselect; what they left out comes here."""
    _DESELECTED.update(getattr(node, "workeroutput", {}).get("deselected", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _POSTGRES.finish()
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:  # an xdist worker: the controller judges the run
        worker_output["deselected"] = sorted(_DESELECTED)
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if IN_CI and skipped:
        reporter.write_line(
            f"CI=true: {len(skipped)} test(s) skipped; a missing component fails the run under CI.",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    # Tests left out by -m, -k or --deselect are not skipped, so the check above does
    # not see them; under CI the whole suite runs or the run fails.
    if IN_CI and _DESELECTED:
        if reporter:
            reporter.write_line(
                f"CI=true: {len(_DESELECTED)} test(s) deselected (e.g. {min(_DESELECTED)}); "
                "under CI the whole suite runs.",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest) -> Iterator[DatabaseFactory]:
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL not configured: set HOTLINE_TEST_DATABASE_URL")
    factory = DatabaseFactory(request.param)
    yield factory
    factory.drop_all()


class DatabaseFactory:
    """Makes one fresh database per node: a SQLite file, or a PostgreSQL database."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.created: list[str] = []

    def url_for(self, directory: Path) -> str | None:
        if self.kind == "sqlite":
            return None  # the node's own default: SQLite in its data directory
        assert PG_URL is not None
        name = _POSTGRES.take()
        self.created.append(name)
        base, _, _ = PG_URL.rpartition("/")
        return f"{base}/{name}"

    def drop_all(self) -> None:
        for name in self.created:
            _POSTGRES.drop(name)
        self.created.clear()


class _PostgresDatabases:
    """Fresh PostgreSQL databases, made ahead and dropped behind in a thread of their
    own: each costs the server a copy of its template and a flush to disk, which a
    test need not wait for. A database is handed out once, never reused; the worker
    waits for every drop before it ends (pytest_sessionfinish)."""

    AHEAD = 2

    def __init__(self) -> None:
        self._ready: queue.Queue[str] = queue.Queue()
        self._work: queue.Queue[str | None] = queue.Queue()  # a name to drop, or None: make one
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def take(self) -> str:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pg-databases", daemon=True)
            self._thread.start()
            for _ in range(self.AHEAD):
                self._work.put(None)
        while True:
            if self._failure is not None:
                raise RuntimeError("could not create a PostgreSQL database") from self._failure
            try:
                name = self._ready.get(timeout=1)
            except queue.Empty:
                continue
            self._work.put(None)  # one more ahead
            return name

    def drop(self, name: str) -> None:
        self._work.put(name)

    def finish(self) -> None:
        """Drop what is left, made ahead or handed out, and wait for it."""
        if self._thread is None:
            return
        self._work.join()  # a database still being made lands in _ready
        while not self._ready.empty():
            self._work.put(self._ready.get_nowait())
        self._work.join()

    def _run(self) -> None:
        import psycopg

        assert PG_URL is not None
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            while True:
                item = self._work.get()
                try:
                    if item is None:
                        name = f"hotline_test_{uuid.uuid4().hex[:12]}"
                        conn.execute(f'CREATE DATABASE "{name}"')
                        self._ready.put(name)
                    else:
                        conn.execute(f'DROP DATABASE IF EXISTS "{item}" WITH (FORCE)')
                except BaseException as exc:
                    self._failure = exc
                finally:
                    self._work.task_done()


_POSTGRES = _PostgresDatabases()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def cluster(tmp_path: Path, database: DatabaseFactory) -> Iterator[Cluster]:
    """Two initialised, linked nodes (washington invites, beijing accepts), not yet started."""
    with Cluster(tmp_path, database.url_for) as cluster:
        yield cluster
