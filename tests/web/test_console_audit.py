"""The console's audit page and its record download, over HTTP against real nodes
(SQLite and PostgreSQL): who may see and fetch what, the filters, the pages, and
that a downloaded record verifies offline and its download is in the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from hotline.accounts import AccountService, AuditFilter, audit_filter
from hotline.cli import app
from hotline.demo import add_demo_accounts
from hotline.node.message_text import MAX_TEXT_CHARS
from hotline.protocol.bundle import read_bundle, verify_bundle
from hotline.storage.database import make_engine, make_sessionmaker
from tests.harness import LINK, Cluster, NodeHandle, send

ADMIN_PASSWORD = "administrator passphrase for the audit test"
HTML = {"accept": "text/html"}


class Console:
    """One operator's browser, without the browser: cookies, the CSRF token, pages."""

    def __init__(self, handle: NodeHandle, *, language: str = "en") -> None:
        self.client = httpx.Client(
            base_url=handle.local_url, headers=HTML, timeout=15.0, follow_redirects=True
        )
        self.language = language

    def log_in(self, username: str, password: str) -> httpx.Response:
        form = self.client.get("/login", params={"lang": self.language})
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf": csrf(form.text)}
        )

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(path, params=params)

    def close(self) -> None:
        self.client.close()


def csrf(page_text: str) -> str:
    """The form token of a console page."""
    found = re.search(r'name="csrf" value="([^"]+)"', page_text)
    assert found, page_text[-2000:]
    return found.group(1)


@contextmanager
def duty_consoles(cluster: Cluster) -> Iterator[tuple[Console, Console]]:
    """Starts the cluster with the demo accounts; yields the duty officers' consoles,
    Washington's in English and Beijing's in Chinese, logged in."""
    passwords = {
        (a.party, a.username): a.password
        for handle in cluster.nodes
        for a in add_demo_accounts(handle.home)
    }
    cluster.start()
    washington, beijing = cluster.nodes
    w, b = Console(washington), Console(beijing, language="zh-Hans")
    try:
        assert w.log_in("duty", passwords[("washington", "duty")]).status_code == 200
        assert b.log_in("duty", passwords[("beijing", "duty")]).status_code == 200
        yield w, b
    finally:
        w.close()
        b.close()


def request_call(console: Console, topic: str) -> None:
    """A call on the link, requested from the conversation page's form."""
    page = console.get(f"/links/{LINK}")
    called = console.client.post(
        f"/links/{LINK}/calls", data={"csrf": csrf(page.text), "topic": topic}
    )
    assert called.status_code == 200, called.text[-2000:]


def entry_ids(page: httpx.Response) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="audit-\w+" data-id="(\d+)"', page.text)]


def outcomes(page: httpx.Response) -> set[str]:
    return set(re.findall(r'<tr class="audit-(\w+)"', page.text))


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """The test's own connections to a node's database, closed at the end."""
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def accounts_of(handle: NodeHandle, engines: list[Engine]) -> AccountService:
    engine = make_engine(handle.home.load_config().database_url)
    engines.append(engine)
    return AccountService(make_sessionmaker(engine), party=handle.party)


