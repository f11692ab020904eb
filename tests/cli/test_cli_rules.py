"""The link's rules from the command line, between two serving nodes: policy show /
propose / accept (a proposal travels over the link), escalation set / show, link
tests and their confirmation, statistics, overdue items and alerts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from hotline.node.desk.desk import Desk
from hotline.node.service import Node
from hotline.storage.policy_models import LinkPolicy
from tests.conftest import DatabaseFactory
from tests.harness import LINK, Cluster, NodeHandle, hotline, hotline_ok, wait_until


@pytest.fixture
def serving(tmp_path: Path, database: DatabaseFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path, database.url_for) as cluster:
        cluster.start()
        yield cluster


def on(handle: NodeHandle, *args: str, **kwargs: Any) -> Any:
    """What the node's desk says, read in this process (for waiting without starting
    one command per look)."""
    node = Node(handle.home)
    try:
        return getattr(Desk(node), args[0])(*args[1:], **kwargs)
    finally:
        node.close()


def versions(handle: NodeHandle) -> dict[int, str]:
    return {v.version: v.state for v in on(handle, "policy", LINK).versions}


def test_policy_tests_escalation_and_statistics_from_the_command_line(
    serving: Cluster, tmp_path: Path
) -> None:
    w, b = serving.washington, serving.beijing
    at_w, at_b = ("--home", str(w.home.path)), ("--home", str(b.home.path))

    # No proposal yet: policy show says so, and how one arrives.
    ran = hotline_ok("policy", "show", LINK, *at_w, columns=200)
    assert "no policy in force" in ran.output
    assert "No proposal has arrived from beijing yet" in ran.output
    assert "once both nodes are serving ('hotline serve')" in ran.output
    ran = hotline("policy", "accept", LINK, "1", *at_b, columns=200)
    assert ran.code == 1 and "(no_proposal)" in ran.output
    assert "arrives over the link once both nodes are serving" in ran.output

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"link_test": {"interval_s": 5, "confirm_s": 60}}))
    ran = hotline("policy", "propose", LINK, "--file", policy, *at_w)
    assert ran.code == 1 and "malformed" in ran.output
    policy.write_text(json.dumps({"link_test": {"interval_s": 3600, "confirm_s": 600}}))
    ran = hotline_ok(
        "policy", "propose", LINK, "--file", policy,
        "--purpose", "Defence link \u202etneve edon", *at_w, columns=200,
    )  # fmt: skip
    assert "Proposed policy version 1" in ran.output
    assert "reaches the other party over the link while both nodes are serving" in ran.output
    ran = hotline_ok("policy", "show", LINK, *at_w, columns=200)
    assert "Version 1 waits for beijing to countersign it" in ran.output

    wait_until(lambda: versions(b) == {1: "proposed"}, what="the proposal at beijing")
    ran = hotline_ok("policy", "show", LINK, *at_b, columns=200)
    assert "Version 1 proposed by washington" in ran.output
    assert "+ purpose: Defence link <U+202E>tneve edon" in ran.output  # the other side's text
    assert "\u202e" not in ran.stdout
    assert "To put version 1 in force: 'hotline policy accept defence 1'" in ran.output
    ran = hotline("policy", "accept", LINK, "2", *at_b)
    assert ran.code == 1 and "no_proposal" in ran.output
    ran = hotline_ok("policy", "accept", LINK, "1", *at_b)
    assert "version 1 on defence is in force" in ran.output
    wait_until(lambda: versions(w) == {1: "in_force"}, what="the countersignature")
    state = hotline_ok("policy", "show", LINK, "--json", *at_w).json()
    assert state["version"] == 1 and state["signed_by"] == ["washington", "beijing"]
    assert state["in_force"]["link_test"] == {"interval_s": 3600, "confirm_s": 600}
    ran = hotline_ok("policy", "show", LINK, *at_b, columns=200)
    assert "signed by washington and beijing" in ran.output and "airspace-object" in ran.output

    # A link test: the policy came into force an hour ago, as far as washington's
    # serving node knows, so its watch sends the first test now; beijing confirms it.
    node = Node(w.home)
    try:
        with node.transaction() as session:
            session.execute(
                update(LinkPolicy)
                .where(LinkPolicy.state == "in_force")
                .values(in_force_ms=LinkPolicy.in_force_ms - 3_601_000)
            )
    finally:
        node.close()
    wait_until(lambda: len(on(b, "link_tests", LINK)) == 1, what="the link test at beijing")
    [test_id] = [t.id for t in on(w, "link_tests", LINK)]
    ran = hotline_ok("link", "tests", LINK, *at_b, columns=200)
    assert test_id in ran.output and "←" in ran.output and "awaiting" in ran.output
    ran = hotline_ok("link", "confirm-test", test_id, "--by", "Li Wei \u202e", *at_b)
    assert f"Confirmed link test {test_id}." in ran.output
    ran = hotline("link", "confirm-test", test_id, *at_b)
    assert ran.code == 1 and "already_confirmed" in ran.output
    ran = hotline("link", "confirm-test", "01HF7YAT001WF2TF2BB9MQH1WP", *at_b)
    assert ran.code == 1 and "unknown_test" in ran.output
    wait_until(lambda: on(w, "link_tests", LINK)[0].state == "confirmed", what="the confirmation")
    [confirmed] = hotline_ok("link", "tests", LINK, "--json", *at_w).json()
    assert (confirmed["id"], confirmed["direction"]) == (test_id, "out")
    assert confirmed["confirmed_by"] == "Li Wei \u202e"
    ran = hotline_ok("link", "tests", LINK, *at_w, columns=200)
    assert "Li Wei <U+202E>" in ran.output and "\u202e" not in ran.stdout

    # Amendments: by options, by file; bad ones are refused with their code.
    ran = hotline_ok(
        "policy", "propose", LINK, "--no-two-person-rule", "--link-test-interval", "0", *at_b
    )
    assert "Proposed policy version 2" in ran.output
    wait_until(lambda: versions(w).get(2) == "proposed", what="version 2 at washington")
    ran = hotline_ok("policy", "show", LINK, *at_w, columns=200)
    assert "Version 2 proposed by beijing" in ran.output
    assert "+ two-person rule for emergency activations: False" in ran.output
    assert "criterion airspace-object" in ran.output
    assert "+ criterion airspace-object" not in ran.output  # unchanged: no "+"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"colour": "red"}))
    ran = hotline("policy", "propose", LINK, "--file", bad, *at_w)
    assert ran.code == 1 and "unknown_field" in ran.output
    hotline_ok("policy", "accept", LINK, "2", *at_w)
    wait_until(lambda: versions(b).get(2) == "in_force", what="version 2 in force at beijing")
    in_force = hotline_ok("policy", "show", LINK, "--json", *at_b).json()["in_force"]
    assert in_force["two_person_rule"] is False

    # Escalation: refused when it names an unknown role; then set and shown.
    esc = tmp_path / "esc.json"
    boss = {"acknowledged": {"deadline_s": 1, "actions": [{"do": "alert", "role": "boss"}]}}
    esc.write_text(json.dumps(boss))
    ran = hotline("escalation", "set", LINK, "--file", esc, *at_w)
    assert ran.code == 1 and "unknown_role" in ran.output
    assert hotline_ok("escalation", "show", LINK, *at_w).json()["policy"] is None
    rule = {"acknowledged": {"deadline_s": 1, "actions": [{"do": "alert", "role": "supervisor"}]}}
    esc.write_text(json.dumps(rule))
    ran = hotline_ok("escalation", "set", LINK, "--file", esc, *at_w)
    assert "rungs acknowledged" in ran.output
    assert hotline_ok("escalation", "show", LINK, *at_w).json()["policy"] == rule
    ran = hotline("escalation", "set", "leaders", "--file", esc, *at_w)
    assert ran.code == 1 and "unknown_link" in ran.output

    # Nobody acknowledges: the serving node takes the step (an alert), and it shows.
    sent_id = hotline_ok("send", LINK, "Request for information", *at_w).output.split()[1]
    wait_until(
        lambda: [i.view()["steps"] for i in on(w, "overdue")] == [1], what="the escalation step"
    )
    [item] = hotline_ok("overdue", "--json", *at_w).json()
    assert item["id"] == sent_id and item["awaiting"] == "acknowledged"
    assert item["waiting_ms"] >= 1_000 and item["steps"] == 1
    assert sent_id in hotline_ok("overdue", *at_w, columns=200).output
    ran = hotline_ok("alerts", *at_w, columns=200)
    assert "→ supervisor" in ran.output and sent_id in ran.output
    [alert] = hotline_ok("alerts", "--json", *at_w).json()
    assert alert["message_id"] == sent_id

    wait_until(
        lambda: on(b, "usage", LINK).view()["totals"]["routine"]["in"] == 1, what="the message"
    )
    totals = hotline_ok("stats", LINK, "--json", *at_b).json()["totals"]
    assert totals["routine"] == {"out": 0, "in": 1} and totals["test"]["in"] == 1
    ran = hotline_ok("stats", LINK, "--bucket", "hour", *at_w, columns=200)
    assert "total" in ran.output and "routine: 1 sent" in ran.output
    ran = hotline("stats", LINK, "--bucket", "week", *at_w)
    assert ran.code == 1 and "unknown_bucket" in ran.output

    bundle = tmp_path / "b.json"
    hotline_ok("export", LINK, "-o", bundle, *at_b)
    ran = hotline_ok("verify", bundle, columns=200)
    assert "policy version 1 signed by washington and beijing" in ran.output
    assert "policy version 2 signed by beijing and washington" in ran.output
