"""The rules of a link, at service level on two real nodes in one process: the signed
policy, the emergency channel and the two-person rule, escalation with a controlled
clock, scheduled link tests, alerts and usage statistics.

Envelopes move between the two nodes' real storage through the same calls the peer
API and the deliverer make (``receive`` and ``delivered``), with no network.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from sqlalchemy import Table, inspect, select

from hotline.accounts.passwords import make_hasher
from hotline.accounts.service import AccountService
from hotline.node.delivery import outbox
from hotline.node.desk import rules
from hotline.node.desk.desk import Desk
from hotline.node.desk.rules import overdue_items, usage_stats, watch
from hotline.node.metrics import NodeMetrics
from hotline.node.people import Person
from hotline.node.reads.attention import attention
from hotline.node.record_store import append_own, lock_link
from hotline.node.refusals import Refused
from hotline.node.rules.alerts import raise_alert
from hotline.node.rules.metrics import RulesCollector
from hotline.node.service import Node
from hotline.protocol.bundle import compare_bundles, verify_bundle
from hotline.protocol.kinds import Kind
from hotline.protocol.policy import agreements_in_record, amend, default_policy, proposal_body
from hotline.storage.account_models import AuditLog
from hotline.storage.database import MIGRATIONS, make_engine, sqlite_url, upgrade
from hotline.storage.models import Base, Event, Outbox
from tests.conftest import DatabaseFactory
from tests.harness import LINK, Cluster

OFFICER_W = Person("jmiller", "J. Miller", "duty_officer")
SUPERVISOR_W = Person("kchen", "K. Chen", "supervisor")
TRANSLATOR_W = Person("tlee", "T. Lee", "translator")
OFFICER_B = Person("lwei", "Li Wei", "duty_officer")
ADMIN = "cli:admin"


def pump(a: Node, b: Node, link: str = LINK) -> None:
    """Deliver everything pending both ways, as the deliverers would."""
    for _ in range(10):
        moved = False
        for src, dst in ((a, b), (b, a)):
            found = src.find_link(link)
            rows = src.pending(found.id, limit=500, due_only=False)
            if not rows:
                continue
            result = dst.receive(found.id, [env for _, env in rows], found.peer_seq)
            assert all(o.status != "refused" for o in result.outcomes), result.outcomes
            src.delivered(found.id, result.have, result.receipts)
            moved = moved or any(o.status == "accepted" for o in result.outcomes)
        if not moved:
            return


class Pair:
    def __init__(self, cluster: Cluster) -> None:
        self.w = Node(cluster.washington.home)
        self.b = Node(cluster.beijing.home)
        self.wd, self.bd = Desk(self.w), Desk(self.b)

    def close(self) -> None:
        self.w.close()
        self.b.close()

    def pump(self, link: str = LINK) -> None:
        pump(self.w, self.b, link)

    def agree(self, **changes: Any) -> None:
        """Washington proposes the next version; beijing countersigns it."""
        proposed = self.wd.propose_policy(LINK, changes, ADMIN)
        self.pump()
        self.bd.accept_policy(LINK, proposed.version, ADMIN)
        self.pump()
        assert self.wd.policy(LINK).in_force == self.bd.policy(LINK).in_force


@pytest.fixture
def pair(tmp_path: Path, database: DatabaseFactory) -> Iterator[Pair]:
    with Cluster(tmp_path, database.url_for) as cluster:
        pair = Pair(cluster)
        try:
            yield pair
        finally:
            pair.close()


def refusal(call: Any) -> Refused:
    with pytest.raises(Refused) as info:
        call()
    return info.value


def events(node: Node, type_: str) -> list[dict[str, Any]]:
    with node.reading() as session:
        rows = session.scalars(select(Event).where(Event.type == type_).order_by(Event.id))
        return [dict(r.data) for r in rows]


def refused_audit(node: Node, action: str) -> list[str]:
    with node.reading() as session:
        rows = session.scalars(
            select(AuditLog)
            .where(AuditLog.action == action, AuditLog.outcome == "refused")
            .order_by(AuditLog.id)
        )
        return [r.detail["code"] for r in rows]


# Policy ------------------------------------------------------------------------------


def test_a_policy_is_in_force_only_once_both_sides_signed_it(pair: Pair) -> None:
    proposed = pair.wd.propose_policy(LINK, {}, ADMIN)
    assert proposed.version == 1 and proposed.state == "proposed"
    assert pair.wd.policy(LINK).in_force is None  # signed by one side only
    pair.pump()
    [theirs] = pair.bd.policy(LINK).pending
    assert theirs.proposed_by == "washington" and pair.bd.policy(LINK).in_force is None
    assert refusal(lambda: pair.wd.accept_policy(LINK, 1, ADMIN)).code == "own_proposal"
    pair.bd.accept_policy(LINK, 1, ADMIN)
    assert pair.bd.policy(LINK).in_force is not None
    pair.pump()
    state = pair.wd.policy(LINK)
    assert state.in_force is not None and state.in_force.version == 1
    assert state.agreement is not None
    state.agreement.verify()
    assert {state.agreement.proposer.party, state.agreement.acceptor.party} == {
        "washington",
        "beijing",
    }
    # Amended by mutual signature only; the policy drives the link's settings.
    pair.bd.propose_policy(LINK, {"share_displayed": False}, ADMIN)
    pair.pump()
    assert pair.w.find_link(LINK).share_displayed is True
    pair.wd.accept_policy(LINK, 2, ADMIN)
    pair.pump()
    for node in (pair.w, pair.b):
        assert node.find_link(LINK).share_displayed is False
    assert [v.state for v in pair.wd.policy(LINK).versions] == ["superseded", "in_force"]
    # Both records hold the four policy entries and agree.
    bundles = [pair.w.export(LINK), pair.b.export(LINK)]
    for bundle in bundles:
        assert verify_bundle(bundle)[1] is None
    assert compare_bundles(*bundles).agree
    # Anyone can read the agreements out of either export, offline.
    for bundle in bundles:
        agreed, notes = agreements_in_record(bundle.link_id, bundle.parties(), bundle.entries)
        assert [
            (r.agreement.policy.version, r.agreement.proposer.party, r.agreement.acceptor.party)
            for r in agreed
        ] == [(1, "washington", "beijing"), (2, "beijing", "washington")]
        assert notes == []
        assert agreed[-1].agreement.policy == pair.wd.policy(LINK).in_force


def test_bad_amendments_are_refused_and_change_nothing(pair: Pair) -> None:
    pair.agree()
    before = (pair.w.find_link(LINK).own_seq, pair.wd.policy(LINK).view())
    cases = [
        (lambda: pair.wd.propose_policy(LINK, {"version": 5}, ADMIN), "wrong_version"),
        (lambda: pair.wd.propose_policy(LINK, {"colour": "red"}, ADMIN), "unknown_field"),
        (lambda: pair.wd.propose_policy(LINK, {"criteria": []}, ADMIN), "malformed"),
        (lambda: pair.wd.accept_policy(LINK, 2, ADMIN), "no_proposal"),
        (lambda: pair.wd.propose_policy(LINK, {}, OFFICER_W), "forbidden"),
    ]
    for call, code in cases:
        assert refusal(call).code == code
    assert (pair.w.find_link(LINK).own_seq, pair.wd.policy(LINK).view()) == before
    assert refused_audit(pair.w, "policy.propose") == [
        "wrong_version",
        "unknown_field",
        "malformed",
        "forbidden",
    ]
    assert refused_audit(pair.w, "policy.accept") == ["no_proposal"]
    # A proposal the peer signed badly (or for the wrong version) enters the record,
    # since the peer signed the entry, but is refused as a policy and changes nothing.
    with pair.w.transaction() as session:
        link = lock_link(session, pair.w.find_link(LINK).id)
        policy = amend(default_policy(link.id, "x"), {"version": 7}, in_force=6)
        body = proposal_body(pair.w.identity, policy)
        append_own(session, link, pair.w.identity, Kind.POLICY_PROPOSE, body, now_ms=1)
        forged = proposal_body(pair.b.identity, amend(policy, {}, in_force=1))
        append_own(session, link, pair.w.identity, Kind.POLICY_PROPOSE, forged, now_ms=2)
    pair.pump()
    refused = [v for v in pair.bd.policy(LINK).versions if v.state == "refused"]
    assert sorted(r.refusal.split(":")[0] for r in refused if r.refusal) == [
        "bad_signature",
        "wrong_version",
    ]
    assert pair.bd.policy(LINK).in_force == pair.wd.policy(LINK).in_force
    assert refusal(lambda: pair.bd.accept_policy(LINK, 2, ADMIN)).code == "no_proposal"
    assert len(events(pair.b, "policy.refused")) == 2
    assert sorted(refused_audit(pair.b, "policy.propose")) == ["bad_signature", "wrong_version"]
    agreed, notes = agreements_in_record(
        pair.b.find_link(LINK).id, pair.b.export(LINK).parties(), pair.b.export(LINK).entries
    )
    assert [r.agreement.policy.version for r in agreed] == [1]
    assert len(notes) == 2 and all("changed nothing" in n for n in notes)


def test_conflicting_proposals_resolve_the_same_way_on_both_sides(pair: Pair) -> None:
    pair.agree()
    pair.wd.propose_policy(LINK, {"two_person_rule": False}, ADMIN)
    pair.bd.propose_policy(LINK, {"share_displayed": False}, ADMIN)
    pair.pump()
    # The inviter's proposal takes precedence: washington may not accept beijing's.
    assert refusal(lambda: pair.wd.accept_policy(LINK, 2, ADMIN)).code == "conflicting_proposal"
    pair.bd.accept_policy(LINK, 2, ADMIN)
    pair.pump()
    for desk in (pair.wd, pair.bd):
        state = desk.policy(LINK)
        assert state.in_force is not None and state.in_force.two_person_rule is False
        assert state.in_force.share_displayed is True
        assert sorted(v.state for v in state.versions) == ["in_force", "superseded", "withdrawn"]


# Channels ----------------------------------------------------------------------------


def test_emergency_activation_needs_an_agreed_criterion_and_a_second_operator(
    pair: Pair,
) -> None:
    text = "Unidentified object over Montana at 18 km. Request information."
    why = "Object in our airspace, origin unknown."

    def activate(person: Person = OFFICER_W, **kwargs: Any) -> Any:
        arguments: dict[str, Any] = {"criterion": "airspace-object", "justification": why}
        arguments.update(kwargs)
        return pair.wd.activate_emergency(LINK, person, text=text, **arguments)

    assert refusal(activate).code == "no_policy"  # no criteria are agreed yet
    pair.agree()
    before = pair.w.find_link(LINK).own_seq
    bare = refusal(lambda: activate(criterion=None))
    assert bare.code == "not_an_emergency" and "send it as routine" in bare.detail
    assert refusal(lambda: activate(criterion="holiday-greetings")).code == "unknown_criterion"
    assert refusal(lambda: activate(justification=" ")).code == "justification_required"
    assert refusal(lambda: activate(justification="x" * 501)).code == "justification_too_long"
    assert refusal(lambda: activate(TRANSLATOR_W)).code == "forbidden"
    assert refusal(lambda: activate(lang="English")).code == "malformed"
    assert pair.w.find_link(LINK).own_seq == before
    assert refused_audit(pair.w, "emergency.request") == [
        "no_policy",
        "not_an_emergency",
        "unknown_criterion",
        "justification_required",
        "justification_too_long",
        "forbidden",
        "malformed",
    ]
    # The two-person rule: it waits for a second, authorised operator.
    activation = activate()
    assert activation.state == "awaiting_approval" and activation.message_id is None
    assert pair.w.find_link(LINK).own_seq == before
    [waiting] = pair.wd.emergency_activations(LINK, state="awaiting_approval")
    assert waiting.id == activation.id
    assert (
        refusal(lambda: pair.wd.decide_emergency(activation.id, OFFICER_W, approve=True)).code
        == "forbidden"
    )
    own = activate(SUPERVISOR_W)
    assert (
        refusal(lambda: pair.wd.decide_emergency(own.id, SUPERVISOR_W, approve=True)).code
        == "self_approval"
    )
    pair.wd.decide_emergency(own.id, Person("ops2", "Second", "supervisor"), approve=False)
    approved = pair.wd.decide_emergency(activation.id, SUPERVISOR_W, approve=True)
    assert approved.state == "sent" and approved.message_id is not None
    assert (
        refusal(lambda: pair.wd.decide_emergency(activation.id, SUPERVISOR_W, approve=True)).code
        == "not_awaiting_approval"
    )
    assert pair.wd.emergency_activations(LINK, state="awaiting_approval") == []
    sent = pair.w.message(approved.message_id)
    assert sent is not None and sent.channel == "emergency"
    assert sent.criterion == "airspace-object"
    assert sent.body["approved_by"] == SUPERVISOR_W.label
    # Marked emergency in both records, and it rings the other side.
    pair.pump()
    received = pair.b.message(approved.message_id)
    assert received is not None and received.channel == "emergency"
    [ring] = events(pair.b, "emergency.ringing")
    assert ring["id"] == approved.message_id and ring["agreed_criterion"] is True
    assert ring["criterion_labels"]["zh-Hans"] == "空域内不明物体"
    assert ring["justification"] == why
    assert ring["acknowledge_by_ms"] - ring["received_ms"] == 300_000  # the policy's 5 min
    states = [e["state"] for e in events(pair.w, "emergency.awaiting_approval")]
    assert states == ["awaiting_approval", "awaiting_approval"]
    # Without the two-person rule it leaves at once.
    pair.agree(two_person_rule=False)
    quick = activate(criterion="major-accident")
    assert quick.state == "sent" and quick.decided_by is None
    assert [a.state for a in pair.wd.emergency_activations(LINK)] == [
        "sent",
        "rejected",
        "sent",
    ]


def test_routine_never_rings_and_the_emergency_channel_needs_an_activation(pair: Pair) -> None:
    pair.agree()
    routine = pair.w.send(LINK, {"text": "Season's greetings.", "lang": "en"})
    assert routine.channel == "routine"
    bare = refusal(lambda: pair.w.send(LINK, {"text": "Hello", "channel": "emergency"}))
    assert bare.code == "not_an_emergency" and "send it as routine" in bare.detail
    direct = {"text": "x", "channel": "emergency", "criterion": "armed-incident"}
    assert refusal(lambda: pair.w.send(LINK, direct)).code == "activation_required"
    assert refusal(lambda: pair.w.send(LINK, {"text": "x", "channel": "x"})).code == (
        "unknown_channel"
    )
    pair.pump()
    received = pair.b.message(routine.id)
    assert received is not None and received.channel == "routine"
    assert events(pair.b, "emergency.ringing") == []


def test_the_two_person_rule_is_audited(pair: Pair) -> None:
    pair.agree()
    activation = pair.wd.activate_emergency(
        LINK, SUPERVISOR_W, criterion="armed-incident", justification="Shots fired.", text="x"
    )
    with pytest.raises(Refused):
        pair.wd.decide_emergency(activation.id, SUPERVISOR_W, approve=True)
    assert refused_audit(pair.w, "emergency.decide") == ["self_approval"]


# Escalation --------------------------------------------------------------------------

ESCALATION: dict[str, Any] = {
    "delivered": {
        "deadline_s": 10,
        "actions": [{"do": "resend"}, {"do": "switch_path", "after_s": 5}],
    },
    "acknowledged": {
        "deadline_s": {"emergency": 60, "routine": 600},
        "actions": [
            {"do": "alert", "role": "supervisor"},
            {"do": "suggest_link", "link": "leaders", "after_s": 60},
        ],
    },
}


def second_link(pair: Pair) -> None:
    _, invitation = pair.w.create_invitation("leaders", "Leaders' offices")
    _, acceptance = pair.b.accept_invitation(invitation)
    pair.w.complete_link(acceptance)


def test_escalation_policies_are_validated_and_nothing_changes_on_refusal(pair: Pair) -> None:
    second_link(pair)

    def with_action(action: dict[str, Any]) -> dict[str, Any]:
        return {"acknowledged": {"deadline_s": 60, "actions": [action]}}

    cases = [
        ("nolink", ESCALATION, "unknown_link"),
        (LINK, with_action({"do": "suggest_link", "link": "nolink"}), "unknown_link"),
        (LINK, with_action({"do": "alert", "role": "boss"}), "unknown_role"),
        (LINK, with_action({"do": "alert", "user": "nobody"}), "unknown_user"),
        (LINK, with_action({"do": "pray"}), "unknown_action"),
        (LINK, with_action({"do": "resend", "when": 1}), "unknown_field"),
        (LINK, {"read": {"deadline_s": 60, "actions": [{"do": "resend"}]}}, "unknown_rung"),
        (LINK, {"delivered": {"deadline_s": -1, "actions": [{"do": "resend"}]}}, "malformed"),
        (LINK, {"delivered": {"deadline_s": {"urgent": 5}, "actions": []}}, "unknown_channel"),
        (LINK, with_action({"do": "alert"}), "malformed"),
        (LINK, [], "malformed"),
    ]
    for link, document, code in cases:
        attempt = refusal(lambda n=link, d=document: pair.wd.set_escalation(n, d, ADMIN))
        assert attempt.code == code
    assert pair.wd.escalation(LINK) is None
    assert refused_audit(pair.w, "escalation.set") == [code for _, _, code in cases]
    assert refusal(lambda: pair.wd.set_escalation(LINK, ESCALATION, OFFICER_W)).code == (
        "forbidden"
    )
    # A known user is a valid target; an administrator's change is stored and audited.
    accounts = AccountService(
        pair.w.sessions, hasher=make_hasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    accounts.add_user("kchen", "correct horse battery staple", role="supervisor", actor=ADMIN)
    assert pair.wd.set_escalation(LINK, with_action({"do": "alert", "user": "kchen"}), ADMIN)
    stored = pair.wd.set_escalation(LINK, ESCALATION, ADMIN)
    assert stored["acknowledged"]["actions"][1] == {
        "do": "suggest_link",
        "link": "leaders",
        "after_s": 60,
        "role": "duty_officer",
    }
    assert pair.wd.escalation(LINK) == stored


def test_silence_is_escalated_step_by_step_and_each_step_is_recorded(pair: Pair) -> None:
    second_link(pair)
    pair.agree()
    pair.wd.set_escalation(LINK, ESCALATION, ADMIN)
    sent = pair.w.send(LINK, {"text": "Request for information.", "lang": "en"})
    t0 = sent.created_ms
    assert watch(pair.w, t0 + 5_000).steps == []
    first = watch(pair.w, t0 + 11_000).steps
    assert [(s.rung, s.action, s.outcome) for s in first] == [("delivered", "resend", "done")]
    second = watch(pair.w, t0 + 16_000).steps
    assert [(s.action, s.outcome) for s in second] == [("switch_path", "unavailable")]
    assert "only one path to beijing" in second[0].detail
    assert watch(pair.w, t0 + 17_000).steps == []  # each step once
    [item] = overdue_items(pair.w, t0 + 17_000)
    assert (item.id, item.awaiting, item.waiting_ms, item.steps) == (
        sent.id,
        "delivered",
        17_000,
        2,
    )
    pair.pump()  # delivered now; the acknowledgement is awaited
    assert [i.awaiting for i in overdue_items(pair.w, t0 + 17_000)] == []
    assert [i.awaiting for i in overdue_items(pair.w, t0 + 601_000)] == ["acknowledged"]
    steps = watch(pair.w, t0 + 601_000).steps
    assert [s.action for s in steps] == ["alert"]
    [alert] = pair.wd.alerts(SUPERVISOR_W)
    assert alert.message_id == sent.id and alert.kind == "escalation"
    assert "no acknowledged receipt after 10 min" in alert.text
    assert alert.data["texts"]["zh-Hans"].endswith("在10分钟后仍未确认收到")
    assert pair.wd.alerts(OFFICER_W) == []
    steps = watch(pair.w, t0 + 661_000).steps
    assert [s.action for s in steps] == ["suggest_link"]
    [suggestion] = pair.wd.alerts(OFFICER_W)
    assert suggestion.data["alternate_link"] == "leaders" and "leaders" in suggestion.text
    recorded = pair.wd.escalation_steps(LINK, message_id=sent.id)
    assert [s.action for s in reversed(recorded)] == [
        "resend",
        "switch_path",
        "alert",
        "suggest_link",
    ]
    assert len(events(pair.w, "escalation.step")) == 4
    # Whoever an alert is shown to may clear it, and nobody else.
    assert refusal(lambda: pair.wd.clear_alert(alert.id, OFFICER_W)).code == "not_addressed"
    assert [a.id for a in pair.wd.alerts(SUPERVISOR_W)] == [alert.id]  # still open
    pair.wd.clear_alert(alert.id, SUPERVISOR_W)
    assert refusal(lambda: pair.wd.clear_alert(alert.id, SUPERVISOR_W)).code == ("already_cleared")
    # The acknowledgement ends it.
    pair.bd.acknowledge(sent.id, OFFICER_B, respond_by_ms=t0 + 10_000_000)
    pair.pump()
    assert overdue_items(pair.w, t0 + 700_000) == []
    assert watch(pair.w, t0 + 900_000).steps == []
    # An emergency is overdue sooner, and first in the list.
    routine = pair.w.send(LINK, {"text": "Logistics for the meeting.", "lang": "en"})
    activation = pair.wd.activate_emergency(
        LINK, OFFICER_W, criterion="armed-incident", justification="Shots fired.", text="Call."
    )
    pair.wd.decide_emergency(activation.id, SUPERVISOR_W, approve=True)
    pair.pump()
    later = routine.created_ms + 601_000
    assert [(i.channel, i.awaiting) for i in overdue_items(pair.w, later)] == [
        ("emergency", "acknowledged"),
        ("routine", "acknowledged"),
    ]


# Link tests and statistics -----------------------------------------------------------


def test_link_tests_are_confirmed_by_a_person_or_raise_an_alert(pair: Pair) -> None:
    pair.agree(link_test={"interval_s": 60, "confirm_s": 30})
    in_force = pair.wd.policy(LINK).versions[-1].in_force_ms
    assert in_force is not None
    assert watch(pair.w, in_force + 59_000).tests_sent == []
    [test_id] = watch(pair.w, in_force + 61_000).tests_sent
    assert watch(pair.w, in_force + 62_000).tests_sent == []  # one per interval
    pair.pump()
    [received] = pair.bd.link_tests(LINK)
    assert received.id == test_id and received.state == "awaiting"
    pair.bd.confirm_link_test(test_id, OFFICER_B)
    assert refusal(lambda: pair.bd.confirm_link_test(test_id, OFFICER_B)).code == (
        "already_confirmed"
    )
    assert refusal(lambda: pair.wd.confirm_link_test(test_id, OFFICER_W)).code == "unknown_test"
    pair.pump()
    [confirmed] = pair.wd.link_tests(LINK)
    assert confirmed.state == "confirmed" and confirmed.confirmed_by == OFFICER_B.label
    # The next test is delivered but nobody confirms it: "line up, nobody at the desk".
    [second] = watch(pair.w, in_force + 122_000).tests_sent
    pair.pump()
    assert watch(pair.w, in_force + 140_000).tests_missed == []
    assert watch(pair.w, in_force + 153_000).tests_missed == [second]
    [missed] = [a for a in pair.wd.alerts(OFFICER_W) if a.kind == "link_test_missed"]
    assert missed.text.startswith("Line up, nobody at the desk")
    assert missed.data["texts"]["zh-Hans"].startswith("线路畅通，但无人值守")
    # The attention bar shows it once, as its alert; the overdue list still has it.
    board = attention(pair.w, OFFICER_W, can_approve=False, now=in_force + 153_000)
    assert [a.message_id for a in board.alerts] == [second]
    assert [i.id for i in board.overdue] == []
    assert [i.id for i in pair.wd.overdue(in_force + 153_000)] == [second]
    # A test that never leaves: "not delivered".
    [third] = watch(pair.w, in_force + 183_000).tests_sent
    assert watch(pair.w, in_force + 214_000).tests_missed == [third]
    texts = [a.text for a in pair.wd.alerts(OFFICER_W) if a.kind == "link_test_missed"]
    assert any("not delivered" in t for t in texts)
    # Tests count as test traffic only.
    pair.w.send(LINK, {"text": "Routine note.", "lang": "en"})
    pair.pump()
    totals = usage_stats(pair.w, LINK).totals
    assert totals["test"] == {"out": 3, "in": 1}  # three tests, one confirmation
    assert totals["routine"] == {"out": 1, "in": 0}
    assert totals["emergency"] == {"out": 0, "in": 0}
    assert pair.bd.usage(LINK).totals["test"] == {"out": 1, "in": 3}  # the third arrived late
    metrics = NodeMetrics(lambda: 0.0)
    metrics.registry.register(RulesCollector(pair.w))
    text = generate_latest(metrics.registry).decode()
    for outcome, count in (("sent", 3), ("confirmed", 1), ("missed", 2)):
        assert f'hotline_link_tests_total{{link="defence",outcome="{outcome}"}} {count}.0' in text


def test_the_other_sides_link_test_lapses_when_nobody_confirms_it_in_time(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the receiving side a test nobody confirmed in time is lapsed by the watch, no
    longer offered for confirmation, and confirming it is refused; SQLite and PostgreSQL."""
    pair = Pair(cluster)
    try:
        # Every 10 minutes: the receiving side's watch below never sends its own.
        pair.agree(link_test={"interval_s": 600, "confirm_s": 30})
        in_force = pair.wd.policy(LINK).versions[-1].in_force_ms
        assert in_force is not None
        [first] = watch(pair.w, in_force + 601_000).tests_sent
        pair.pump()
        [received] = pair.bd.link_tests(LINK)
        assert received.id == first and received.state == "awaiting"
        deadline = received.deadline_ms
        assert deadline <= received.sent_ms + 30_000  # the sender's time, or ours if earlier
        board = attention(pair.b, OFFICER_B, can_approve=False, now=deadline - 1)
        assert [t.id for t in board.tests] == [first]
        # Past its window it is no longer offered, even before the watch marks it ...
        assert attention(pair.b, OFFICER_B, can_approve=False, now=deadline).tests == []
        assert watch(pair.b, deadline - 1).tests_lapsed == []
        # ... and confirming it is refused.
        monkeypatch.setattr(rules, "clock_ms", lambda: deadline)
        assert refusal(lambda: pair.bd.confirm_link_test(first, OFFICER_B)).code == "test_lapsed"
        assert pair.bd.link_tests(LINK)[0].state == "awaiting"
        # The watch marks it lapsed, once; ours alone become missed. An alert still open
        # about it (earlier versions raised one per incoming test) is cleared with it.
        with pair.b.transaction() as session:
            link_id = pair.b.find_link(LINK).id
            raise_alert(
                session,
                link_id=link_id,
                kind="link_test",
                role="duty_officer",
                message_id=first,
                text="Link test from washington: confirm that you are at the desk",
                data={"test": first},
                now_ms=deadline - 1,
            )
        assert [a.kind for a in pair.bd.alerts()] == ["link_test"]
        marked = watch(pair.b, deadline)
        assert marked.tests_lapsed == [first] and marked.tests_missed == []
        assert watch(pair.b, deadline + 60_000).tests_lapsed == []
        [lapsed] = pair.bd.link_tests(LINK, state="lapsed")
        assert lapsed.id == first and lapsed.confirmed_ms is None
        assert [e["id"] for e in events(pair.b, "link_test.lapsed")] == [first]
        assert events(pair.b, "link_test.lapsed")[0]["state"] == "lapsed"
        # Confirming it now is refused too, and changes nothing: no entry, no event.
        own_seq = pair.b.find_link(LINK).own_seq
        monkeypatch.setattr(rules, "clock_ms", lambda: deadline + 3_600_000)
        refused = refusal(lambda: pair.bd.confirm_link_test(first, OFFICER_B))
        assert refused.code == "test_lapsed" and "counted it as missed" in refused.detail
        assert pair.b.find_link(LINK).own_seq == own_seq
        assert pair.bd.link_tests(LINK)[0].state == "lapsed"
        assert events(pair.b, "link_test.confirmed") == []
        assert refused_audit(pair.b, "link_test.confirm") == ["test_lapsed", "test_lapsed"]
        assert attention(pair.b, OFFICER_B, can_approve=False, now=deadline + 1).tests == []
        # The sender counted it missed: "line up, nobody at the desk".
        pair.pump()
        assert watch(pair.w, in_force + 631_000).tests_missed == [first]
        [alert] = [a for a in pair.wd.alerts(OFFICER_W) if a.kind == "link_test_missed"]
        assert alert.text.startswith("Line up, nobody at the desk")
        # A test within its window still confirms.
        monkeypatch.undo()
        [second] = watch(pair.w, in_force + 1_202_000).tests_sent
        pair.pump()
        [waiting] = pair.bd.link_tests(LINK, state="awaiting")
        assert waiting.id == second
        now = waiting.deadline_ms - 1_000
        board = attention(pair.b, OFFICER_B, can_approve=False, now=now)
        assert [t.id for t in board.tests] == [second]
        monkeypatch.setattr(rules, "clock_ms", lambda: now)
        assert pair.bd.confirm_link_test(second, OFFICER_B).state == "confirmed"
        assert watch(pair.b, waiting.deadline_ms + 60_000).tests_lapsed == []
        pair.pump()
        assert pair.wd.link_tests(LINK, state="confirmed")[0].id == second
        # A test that arrives after its window (the sender's time plus the window) is
        # lapsed on arrival: never offered for confirmation.
        [third] = watch(pair.w, in_force + 1_803_000).tests_sent
        monkeypatch.setattr(outbox, "now_ms", lambda: in_force + 1_843_000)
        pair.pump()
        late = next(t for t in pair.bd.link_tests(LINK) if t.id == third)
        assert late.state == "awaiting" and late.deadline_ms == in_force + 1_833_000
        assert attention(pair.b, OFFICER_B, can_approve=False, now=late.deadline_ms).tests == []
        monkeypatch.setattr(rules, "clock_ms", lambda: in_force + 1_843_000)
        assert refusal(lambda: pair.bd.confirm_link_test(third, OFFICER_B)).code == "test_lapsed"
        # Lapsed tests are still test traffic in the statistics, and never messages or
        # alerts on the receiving side (the attention bar lists them from link_tests).
        assert pair.bd.usage(LINK).totals["test"] == {"out": 1, "in": 3}
        assert pair.b.messages(LINK) == [] and pair.bd.alerts() == []
        assert third in watch(pair.b, in_force + 1_843_000).tests_lapsed
        # The receiving side's metrics count them: our desk missed two of three.
        metrics = NodeMetrics(lambda: 0.0)
        metrics.registry.register(RulesCollector(pair.b))
        text = generate_latest(metrics.registry).decode()
        for outcome, count in (("received", 3), ("confirmed", 1), ("lapsed", 2)):
            assert (
                f'hotline_link_tests_received_total{{link="defence",outcome="{outcome}"}} {count}.0'
                in text
            )
        assert 'hotline_link_tests_total{link="defence",outcome="lapsed"}' not in text
    finally:
        pair.close()


