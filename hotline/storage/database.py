"""Engine factory and schema migration.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``: a commit
is on disk before it returns. A serving node checkpoints the log from a thread of
its own (:mod:`hotline.storage.checkpoints`), not inside commits. Write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the lock
instead of failing on upgrade. PostgreSQL is used by URL; row locks
(``SELECT ... FOR UPDATE``) serialise writers per link there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

# Every mapped class, so that configuring the mappers configures them all.
from . import account_models, fast_path, people_models, policy_models  # noqa: F401

MIGRATIONS = Path(__file__).parent / "migrations"


READ_ONLY = "hotline_read_only"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def make_engine(url: str, *, background_checkpoints: bool = False) -> Engine:
    """``background_checkpoints``: on SQLite, commits never checkpoint the log; the
    caller runs a :class:`~hotline.storage.checkpoints.WalCheckpointer`."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=8
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN IMMEDIATE and SAVEPOINT work.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if background_checkpoints:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            # Writers take the write lock up front (no lock upgrades, no busy retries);
            # readers take a WAL snapshot and never wait for a writer.
            read_only = connection.get_execution_options().get(READ_ONLY)
            fast_path.execute(connection, "BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for writing, or (``read_only``) for reading: on SQLite a reader's
    transaction does not take the write lock.

    The mappers are configured here, before any session exists: code that builds
    mapped objects without a query (``fast_path.outside_session``) reads their
    attributes through instrumentation that only configuration sets up, and in a
    fresh process nothing else may have configured it yet."""
    configure_mappers()
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)


# The newest migration's revision. A database already there is left alone without
# loading Alembic, which costs a command or a starting node more than its own work
# (tests/storage/test_schema.py checks that this is Alembic's head).
HEAD = "0010"


def revision(engine: Engine) -> str | None:
    """The migration a database is at; None for an empty one."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration. (Alembic is imported here, and only
    for a database behind it.)"""
    if revision(engine) == HEAD:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