def test_audit_page_filters_pages_and_refuses_other_roles(
    cluster: Cluster, engines: list[Engine]
) -> None:
    washington, beijing = cluster.nodes
    passwords = {a.username: a.password for a in add_demo_accounts(washington.home)}
    zh_passwords = {a.username: a.password for a in add_demo_accounts(beijing.home)}
    accounts = accounts_of(washington, engines)
    accounts.add_user(
        "chief", ADMIN_PASSWORD, role="administrator", timezone="Asia/Tokyo", actor="test"
    )
    cluster.start()

    people: list[Console] = []

    def console(handle: NodeHandle = washington, language: str = "en") -> Console:
        people.append(Console(handle, language=language))
        return people[-1]

    try:
        # A refused login (a wrong password) and one with a name full of markup.
        stranger = console()
        assert stranger.log_in("duty", "not the password").status_code == 401
        assert stranger.log_in("<b>x</b>", "whatever").status_code == 401

        supervisor = console()
        assert supervisor.log_in("supervisor", passwords["supervisor"]).status_code == 200
        page = supervisor.get("/audit")
        assert page.status_code == 200
        assert 'href="/audit"' in page.text  # in the navigation
        assert "(" in page.text and "UTC)" in page.text  # local time with UTC beside it
        assert outcomes(page) == {"ok", "refused"}
        ids = entry_ids(page)
        assert ids == sorted(ids, reverse=True)  # newest first
        # The claimed name is shown as text, never as markup.
        assert "&lt;b&gt;x&lt;/b&gt;" in page.text and "<b>x</b>" not in page.text

        refused = supervisor.get("/audit", outcome="refused")
        assert refused.status_code == 200 and outcomes(refused) == {"refused"}
        assert "bad_credentials" in refused.text  # the detail, as text
        by_duty = supervisor.get("/audit", user="duty")
        assert outcomes(by_duty) == {"refused"} and "supervisor" not in _rows(by_duty)
        logins_ok = supervisor.get("/audit", action="login", outcome="ok")
        assert outcomes(logins_ok) == {"ok"} and "supervisor" in _rows(logins_ok)
        assert entry_ids(supervisor.get("/audit", action="session.")) != []
        assert entry_ids(supervisor.get("/audit", action="session.", user="nobody")) == []
        assert entry_ids(supervisor.get("/audit", since="2999-01-01")) == []
        assert entry_ids(supervisor.get("/audit", until="2000-01-01")) == []
        assert len(entry_ids(supervisor.get("/audit", since="2000-01-01", until="2999-12-31")))

        # Bad filters: a clear message, nothing read, nothing written.
        before = accounts.audit_entries(limit=1000)
        for params, message in (
            ({"outcome": "maybe"}, "Choose an outcome from the list."),
            ({"since": "yesterday"}, "The first day is not a date"),
            ({"until": "2026-02-30"}, "The last day is not a date"),
            ({"since": "2026-03-02", "until": "2026-03-01"}, "comes before the first day"),
            ({"user": "x" * 5000}, "The user name to look for is too long"),
            ({"action": "login\x00"}, "The action to look for is too long, or contains"),
            ({"before": "DROP TABLE"}, "That page of the audit log does not exist."),
        ):
            bad = supervisor.get("/audit", **params)
            assert bad.status_code == 400, params
            assert message in bad.text, params
            assert entry_ids(bad) == [], params
        assert accounts.audit_entries(limit=1000) == before

        # A hundred entries a page; the "older" link keeps the filters.
        for i in range(130):
            accounts.audit("test", "test.bulk", str(i), "ok")
        first = supervisor.get("/audit", action="test.bulk")
        assert len(entry_ids(first)) == 100
        older = re.search(r'<a href="(/audit\?[^"]+)">Older entries</a>', first.text)
        assert older, first.text
        link = older.group(1).replace("&amp;", "&")
        assert "action=test.bulk" in link and f"before={entry_ids(first)[-1]}" in link
        second = supervisor.client.get(link)
        assert len(entry_ids(second)) == 30 and "Older entries" not in second.text
        assert max(entry_ids(second)) < min(entry_ids(first))

        # The administrator sees it too, in the administrator's time zone.
        chief = console()
        assert chief.log_in("chief", ADMIN_PASSWORD).status_code == 200
        mine = chief.get("/audit", user="chief")
        assert mine.status_code == 200 and "+0900 (" in mine.text and "UTC)" in mine.text

        # Roles without the permission: no link to it, and a refusal on the server.
        for username in ("observer", "duty", "principal"):
            other = console()
            board = other.log_in(username, passwords[username])
            assert board.status_code == 200 and 'href="/audit"' not in board.text
            forbidden = other.get("/audit")
            assert forbidden.status_code == 403, username
            assert "your role does not allow this" in forbidden.text
        denied = accounts.audit_entries(
            filters=_filters(action="console.forbidden", user="observer")
        )
        assert denied and denied[0].detail == {"reason": "view_audit"}
        # ... in the operator's language.
        zh = console(beijing, "zh-Hans")
        assert zh.log_in("duty", zh_passwords["duty"]).status_code == 200
        zh_forbidden = zh.get("/audit")
        assert zh_forbidden.status_code == 403 and "您的角色" in zh_forbidden.text

        # A refused form is audited with the reason in English, its values filled in.
        duty = console()
        assert duty.log_in("duty", passwords["duty"]).status_code == 200
        token = re.search(r'data-csrf="([^"]+)"', duty.get(f"/links/{LINK}").text)
        assert token
        too_long = duty.client.post(
            f"/links/{LINK}/messages",
            data={"text": "x" * (MAX_TEXT_CHARS + 1), "lang": "en", "csrf": token.group(1)},
        )
        assert too_long.status_code == 400 and "The message is too long" in too_long.text
        compose = accounts.audit_entries(filters=_filters(action="message.compose", user="duty"))
        assert compose and compose[0].outcome == "refused"
        assert compose[0].detail["reason"] == (
            f"The message is too long ({MAX_TEXT_CHARS + 1} characters; "
            f"the limit is {MAX_TEXT_CHARS})."
        )
        zh_supervisor = console(beijing, "zh-Hans")
        assert zh_supervisor.log_in("supervisor", zh_passwords["supervisor"]).status_code == 200
        zh_page = zh_supervisor.get("/audit", outcome="nope")
        assert zh_page.status_code == 400 and "审计日志" in zh_page.text
    finally:
        for person in people:
            person.close()


