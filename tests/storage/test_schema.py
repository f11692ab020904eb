"""The schema's newest migration: known without Alembic, and a database already there
is not handed to Alembic at all."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from hotline.storage.database import HEAD, MIGRATIONS, make_engine, revision, sqlite_url, upgrade
from tests.harness import loaded_by


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def test_head_is_alembics_newest_revision() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_an_empty_database_and_one_behind_are_brought_to_head(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "hotline.db"))
    try:
        assert revision(engine) is None
        upgrade(engine)
        assert revision(engine) == HEAD
        with engine.begin() as connection:  # a node of the version before
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0009")
        assert revision(engine) == "0009"
        upgrade(engine)
        assert revision(engine) == HEAD
        with engine.connect() as connection:
            connection.execute(text("SELECT seen_ms FROM calls"))
    finally:
        engine.dispose()


def test_a_database_at_head_is_opened_without_loading_alembic(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "hotline.db")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    code = (
        f"from hotline.storage.database import make_engine, upgrade\nupgrade(make_engine({url!r}))"
    )
    assert loaded_by(code, ["alembic"])[1] == []
