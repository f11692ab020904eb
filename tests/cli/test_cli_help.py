"""Every command and sub-command has help, found from the Typer app itself (a new
command cannot be missed); the exit codes are the ones the README documents."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from hotline import cli
from tests.harness import hotline

ROOT = Path(__file__).resolve().parents[2]


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every command and group under ``command``, groups included."""
    paths = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += command_paths(sub, (*prefix, name))
    return paths


COMMANDS = command_paths(typer.main.get_command(cli.app))


def test_the_enumeration_finds_groups_and_their_commands() -> None:
    assert ("link", "tests") in COMMANDS and ("user", "update") in COMMANDS
    assert ("fingerprint",) in COMMANDS and ("policy",) in COMMANDS
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "hotline")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    ran = hotline(*path, "--help", columns=120)
    assert ran.code == 0, str(ran)
    assert "Usage: hotline" in ran.output and " ".join(path) in ran.output
    assert ran.stderr == ""


def documented_exit_codes() -> dict[int, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", section, flags=re.MULTILINE)
    return {int(code): meaning.strip() for code, meaning in rows}


def test_the_readme_documents_every_exit_code_and_fail_uses_only_those() -> None:
    """Each fail(message, code) names one of the EXIT_* constants, and the README's
    table lists exactly their values (2 is also typer's own, for usage errors)."""
    sources = [ast.parse(path.read_text()) for path in (ROOT / "hotline" / "cli").glob("*.py")]
    constants = {
        node.targets[0].id: node.value.value
        for source in sources
        for node in source.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.startswith("EXIT_")
        and isinstance(node.value, ast.Constant)
    }
    # The boundary's report() passes on the code an about(code=...) gave: checked there.
    calls = [
        call
        for source in sources
        for function in ast.walk(source)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        and function.name != "report"
        for call in ast.walk(function)
        if isinstance(call, ast.Call)
    ]
    for call in calls:
        name = getattr(call.func, "id", None)
        if name in ("fail", "about"):  # fail(message, code); about(..., code=code)
            given = call.args[1:] if name == "fail" else []
            codes = given + [k.value for k in call.keywords if k.arg == "code"]
            for code in codes:
                assert isinstance(code, ast.Name) and code.id in constants, ast.unparse(call)
    assert any(getattr(call.func, "id", None) == "fail" for call in calls)
    assert set(documented_exit_codes()) == set(constants.values()) == {0, 1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        ((), 2, "Usage: hotline"),
        (("link",), 2, "Usage: hotline link"),
        (("frobnicate",), 2, "No such command"),
        (("send",), 2, "Missing argument"),
        (("stats", "defence", "--limit", "3"), 2, "No such option"),
        (("init", "x", "--local-port", "-1"), 2, "--local-port"),
        (("policy", "accept", "defence", "one"), 2, "Invalid value for 'version'"),
        (("status", "--home", "/nonexistent/node"), 1, "run 'hotline init' first"),
    ],
)
def test_usage_errors_exit_2_and_refusals_1(
    args: tuple[str, ...], code: int, says: str, tmp_path: Path
) -> None:
    ran = hotline(*args, columns=200, cwd=tmp_path)  # (no node is made in the checkout)
    assert ran.code == code, str(ran)
    assert says in ran.output
    assert "Traceback" not in ran.output


def test_log_lines_are_inert_too() -> None:
    """A logged value can come from a peer (a link id, a refusal's detail): the CLI's
    log lines show control and bidi characters as code points, on one line."""
    import logging

    formatter = cli.InertFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord(
        "hotline.peer", logging.WARNING, __file__, 1, "refused %s", ("\x1b]0;x\x07\n\u202e",), None
    )
    assert formatter.format(record) == "WARNING refused <U+001B>]0;x<U+0007><U+000A><U+202E>"
    try:
        raise ValueError("\x1b[2J")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    lines = formatter.format(record).splitlines()
    assert lines[0].startswith("WARNING refused") and len(lines) > 2  # the traceback's lines
    assert lines[-1] == "ValueError: <U+001B>[2J"
