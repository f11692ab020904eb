"""People at the desk, on two real nodes: human receipts, the holding reply,
drafts with approval, and calls with their sessions, in both records."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from hotline.clock import now_ms
from hotline.language.phrasebook import shipped_phrasebook
from hotline.node.desk.desk import Desk
from hotline.node.home import NodeError
from hotline.node.language.agreed_messages import HOLDING_REPLY
from hotline.node.people import Person
from hotline.protocol.bundle import compare_bundles
from hotline.protocol.kinds import Kind
from hotline.storage.models import Event
from tests.harness import LINK, Cluster, NodeHandle, kinds_in_record, record, send, wait_until

OFFICER_W = Person("jmiller", "J. Miller", "duty_officer")
OFFICER_B = Person("lwei", "Li Wei", "duty_officer")
PRINCIPAL_B = Person("zhang", "Zhang Min", "principal")


@contextmanager
def desk(handle: NodeHandle) -> Iterator[Desk]:
    node = handle.node()
    try:
        yield Desk(node)
    finally:
        node.close()


def message(handle: NodeHandle, message_id: str) -> dict[str, Any]:
    with handle.client() as client:
        response = client.get(f"/api/v1/messages/{message_id}")
        response.raise_for_status()
        return dict(response.json())


def ladder(handle: NodeHandle, message_id: str) -> dict[str, Any]:
    """The message's ladder; an empty one while the node does not have the message."""
    with handle.client() as client:
        response = client.get(f"/api/v1/messages/{message_id}")
    if response.status_code == 404:
        return {"received": None, "displayed": None, "acknowledged": None, "answered": None}
    response.raise_for_status()
    return dict(response.json()["ladder"])


def link_id(handle: NodeHandle) -> str:
    node = handle.node()
    try:
        return node.find_link(LINK).id
    finally:
        node.close()


def test_displayed_acknowledged_answered_fill_the_senders_ladder(cluster: Cluster) -> None:
    cluster.start()
    with cluster.washington.client() as w:
        sent = send(w, "Unidentified object over Montana. Request information.")
    wait_until(lambda: ladder(cluster.beijing, sent["id"])["received"] is not None)
    with desk(cluster.beijing) as b:
        assert b.displayed(sent["id"], OFFICER_B) is True
        assert b.displayed(sent["id"], OFFICER_B) is False  # once only
        respond_by = now_ms() + 3_600_000
        b.acknowledge(sent["id"], OFFICER_B, respond_by_ms=respond_by)
        with pytest.raises(NodeError, match="already been acknowledged"):
            b.acknowledge(sent["id"], OFFICER_B, respond_by_ms=respond_by)
    wait_until(lambda: ladder(cluster.washington, sent["id"])["acknowledged"] is not None)
    seen = message(cluster.washington, sent["id"])
    assert seen["displayed_by"] == OFFICER_B.label
    assert seen["acknowledged_by"] == OFFICER_B.label
    assert seen["ladder"]["displayed"] <= seen["ladder"]["acknowledged"]
    # The holding reply is an agreed text: id and parameters, rendered by each side.
    ack_envelope, ack_body = next(
        (env, body)
        for env, body in record(cluster.washington)
        if env.header.kind is Kind.RECEIPT_ACKNOWLEDGED
    )
    assert ack_envelope.header.ref == sent["id"]
    # It comes from the phrasebook (the shipped one: none is agreed on this link yet).
    assert ack_body["agreed_text"] == HOLDING_REPLY == "holding-reply-v1"
    assert ack_body["phrasebook_version"] == shipped_phrasebook().version
    rendered = shipped_phrasebook().render(HOLDING_REPLY, "zh-Hans", ack_body["parameters"])
    assert rendered.startswith("已收到") and "前答复" in rendered
    assert ack_body["parameters"]["respond_by"].endswith("+00:00")
    # A reply that refers to the message marks it answered.
    with cluster.beijing.client() as b_client:
        reply = send(b_client, "The object is a civilian airship.", ref=sent["id"])
    wait_until(lambda: ladder(cluster.washington, sent["id"])["answered"] is not None)
    assert message(cluster.washington, sent["id"])["answered_by"] == reply["id"]


def test_respond_by_must_be_in_the_future(cluster: Cluster) -> None:
    cluster.start()
    with cluster.washington.client() as w:
        sent = send(w, "Test")
    wait_until(lambda: ladder(cluster.beijing, sent["id"])["received"] is not None)
    with desk(cluster.beijing) as b, pytest.raises(NodeError, match="future"):
        b.acknowledge(sent["id"], OFFICER_B, respond_by_ms=now_ms() - 1)
    with desk(cluster.washington) as w_desk, pytest.raises(NodeError, match="no incoming"):
        w_desk.acknowledge(sent["id"], OFFICER_W, respond_by_ms=now_ms() + 60_000)