def test_usage_statistics_by_hour_and_day_with_metrics(pair: Pair) -> None:
    pair.agree(two_person_rule=False)
    for i in range(3):
        pair.w.send(LINK, {"text": f"routine {i}", "lang": "en"})
    pair.wd.activate_emergency(
        LINK, OFFICER_W, criterion="space-collision", justification="Conjunction.", text="x"
    )
    pair.b.send(LINK, {"text": "reply", "lang": "zh-Hans"})
    pair.pump()
    hourly = pair.wd.usage(LINK, bucket="hour").view()
    assert hourly["totals"]["routine"] == {"out": 3, "in": 1}
    assert hourly["totals"]["emergency"] == {"out": 1, "in": 0}
    [bucket] = hourly["buckets"]
    assert bucket["start_ms"] % 3_600_000 == 0
    daily = pair.bd.usage(LINK, bucket="day").view()
    assert daily["totals"]["emergency"] == {"out": 0, "in": 1}
    assert daily["buckets"][0]["start_ms"] % 86_400_000 == 0
    assert pair.wd.usage(LINK, since_ms=bucket["start_ms"] + 3_600_000).view()["buckets"] == []
    assert refusal(lambda: pair.wd.usage(LINK, bucket="week")).code == "unknown_bucket"
    # Response times, for our messages: beijing answered one of the routine ones.
    first = pair.w.messages(LINK, direction="out")[0]
    pair.bd.acknowledge(first.id, OFFICER_B, respond_by_ms=first.created_ms + 10_000_000)
    pair.b.send(LINK, {"text": "answer", "lang": "en"}, ref=first.id)
    pair.pump()
    responses = pair.wd.usage(LINK).view()["responses"]
    assert responses["routine"]["sent"] == 3 and responses["emergency"]["sent"] == 1
    assert responses["routine"]["acknowledged"]["count"] == 1
    assert responses["routine"]["answered"]["count"] == 1
    assert responses["routine"]["acknowledged"]["median_s"] >= 0
    assert responses["emergency"]["acknowledged"] == {"count": 0, "median_s": None, "p90_s": None}
    metrics = NodeMetrics(lambda: 0.0)
    metrics.registry.register(RulesCollector(pair.w))
    text = generate_latest(metrics.registry).decode()
    assert 'hotline_emergency_activations{link="defence",state="sent"} 1.0' in text
    assert 'hotline_overdue_items{kind="message",link="defence"} 0.0' in text


