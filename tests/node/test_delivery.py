"""Two real nodes over mutual TLS: delivery, receipts, ladder, records (SQLite and PostgreSQL)."""

from __future__ import annotations

import concurrent.futures
import itertools
import random
from contextlib import closing

from hotline.node.delivery.outgoing import Outgoing
from hotline.node.delivery.wire import MAX_BATCH
from hotline.protocol.bundle import compare_bundles, read_bundle, verify_bundle
from tests.harness import LINK, Cluster, EventStream, inbound_texts, send, wait_until


def _message(client, message_id):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/messages/{message_id}").json()


def test_round_trip_with_receipts_answer_and_agreeing_records(cluster: Cluster) -> None:
    cluster.start()
    with cluster.washington.client() as w, cluster.beijing.client() as b:
        stream = EventStream(cluster.beijing)
        try:
            sent = send(w, "Emergency notification: unidentified object over Montana")
            assert sent["status"] == "queued" and sent["ladder"]["queued"] is not None
            wait_until(
                lambda: _message(w, sent["id"])["ladder"]["delivered"] is not None,
                what="delivery receipt",
            )
            incoming = _message(b, sent["id"])
            assert incoming["direction"] == "in"
            assert incoming["body"]["text"].startswith("Emergency notification")
            wait_until(lambda: stream.of_type("message.received"), what="event on beijing")
            assert stream.of_type("message.received")[0]["id"] == sent["id"]
        finally:
            stream.close()
        reply = send(b, "Received; under review", ref=sent["id"], lang="en")
        wait_until(
            lambda: _message(w, sent["id"])["ladder"]["answered"] is not None, what="answered rung"
        )
        out = _message(w, sent["id"])
        assert out["answered_by"] == reply["id"]
        ladder = out["ladder"]
        assert ladder["queued"] <= ladder["transmitted"]
        assert ladder["delivered"] is not None and ladder["displayed"] is None
        wait_until(
            lambda: _message(b, reply["id"])["ladder"]["delivered"] is not None,
            what="reply receipt",
        )
        # Both records: 2 messages + 2 receipts, verifying offline and agreeing.
        wait_until(
            lambda: (
                w.get("/api/v1/status").json()["links"][0]["outbox_depth"] == 0
                and b.get("/api/v1/status").json()["links"][0]["outbox_depth"] == 0
            ),
            what="outboxes to drain",
        )
        bundles = [read_bundle(c.get(f"/api/v1/links/{LINK}/export").text) for c in (w, b)]
    for bundle in bundles:
        summary, fault = verify_bundle(bundle)
        assert fault is None, fault.describe()
        assert summary.entries == 4 and summary.receipts == 2 and summary.payloads_checked == 4
    assert compare_bundles(*bundles).agree


def test_outbox_survives_absent_peer_and_delivers_in_order(cluster: Cluster) -> None:
    cluster.washington.start()
    with cluster.washington.client() as w:
        ids = [send(w, f"message {i}")["id"] for i in range(12)]
        status = w.get("/api/v1/status").json()["links"][0]
        assert status["outbox_depth"] == 12 and status["awaiting_delivery"] == 12
        cluster.beijing.start()
        wait_until(
            lambda: all(_message(w, i)["ladder"]["delivered"] for i in ids),
            timeout=40,
            what="all delivered after the peer came up",
        )
        failures = w.get("/metrics").text
    assert inbound_texts(cluster.beijing) == [f"message {i}" for i in range(12)]
    assert "hotline_delivery_failures_total" in failures


def test_a_backlog_drains_batch_after_batch_without_waiting_for_the_poll(
    cluster: Cluster,
) -> None:
    """After an outage the outbox holds many full batches. Each push of a full batch
    read from the database is followed by the next at once; before, the sender
    waited for its outbox poll between them. With the poll set to a minute, a sender
    that waited for it between batches would need eleven minutes; this one drains
    the backlog with no gap anywhere near a poll."""
    batches, size, poll_s = 12, MAX_BATCH, 60.0
    home = cluster.washington.home
    home.save_config(home.load_config().model_copy(update={"outbox_poll_s": poll_s}))
    with closing(cluster.washington.node()) as node:
        items = [Outgoing(LINK, {"text": f"backlog {i}", "lang": "en"}) for i in range(size)]
        for _ in range(batches):
            node.send_many(items)
    cluster.start()
    with closing(cluster.beijing.node()) as node:
        wait_until(
            lambda: len(node.messages(LINK, direction="in", limit=2_000)) == batches * size,
            timeout=180,
            what="the whole backlog on beijing",
        )
        # One receive transaction per push, one stamp per transaction.
        stamps = sorted({m.received_ms for m in node.messages(LINK, direction="in", limit=2_000)})
    assert len(stamps) >= batches
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert max(gaps) < poll_s * 1000 / 2, gaps


def test_sigkill_either_node_loses_nothing_and_duplicates_nothing(cluster: Cluster) -> None:
    cluster.start()
    rng = random.Random(7)
    accepted: list[str] = []
    with cluster.washington.client(timeout=5) as w:
        for round_ in range(6):
            victim = rng.choice(cluster.nodes)
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                futures = [pool.submit(send_quietly, w, f"r{round_}-m{i}") for i in range(25)]
                if victim is cluster.beijing:
                    victim.kill()
                    victim.start()
                results = [f.result() for f in futures]
            accepted += [text for text, ok in results if ok]
            if victim is cluster.washington:
                # Kill the sender in the middle of delivering what it has accepted.
                victim.kill()
                victim.start()
    wait_until(
        lambda: len(inbound_texts(cluster.beijing)) >= len(accepted),
        timeout=60,
        what="every accepted message on beijing",
    )
    received = inbound_texts(cluster.beijing)
    assert len(received) == len(set(received)), "a message was delivered twice"
    assert set(accepted) <= set(received), "an accepted message was lost"
    # Order: per-sender sequence order equals commit order on washington.
    node = cluster.washington.node()
    try:
        sent_order = [m.body["text"] for m in node.messages(LINK, direction="out", limit=10_000)]
        bundle = node.export(LINK)
    finally:
        node.close()
    assert received == sent_order
    assert verify_bundle(bundle)[1] is None


def send_quietly(client, text):  # type: ignore[no-untyped-def]
    """A send the node may not survive: (text, True) only if the node said 201."""
    import httpx

    try:
        response = client.post(f"/api/v1/links/{LINK}/messages", json={"text": text})
    except httpx.HTTPError:
        return text, False
    return text, response.status_code == 201