def test_a_reply_waits_for_a_principal_then_leaves(cluster: Cluster) -> None:
    cluster.start()
    with cluster.washington.client() as w:
        sent = send(w, "Please explain the flight path.")
    wait_until(lambda: ladder(cluster.beijing, sent["id"])["received"] is not None)
    link = link_id(cluster.beijing)
    with desk(cluster.beijing) as b:
        draft = b.save_draft(link, OFFICER_B, "It drifted off course.", lang="en", ref=sent["id"])
        assert draft.state == "draft"
        with pytest.raises(NodeError, match="only the author"):
            b.submit_draft(draft.id, PRINCIPAL_B, may_send=True)
        draft = b.submit_draft(draft.id, OFFICER_B, may_send=False)
        assert draft.state == "awaiting_approval"
        # Sent back, edited, resubmitted, approved: then and only then it leaves.
        draft = b.decide_draft(draft.id, PRINCIPAL_B, approve=False, note="Say 'weather'.")
        assert draft.state == "draft" and draft.decision_note == "Say 'weather'."
        draft = b.save_draft(
            link,
            OFFICER_B,
            "Weather blew it off course.",
            lang="en",
            ref=sent["id"],
            draft_id=draft.id,
        )
        draft = b.submit_draft(draft.id, OFFICER_B, may_send=False)
        assert ladder(cluster.washington, sent["id"])["answered"] is None
        draft = b.decide_draft(draft.id, PRINCIPAL_B, approve=True)
        assert draft.state == "sent" and draft.sent_message_id is not None
        with pytest.raises(NodeError, match="is sent"):
            b.decide_draft(draft.id, PRINCIPAL_B, approve=True)
    wait_until(lambda: ladder(cluster.washington, sent["id"])["answered"] is not None)
    answered = message(cluster.washington, draft.sent_message_id)
    assert answered["body"]["text"] == "Weather blew it off course."
    assert answered["body"]["approved_by"] == PRINCIPAL_B.label


def _draft_events(handle: NodeHandle, draft_id: int) -> list[str]:
    node = handle.node()
    try:
        with node.reading() as session:
            rows = session.scalars(
                select(Event).where(Event.type == "draft.updated").order_by(Event.id)
            )
            return [r.data["state"] for r in rows if r.data["draft"] == draft_id]
    finally:
        node.close()


def test_only_the_author_edits_or_discards_a_draft_and_only_while_it_is_one(
    cluster: Cluster,
) -> None:
    cluster.start()
    with cluster.washington.client() as w:
        sent = send(w, "Please explain the flight path.")
    wait_until(lambda: ladder(cluster.beijing, sent["id"])["received"] is not None)
    link = link_id(cluster.beijing)
    with desk(cluster.beijing) as b:
        reply = b.save_draft(link, OFFICER_B, "It drifted.", lang="en", ref=sent["id"])
        spare = b.save_draft(link, OFFICER_B, "Not needed after all.", lang="en", ref=None)
        listed = {(d.id, d.state, d.text, d.lang) for d in b.drafts(link)}
        # Someone else's hands, or no text: refused, and nothing changes.
        with pytest.raises(NodeError, match="only the author can change"):
            b.edit_draft(reply.id, PRINCIPAL_B, "Something else.", lang="en")
        with pytest.raises(NodeError, match="only the author can change"):
            b.save_draft(
                link, PRINCIPAL_B, "Something else.", lang="en", ref=None, draft_id=reply.id
            )
        with pytest.raises(NodeError, match="only the author can discard"):
            b.discard_draft(reply.id, PRINCIPAL_B)
        with pytest.raises(NodeError, match="needs text"):
            b.edit_draft(reply.id, OFFICER_B, "  \n", lang="en")
        with pytest.raises(NodeError, match="no draft"):
            b.discard_draft(reply.id + 1000, OFFICER_B)
        assert {(d.id, d.state, d.text, d.lang) for d in b.drafts(link)} == listed
        assert _draft_events(cluster.beijing, reply.id) == ["draft"]

        # Sent back with a note, the author rewrites it; it still answers the message
        # and still needs the principal.
        b.submit_draft(reply.id, OFFICER_B, may_send=False)
        with pytest.raises(NodeError, match="is awaiting approval"):
            b.edit_draft(reply.id, OFFICER_B, "Changed while waiting.", lang="en")
        with pytest.raises(NodeError, match="is awaiting approval"):
            b.discard_draft(reply.id, OFFICER_B)
        b.decide_draft(reply.id, PRINCIPAL_B, approve=False, note="Say 'weather'.")
        edited = b.edit_draft(reply.id, OFFICER_B, "天气原因使其偏离航线。", lang="zh-Hans")
        assert (edited.state, edited.text, edited.lang) == (
            "draft",
            "天气原因使其偏离航线。",
            "zh-Hans",
        )
        assert edited.ref == sent["id"] and edited.decision_note == "Say 'weather'."
        assert b.submit_draft(reply.id, OFFICER_B, may_send=False).state == "awaiting_approval"

        # Discarded: out of the list, and final.
        assert b.discard_draft(spare.id, OFFICER_B).state == "discarded"
        assert [d.id for d in b.drafts(link)] == [reply.id]
        for attempt in (
            lambda: b.discard_draft(spare.id, OFFICER_B),
            lambda: b.edit_draft(spare.id, OFFICER_B, "Back again.", lang="en"),
            lambda: b.submit_draft(spare.id, OFFICER_B, may_send=True),
        ):
            with pytest.raises(NodeError, match="is discarded"):
                attempt()
    assert _draft_events(cluster.beijing, reply.id) == [
        "draft",
        "awaiting_approval",
        "draft",
        "draft",
        "awaiting_approval",
    ]
    assert _draft_events(cluster.beijing, spare.id) == ["draft", "discarded"]
    texts = [body.get("text") for _, body in record(cluster.beijing)]
    assert "Please explain the flight path." in texts and "Not needed after all." not in texts
    assert ladder(cluster.washington, sent["id"])["answered"] is None


