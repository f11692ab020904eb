"""Alerts at the console, over HTTP against real nodes: every operator sees the
alerts addressed to everyone, to their role or to them by name, and may clear those;
an alert addressed to someone else is neither shown nor cleared."""

from __future__ import annotations

import re
from contextlib import closing

import httpx

from hotline.demo import add_demo_accounts
from hotline.node.desk.desk import Desk
from hotline.node.rules.alerts import raise_alert
from tests.harness import Cluster
from tests.web.test_console_audit import Console


def alert_ids(page_text: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-alert="(\d+)"', page_text)}


def clear(console: Console, alert_id: int) -> httpx.Response:
    board = console.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', board.text)
    assert csrf, board.text[-2000:]
    return console.client.post(
        f"/alerts/{alert_id}/clear", data={"csrf": csrf.group(1), "back": "/"}
    )


def test_every_role_clears_the_alerts_shown_to_it_and_no_other(cluster: Cluster) -> None:
    washington = cluster.washington
    passwords = {a.username: a.password for a in add_demo_accounts(washington.home)}
    with closing(washington.node()) as node, node.transaction() as session:
        ids = {
            "everyone": raise_alert(session, link_id=None, kind="t", text="for all", now_ms=1).id,
            "supervisor": raise_alert(
                session, link_id=None, kind="t", text="sup", now_ms=2, role="supervisor"
            ).id,
            "translator": raise_alert(
                session, link_id=None, kind="t", text="tr", now_ms=3, user="translator"
            ).id,
        }
    cluster.start()
    people = {name: Console(washington) for name in ("observer", "translator", "duty")}
    try:
        for name, console in people.items():
            assert console.log_in(name, passwords[name]).status_code == 200
        boards = {name: alert_ids(c.get("/").text) for name, c in people.items()}
        assert boards == {
            "observer": {ids["everyone"]},
            "translator": {ids["everyone"], ids["translator"]},
            "duty": {ids["everyone"]},
        }
        # Not addressed to them: refused with the reason, and still open.
        for other in ("supervisor", "translator"):
            refused = clear(people["duty"], ids[other])
            assert refused.status_code == 400 and "not addressed to you" in refused.text
        # Roles without any other permission clear what they are shown.
        assert clear(people["observer"], ids["everyone"]).status_code == 200
        assert clear(people["translator"], ids["translator"]).status_code == 200
        with closing(washington.node()) as node:
            open_ids = {a.id for a in Desk(node).alerts()}
        assert open_ids == {ids["supervisor"]}
    finally:
        for console in people.values():
            console.close()
