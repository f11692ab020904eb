"""The accounts service on real databases (SQLite and PostgreSQL), real argon2id and
real TOTP codes; only the clock is ours, so that timeouts can be crossed exactly."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, Table, inspect, text

from hotline.accounts import (
    ROLE_PERMISSIONS,
    AccountError,
    AccountPolicy,
    AccountService,
    ErrorCode,
    Permission,
    Role,
    UserInfo,
    allowed,
    make_hasher,
    require,
)
from hotline.accounts.passwords import check_policy, hash_password, verify_password
from hotline.storage.database import MIGRATIONS, make_engine, make_sessionmaker, sqlite_url, upgrade
from hotline.storage.models import Base
from tests.conftest import DatabaseFactory

PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "a different passphrase entirely"
FAST = make_hasher(time_cost=1, memory_cost=8, parallelism=1)
START_MS = 1_800_000_000_000  # a step boundary for TOTP (divisible by 30 000)
MINUTE = 60_000
ACCOUNT_TABLES = {"users", "web_sessions", "audit_log"}


class Clock:
    def __init__(self, now: int = START_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@pytest.fixture
def url(tmp_path: Path, database: DatabaseFactory) -> str:
    return database.url_for(tmp_path) or sqlite_url(tmp_path / "accounts.db")


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(engine: Engine, clock: Clock) -> AccountService:
    return AccountService(
        make_sessionmaker(engine),
        readers=make_sessionmaker(engine, read_only=True),
        clock=clock,
        hasher=FAST,
        party="washington",
    )


def add(accounts: AccountService, name: str = "alice", role: Role = Role.DUTY_OFFICER) -> UserInfo:
    return accounts.add_user(name, PASSWORD, role=role, actor="admin", address="10.0.0.9")


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql), params))


def code_at(secret: str, ms: int) -> str:
    return pyotp.TOTP(secret).at(ms // 1000)


def refusal_of(accounts: AccountService, *args: Any, **kwargs: Any) -> ErrorCode | None:
    return accounts.authenticate(*args, **kwargs).refusal


# Schema ---------------------------------------------------------------------------


def test_migration_creates_exactly_the_account_models(engine: Engine) -> None:
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diffs if _table_of(d) in ACCOUNT_TABLES]
    assert ours == []
    assert set(inspect(engine).get_table_names()) >= ACCOUNT_TABLES
    [(version,)] = rows(engine, "SELECT version_num FROM alembic_version")
    assert version >= "0002"


def test_migration_downgrades_and_upgrades_again(engine: Engine, url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert not ACCOUNT_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= ACCOUNT_TABLES


def _table_of(diff: Any) -> str | None:
    """The table an Alembic autogenerate difference is about."""
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        if isinstance(part, Table):
            return str(part.name)
        table = getattr(part, "table", None)
        if isinstance(table, Table):
            return str(table.name)
    # Column-level operations: (op, schema, table name, column name, ...)
    return next((part for part in item[1:] if isinstance(part, str)), None)


# Users -------------------------------------------------------------------------


def test_add_get_and_list_users(accounts: AccountService, engine: Engine, clock: Clock) -> None:
    alice = accounts.add_user(
        "  Alice ",
        PASSWORD,
        role="principal",
        display_name="Alice  Jones",
        language="en",
        timezone="Europe/London",
        actor="admin",
    )
    clock.advance(5)
    wei = accounts.add_user(
        "li.wei",
        PASSWORD,
        role=Role.TRANSLATOR,
        display_name="李伟",
        language="zh-Hans",
        timezone="Asia/Shanghai",
    )
    assert alice.username == "alice" and alice.display_name == "Alice Jones"
    assert alice.role is Role.PRINCIPAL and alice.timezone == "Europe/London"
    assert alice.created_ms == alice.password_changed_ms == START_MS
    assert not alice.disabled and not alice.totp_enabled and not alice.locked
    assert wei.display_name == "李伟" and wei.language == "zh-Hans"
    assert [u.username for u in accounts.list_users()] == ["alice", "li.wei"]
    assert accounts.get_user("ALICE") == alice
    with pytest.raises(AccountError) as caught:
        accounts.get_user("nobody")
    assert caught.value.code == ErrorCode.UNKNOWN_USER
    # Only an argon2id hash is stored; the password itself appears nowhere.
    [(stored,)] = rows(engine, "SELECT password_hash FROM users WHERE username = 'alice'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert verify_password(FAST, stored, PASSWORD)
    assert accounts.get_user("li.wei").display_name == "李伟"


REFUSED_ADDITIONS: list[tuple[dict[str, str], ErrorCode]] = [
    ({"username": "alice"}, ErrorCode.USERNAME_TAKEN),
    ({"username": "ALICE"}, ErrorCode.USERNAME_TAKEN),
    ({"password": "short"}, ErrorCode.WEAK_PASSWORD),
    ({"username": "bob.smith-12", "password": "Bob.Smith-12"}, ErrorCode.WEAK_PASSWORD),
    ({"password": "x" * 1025}, ErrorCode.WEAK_PASSWORD),
    ({"role": "boss"}, ErrorCode.UNKNOWN_ROLE),
    ({"language": "fr"}, ErrorCode.INVALID_LANGUAGE),
    ({"timezone": "Mars/Olympus_Mons"}, ErrorCode.INVALID_TIMEZONE),
    ({"timezone": "../../etc/passwd"}, ErrorCode.INVALID_TIMEZONE),
    ({"username": "bad name"}, ErrorCode.INVALID_USERNAME),
    ({"username": ""}, ErrorCode.INVALID_USERNAME),
    ({"display_name": "\u202eevil"}, ErrorCode.INVALID_DISPLAY_NAME),
]


def test_add_user_refusals_are_specific_and_audited(accounts: AccountService) -> None:
    add(accounts)
    for kwargs, code in REFUSED_ADDITIONS:
        arguments: dict[str, Any] = {
            "username": "bob",
            "password": PASSWORD,
            "role": "observer",
            **kwargs,
        }
        username, password = arguments.pop("username"), arguments.pop("password")
        with pytest.raises(AccountError) as caught:
            accounts.add_user(username, password, actor="admin", address="10.0.0.9", **arguments)
        assert caught.value.code == code, kwargs
        assert caught.value.message  # an operator-facing sentence
        last = accounts.audit_entries(limit=1)[0]
        assert (last.action, last.outcome, last.username) == ("user.add", "refused", "admin")
        assert last.detail == {"code": code.value}
        assert last.address == "10.0.0.9"
    assert [u.username for u in accounts.list_users()] == ["alice"]
    assert len(accounts.audit_entries()) == 1 + len(REFUSED_ADDITIONS)


def test_password_policy_normalises_and_checks() -> None:
    check_policy("ｆｕｌｌｗｉｄｔｈ ｐａｓｓ", "bob")  # NFKC: 14 ordinary characters
    with pytest.raises(AccountError, match="at least 12"):
        check_policy("eleven char", "bob")
    with pytest.raises(AccountError, match="must not be the username"):
        check_policy("Administrator", "administrator")
    # A password typed in full-width form matches the same password in ASCII.
    stored = hash_password(FAST, "ｐａｓｓｐｈｒａｓｅ１２３")
    assert verify_password(FAST, stored, "passphrase123")
    assert not verify_password(FAST, stored, "passphrase124")
    assert not verify_password(FAST, "not a hash", "passphrase123")


def test_check_new_user_refuses_what_add_user_would_and_records_nothing(
    accounts: AccountService,
) -> None:
    add(accounts)
    before = accounts.audit_entries()
    assert accounts.check_new_user(" Bob ", role="observer", timezone="Asia/Shanghai") == "bob"
    for kwargs, code in (
        ({"username": "alice", "role": "observer"}, ErrorCode.USERNAME_TAKEN),
        ({"username": "bob", "role": "boss"}, ErrorCode.UNKNOWN_ROLE),
        ({"username": "bob", "role": "observer", "language": "de"}, ErrorCode.INVALID_LANGUAGE),
    ):
        with pytest.raises(AccountError) as caught:
            accounts.check_new_user(**kwargs)
        assert caught.value.code == code
    assert accounts.audit_entries() == before


def test_update_user_changes_only_what_is_given(accounts: AccountService) -> None:
    add(accounts)
    user = accounts.update_user("alice", language="zh-Hans", timezone="Asia/Shanghai", actor="a")
    assert (user.language, user.timezone, user.role) == (
        "zh-Hans",
        "Asia/Shanghai",
        Role.DUTY_OFFICER,
    )
    with pytest.raises(AccountError) as caught:
        accounts.update_user("alice", timezone="Nowhere/City")
    assert caught.value.code == ErrorCode.INVALID_TIMEZONE
    assert accounts.get_user("alice").timezone == "Asia/Shanghai"
    entry = accounts.audit_entries(limit=2)[1]
    assert entry.action == "user.update" and entry.outcome == "ok"
    assert entry.detail == {
        "changes": {"language": ["en", "zh-Hans"], "timezone": ["UTC", "Asia/Shanghai"]}
    }


def test_the_last_enabled_administrator_cannot_be_disabled_or_demoted(
    accounts: AccountService,
) -> None:
    add(accounts, "root", Role.ADMINISTRATOR)
    for attempt in (
        lambda: accounts.disable_user("root"),
        lambda: accounts.update_user("root", role=Role.OBSERVER),
    ):
        with pytest.raises(AccountError) as caught:
            attempt()
        assert caught.value.code == ErrorCode.LAST_ADMINISTRATOR
    add(accounts, "second", Role.ADMINISTRATOR)
    assert accounts.disable_user("root").disabled
    with pytest.raises(AccountError):
        accounts.disable_user("second")
    accounts.enable_user("root")
    assert accounts.update_user("second", role="supervisor").role is Role.SUPERVISOR


# Logins ------------------------------------------------------------------------


def test_login_succeeds_and_each_refusal_has_its_reason(
    accounts: AccountService, clock: Clock
) -> None:
    add(accounts)
    result = accounts.authenticate("Alice", PASSWORD, None, "10.1.1.1", "Firefox/128")
    assert result.ok and result.refusal is None
    assert result.user is not None and result.user.username == "alice"
    assert refusal_of(accounts, "alice", "wrong password here") == ErrorCode.BAD_CREDENTIALS
    assert refusal_of(accounts, "alice", "") == ErrorCode.BAD_CREDENTIALS
    assert refusal_of(accounts, "mallory", PASSWORD) == ErrorCode.UNKNOWN_USER
    assert refusal_of(accounts, "x\x00" * 5000, PASSWORD) == ErrorCode.UNKNOWN_USER
    assert refusal_of(accounts, "alice", "y" * 100_000) == ErrorCode.BAD_CREDENTIALS

    assert accounts.get_user("alice").failed_logins == 3


def test_login_audit_rows_name_each_reason(accounts: AccountService) -> None:
    add(accounts)
    accounts.authenticate("alice", PASSWORD, address="10.1.1.1", user_agent="UA")
    accounts.authenticate("alice", "wrong password here", address="10.1.1.2")
    accounts.authenticate("mallory", PASSWORD, address="10.1.1.3")
    accounts.authenticate("x\x00" * 5000, PASSWORD, address="10.1.1.4")
    newest_first = accounts.audit_entries(limit=4)
    assert [
        (e.action, e.username, e.outcome, e.detail.get("reason"), e.address) for e in newest_first
    ] == [
        ("login", "x\ufffd" * 64, "refused", "unknown_user", "10.1.1.4"),
        ("login", "mallory", "refused", "unknown_user", "10.1.1.3"),
        ("login", "alice", "refused", "bad_credentials", "10.1.1.2"),
        ("login", "alice", "ok", None, "10.1.1.1"),
    ]
    assert newest_first[2].detail["failures"] == 1
    assert newest_first[3].detail == {"user_agent": "UA", "totp": False}


def test_five_failures_lock_for_fifteen_minutes_then_unlock(
    accounts: AccountService, clock: Clock
) -> None:
    add(accounts)
    for attempt in range(1, 5):
        assert (
            refusal_of(accounts, "alice", f"wrong password {attempt}") == ErrorCode.BAD_CREDENTIALS
        )
        assert accounts.get_user("alice").failed_logins == attempt
        assert not accounts.get_user("alice").locked
    assert refusal_of(accounts, "alice", "wrong password 5") == ErrorCode.BAD_CREDENTIALS
    user = accounts.get_user("alice")
    assert user.locked and user.locked_until_ms == START_MS + 15 * MINUTE
    assert accounts.audit_entries(limit=1)[0].detail["locked_until_ms"] == START_MS + 15 * MINUTE
    # While locked even the right password is refused, and attempts do not extend the lock.
    clock.advance(14 * MINUTE)
    assert refusal_of(accounts, "alice", PASSWORD) == ErrorCode.LOCKED
    assert refusal_of(accounts, "alice", "still guessing") == ErrorCode.LOCKED
    assert accounts.get_user("alice").locked_until_ms == START_MS + 15 * MINUTE
    clock.advance(MINUTE)
    assert not accounts.get_user("alice").locked
    assert accounts.authenticate("alice", PASSWORD).ok
    assert accounts.get_user("alice").failed_logins == 0


def test_failures_must_be_consecutive_and_a_new_window_starts_afresh(
    accounts: AccountService, clock: Clock
) -> None:
    add(accounts)
    for _ in range(4):
        accounts.authenticate("alice", "wrong password!")
    assert accounts.authenticate("alice", PASSWORD).ok  # resets the count
    for _ in range(4):
        accounts.authenticate("alice", "wrong password!")
    assert not accounts.get_user("alice").locked
    accounts.authenticate("alice", "wrong password!")
    assert accounts.get_user("alice").locked
    clock.advance(15 * MINUTE)
    # After the window one failure does not re-lock: the count started again.
    assert refusal_of(accounts, "alice", "wrong password!") == ErrorCode.BAD_CREDENTIALS
    assert accounts.get_user("alice").failed_logins == 1 and not accounts.get_user("alice").locked


def test_enable_user_lifts_a_lockout_and_a_disabled_user_cannot_log_in(
    accounts: AccountService,
) -> None:
    add(accounts)
    add(accounts, "root", Role.ADMINISTRATOR)
    for _ in range(5):
        accounts.authenticate("alice", "wrong password!")
    assert accounts.get_user("alice").locked
    accounts.enable_user("alice", actor="root")
    assert accounts.authenticate("alice", PASSWORD).ok
    accounts.disable_user("alice", actor="root")
    assert refusal_of(accounts, "alice", PASSWORD) == ErrorCode.DISABLED
    assert refusal_of(accounts, "alice", "wrong password!") == ErrorCode.BAD_CREDENTIALS
    accounts.enable_user("alice", actor="root")
    assert accounts.authenticate("alice", PASSWORD).ok


def test_totp_is_required_and_a_code_is_never_accepted_twice(
    accounts: AccountService, clock: Clock, engine: Engine
) -> None:
    add(accounts)
    enrolment = accounts.enable_totp("alice", actor="admin")
    assert enrolment.uri.startswith("otpauth://totp/Hotline%20washington:alice?")
    assert (
        f"secret={enrolment.secret}" in enrolment.uri
        and "issuer=Hotline%20washington" in enrolment.uri
    )
    assert accounts.get_user("alice").totp_enabled
    secret = enrolment.secret

    assert refusal_of(accounts, "alice", PASSWORD) == ErrorCode.TOTP_REQUIRED
    assert refusal_of(accounts, "alice", PASSWORD, "  ") == ErrorCode.TOTP_REQUIRED
    assert accounts.get_user("alice").failed_logins == 0  # a missing code is not a guess
    wrong = f"{(int(code_at(secret, clock.now)) + 1) % 1_000_000:06d}"
    assert refusal_of(accounts, "alice", PASSWORD, wrong) == ErrorCode.TOTP_INVALID
    assert refusal_of(accounts, "alice", PASSWORD, "12345") == ErrorCode.TOTP_INVALID
    assert refusal_of(accounts, "alice", "wrong password!", code_at(secret, clock.now)) == (
        ErrorCode.BAD_CREDENTIALS
    )
    assert accounts.get_user("alice").failed_logins == 3

    code = code_at(secret, clock.now)
    spaced = f"{code[:3]} {code[3:]}"
    assert accounts.authenticate("alice", PASSWORD, spaced).ok
    assert accounts.get_user("alice").failed_logins == 0
    # The same code again, even within its 30 seconds: refused as reused.
    clock.advance(10_000)
    assert refusal_of(accounts, "alice", PASSWORD, code) == ErrorCode.TOTP_REUSED
    # The previous step's code is inside the drift window but older than the one used.
    assert refusal_of(accounts, "alice", PASSWORD, code_at(secret, clock.now - 30_000)) == (
        ErrorCode.TOTP_REUSED
    )
    # The next step's code is fine (one step of drift is allowed), and then the current
    # step's is not: it is older than the last one used.
    assert accounts.authenticate("alice", PASSWORD, code_at(secret, clock.now + 30_000)).ok
    clock.advance(30_000)
    assert (
        refusal_of(accounts, "alice", PASSWORD, code_at(secret, clock.now)) == ErrorCode.TOTP_REUSED
    )
    clock.advance(30_000)
    assert accounts.authenticate("alice", PASSWORD, code_at(secret, clock.now)).ok
    # Two steps away is outside the window.
    clock.advance(30_000)
    assert refusal_of(accounts, "alice", PASSWORD, code_at(secret, clock.now - 60_000)) in (
        ErrorCode.TOTP_INVALID,
        ErrorCode.TOTP_REUSED,
    )
    assert refusal_of(accounts, "alice", PASSWORD, code_at(secret, clock.now + 60_000)) == (
        ErrorCode.TOTP_INVALID
    )
    [(stored_step,)] = rows(engine, "SELECT totp_last_step FROM users WHERE username = 'alice'")
    assert stored_step == (clock.now - 30_000) // 30_000

    accounts.disable_totp("alice", actor="admin")
    assert not accounts.get_user("alice").totp_enabled
    assert accounts.authenticate("alice", PASSWORD).ok


def test_wrong_totp_codes_count_towards_the_lockout(accounts: AccountService, clock: Clock) -> None:
    add(accounts)
    secret = accounts.enable_totp("alice").secret
    bad = f"{(int(code_at(secret, clock.now)) + 500_000) % 1_000_000:06d}"
    for _ in range(5):
        accounts.authenticate("alice", PASSWORD, bad)
    assert accounts.get_user("alice").locked
    assert refusal_of(accounts, "alice", PASSWORD, code_at(secret, clock.now)) == ErrorCode.LOCKED


def test_a_login_rehashes_a_password_made_with_older_parameters(
    engine: Engine, clock: Clock
) -> None:
    old = AccountService(make_sessionmaker(engine), clock=clock, hasher=FAST)
    add(old)
    newer = make_hasher(time_cost=2, memory_cost=16, parallelism=1)
    accounts = AccountService(make_sessionmaker(engine), clock=clock, hasher=newer)
    assert accounts.authenticate("alice", PASSWORD).ok
    [(stored,)] = rows(engine, "SELECT password_hash FROM users WHERE username = 'alice'")
    assert "m=16,t=2,p=1" in stored and verify_password(newer, stored, PASSWORD)
    assert accounts.audit_entries(limit=1)[0].detail["rehashed"] is True
    assert accounts.authenticate("alice", PASSWORD).ok


# Sessions -------------------------------------------------------------------------


def test_a_session_stores_only_the_hash_of_its_token(
    accounts: AccountService, engine: Engine
) -> None:
    alice = add(accounts)
    token, csrf = accounts.create_session(alice.id, address="10.1.1.1", user_agent="Firefox")
    assert len(token) >= 43 and len(csrf) >= 43 and token != csrf
    stored = rows(engine, "SELECT * FROM web_sessions")
    assert len(stored) == 1
    row = stored[0]._mapping
    assert row["id"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in [str(v) for v in row.values()]
    info = accounts.lookup_session(token)
    assert info is not None
    assert info.user == accounts.get_user("alice") and info.csrf_token == csrf
    assert info.id == row["id"] and info.address == "10.1.1.1" and info.user_agent == "Firefox"
    assert info.expires_ms == START_MS + 12 * 60 * MINUTE
    assert info.idle_expires_ms == START_MS + 30 * MINUTE
    for bad in (None, "", token + "x", token[:-1], "x" * 10_000):
        assert accounts.lookup_session(bad) is None
    assert accounts.audit_entries(limit=1)[0].action == "session.create"


def test_a_session_ends_after_thirty_idle_minutes(accounts: AccountService, clock: Clock) -> None:
    token, _ = accounts.create_session(add(accounts).id)
    clock.advance(29 * MINUTE)
    assert accounts.lookup_session(token) is not None  # activity: the idle clock restarts
    clock.advance(29 * MINUTE)
    assert accounts.lookup_session(token) is not None
    clock.advance(30 * MINUTE)
    assert accounts.lookup_session(token) is None
    clock.advance(-1)  # one millisecond earlier it was still alive
    assert accounts.lookup_session(token) is not None


def test_a_session_ends_after_twelve_hours_whatever_the_activity(
    accounts: AccountService, clock: Clock
) -> None:
    token, _ = accounts.create_session(add(accounts).id)
    for _ in range(12 * 3 - 1):
        clock.advance(20 * MINUTE)
        assert accounts.lookup_session(token) is not None
    clock.advance(20 * MINUTE - 1)
    assert accounts.lookup_session(token) is not None
    clock.advance(1)
    assert accounts.lookup_session(token) is None


def test_timeouts_are_configurable(engine: Engine, clock: Clock) -> None:
    policy = AccountPolicy(idle_timeout_ms=5 * MINUTE, absolute_timeout_ms=60 * MINUTE)
    accounts = AccountService(make_sessionmaker(engine), clock=clock, hasher=FAST, policy=policy)
    token, _ = accounts.create_session(add(accounts).id)
    clock.advance(5 * MINUTE)
    assert accounts.lookup_session(token) is None


def test_last_seen_is_written_at_most_once_a_minute(
    accounts: AccountService, clock: Clock, engine: Engine
) -> None:
    token, _ = accounts.create_session(add(accounts).id)

    def last_seen() -> int:
        [(value,)] = rows(engine, "SELECT last_seen_ms FROM web_sessions")
        return int(value)

    clock.advance(30_000)
    info = accounts.lookup_session(token)
    assert info is not None and info.last_seen_ms == START_MS and last_seen() == START_MS
    clock.advance(30_000)
    info = accounts.lookup_session(token)
    assert info is not None and info.last_seen_ms == START_MS + MINUTE
    assert last_seen() == START_MS + MINUTE


def test_logout_revokes_one_session(accounts: AccountService) -> None:
    alice = add(accounts)
    first, _ = accounts.create_session(alice.id)
    second, _ = accounts.create_session(alice.id)
    assert accounts.revoke_session(first, address="10.1.1.1")
    assert accounts.lookup_session(first) is None
    assert accounts.lookup_session(second) is not None
    assert not accounts.revoke_session(first)
    assert not accounts.revoke_session("never issued")
    entry = accounts.audit_entries(limit=1)[0]
    assert (entry.action, entry.username, entry.outcome) == ("session.revoke", "alice", "ok")


def test_disable_password_change_and_revoke_all_end_every_session(
    accounts: AccountService,
) -> None:
    alice = add(accounts)
    add(accounts, "root", Role.ADMINISTRATOR)
    tokens = [accounts.create_session(alice.id).token for _ in range(3)]
    accounts.disable_user("alice", actor="root")
    assert all(accounts.lookup_session(t) is None for t in tokens)
    assert accounts.audit_entries(limit=1)[0].detail == {
        "was_disabled": False,
        "sessions_revoked": 3,
    }
    with pytest.raises(AccountError) as caught:
        accounts.create_session(alice.id)
    assert caught.value.code == ErrorCode.DISABLED
    accounts.enable_user("alice", actor="root")
    assert all(accounts.lookup_session(t) is None for t in tokens)  # they stay ended

    token = accounts.create_session(alice.id).token
    accounts.set_password("alice", OTHER_PASSWORD, actor="root")
    assert accounts.lookup_session(token) is None
    assert refusal_of(accounts, "alice", PASSWORD) == ErrorCode.BAD_CREDENTIALS
    assert accounts.authenticate("alice", OTHER_PASSWORD).ok
    with pytest.raises(AccountError) as caught:
        accounts.set_password("alice", "alice", actor="root")
    assert caught.value.code == ErrorCode.WEAK_PASSWORD

    tokens = [accounts.create_session(alice.id).token for _ in range(2)]
    assert accounts.revoke_all_sessions_for("alice", actor="root") == 2
    assert all(accounts.lookup_session(t) is None for t in tokens)


def test_prune_deletes_only_long_ended_sessions(
    accounts: AccountService, clock: Clock, engine: Engine
) -> None:
    alice = add(accounts)
    ended, _ = accounts.create_session(alice.id)
    accounts.revoke_session(ended)
    clock.advance(25 * 60 * MINUTE)
    live, _ = accounts.create_session(alice.id)
    assert accounts.prune_sessions() == 1
    assert len(rows(engine, "SELECT id FROM web_sessions")) == 1
    assert accounts.lookup_session(live) is not None
    assert accounts.prune_sessions() == 0


def test_csrf_tokens_are_compared_exactly(accounts: AccountService) -> None:
    token, csrf = accounts.create_session(add(accounts).id)
    session = accounts.lookup_session(token)
    assert session is not None
    assert AccountService.check_csrf(session, csrf)
    assert accounts.check_csrf(session, csrf)
    for wrong in (None, "", csrf[:-1], csrf + "A", "x" * len(csrf), "é" * len(csrf), token):
        assert not accounts.check_csrf(session, wrong), wrong


# Audit -------------------------------------------------------------------------


def test_every_change_leaves_an_audit_row(accounts: AccountService) -> None:
    alice = add(accounts)
    add(accounts, "root", Role.ADMINISTRATOR)
    accounts.update_user("alice", display_name="Alice", actor="root")
    accounts.enable_totp("alice", actor="root")
    accounts.disable_totp("alice", actor="root")
    accounts.set_password("alice", OTHER_PASSWORD, actor="root")
    accounts.disable_user("alice", actor="root")
    accounts.enable_user("alice", actor="root")
    accounts.authenticate("alice", OTHER_PASSWORD, address="10.1.1.1")
    token, _ = accounts.create_session(alice.id, address="10.1.1.1")
    accounts.revoke_session(token, address="10.1.1.1")
    accounts.revoke_all_sessions_for("alice", actor="root")
    custom = accounts.audit(
        "alice", "message.send", "defence", "ok", {"message": "01J"}, "10.1.1.1"
    )

    entries = accounts.audit_entries()
    assert [(e.action, e.username, e.target, e.outcome) for e in reversed(entries)] == [
        ("user.add", "admin", "alice", "ok"),
        ("user.add", "admin", "root", "ok"),
        ("user.update", "root", "alice", "ok"),
        ("user.totp.enable", "root", "alice", "ok"),
        ("user.totp.disable", "root", "alice", "ok"),
        ("user.password", "root", "alice", "ok"),
        ("user.disable", "root", "alice", "ok"),
        ("user.enable", "root", "alice", "ok"),
        ("login", "alice", "alice", "ok"),
        ("session.create", "alice", "alice", "ok"),
        ("session.revoke", "alice", "alice", "ok"),
        ("session.revoke_all", "root", "alice", "ok"),
        ("message.send", "alice", "defence", "ok"),
    ]
    assert entries[0].id == custom and entries[0].detail == {"message": "01J"}
    assert all(e.at_ms == START_MS for e in entries)
    ids = [e.id for e in entries]
    assert ids == sorted(ids, reverse=True)
    # Secrets never reach the log.
    everything = repr(entries)
    assert PASSWORD not in everything and OTHER_PASSWORD not in everything
    assert token not in everything
    # Paging.
    page = accounts.audit_entries(limit=5)
    older = accounts.audit_entries(limit=5, before_id=page[-1].id)
    assert [e.id for e in page + older] == ids[:10]
    with pytest.raises(ValueError):
        accounts.audit(None, "x", None, "maybe")


def test_a_refused_change_changes_nothing(accounts: AccountService, engine: Engine) -> None:
    add(accounts)
    before = rows(engine, "SELECT * FROM users")
    with pytest.raises(AccountError):
        accounts.set_password("alice", "short")
    with pytest.raises(AccountError):
        accounts.disable_user("nobody")
    assert rows(engine, "SELECT * FROM users") == before
    refused = [(e.action, e.target, e.detail) for e in accounts.audit_entries(limit=2)]
    assert refused == [
        ("user.disable", "nobody", {"code": "unknown_user"}),
        ("user.password", "alice", {"code": "weak_password"}),
    ]


# Roles -------------------------------------------------------------------------

EXPECTED = {
    Role.OBSERVER: "view_links view_messages export_record",
    Role.DUTY_OFFICER: "view_links view_messages send_message acknowledge save_draft "
    "request_call answer_call session_text activate_emergency",
    Role.PRINCIPAL: "view_links view_messages send_message acknowledge save_draft "
    "request_call answer_call session_text activate_emergency approve_reply",
    Role.TRANSLATOR: "view_links view_messages verify_translation save_draft",
    Role.SUPERVISOR: "view_links view_messages send_message acknowledge save_draft "
    "request_call answer_call session_text activate_emergency approve_reply approve_emergency "
    "view_audit",
    Role.ADMINISTRATOR: "view_links view_messages export_record view_audit manage_users "
    "manage_links",
}


@pytest.mark.parametrize("role", list(Role))
def test_role_permission_matrix(role: Role) -> None:
    expected = {Permission(p) for p in EXPECTED[role].split()}
    assert ROLE_PERMISSIONS[role] == expected
    for permission in Permission:
        assert allowed(role, permission) is (permission in expected)
        assert allowed(role.value, permission) is (permission in expected)


def test_role_boundaries_that_matter() -> None:
    assert not allowed(Role.OBSERVER, Permission.SEND_MESSAGE)
    assert not allowed(Role.TRANSLATOR, Permission.SEND_MESSAGE)
    assert not allowed(Role.DUTY_OFFICER, Permission.APPROVE_REPLY)
    assert not allowed(Role.PRINCIPAL, Permission.APPROVE_EMERGENCY)
    assert allowed(Role.SUPERVISOR, Permission.APPROVE_EMERGENCY)
    assert not allowed(Role.ADMINISTRATOR, Permission.SEND_MESSAGE)  # custodian, not speaker
    assert not allowed(Role.SUPERVISOR, Permission.MANAGE_USERS)
    assert not allowed("boss", Permission.VIEW_LINKS)
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert all(Permission.VIEW_MESSAGES in perms for perms in ROLE_PERMISSIONS.values())
    require(Role.PRINCIPAL, Permission.APPROVE_REPLY)
    with pytest.raises(AccountError) as caught:
        require(Role.OBSERVER, Permission.SEND_MESSAGE)
    assert caught.value.code == ErrorCode.FORBIDDEN


def test_user_info_knows_its_permissions(accounts: AccountService) -> None:
    observer = add(accounts, "obs", Role.OBSERVER)
    assert observer.can(Permission.EXPORT_RECORD) and not observer.can(Permission.SEND_MESSAGE)


# Several processes ---------------------------------------------------------------


def test_two_services_over_one_database_agree(url: str, clock: Clock, engine: Engine) -> None:
    other_engine = make_engine(url)  # its own pool: as a second server process would have
    try:
        a = AccountService(make_sessionmaker(engine), clock=clock, hasher=FAST)
        b = AccountService(make_sessionmaker(other_engine), clock=clock, hasher=FAST)
        alice = add(a)
        assert b.get_user("alice") == alice
        with pytest.raises(AccountError):
            add(b)  # the name is taken there too
        # Failures split between the two add up to one lockout.
        for service in (a, b, a, b, a):
            service.authenticate("alice", "wrong password!")
        assert refusal_of(b, "alice", PASSWORD) == ErrorCode.LOCKED
        b.enable_user("alice")
        # A session made by one is seen by the other; revoked by one, gone in both.
        token, csrf = a.create_session(alice.id)
        info = b.lookup_session(token)
        assert info is not None and b.check_csrf(info, csrf)
        assert b.revoke_session(token)
        assert a.lookup_session(token) is None
        # A TOTP code used through one is refused through the other.
        secret = a.enable_totp("alice").secret
        code = code_at(secret, clock.now)
        assert a.authenticate("alice", PASSWORD, code).ok
        assert refusal_of(b, "alice", PASSWORD, code) == ErrorCode.TOTP_REUSED
    finally:
        other_engine.dispose()


def test_concurrent_logins_count_each_failure_once_and_burn_a_code_once(
    url: str, clock: Clock, engine: Engine
) -> None:
    engines = [engine, make_engine(url)]
    try:
        services = [AccountService(make_sessionmaker(e), clock=clock, hasher=FAST) for e in engines]
        add(services[0])
        secret = services[0].enable_totp("alice").secret
        code = code_at(secret, clock.now)

        def race(attempt: Any, count: int) -> list[ErrorCode | None]:
            results: list[ErrorCode | None] = []
            lock = threading.Lock()
            start = threading.Barrier(count)

            def run(i: int) -> None:
                start.wait()
                refusal = attempt(services[i % 2]).refusal
                with lock:
                    results.append(refusal)

            threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            return results

        same_code = race(lambda s: s.authenticate("alice", PASSWORD, code), 5)
        assert same_code.count(None) == 1
        assert same_code.count(ErrorCode.TOTP_REUSED) == 4
        services[0].enable_user("alice")  # the five replays counted: reset

        wrong = race(lambda s: s.authenticate("alice", "wrong password!", "000000"), 8)
        assert wrong.count(ErrorCode.BAD_CREDENTIALS) == 5
        assert wrong.count(ErrorCode.LOCKED) == 3
        assert services[1].get_user("alice").failed_logins == 5
    finally:
        engines[1].dispose()
