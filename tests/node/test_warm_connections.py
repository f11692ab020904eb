"""A push after a quiet spell goes out on a warm connection; a connection that must be
remade resumes its TLS session; a push's receipt is on the sender's ladder as soon as
the reply is read (real nodes, SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import time

import httpx

from hotline.node.heartbeat_timings import HeartbeatTimings
from hotline.node.paths.connections import LANES, keepalive_s, listener_keepalive_s
from hotline.transport.tls import client_context
from tests.harness import Cluster, EventStream, NodeHandle, send, wait_until

# Heartbeats that never time out on a busy machine: a failed heartbeat remakes its
# connection, which would hide what these tests look for.
PATIENT = HeartbeatTimings(timeout_s=10.0, connect_s=10.0, slow_rtt_ms=10_000, down_after_ms=60_000)
# Longer than httpx's default keep-alive (5 s), which let the push connection expire.
QUIET_S = 7.0


def _configure(handle: NodeHandle, **changes: object) -> None:
    config = handle.home.load_config()
    handle.home.save_config(config.model_copy(update=changes))


def _handshakes(handle: NodeHandle) -> float:
    """TLS handshakes the node's peer listener completed so far."""
    with handle.client() as client:
        text = client.get("/metrics").text
    match = re.search(r'^hotline_peer_handshakes_total\{outcome="completed"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def _delivered(client: httpx.Client, message_id: str) -> bool:
    return client.get(f"/api/v1/messages/{message_id}").json()["ladder"]["delivered"] is not None


def test_a_push_after_a_quiet_spell_needs_no_new_connection(cluster: Cluster) -> None:
    for handle in cluster.nodes:
        _configure(handle, heartbeats=PATIENT)
    cluster.start()
    with cluster.washington.client() as w:
        # Both of the path's connections are open once a few heartbeats and a push went.
        for text in ("first", "second"):
            sent = send(w, text)
            wait_until(lambda: _delivered(w, sent["id"]), what="delivery")  # noqa: B023
        time.sleep(3 * PATIENT.interval_s)
        before = _handshakes(cluster.beijing)
        assert before >= 1
        time.sleep(QUIET_S)
        sent = send(w, "after a quiet spell")
        wait_until(lambda: _delivered(w, sent["id"]), what="delivery after quiet")
        assert _handshakes(cluster.beijing) == before


def test_a_new_connection_to_the_peer_listener_resumes_the_tls_session(
    cluster: Cluster,
) -> None:
    cluster.start()
    with cluster.washington.client() as w:
        link_id = w.get("/api/v1/links").json()[0]["id"]
    beijing = cluster.beijing.home
    port = beijing.load_config().peer_port
    home = cluster.washington.home
    context = client_context(home.cert_path, home.key_path, beijing.certificate_der())
    url = f"https://127.0.0.1:{port}/peer/v1/links/{link_id}/entries?after=0"
    reused = []
    for _ in range(2):
        # A client of its own each time: the second connection is a new one.
        with httpx.Client(verify=context, timeout=30) as client:
            response = client.get(url)
            # The peer API checked the certificate pinned for the link on this
            # connection, resumed or not.
            assert response.status_code == 200, response.text
            ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
            reused.append(ssl_object.session_reused)
    assert reused == [False, True]


def test_the_delivered_rung_comes_with_the_reply_not_with_a_poll(cluster: Cluster) -> None:
    # With the outbox looked at only every minute, anything that waited for a later
    # pass would not show within the wait below.
    _configure(cluster.washington, outbox_poll_s=60.0)
    cluster.start()
    stream = EventStream(cluster.washington)
    try:
        with cluster.washington.client() as w:
            ids = [send(w, f"message {i}")["id"] for i in range(3)]
            for message_id in ids:
                wait_until(
                    lambda message_id=message_id: any(  # type: ignore[misc]
                        e["id"] == message_id and e["rung"] == "delivered"
                        for e in stream.of_type("message.ladder")
                    ),
                    timeout=30,
                    what="the delivered rung on washington's event stream",
                )
                assert _delivered(w, message_id)
    finally:
        stream.close()


def test_keepalive_follows_the_heartbeat_interval() -> None:
    for interval in (0.5, 1.0, 5.0, 60.0):
        timings = HeartbeatTimings(interval_s=interval, down_after_ms=int(interval * 2000))
        # Each lane carries a heartbeat every LANES intervals: kept well beyond that,
        # and the listener keeps it longer than the client does.
        assert keepalive_s(timings) > 2 * LANES * interval
        assert listener_keepalive_s(timings) > keepalive_s(timings)