# Schema ------------------------------------------------------------------------------

POLICY_TABLES = {
    "link_policies",
    "emergency_activations",
    "escalation_policies",
    "escalation_steps",
    "alerts",
    "link_tests",
}


def test_migration_0005_matches_the_models_and_downgrades(
    tmp_path: Path, database: DatabaseFactory
) -> None:
    url = database.url_for(tmp_path) or sqlite_url(tmp_path / "schema.db")
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        ours = [d for d in diffs if _table_of(d) in POLICY_TABLES | {"messages"}]
        assert ours == []
        columns = {c["name"] for c in inspect(engine).get_columns("messages")}
        assert {"channel", "criterion"} <= columns
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        assert not POLICY_TABLES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= POLICY_TABLES
    finally:
        engine.dispose()


def _table_of(diff: Any) -> str | None:
    """The table an Alembic autogenerate difference is about."""
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        if isinstance(part, Table):
            return str(part.name)
        table = getattr(part, "table", None)
        if isinstance(table, Table):
            return str(table.name)
    return next((part for part in item[1:] if isinstance(part, str)), None)


def test_switch_path_and_relay_ask_the_path_failover(pair: Pair) -> None:
    pair.wd.set_escalation(
        LINK,
        {"delivered": {"deadline_s": 5, "actions": [{"do": "switch_path"}, {"do": "relay"}]}},
        ADMIN,
    )
    pair.w.add_path(LINK, "https://127.0.0.1:9")
    sent = pair.w.send(LINK, {"text": "Anyone there?", "lang": "en"})
    steps = watch(pair.w, sent.created_ms + 6_000).steps
    assert [(s.action, s.outcome) for s in steps] == [
        ("switch_path", "requested"),
        ("relay", "unavailable"),
    ]
    assert "https://127.0.0.1:9 (unknown)" in steps[0].detail
    assert "no relay accepted by both parties" in steps[1].detail
    # The path in use (none is marked active before a deliverer ran: the first) is to
    # be avoided for ten minutes; the deliverer reads that (tests/node/test_paths.py).
    first, second = pair.w.link_paths(LINK)
    assert steps[0].detail.startswith(f"moving off {first.url} for 10 min")
    assert first.avoid_until_ms == sent.created_ms + 6_000 + 600_000
    assert second.avoid_until_ms is None
    with pair.w.reading() as session:
        due = session.scalar(select(Outbox.next_attempt_ms).where(Outbox.entry_id == sent.id))
    assert due == sent.created_ms + 6_000  # the next push is brought forward


