"""The command line starts without the node: ``import hotline.cli`` and ``hotline
--help`` load typer and the commands' light parts only; the node, the database
layer, the web server and the HTTP client are imported by the commands that use
them, and a command that reads loads no more of them than it reads with
(bench/cli.py times it; here only what is loaded is checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hotline.cli import local
from hotline.node import home
from tests.harness import LINK, Cluster, loaded_by

# What a command that does not need them must not load. (Not pydantic: typer 0.29
# converts arguments with it, so every command that parses arguments loads it.)
# http.client is the local client's, regex hotline.untrusted's: help loads neither.
HEAVY = (
    "http.client",
    "regex",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "cryptography",
    "nacl",
    "argon2",
    "hotline.node.service",
    "hotline.storage",
    "hotline.web",
)


def probe(args: tuple[str, ...], watched: tuple[str, ...]) -> tuple[int, list[str]]:
    """The exit status of ``hotline args`` run in a fresh interpreter, and which of the
    ``watched`` modules it loaded."""
    code = (
        "import json, sys\n"
        "sys.argv = ['hotline', *json.loads(sys.argv[1])]\n"
        "from hotline.cli import main\n"
        "status = 0\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    status = exc.code if isinstance(exc.code, int) else 1\n"
        "print(f'\\nexit status {status}')\n"
    )
    out, loaded = loaded_by(code, watched, json.dumps(args))
    return int(out.split()[-1]), loaded


def loaded_after(*args: str) -> list[str]:
    """The HEAVY modules loaded by ``hotline args`` run in a fresh interpreter."""
    return probe(args, HEAVY)[1]


def test_importing_the_command_line_loads_none_of_the_node() -> None:
    assert loaded_by("import hotline.cli", HEAVY)[1] == []


@pytest.mark.parametrize(
    "args", [["--help"], ["link", "--help"], ["user", "add", "--help"], ["frobnicate"]]
)
def test_help_and_usage_errors_load_none_of_the_node(args: list[str]) -> None:
    assert loaded_after(*args) == []


def test_the_probe_sees_a_command_load_the_node(tmp_path: Path) -> None:
    """A command that opens the node loads it: the probe that finds nothing above does
    see it (so an empty list there means something)."""
    loaded = loaded_after("send", LINK, "hello", "--home", str(tmp_path))
    assert "sqlalchemy" in loaded and "hotline.node.service" in loaded


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory of a node with a link (on SQLite, not serving)."""
    with Cluster(tmp_path_factory.mktemp("linked"), lambda _: None) as cluster:
        return cluster.washington.home.path


# Nothing that reads the database needs these: the web server and its HTTP client,
# Alembic (the schema is current), machine translation, cryptography's X.509 layer.
NOT_FOR_READING = (
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "alembic",
    "lingua",
    "hanzidentifier",
    "ctranslate2",
    "cryptography.x509",
)
# ...and these only the commands that use them: the node's façade and the desk (with
# delivery, the record, the language documents), the keys (nacl).
FACADE = ("hotline.node.service", "hotline.node.desk.desk")


@pytest.mark.parametrize(
    ("args", "unused"),
    [
        (("status",), (*FACADE, "nacl")),
        (("user", "list"), (*FACADE, "nacl")),
        (("link", "list"), FACADE),
        (("link", "paths", LINK), FACADE),
        (("policy", "show", LINK), FACADE),
        (("inbox",), ("hotline.node.desk.desk",)),
    ],
)
def test_a_command_that_reads_loads_only_what_it_reads_with(
    linked: Path, args: tuple[str, ...], unused: tuple[str, ...]
) -> None:
    status, loaded = probe((*args, "--home", str(linked)), (*NOT_FOR_READING, *unused))
    assert status == 0
    assert loaded == []


def test_the_local_client_names_the_node_s_files_as_the_node_does() -> None:
    assert (local.CONFIG_FILE, local.TOKEN_FILE) == (home.CONFIG_FILE, home.TOKEN_FILE)
