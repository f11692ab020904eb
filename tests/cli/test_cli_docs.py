"""docs/cli.md and the program agree (as Datasette keeps its documentation): every
command and group of the Typer app has a row there, every row names a command that
exists, and each row says what it does in English and in Chinese."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from hotline import cli

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "cli.md"
ROW = re.compile(r"^\| `hotline ([a-z][a-z -]*)` \| ([^|]+) \| ([^|]+) \|$", re.MULTILINE)
HAN = re.compile(r"[\u4e00-\u9fff]")


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> set[str]:
    """Every command and group under ``command``, as typed after ``hotline``."""
    paths = set()
    for name, sub in getattr(command, "commands", {}).items():
        path = (*prefix, name)
        paths.add(" ".join(path))
        paths |= command_paths(sub, path)
    return paths


def documented() -> dict[str, tuple[str, str]]:
    rows = ROW.findall(DOCUMENT.read_text())
    table = {path.strip(): (english.strip(), chinese.strip()) for path, english, chinese in rows}
    assert len(table) == len(rows), "a command is listed twice"
    return table


IN_CODE = command_paths(typer.main.get_command(cli.app))


def test_the_walk_finds_commands_groups_and_sub_commands() -> None:
    assert {"status", "link", "link confirm-test", "user update", "relay list"} <= IN_CODE
    assert len(IN_CODE) > 40


def test_every_command_in_the_code_is_documented() -> None:
    assert sorted(IN_CODE - set(documented())) == []


def test_every_documented_command_exists() -> None:
    assert sorted(set(documented()) - IN_CODE) == []


def test_every_row_says_what_it_does_in_english_and_chinese() -> None:
    for path, (english, chinese) in documented().items():
        assert re.search(r"[A-Za-z]{3}", english) and not HAN.search(english), path
        assert HAN.search(chinese), path


def test_the_readme_links_the_reference() -> None:
    assert "(docs/cli.md)" in (ROOT / "README.md").read_text()


# A command is run as users run it when a test calls the installed ``hotline`` with its
# words in order (harness.hotline / hotline_ok / the users tests' hl), or when the
# README's set-up, which a test follows line by line, runs it.
TESTS = ROOT / "tests"


def test_every_command_is_run_by_a_test_as_users_run_it() -> None:
    calls = "\n".join(
        path.read_text() for path in TESTS.rglob("*.py") if path.name != Path(__file__).name
    )
    calls += (ROOT / "README.md").read_text()
    leaves = {c for c in IN_CODE if not any(other.startswith(c + " ") for other in IN_CODE)}
    assert len(leaves) > 40

    def run_somewhere(command: str) -> bool:
        words = command.split()
        as_arguments = r"\(\s*" + r",\s*".join(re.escape(f'"{w}"') for w in words) + r"\s*[,)]"
        as_typed = r"\bhotline " + re.escape(command) + r"\b"
        return bool(re.search(as_arguments, calls) or re.search(as_typed, calls))

    assert sorted(c for c in leaves if not run_somewhere(c)) == []