ESCALATION_CODES = {
    "malformed",
    "unknown_rung",
    "unknown_field",
    "unknown_action",
    "unknown_role",
    "unknown_user",
    "unknown_link",
    "unknown_channel",
}
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 100_000)
    | st.sampled_from(
        ["resend", "alert", "supervisor", "boss", "leaders", "defence", "emergency", ""]
    )
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "delivered",
                    "acknowledged",
                    "read",
                    "deadline_s",
                    "actions",
                    "do",
                    "role",
                    "user",
                    "link",
                    "after_s",
                    "emergency",
                    "routine",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=documents)
def test_any_escalation_document_is_stored_checked_or_refused_with_a_code(
    pair: Pair, document: Any
) -> None:
    before = pair.wd.escalation(LINK)
    try:
        stored = pair.wd.set_escalation(LINK, document, ADMIN)
    except Refused as exc:
        assert exc.code in ESCALATION_CODES, exc
        assert pair.wd.escalation(LINK) == before
    else:
        assert pair.wd.escalation(LINK) == stored
        assert set(stored) <= {"delivered", "displayed", "acknowledged", "answered"}


steps = st.lists(
    st.sampled_from(["w-propose", "b-propose", "w-accept", "b-accept", "pump", "b-pump-half"]),
    min_size=1,
    max_size=8,
)


