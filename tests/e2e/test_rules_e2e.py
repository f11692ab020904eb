"""Two real nodes (separate processes, mutual TLS) on SQLite and on PostgreSQL: a
policy agreed by both, an emergency activation approved by a second operator that
arrives marked emergency and rings the other side, and an escalation step recorded
when no acknowledgement arrives."""

from __future__ import annotations

import time
from typing import Any

from hotline.accounts.passwords import make_hasher
from hotline.accounts.service import AccountService
from hotline.node.events import events_after
from hotline.protocol.bundle import compare_bundles, verify_bundle
from tests.harness import LINK, Cluster, NodeHandle, wait_until

FAST = make_hasher(time_cost=1, memory_cost=8, parallelism=1)


def get(handle: NodeHandle, path: str) -> Any:
    with handle.client() as client:
        response = client.get(path)
    response.raise_for_status()
    return response.json()


def post(handle: NodeHandle, path: str, body: Any = None, method: str = "POST") -> Any:
    with handle.client() as client:
        return client.request(method, path, json=body if body is not None else {})


PASSWORD = "correct horse battery staple"


def add_users(handle: NodeHandle) -> None:
    node = handle.node()
    try:
        accounts = AccountService(node.sessions, hasher=FAST)
        for username, role in (("jmiller", "duty_officer"), ("kchen", "supervisor")):
            accounts.add_user(username, PASSWORD, role=role, actor="test")
    finally:
        node.close()


def event_types(handle: NodeHandle) -> list[dict[str, Any]]:
    node = handle.node()
    try:
        with node.reading() as session:
            return [{"type": e.type, **e.data} for e in events_after(session, 0, 100_000)]
    finally:
        node.close()


def test_policy_emergency_and_escalation_between_two_real_nodes(cluster: Cluster) -> None:
    w, b = cluster.washington, cluster.beijing
    add_users(w)
    cluster.start()
    # Version 1, proposed by the inviter, is in force only once beijing countersigns it.
    assert post(w, f"/api/v1/links/{LINK}/policy/proposals").status_code == 201
    wait_until(lambda: get(b, f"/api/v1/links/{LINK}/policy")["versions"] != [], what="proposal")
    assert get(w, f"/api/v1/links/{LINK}/policy")["version"] == 0
    assert post(b, f"/api/v1/links/{LINK}/policy/1/accept").status_code == 200
    wait_until(
        lambda: get(w, f"/api/v1/links/{LINK}/policy")["version"] == 1, what="policy in force"
    )
    state = get(w, f"/api/v1/links/{LINK}/policy")
    assert state["signed_by"] == ["washington", "beijing"]
    assert state["in_force"]["two_person_rule"] is True
    # Washington's escalation: no acknowledgement of an emergency within 2 s → supervisor.
    escalation = {
        "acknowledged": {
            "deadline_s": {"emergency": 2},
            "actions": [{"do": "alert", "role": "supervisor"}],
        }
    }
    bad = post(
        w,
        f"/api/v1/links/{LINK}/escalation",
        {"acknowledged": {"deadline_s": 2, "actions": [{"do": "alert", "role": "boss"}]}},
        method="PUT",
    )
    assert bad.status_code == 400 and bad.json()["code"] == "unknown_role"
    assert post(w, f"/api/v1/links/{LINK}/escalation", escalation, method="PUT").status_code == 200
    # A bare emergency is refused with the offer to send it as routine.
    bare = post(w, f"/api/v1/links/{LINK}/messages", {"text": "Hello", "channel": "emergency"})
    assert bare.status_code == 400 and bare.json()["code"] == "not_an_emergency"
    assert "send it as routine" in bare.json()["detail"]
    request = {
        "text": "Unidentified object over Montana. Request information.",
        "criterion": "airspace-object",
        "justification": "Object in our airspace, origin unknown.",
        "by": "jmiller",
    }
    unknown = post(w, f"/api/v1/links/{LINK}/emergency", {**request, "criterion": "greetings"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_criterion"
    activation = post(w, f"/api/v1/links/{LINK}/emergency", request)
    assert activation.status_code == 201, activation.text
    pending = activation.json()
    assert pending["state"] == "awaiting_approval" and pending["message_id"] is None
    path = f"/api/v1/emergency/{pending['id']}/decision"
    own = {"approve": True, "by": "jmiller", "password": PASSWORD}
    assert post(w, path, own).json()["code"] == "forbidden"  # a duty officer may not approve
    # The second operator's own password, not just their name.
    assert post(w, path, {"approve": True, "by": "kchen"}).status_code == 422
    wrong = post(w, path, {"approve": True, "by": "kchen", "password": "guessed"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "bad_credentials"
    assert get(w, "/api/v1/emergency?state=awaiting_approval") != []  # nothing decided
    approved = post(w, path, {"approve": True, "by": "kchen", "password": PASSWORD})
    assert approved.status_code == 200, approved.text
    message_id = approved.json()["message_id"]
    # Marked emergency on both sides; it rings beijing's console.
    wait_until(
        lambda: get_or_none(b, f"/api/v1/messages/{message_id}") is not None,
        what="emergency delivered",
    )
    received = get(b, f"/api/v1/messages/{message_id}")
    assert received["channel"] == "emergency" and received["criterion"] == "airspace-object"
    assert received["body"]["approved_by"] == "kchen (supervisor)"
    assert get(w, f"/api/v1/messages/{message_id}")["channel"] == "emergency"
    [ring] = [e for e in event_types(b) if e["type"] == "emergency.ringing"]
    assert ring["id"] == message_id and ring["agreed_criterion"] is True
    # Nobody acknowledges: washington's watch records the escalation step.
    wait_until(
        lambda: get(w, f"/api/v1/links/{LINK}/escalation/steps") != [],
        timeout=15,
        what="escalation step",
    )
    [step] = get(w, f"/api/v1/links/{LINK}/escalation/steps")
    assert (step["message_id"], step["rung"], step["action"]) == (
        message_id,
        "acknowledged",
        "alert",
    )
    alerts = get(w, "/api/v1/alerts")
    assert any(a["kind"] == "escalation" and a["message_id"] == message_id for a in alerts)
    [overdue] = get(w, "/api/v1/overdue")
    assert overdue["id"] == message_id and overdue["channel"] == "emergency"
    with w.client() as client:
        metrics = client.get("/metrics").text
    assert 'hotline_escalation_steps_total{action="alert",link="defence"} 1.0' in metrics
    assert 'hotline_emergency_activations{link="defence",state="sent"} 1.0' in metrics
    stats = get(b, f"/api/v1/links/{LINK}/stats?bucket=hour")
    assert stats["totals"]["emergency"] == {"out": 0, "in": 1}
    # Both records verify and agree (once the last receipts have crossed).
    wait_until(lambda: records_agree(cluster), what="records agree")


def records_agree(cluster: Cluster) -> bool:
    nodes = [handle.node() for handle in cluster.nodes]
    try:
        bundles = [node.export(LINK) for node in nodes]
    finally:
        for node in nodes:
            node.close()
    for bundle in bundles:
        assert verify_bundle(bundle)[1] is None
    agree = compare_bundles(*bundles).agree
    if not agree:
        time.sleep(0.25)  # opening both databases is not free; poll gently
    return agree


def get_or_none(handle: NodeHandle, path: str) -> Any:
    with handle.client() as client:
        response = client.get(path)
    return None if response.status_code == 404 else response.json()
