"""``hotline init`` and ``hotline user ...`` as users run them (the installed command,
a process each), on real node homes (SQLite and PostgreSQL) with production argon2
parameters; logins are checked through the service itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import text

from hotline.accounts import AccountService, ErrorCode, Role
from hotline.demo import free_port
from hotline.node.home import NodeHome
from hotline.storage.database import make_engine, make_sessionmaker
from tests.conftest import BACKENDS, DatabaseFactory
from tests.harness import hotline, module_database

ADMIN_PASSWORD = "first administrator passphrase"
PASSWORD = "correct horse battery staple"


def hl(*args: str | Path, input: str | None = None, columns: int = 100) -> tuple[int, str]:
    """The exit code, and standard output and error as one line (rich wraps long lines)."""
    ran = hotline(*args, input=input, columns=columns)
    return ran.code, ran.output


def init_args(home: Path, database_url: str | None) -> list[str]:
    args = ["init", "washington", "--home", str(home)]
    args += ["--peer-port", str(free_port()), "--local-port", str(free_port())]
    if database_url:
        args += ["--database-url", database_url]
    return args


def make_home(home: Path, database: DatabaseFactory) -> Path:
    code, output = hl(
        *init_args(home, database.url_for(home.parent)),
        "--admin",
        "chief",
        "--admin-password-stdin",
        input=ADMIN_PASSWORD + "\n",
    )
    assert code == 0, output
    assert "Console administrator: chief" in output
    assert ADMIN_PASSWORD not in output and "Generated password" not in output
    return home


@pytest.fixture(scope="module", params=BACKENDS)
def databases(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from module_database(request.param)


@pytest.fixture(scope="module")
def home(databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One node home for the module's tests, each with users of its own."""
    return make_home(tmp_path_factory.mktemp("users") / "w", databases)


@contextmanager
def accounts_of(home: Path) -> Iterator[AccountService]:
    engine = make_engine(NodeHome(home).load_config().database_url)
    try:
        yield AccountService(make_sessionmaker(engine))
    finally:
        engine.dispose()


def users(home: Path) -> dict[str, dict[str, object]]:
    ran = hotline("user", "list", "--json", "--home", home)
    assert ran.code == 0, str(ran)
    return {u["username"]: u for u in ran.json()}


def test_init_creates_the_first_administrator(home: Path) -> None:
    listed = users(home)
    assert listed["chief"]["role"] == "administrator" and listed["chief"]["disabled"] is False
    with accounts_of(home) as accounts:
        entry = accounts.audit_entries(1000)[-1]  # the oldest
        assert accounts.authenticate("chief", ADMIN_PASSWORD).ok
    assert (entry.action, entry.username, entry.target) == ("user.add", "system:init", "chief")