# The refusals a proposal or an acceptance may meet when both sides act in any order.
RACE_REFUSALS = {"already_proposed", "conflicting_proposal", "own_proposal", "no_proposal"}


def test_whatever_both_sides_do_they_agree_on_the_policy_in_force(pair: Pair) -> None:
    """Proposals and acceptances in any order and interleaving: once everything has
    crossed, both nodes hold the same policy in force, and it is the one a replay of
    either record finds. The plans must also reach agreements, not only refusals."""
    outcomes: dict[str, int] = {"proposed": 0, "accepted": 0, "refused": 0, "agreed": 0}

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @example(plan=["w-propose", "pump", "b-accept", "pump"])
    @example(plan=["w-propose", "b-propose", "pump", "w-accept", "b-accept", "pump"])
    @given(plan=steps)
    def run(plan: list[str]) -> None:
        desks = {"w": pair.wd, "b": pair.bd}
        for step in plan:
            side, _, action = step.partition("-")
            if step == "pump":
                pair.pump()
            elif action == "pump-half":  # only beijing's entries cross
                found = pair.b.find_link(LINK)
                rows = pair.b.pending(found.id, limit=500, due_only=False)
                if rows:
                    pair.w.receive(found.id, [env for _, env in rows], found.peer_seq)
            elif action == "propose":
                try:
                    desks[side].propose_policy(LINK, {"purpose": f"{step} {len(plan)}"}, ADMIN)
                    outcomes["proposed"] += 1
                except Refused as exc:
                    assert exc.code in RACE_REFUSALS, exc
                    outcomes["refused"] += 1
            else:
                desk = desks[side]
                me = "washington" if side == "w" else "beijing"
                pending = [v.version for v in desk.policy(LINK).pending if v.proposed_by != me]
                for version in pending:
                    try:
                        desk.accept_policy(LINK, version, ADMIN)
                        outcomes["accepted"] += 1
                    except Refused as exc:
                        assert exc.code in RACE_REFUSALS, exc
                        outcomes["refused"] += 1
        pair.pump()
        w_state, b_state = pair.wd.policy(LINK), pair.bd.policy(LINK)
        assert w_state.in_force == b_state.in_force
        if w_state.in_force is not None:
            outcomes["agreed"] += 1
        event("a policy in force" if w_state.in_force is not None else "none in force yet")
        for node in (pair.w, pair.b):
            bundle = node.export(LINK)
            agreed, _ = agreements_in_record(bundle.link_id, bundle.parties(), bundle.entries)
            assert (agreed[-1].agreement.policy if agreed else None) == w_state.in_force

    run()
    # The explicit examples alone propose, accept and agree; generated plans add more.
    assert outcomes["proposed"] >= 3 and outcomes["accepted"] >= 2, outcomes
    assert outcomes["agreed"] >= 2, outcomes


