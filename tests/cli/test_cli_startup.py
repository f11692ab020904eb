"""The command line starts without the node: ``import hotline.cli`` and ``hotline
--help`` load typer and the commands' light parts only; the node, the database
layer, the web server and the HTTP client are imported by the commands that use
them (bench/cli.py times it; here only what is loaded is checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hotline.cli import local
from hotline.node import home

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


def loaded_after(*args: str) -> list[str]:
    """The HEAVY modules loaded by ``hotline args`` run in a fresh interpreter."""
    code = (
        "import json, sys\n"
        "args = json.loads(sys.argv[1])\n"
        "sys.argv = ['hotline', *args]\n"
        "from hotline.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, timeout=120
    )
    return list(json.loads(ran.stderr.strip().splitlines()[-1]))


def test_importing_the_command_line_loads_none_of_the_node() -> None:
    code = f"import sys, hotline.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "args", [["--help"], ["link", "--help"], ["user", "add", "--help"], ["frobnicate"]]
)
def test_help_and_usage_errors_load_none_of_the_node(args: list[str]) -> None:
    assert loaded_after(*args) == []


def test_the_probe_sees_a_command_load_the_node(tmp_path: Path) -> None:
    """A command that opens the node loads it: the probe that finds nothing above does
    see it (so an empty list there means something)."""
    loaded = loaded_after("link", "list", "--home", str(tmp_path))
    assert "sqlalchemy" in loaded and "hotline.node.service" in loaded


def test_the_local_client_names_the_node_s_files_as_the_node_does() -> None:
    assert (local.CONFIG_FILE, local.TOKEN_FILE) == (home.CONFIG_FILE, home.TOKEN_FILE)