def test_add_list_disable_enable_password_and_totp(home: Path) -> None:
    h = ("--home", str(home))
    code, output = hl(
        "user",
        "add",
        "li.wei",
        "--role",
        "duty_officer",
        "--display-name",
        "李伟",
        "--language",
        "zh-Hans",
        "--timezone",
        "Asia/Shanghai",
        "--password-stdin",
        *h,
        input=PASSWORD + "\n",
    )
    assert code == 0, output
    assert "Added user li.wei (duty_officer)" in output and PASSWORD not in output
    # Without --password-stdin: asked twice, hidden.
    code, output = hl("user", "add", "Obs", "--role", "observer", *h, input=f"{PASSWORD}\n" * 2)
    assert code == 0, output
    assert "Added user obs (observer)" in output and PASSWORD not in output

    listed = users(home)
    assert {"chief", "li.wei", "obs"} <= set(listed)
    assert listed["li.wei"] | {"created_ms": 0, "password_changed_ms": 0} == {
        "username": "li.wei",
        "display_name": "李伟",
        "role": "duty_officer",
        "language": "zh-Hans",
        "timezone": "Asia/Shanghai",
        "disabled": False,
        "totp": False,
        "locked": False,
        "locked_until_ms": None,
        "failed_logins": 0,
        "created_ms": 0,
        "password_changed_ms": 0,
    }
    code, output = hl("user", "list", *h)
    assert code == 0
    assert "li.wei 李伟 duty_officer zh-Hans Asia/Shanghai no no no" in output
    with accounts_of(home) as accounts:
        assert accounts.authenticate("li.wei", PASSWORD).ok
        assert accounts.authenticate("obs", PASSWORD).ok
        token = accounts.create_session(accounts.get_user("li.wei").id).token

    code, output = hl("user", "disable", "li.wei", *h)
    assert code == 0 and "Disabled li.wei" in output
    assert users(home)["li.wei"]["disabled"] is True
    with accounts_of(home) as accounts:
        assert accounts.authenticate("li.wei", PASSWORD).refusal == ErrorCode.DISABLED
        assert accounts.lookup_session(token) is None
    code, output = hl("user", "enable", "li.wei", *h)
    assert code == 0 and "Enabled li.wei" in output
    assert users(home)["li.wei"]["disabled"] is False

    new_password = "a brand new passphrase"
    code, output = hl("user", "password", "li.wei", "--password-stdin", *h, input=new_password)
    assert code == 0 and "Password set for li.wei" in output and new_password not in output
    with accounts_of(home) as accounts:
        assert accounts.authenticate("li.wei", PASSWORD).refusal == ErrorCode.BAD_CREDENTIALS
        assert accounts.authenticate("li.wei", new_password).ok

    code, output = hl("user", "totp", "li.wei", "--enable", *h)
    assert code == 0, output
    uri = next(word for word in output.split() if word.startswith("otpauth://"))
    assert uri.startswith("otpauth://totp/Hotline%20washington:li.wei?")
    secret = output.split("Secret (to type in by hand): ")[1].split()[0]
    assert f"secret={secret}" in uri
    assert users(home)["li.wei"]["totp"] is True
    with accounts_of(home) as accounts:
        assert accounts.authenticate("li.wei", new_password).refusal == ErrorCode.TOTP_REQUIRED
        assert accounts.authenticate("li.wei", new_password, pyotp.TOTP(secret).now()).ok
    code, output = hl("user", "totp", "li.wei", "--disable", *h)
    assert code == 0 and "TOTP disabled for li.wei" in output
    assert users(home)["li.wei"]["totp"] is False

    # Each change is in the audit log, attributed to the command line.
    with accounts_of(home) as accounts:
        changes = [
            (e.action, e.target)
            for e in reversed(accounts.audit_entries(1000))
            if e.username is not None
            and e.username.startswith("cli:")
            and e.target in ("li.wei", "obs")
        ]
    assert changes == [
        ("user.add", "li.wei"),
        ("user.add", "obs"),
        ("user.disable", "li.wei"),
        ("user.enable", "li.wei"),
        ("user.password", "li.wei"),
        ("user.totp.enable", "li.wei"),
        ("user.totp.disable", "li.wei"),
    ]


def test_refusals_exit_non_zero_with_the_reason(home: Path) -> None:
    h = ("--home", str(home))
    add = ("user", "add", "zhang.san", "--role", "duty_officer", "--password-stdin", *h)
    assert hl(*add, input=PASSWORD + "\n")[0] == 0

    code, output = hl(*add, input=PASSWORD + "\n")
    assert code == 1 and "already taken (username_taken)" in output
    code, output = hl("user", "add", "bob", "--role", "boss", "--password-stdin", *h, input="x\n")
    assert code == 1 and "unknown role 'boss'" in output and "(unknown_role)" in output
    code, output = hl(
        "user", "add", "bob", "--role", "observer", "--password-stdin", *h, input="short\n"
    )
    assert code == 1 and "too short" in output and "(weak_password)" in output
    code, output = hl("user", "add", "bob", "--role", "observer", "--password-stdin", *h, input="")
    assert code == 1 and "no password on standard input" in output
    code, output = hl(
        "user", "add", "bob", "--role", "observer", "--timezone", "Mars/Base", *h, input=""
    )
    assert code == 1 and "(invalid_timezone)" in output
    code, output = hl("user", "add", "bob", "--role", "observer", "--language", "fr", *h, input="")
    assert code == 1 and "(invalid_language)" in output
    # Typed twice but too short, three times: refused without adding.
    code, output = hl("user", "add", "bob", "--role", "observer", *h, input="short\nshort\n" * 3)
    assert (
        code == 1
        and "no acceptable password" in output
        and "short" not in output.replace("too short", "")
    )
    code, output = hl("user", "password", "zhang.san", "--password-stdin", *h, input="zhang.san\n")
    assert code == 1 and "(weak_password)" in output
    for command in (
        ("user", "disable", "ghost"),
        ("user", "enable", "ghost"),
        ("user", "password", "ghost", "--password-stdin"),
        ("user", "totp", "ghost", "--enable"),
    ):
        code, output = hl(*command, *h, input=PASSWORD + "\n")
        assert code == 1 and "no user named 'ghost'" in output, command
        assert "(unknown_user)" in output, command
    code, output = hl("user", "totp", "zhang.san", *h)
    assert code == 2 and "--enable or --disable" in output
    code, output = hl("user", "disable", "chief", *h)
    assert code == 1 and "(last_administrator)" in output
    listed = users(home)
    assert listed["chief"]["disabled"] is False
    assert "bob" not in listed and "zhang.san" in listed
    code, output = hl("user", "list", "--home", str(home.parent / "nowhere"))
    assert code == 1 and "run 'hotline init' first" in output