def test_record_download_verifies_offline_and_is_audited(
    cluster: Cluster, tmp_path: Path, engines: list[Engine]
) -> None:
    washington, _ = cluster.nodes
    passwords = {a.username: a.password for a in add_demo_accounts(washington.home)}
    accounts = accounts_of(washington, engines)
    accounts.add_user("chief", ADMIN_PASSWORD, role="administrator", actor="test")
    cluster.start()
    with washington.client() as api:
        send(api, "Please confirm you received this.")
        send(api, "A second message for the record.")

    observer, supervisor, chief = Console(washington), Console(washington), Console(washington)
    try:
        assert observer.log_in("observer", passwords["observer"]).status_code == 200
        conversation = observer.get(f"/links/{LINK}")
        assert f'href="/links/{LINK}/export"' in conversation.text
        assert "Download the record" in conversation.text
        assert "hotline verify FILE" in conversation.text

        download = observer.get(f"/links/{LINK}/export")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("application/json")
        disposition = download.headers["content-disposition"]
        name = re.fullmatch(
            rf'attachment; filename="(hotline-washington-{LINK}-\d{{8}}T\d{{6}}Z\.json)"',
            disposition,
        )
        assert name, disposition
        bundle = read_bundle(download.content)
        summary, fault = verify_bundle(bundle)
        assert fault is None and summary.entries == len(bundle.entries) >= 2
        saved = tmp_path / name.group(1)
        saved.write_bytes(download.content)
        checked = CliRunner().invoke(app, ["verify", str(saved)])
        assert checked.exit_code == 0, checked.output
        assert "✓" in checked.output

        [exported] = accounts.audit_entries(filters=_filters(action="record.export"))
        assert (exported.username, exported.target, exported.outcome) == (
            "observer",
            LINK,
            "ok",
        )
        assert exported.detail["entries"] == len(bundle.entries)
        assert exported.detail["file"] == name.group(1)

        # A role without EXPORT_RECORD: no link, and refused on the server.
        assert supervisor.log_in("supervisor", passwords["supervisor"]).status_code == 200
        assert "/export" not in supervisor.get(f"/links/{LINK}").text
        assert supervisor.get(f"/links/{LINK}/export").status_code == 403
        refused = accounts.audit_entries(limit=1)[0]
        assert (refused.username, refused.action, refused.outcome) == (
            "supervisor",
            "console.forbidden",
            "refused",
        )
        assert refused.detail == {"reason": "export_record"}
        shown = supervisor.get("/audit", action="record.export")
        assert "observer" in _rows(shown) and f"{len(bundle.entries)}" in _rows(shown)

        # The administrator may download; an unknown link is not found (and audited).
        assert chief.log_in("chief", ADMIN_PASSWORD).status_code == 200
        assert chief.get(f"/links/{LINK}/export").status_code == 200
        assert observer.get("/links/no-such-link/export").status_code == 404
        latest = accounts.audit_entries(limit=1, filters=_filters(action="record.export"))[0]
        assert (latest.username, latest.target, latest.outcome) == (
            "observer",
            "no-such-link",
            "refused",
        )
    finally:
        for person in (observer, supervisor, chief):
            person.close()


def _rows(page: httpx.Response) -> str:
    """The table's body only (the page's header names the operator too)."""
    return page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def _filters(*, action: str, user: str | None = None) -> AuditFilter:
    return audit_filter(username=user, action=action)
