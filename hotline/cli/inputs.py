"""What commands read: files given on the command line, passwords, who is running."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

import typer

from ..errors import Refused
from .output import fail, note


def actor() -> str:
    """Who ran the command, for the audit log: 'cli:<operating-system user>'."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{path} is not a text file (UTF-8)")


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def json_file(path: Path) -> dict[str, object]:
    try:
        value = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        fail(f"{path} is not JSON: {exc}")
    if not isinstance(value, dict):
        fail(f"{path} must hold a JSON object")
    return value


def check_writable(path: Path) -> None:
    """Fail now, before any change, if ``path`` cannot be written later."""
    directory = path.parent
    if not directory.is_dir():
        fail(f"cannot write {path}: no directory {directory}")
    if path.is_dir() or not os.access(directory, os.W_OK):
        fail(f"cannot write {path}: permission denied or a directory")


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


def certificate_der(path: Path) -> bytes:
    from ..transport.tls import certificate_der as der_of

    try:
        return der_of(read_bytes(path))
    except ValueError:
        fail(f"{path} is not a PEM certificate")


def digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def new_password(username: str, *, from_stdin: bool, who: str = "user") -> str:
    """A password that meets the policy: the first line of standard input, or typed twice
    (hidden; up to three tries). Never echoed, never logged: standard input that is a
    terminal is read as a hidden prompt too. A refused one from standard input ends the
    command (the error boundary says why)."""
    from ..accounts.passwords import check_policy

    if from_stdin and not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            fail("no password on standard input")
        password = line.rstrip("\r\n")
        check_policy(password, username)
        return password
    for _ in range(3):
        password = str(
            typer.prompt(
                f"New password for {who} {username}", hide_input=True, confirmation_prompt=True
            )
        )
        try:
            check_policy(password, username)
            return password
        except Refused as exc:
            note(f"{exc.message}; try again")
    fail("no acceptable password given")
