"""The local API: authentication, validation, health, metrics, the live event stream,
and two processes serving one node over one PostgreSQL database."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from hotline.demo import free_port
from hotline.protocol.bundle import verify_bundle
from tests.harness import LINK, Cluster, EventStream, NodeHandle, inbound_texts, send, wait_until


def test_token_is_required_and_checked(cluster: Cluster) -> None:
    cluster.washington.start()
    url = cluster.washington.local_url
    assert httpx.get(f"{url}/api/v1/links").status_code == 401
    wrong = httpx.get(f"{url}/api/v1/links", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert httpx.post(f"{url}/api/v1/links/{LINK}/messages", json={"text": "x"}).status_code == 401
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok", "party": "washington"}
    # No page that would load Swagger or ReDoc from a CDN; the schema is local.
    assert httpx.get(f"{url}/docs").status_code == 404
    assert httpx.get(f"{url}/redoc").status_code == 404
    assert httpx.get(f"{url}/openapi.json").json()["info"]["title"].startswith("Hotline")
    node = cluster.washington.node()
    try:
        assert node.messages(LINK) == []
    finally:
        node.close()


def test_bad_requests_are_refused_and_store_nothing(cluster: Cluster) -> None:
    cluster.washington.start()
    with cluster.washington.client() as w:
        path = f"/api/v1/links/{LINK}/messages"
        empty = w.post(path, json={"text": ""})
        assert empty.status_code == 422
        # FastAPI's shape, though sending is a plain Starlette route: where and why.
        assert [(e["loc"], e["type"]) for e in empty.json()["detail"]] == [
            (["body", "text"], "string_too_short")
        ]
        assert w.post(path, json={"lang": "en"}).json()["detail"][0]["loc"] == ["body", "text"]
        assert w.post(path, json={"text": "x" * 32_001}).status_code == 422
        assert w.post(path, json={"text": "x", "lang": "<script>"}).status_code == 422
        assert w.post(path, json={"text": "x", "ref": "not-a-ulid"}).status_code == 422
        missing_ref = w.post(path, json={"text": "x", "ref": "01HZZZZZZZZZZZZZZZZZZZZZZZ"})
        assert missing_ref.status_code == 404 and missing_ref.json()["code"] == "unknown_entry"
        unknown = w.post("/api/v1/links/nolink/messages", json={"text": "x"})
        assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_link"
        assert (
            w.post(
                path, content=b"{not json", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        assert w.get(f"/api/v1/links/{LINK}/messages").json() == []
        assert w.get("/api/v1/status").json()["links"][0]["own_seq"] == 0


def test_metrics_count_deliveries_and_latency(cluster: Cluster) -> None:
    cluster.start()
    with cluster.washington.client() as w:
        ids = [send(w, f"m{i}")["id"] for i in range(3)]
        wait_until(
            lambda: all(w.get(f"/api/v1/messages/{i}").json()["ladder"]["delivered"] for i in ids),
            what="deliveries",
        )
        metrics = w.get("/metrics").text
    assert 'hotline_deliveries_total{link="defence"} 3.0' in metrics
    assert 'hotline_delivery_latency_seconds_count{link="defence"} 3.0' in metrics
    assert "hotline_outbox_depth" in metrics


def test_event_stream_is_live_and_resumable(cluster: Cluster) -> None:
    cluster.start()
    stream = EventStream(cluster.washington)
    try:
        with cluster.washington.client() as w:
            sent = send(w, "first")
            wait_until(
                lambda: any(
                    e["type"] == "message.ladder"
                    and e["rung"] == "delivered"
                    and e["id"] == sent["id"]
                    for e in stream.events
                ),
                what="delivered event",
            )
        # Path liveness events arrive whenever heartbeats change a path's state; only
        # the message's own events have a fixed order.
        types = [e["type"] for e in stream.events if not e["type"].startswith("path.")]
        assert types[:2] == ["entry.committed", "message.queued"], types
        first_event = stream.events[0]["event_id"]
    finally:
        stream.close()
    # Resume from an event id: everything after it is replayed, in order.
    with cluster.washington.client(timeout=httpx.Timeout(5, read=2)) as w:
        lines: list[str] = []
        with (
            pytest.raises(httpx.ReadTimeout),
            w.stream("GET", "/api/v1/events", headers={"last-event-id": "0"}) as response,
        ):
            for line in response.iter_lines():
                lines.append(line)
    ids = [int(line[4:]) for line in lines if line.startswith("id: ")]
    assert ids == list(range(1, len(ids) + 1)) and first_event in ids


def test_two_processes_serve_one_node_over_one_database(cluster: Cluster) -> None:
    second = NodeHandle(
        cluster.washington.home,
        cluster.base / "washington-2.log",
        extra_args=("--peer-port", str(free_port()), "--local-port", str(free_port())),
    )
    cluster.start()
    second.start()
    try:
        with cluster.washington.client() as w1, second.client() as w2:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                texts = [f"p{p}-m{i}" for i in range(40) for p in (1, 2)]
                futures = [pool.submit(send, w1 if t.startswith("p1") else w2, t) for t in texts]
                ids = [f.result()["id"] for f in futures]
            assert len(set(ids)) == 80
        wait_until(
            lambda: len(inbound_texts(cluster.beijing)) == 80, timeout=60, what="80 messages"
        )
        assert sorted(inbound_texts(cluster.beijing)) == sorted(texts)
        node = cluster.washington.node()
        try:
            assert verify_bundle(node.export(LINK))[1] is None
        finally:
            node.close()
    finally:
        second.stop()