def test_a_lockout_shows_in_the_list_and_enable_lifts_it(home: Path) -> None:
    h = ("--home", str(home))
    with accounts_of(home) as accounts:
        for _ in range(5):
            accounts.authenticate("chief", "not the password")
    listed = users(home)["chief"]
    assert listed["locked"] is True and listed["failed_logins"] == 5
    code, output = hl("user", "list", *h)
    assert code == 0 and "chief chief administrator en UTC no no until" in output
    assert hl("user", "enable", "chief", *h)[0] == 0
    assert users(home)["chief"]["locked"] is False
    with accounts_of(home) as accounts:
        assert accounts.authenticate("chief", ADMIN_PASSWORD).ok


def test_init_without_a_terminal_generates_a_password_and_shows_it_once(tmp_path: Path) -> None:
    """With the production argon2id parameters (64 MiB, 3 passes, 4 lanes)."""
    home = tmp_path / "w"
    ran = hotline(*init_args(home, None))
    assert ran.code == 0, str(ran)
    assert "not stored anywhere in clear" in ran.output
    password = ran.stdout.strip().splitlines()[-1].strip()
    assert len(password) >= 24
    assert (ran.stdout + ran.stderr).count(password) == 1
    with accounts_of(home) as accounts:
        assert accounts.authenticate("admin", password).ok
        assert accounts.get_user("admin").role is Role.ADMINISTRATOR
    engine = make_engine(NodeHome(home).load_config().database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT password_hash FROM users")).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    # Nothing in the node's directory holds it in clear (the database included).
    for path in home.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_init_refuses_a_bad_administrator_before_creating_anything(tmp_path: Path) -> None:
    home = tmp_path / "w"
    code, output = hl(*init_args(home, None), "--admin-password-stdin", input="short\n")
    assert code == 1 and "too short" in output
    assert not home.exists()
    code, output = hl(
        *init_args(home, None), "--admin", "Bad Name", "--admin-password-stdin", input=PASSWORD
    )
    assert code == 1 and "administrator account: username 'Bad Name' is invalid" in output
    assert not home.exists()
    code, output = hl(*init_args(home, None), "--admin-password-stdin", input="")
    assert code == 1 and "no password on standard input" in output
    assert not home.exists()


def test_update_changes_a_user_and_refuses_bad_changes(home: Path) -> None:
    h = ("--home", str(home))
    code, output = hl(
        "user", "add", "wang.fang", "--role", "observer", "--password-stdin", *h, input=PASSWORD
    )
    assert code == 0, output
    code, output = hl(
        "user", "update", "Wang.Fang", "--role", "supervisor", "--display-name", "Wang [bold]Fang",
        "--language", "zh-Hans", "--timezone", "Asia/Shanghai", *h,
    )  # fmt: skip
    assert code == 0, output
    # Shown as written: square brackets are not taken as markup.
    assert output == "Updated wang.fang: supervisor, Wang [bold]Fang, zh-Hans, Asia/Shanghai"
    listed = users(home)["wang.fang"]
    assert (listed["role"], listed["display_name"]) == ("supervisor", "Wang [bold]Fang")
    assert (listed["language"], listed["timezone"]) == ("zh-Hans", "Asia/Shanghai")
    code, output = hl("user", "list", *h, columns=200)
    assert "Wang [bold]Fang" in output
    code, output = hl("user", "update", "wang.fang", "--language", "en", *h)
    assert code == 0 and output.endswith("supervisor, Wang [bold]Fang, en, Asia/Shanghai")

    for args, reason in (
        ((), "nothing to change"),
        (("--role", "boss"), "(unknown_role)"),
        (("--timezone", "Mars/Base"), "(invalid_timezone)"),
        (("--language", "fr"), "(invalid_language)"),
        (("--display-name", "Wang \u202eFang"), "(invalid_display_name)"),
    ):
        code, output = hl("user", "update", "wang.fang", *args, *h)
        assert code == 1 and reason in output, (args, output)
    code, output = hl("user", "update", "ghost", "--role", "observer", *h)
    assert code == 1 and "(unknown_user)" in output
    assert users(home)["wang.fang"]["role"] == "supervisor"  # refusals changed nothing
    with accounts_of(home) as accounts:
        changes = [
            e.detail["changes"]
            for e in reversed(accounts.audit_entries(1000))
            if e.action == "user.update" and e.target == "wang.fang" and e.outcome == "ok"
        ]
    assert changes[0]["role"] == ["observer", "supervisor"]
    assert len(changes) == 2


def audit_json(home: Path, *args: str) -> list[dict[str, object]]:
    ran = hotline("audit", "--json", "--home", home, *args)
    assert ran.code == 0, str(ran)
    entries: list[dict[str, object]] = json.loads(ran.stdout)
    return entries


@pytest.fixture
def fresh_home(tmp_path: Path, database: DatabaseFactory) -> Path:
    """A node home of the test's own: its audit log holds only the test's entries."""
    return make_home(tmp_path / "w", database)


def test_audit_lists_and_filters_the_log(fresh_home: Path) -> None:
    home = fresh_home
    with accounts_of(home) as accounts:
        assert not accounts.authenticate("chief", "not the password", address="192.0.2.7").ok
        assert accounts.authenticate("chief", ADMIN_PASSWORD, address="192.0.2.7").ok
        accounts.audit("chief", "record.export", "defence", "ok", {"entries": 3}, "192.0.2.7")
    entries = audit_json(home)
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("record.export", "ok"),
        ("login", "ok"),
        ("login", "refused"),
        ("user.add", "ok"),
    ]
    assert entries[0] | {"id": 0, "at_ms": 0} == {
        "id": 0,
        "at_ms": 0,
        "username": "chief",
        "action": "record.export",
        "target": "defence",
        "outcome": "ok",
        "detail": {"entries": 3},
        "address": "192.0.2.7",
    }
    [refused] = audit_json(home, "--outcome", "refused")
    assert refused["username"] == "chief"
    assert isinstance(refused["detail"], dict)
    assert refused["detail"]["reason"] == "bad_credentials"
    assert len(audit_json(home, "--user", "CHIEF", "--action", "login")) == 2
    assert [e["username"] for e in audit_json(home, "--action", "user.")] == ["system:init"]
    assert len(audit_json(home, "--user", "system:init")) == 1
    assert audit_json(home, "--since", "2999-01-01") == []
    assert audit_json(home, "--until", "2000-01-01") == []
    assert len(audit_json(home, "--since", "2000-01-01T00:00+00:00", "--until", "2999-12-31")) == 4
    # A page at a time: --limit, then --before the last id seen.
    newest = audit_json(home, "--limit", "2")
    rest = audit_json(home, "--before", str(newest[-1]["id"]))
    assert [e["id"] for e in newest + rest] == [e["id"] for e in entries]

    # A wide terminal: no column folded.
    code, output = hl("audit", "--outcome", "refused", "--home", str(home), columns=200)
    assert code == 0, output
    assert "login" in output and "refused" in output and "bad_credentials" in output
    assert "record.export" not in output
    code, output = hl("audit", "--limit", "1", "--home", str(home), columns=200)
    assert code == 0 and f"--before {entries[0]['id']}" in output

    # An 80-column terminal: each entry on a line of its own, its detail under it,
    # no word folded across lines (the table folded every column there).
    ran = hotline("audit", "--outcome", "refused", "--home", home, columns=80)
    assert ran.code == 0, str(ran)
    [line, *detail] = ran.stdout.splitlines()
    assert line.startswith("#") and " login " in line and line.endswith(" refused")
    assert detail and all(row.startswith("    ") for row in detail)
    assert "bad_credentials" in " ".join(detail)
    assert all(len(row) <= 80 for row in ran.stdout.splitlines())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "since must be a date (YYYY-MM-DD)"),
        (["--since", "2026-02-30"], "since must be a date"),
        (["--until", "2026-13-01"], "until must be a date"),
        (["--since", "2026-03-02", "--until", "2026-03-01"], "ends before it begins"),
        (["--outcome", "maybe"], "outcome must be one of ok, refused"),
        (["--user", "x" * 200], "the user name is too long (at most 128 characters)"),
        (["--action", "x" * 65], "the action is too long (at most 64 characters)"),
        (["--limit", "0"], "--limit must be between 1 and 1000"),
        (["--limit", "5000"], "--limit must be between 1 and 1000"),
    ],
)
def test_audit_refuses_bad_filters(tmp_path: Path, args: list[str], message: str) -> None:
    """Checked before the node's database is opened (so no node is needed here)."""
    code, output = hl("audit", *args, "--home", str(tmp_path / "no-node"), columns=200)
    assert code == 1 and message in output, output
    assert "Traceback" not in output
