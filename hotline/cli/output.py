"""What the command line prints, and how.

Everything it prints that came from outside (a message, a party's or a link's name, a
purpose, a policy label, an alert, an audit detail, a file read) goes through
:func:`say`, :func:`cell`, :func:`print_json` or :func:`fail`: shown by
:func:`hotline.untrusted.inert` and never read as rich markup, so the other party
cannot drive the operator's terminal.

rich, and the ``regex`` tables of :mod:`hotline.untrusted`, are imported when something
is printed, not when the command line starts: a command's ``--help`` and its usage
errors do not pay for them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

# What each exit status means. fail() is called with these codes only (a test
# checks), typer exits 2 on a usage error, and the README lists them all.
EXIT_OK = 0
EXIT_ERROR = 1  # refused, not found, unreadable, or interrupted ("Aborted.")
EXIT_USAGE = 2  # a command or option misused
EXIT_NOT_CONFIRMED = 3  # a fingerprint does not match, or was not confirmed
EXIT_BUNDLE_INVALID = 4  # a bundle does not verify (or is not a bundle)
EXIT_RECORDS_DISAGREE = 5  # two bundles verify but do not hold the same entries


def inert(text: str, *, multiline: bool = False) -> str:
    """:func:`hotline.untrusted.inert`, imported on first use."""
    from ..untrusted import inert as inert_text

    return inert_text(text, multiline=multiline)


@cache
def out() -> Console:
    """Standard output. No emoji codes (":warning:") and no highlighting: text is
    shown as written."""
    from rich.console import Console

    return Console(highlight=False, emoji=False)


@cache
def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False)


def shown(value: object) -> str:
    """``value`` as one line of inert text (:func:`hotline.untrusted.inert`), escaped
    for use inside rich markup."""
    from rich.markup import escape

    return escape(inert(str(value)))


def say(template: str, /, **values: object) -> None:
    """Print ``template``, markup written here, with ``values`` filled in as
    :func:`shown` text: ``say("Link [bold]{name}[/] is up", name=link.name)``.

    Lines are not broken by the program (the terminal wraps them): a path or a
    fingerprint stays whole, to copy or to read aloud."""
    text = template.format_map({key: shown(value) for key, value in values.items()})
    out().print(text, soft_wrap=True)


def plain(text: str) -> None:
    """Print ``text`` as it is (a password, a secret), indented, never read as markup."""
    out().print(f"  {text}", markup=False, highlight=False, soft_wrap=True)


def note(text: str) -> None:
    """A line on standard error, never read as markup."""
    err().print(text, markup=False)


def cell(value: object, *, multiline: bool = False, style: str = "") -> Text:
    """A table cell holding ``value`` as inert text (a Text is never read as markup)."""
    from rich.text import Text

    return Text(inert(str(value), multiline=multiline), style=style)


def cells(*values: object) -> list[Text]:
    return [cell(value) for value in values]


def table(*headers: str, **options: Any) -> Table:
    from rich.table import Table

    return Table(*headers, **options)


def print_table(rows: Table) -> None:
    out().print(rows)


def print_json(value: object) -> None:
    """``value`` as indented JSON whose strings are inert on a terminal (the same value
    to a JSON reader: hazardous characters are ``\\u`` escapes)."""
    from rich.highlighter import JSONHighlighter
    from rich.text import Text

    from ..untrusted import inert_json

    out().print(JSONHighlighter()(Text(inert_json(value))), soft_wrap=True)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``message`` as the command's error and exit with ``code``."""
    err().print(f"[bold red]error:[/] {shown(message)}", soft_wrap=True)
    raise typer.Exit(code)


def when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def clock_time(ms: int | None) -> str:
    return "—" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%SZ")


class InertFormatter(logging.Formatter):
    """Log lines as inert text: a logged value that came from a peer can neither
    drive the terminal nor start a line of its own (a traceback keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return inert(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return inert(super().formatException(ei), multiline=True)

    def formatStack(self, stack_info: str) -> str:
        return inert(super().formatStack(stack_info), multiline=True)


def log_to_stderr(line_format: str, level: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(InertFormatter(line_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)