def test_an_alert_is_cleared_by_whoever_it_is_shown_to(pair: Pair) -> None:
    """The operator's guide: every role may clear an alert shown to it (for everyone,
    for its role, or for the person by name); the node's administrator (API, CLI)
    sees and may clear them all."""
    observer = Person("oobs", "O. Obs", "observer")
    with pair.w.transaction() as session:
        for_all = raise_alert(session, link_id=None, kind="test", text="all", now_ms=1)
        for_role = raise_alert(
            session, link_id=None, kind="test", text="sup", now_ms=2, role="supervisor"
        )
        for_user = raise_alert(session, link_id=None, kind="test", text="tl", now_ms=3, user="tlee")
        for_admin = raise_alert(
            session, link_id=None, kind="test", text="adm", now_ms=4, role="administrator"
        )
        ids = [for_all.id, for_role.id, for_user.id, for_admin.id]
    shown = {
        who.username: {a.id for a in pair.wd.alerts(who)}
        for who in (observer, TRANSLATOR_W, SUPERVISOR_W, OFFICER_W)
    }
    assert shown == {
        "oobs": {ids[0]},
        "tlee": {ids[0], ids[2]},
        "kchen": {ids[0], ids[1]},
        "jmiller": {ids[0]},
    }
    for who, alert_id in ((OFFICER_W, ids[1]), (OFFICER_W, ids[2]), (TRANSLATOR_W, ids[1])):
        assert refusal(lambda: pair.wd.clear_alert(alert_id, who)).code == "not_addressed"  # noqa: B023
    pair.wd.clear_alert(ids[2], TRANSLATOR_W)  # a translator, by name
    pair.wd.clear_alert(ids[0], observer)  # an observer, an alert for everyone
    pair.wd.clear_alert(ids[1], SUPERVISOR_W)  # by role
    pair.wd.clear_alert(ids[3], ADMIN)  # the node's administrator, through the API or CLI
    assert pair.wd.alerts() == []
    assert refused_audit(pair.w, "alert.clear") == ["not_addressed"] * 3


def test_a_backlog_of_overdue_messages_raises_one_alert_that_counts_them(pair: Pair) -> None:
    pair.wd.set_escalation(
        LINK,
        {"delivered": {"deadline_s": 5, "actions": [{"do": "alert", "role": "supervisor"}]}},
        ADMIN,
    )
    sent = [pair.w.send(LINK, {"text": f"m{i}", "lang": "en"}) for i in range(3)]
    steps = watch(pair.w, sent[-1].created_ms + 6_000).steps
    assert [s.message_id for s in steps] == [m.id for m in sent]  # a step for each
    [alert] = pair.wd.alerts(SUPERVISOR_W)
    assert alert.data["count"] == 3 and alert.message_id == sent[-1].id
    assert alert.text.endswith("(2 more overdue before it)")
    assert alert.data["texts"]["zh-Hans"].endswith("（此前另有2条逾期）")
