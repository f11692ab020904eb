"""SQLite's write-ahead log is checkpointed by a thread of the serving node, never
inside a commit (a commit that checkpoints writes and syncs megabytes)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, Table, insert, text

from hotline.storage.checkpoints import WalCheckpointer
from hotline.storage.database import make_engine, sqlite_url
from tests.harness import Cluster, send, wait_until

PAGE = 4096
ROWS = Table(
    "rows",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)


def _engine(tmp_path: Path, *, background: bool) -> Engine:
    engine = make_engine(sqlite_url(tmp_path / "db.sqlite"), background_checkpoints=background)
    ROWS.metadata.create_all(engine)
    return engine


def _write(engine: Engine, pages: int) -> None:
    """``pages`` commits of a page each: past SQLite's own threshold (1,000) if asked."""
    for _ in range(pages):
        with engine.begin() as connection:
            connection.execute(insert(ROWS).values(data=b"x" * PAGE))


def _wal_pages(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size // PAGE if wal.exists() else 0


def test_commits_checkpoint_only_without_the_background_thread(tmp_path: Path) -> None:
    (tmp_path / "own").mkdir()
    own = _engine(tmp_path / "own", background=False)
    with own.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    _write(own, 1_200)
    assert _wal_pages(tmp_path / "own" / "db.sqlite") < 1_300  # started over after 1,000
    own.dispose()

    (tmp_path / "bg").mkdir()
    engine = _engine(tmp_path / "bg", background=True)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    _write(engine, 1_200)
    db = tmp_path / "bg" / "db.sqlite"
    grown = _wal_pages(db)
    assert grown > 2_000  # two pages a commit (table and index), none copied back
    durations: list[float] = []
    checkpointer = WalCheckpointer(engine, observe=durations.append)
    logged, copied = checkpointer.checkpoint()
    assert logged == copied > 2_000 and len(durations) == 1
    _write(engine, 10)
    assert _wal_pages(db) == grown  # the next commits write the log from the top again
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM rows")).scalar()
    assert count == 1_210
    engine.dispose()


def test_the_thread_checkpoints_after_commits_and_rests_when_idle(tmp_path: Path) -> None:
    engine = _engine(tmp_path, background=True)
    durations: list[float] = []
    checkpointer = WalCheckpointer(engine, interval=0.02, observe=durations.append)
    checkpointer.start()
    try:
        _write(engine, 50)
        wait_until(lambda: len(durations) > 0, timeout=5, what="a checkpoint after commits")
        # A round may have been under way when the writes ended: two more settle it.
        settled = checkpointer.rounds + 2
        wait_until(lambda: checkpointer.rounds >= settled, what="two more rounds")
        after_writes, idle_from = len(durations), checkpointer.rounds
        wait_until(lambda: checkpointer.rounds >= idle_from + 10, what="ten idle rounds")
        assert len(durations) == after_writes  # nothing committed: nothing to copy
        _write(engine, 1)
        wait_until(lambda: len(durations) > after_writes, timeout=5, what="the next checkpoint")
    finally:
        checkpointer.stop()
    logged, copied = checkpointer.checkpoint()
    assert logged == copied  # everything was copied back
    engine.dispose()


def test_a_serving_node_checkpoints_in_the_background(tmp_path: Path) -> None:
    with Cluster(tmp_path, lambda _path: None) as cluster:
        cluster.start()
        with cluster.washington.client() as w:
            send(w, "Checkpointed off the commit path.")

            def checkpoints() -> float:
                for line in w.get("/metrics").text.splitlines():
                    if line.startswith("hotline_sqlite_checkpoint_seconds_count"):
                        return float(line.split()[-1])
                return 0.0

            wait_until(lambda: checkpoints() > 0, timeout=10, what="a background checkpoint")
        node = cluster.washington.node()
        try:
            with node.engine.connect() as connection:
                # A connection of another process (the CLI here) keeps SQLite's default.
                assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        finally:
            node.close()