def _call_state(handle: NodeHandle, call_id: str) -> str:
    with desk(handle) as d:
        return {c.id: c.state for c in d.calls(link_id(handle))}.get(call_id, "absent")


def test_calls_ring_are_declined_accepted_and_recorded_in_both_records(cluster: Cluster) -> None:
    cluster.start()
    w_link = link_id(cluster.washington)
    with desk(cluster.washington) as w:
        call = w.request_call(w_link, OFFICER_W, topic="Object over Montana")
        with pytest.raises(NodeError, match="already ringing"):
            w.request_call(w_link, OFFICER_W)
    wait_until(lambda: _call_state(cluster.beijing, call.id) == "ringing", what="ringing")
    with desk(cluster.beijing) as b:
        with pytest.raises(NodeError, match="unknown decline reason"):
            b.answer_call(call.id, OFFICER_B, accept=False, reason="because")
        b.answer_call(call.id, OFFICER_B, accept=False, reason="decline-in-writing")
    wait_until(lambda: _call_state(cluster.washington, call.id) == "declined", what="declined")
    with desk(cluster.washington) as w:
        declined = w.calls(w_link)[0]
        assert declined.decline_reason == "decline-in-writing"
        assert declined.answered_by == OFFICER_B.label
        second = w.request_call(w_link, OFFICER_W, topic="Second attempt")
    wait_until(lambda: _call_state(cluster.beijing, second.id) == "ringing")
    with desk(cluster.beijing) as b:
        b.answer_call(second.id, PRINCIPAL_B, accept=True)
    wait_until(lambda: _call_state(cluster.washington, second.id) == "accepted")
    with desk(cluster.washington) as w:
        w.session_text(second.id, OFFICER_W, "Can you hear us?")
    with desk(cluster.beijing) as b:
        b.session_text(second.id, PRINCIPAL_B, "我们在听。")
    with desk(cluster.beijing) as b:
        wait_until(lambda: len(b.session_entries(second.id)) == 2, what="session lines")
        lines = b.session_entries(second.id)
        assert [(x["from"], x["text"]) for x in lines] == [
            ("washington", "Can you hear us?"),
            ("beijing", "我们在听。"),
        ]
        b.end_call(second.id, PRINCIPAL_B)
    wait_until(lambda: _call_state(cluster.washington, second.id) == "ended")
    with desk(cluster.washington) as w:
        ended = next(c for c in w.calls(w_link) if c.id == second.id)
        assert ended.ended_by == PRINCIPAL_B.label and ended.answered_ms is not None
        assert ended.ended_ms is not None and ended.ended_ms >= ended.answered_ms
        with pytest.raises(NodeError, match="the call is ended"):
            w.session_text(second.id, OFFICER_W, "Hello?")
    expected = [
        "call.request",
        "call.decline",
        "call.request",
        "call.accept",
        "session.text",
        "session.text",
        "call.end",
    ]
    for handle in cluster.nodes:
        wait_until(
            lambda h=handle: (
                [k for k in kinds_in_record(h) if k.startswith(("call", "session"))] == expected
            ),
            what=f"call entries in {handle.home.path.name}'s record",
        )

    def records_agree() -> bool:
        w_node, b_node = cluster.washington.node(), cluster.beijing.node()
        try:
            return compare_bundles(w_node.export(LINK), b_node.export(LINK)).agree
        finally:
            w_node.close()
            b_node.close()

    # The last receipt may still be on its way: a push's reply is recorded just after.
    wait_until(records_agree, what="both records to agree")


def test_an_unanswered_call_becomes_missed_on_both_sides(cluster: Cluster) -> None:
    cluster.start()
    with desk(cluster.washington) as w:
        call = w.request_call(link_id(cluster.washington), OFFICER_W, ring_ms=1_500)
    wait_until(lambda: _call_state(cluster.beijing, call.id) == "ringing")
    wait_until(lambda: _call_state(cluster.washington, call.id) == "missed", timeout=10)
    wait_until(lambda: _call_state(cluster.beijing, call.id) == "missed", timeout=10)
    with desk(cluster.beijing) as b, pytest.raises(NodeError, match="the call is missed"):
        b.answer_call(call.id, OFFICER_B, accept=True)
