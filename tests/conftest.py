"""Shared fixtures: real nodes (separate processes), real databases, real TLS.

Storage, node and integration tests take the ``database`` fixture and run on SQLite
and on PostgreSQL (marked ``postgres`` there). PostgreSQL comes from
HOTLINE_TEST_DATABASE_URL (``.ci/run`` sets it); without it those tests skip with a
reason, and under CI=true any skip, or any test deselected with -m/-k, fails the run.
"""

from __future__ import annotations

import os
import uuid
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what each test needs, from the test itself: ``-m 'not postgres'`` then
    means what it says (and under CI=true, deselecting anything fails the run)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database") == "postgresql":
            item.add_marker(pytest.mark.postgres)


_DESELECTED: set[str] = set()


def pytest_deselected(items: list[pytest.Item]) -> None:
    _DESELECTED.update(item.nodeid for item in items)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: the workers collect and deselect; what they left out comes here."""
    _DESELECTED.update(getattr(node, "workeroutput", {}).get("deselected", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
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


@pytest.fixture(params=["sqlite", "postgresql"])
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
        import psycopg

        assert PG_URL is not None
        name = f"hotline_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base, _, _ = PG_URL.rpartition("/")
        return f"{base}/{name}"

    def drop_all(self) -> None:
        if not self.created:
            return
        import psycopg

        assert PG_URL is not None
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def cluster(tmp_path: Path, database: DatabaseFactory) -> Iterator[Cluster]:
    """Two initialised, linked nodes (washington invites, beijing accepts), not yet started."""
    with Cluster(tmp_path, database.url_for) as cluster:
        yield cluster
