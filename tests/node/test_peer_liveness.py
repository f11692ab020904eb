"""Heartbeats and relayed pushes at the peer API, over real mutual TLS to a real node:
a good heartbeat gets a signed echo; forged, stale or misaddressed ones are refused
with their code; relay routes refuse certificates they do not know. Nothing is written."""

from __future__ import annotations

import os
import time

import httpx

from hotline.node.delivery.wire import RelayPush, encode_relay_push
from hotline.node.service import Node
from hotline.protocol.encoding import decode
from hotline.protocol.heartbeat import make_heartbeat, read_echo
from hotline.protocol.keys import PrivateIdentity
from hotline.transport.tls import client_context
from tests.harness import LINK, Cluster


def recorded(node: Node) -> list[str]:
    """Events other than beijing's own path liveness (its heartbeats to the absent
    washington keep changing that)."""
    return [
        e.type
        for e in node.events_after(0, 100_000)
        if e.type not in ("path.state", "link.failover", "link.relay")
    ]


def test_heartbeat_refusals_and_relay_routes(cluster: Cluster) -> None:
    cluster.beijing.start()
    w_home, b_home = cluster.washington.home, cluster.beijing.home
    washington = w_home.load_identity()
    node = cluster.beijing.node()
    try:
        link = node.find_link(LINK)
        events_before = recorded(node)
    finally:
        node.close()
    config = b_home.load_config()
    base = f"https://{config.peer_host}:{config.peer_port}/peer/v1"
    context = client_context(w_home.cert_path, w_home.key_path, b_home.certificate_der())

    def beat(me: PrivateIdentity = washington, **changes: object) -> tuple[object, bytes]:
        args: dict[str, object] = {
            "link": link.id,
            "to": "beijing",
            "path": base,
            "counter": 1,
            "time_ms": int(time.time() * 1000),
            "nonce": os.urandom(16),
        }
        args.update(changes)
        return make_heartbeat(me, **args)  # type: ignore[arg-type]

    with httpx.Client(verify=context, timeout=10) as client:

        def post(body: bytes, what: str = f"links/{link.id}/heartbeat") -> httpx.Response:
            return client.post(
                f"{base}/{what}", content=body, headers={"content-type": "application/cbor"}
            )

        sent, wire = beat()
        answer = post(wire)
        assert answer.status_code == 200
        echo = read_echo(
            answer.content,
            peer_key=b_home.load_identity().public.signing_key,
            beat=sent,  # type: ignore[arg-type]
        )
        assert echo.sender == "beijing"

        impostor = PrivateIdentity.from_seeds("washington", os.urandom(32), os.urandom(32))
        cases = [
            (beat(impostor)[1], "bad_signature"),
            (beat(time_ms=int(time.time() * 1000) - 600_000)[1], "expired"),
            (beat(to="geneva")[1], "wrong_recipient"),
            (beat(link="01HF7YAT00AAAAAAAAAAAAAAAA")[1], "wrong_link"),
            (b"\xa0", "malformed"),
            (bytes(5000), "too_large"),
        ]
        for body, code in cases:
            response = post(body)
            assert response.status_code in (400, 413), (code, response.status_code)
            assert decode(response.content, max_size=4096)["error"] == code

        # Not a relay for this link, and this node relays nothing.
        relayed = encode_relay_push(RelayPush("beijing", 0, bytes(64), []))
        response = post(relayed, f"links/{link.id}/relayed")
        assert response.status_code == 403
        assert decode(response.content, max_size=4096)["error"] == "unknown_sender"
        response = post(relayed, f"relay/{link.id}")
        assert response.status_code == 404
        assert decode(response.content, max_size=4096)["error"] == "wrong_link"

    node = cluster.beijing.node()
    try:
        assert node.find_link(LINK).record_length == 0
        assert recorded(node) == events_before
    finally:
        node.close()
