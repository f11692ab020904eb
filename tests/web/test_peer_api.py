"""The peer API under hostile input, over real mutual TLS to a real node process.

Washington's envelopes are made with its real keys (committed to its own store
while its server is down), then pushed by hand: out of order, twice, forged,
misaddressed, oversized. Beijing must refuse each bad one with its code, store
nothing for it, and never apply anything out of order.
"""

from __future__ import annotations

import os

import httpx
import pytest

from hotline.node.delivery.wire import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    Push,
    decode_entries,
    decode_reply,
    encode_push,
)
from hotline.protocol.encoding import decode, encode
from hotline.protocol.envelope import new_id, parse, seal
from hotline.protocol.keys import PrivateIdentity
from hotline.protocol.kinds import Kind
from hotline.transport.tls import client_context, make_certificate
from tests.harness import LINK, Cluster, inbound_texts


def _pending(cluster: Cluster, count: int) -> tuple[str, list[bytes]]:
    node = cluster.washington.node()
    try:
        for i in range(count):
            node.send(LINK, {"text": f"m{i}", "lang": "en"})
        link = node.find_link(LINK)
        return link.id, [env for _, env in node.pending(link.id, limit=64, due_only=False)]
    finally:
        node.close()


def _peer_client(cluster: Cluster) -> httpx.Client:
    home = cluster.washington.home
    beijing_cert = cluster.beijing.home.certificate_der()
    return httpx.Client(
        verify=client_context(home.cert_path, home.key_path, beijing_cert), timeout=10
    )


def _url(cluster: Cluster, link_id: str, what: str = "push") -> str:
    config = cluster.beijing.home.load_config()
    return f"https://{config.peer_host}:{config.peer_port}/peer/v1/links/{link_id}/{what}"


def _push(client: httpx.Client, url: str, envelopes: list[bytes], have: int = 0) -> httpx.Response:
    return client.post(
        url,
        content=encode_push(Push(have, envelopes)),
        headers={"content-type": "application/cbor"},
    )


def _record_length(cluster: Cluster) -> int:
    node = cluster.beijing.node()
    try:
        return node.find_link(LINK).record_length
    finally:
        node.close()


def test_out_of_order_is_held_then_applied_in_order_and_duplicates_stored_once(
    cluster: Cluster,
) -> None:
    link_id, envelopes = _pending(cluster, 5)
    cluster.beijing.start()
    with _peer_client(cluster) as client:
        url = _url(cluster, link_id)
        reply = decode_reply(_push(client, url, [envelopes[3], envelopes[4]]).content)
        assert [r["status"] for r in reply.results] == ["held", "held"]
        assert reply.missing == (1, 3) and reply.have == 0
        assert inbound_texts(cluster.beijing) == []
        reply = decode_reply(_push(client, url, envelopes[:3]).content)
        assert [r["status"] for r in reply.results] == ["accepted"] * 3
        assert reply.have == 5 and reply.missing is None
        assert inbound_texts(cluster.beijing) == [f"m{i}" for i in range(5)]
        # One signed, cumulative delivery receipt naming the last entry (and its hash).
        assert len(reply.entries) == 1
        receipt = parse(reply.entries[0]).header
        assert receipt.kind is Kind.RECEIPT_DELIVERED
        assert receipt.ref == parse(envelopes[4]).header.id
        assert receipt.ref_hash == parse(envelopes[4]).hash
        # Everything again: acknowledged as duplicates, receipts returned, nothing stored twice.
        length = _record_length(cluster)
        reply = decode_reply(_push(client, url, envelopes).content)
        assert [r["status"] for r in reply.results] == ["duplicate"] * 5
        assert [parse(e).header.ref for e in reply.entries] == [receipt.ref]
        assert _record_length(cluster) == length
        # The pull API returns beijing's own chain (the receipts) for gap filling.
        pulled = decode_entries(client.get(_url(cluster, link_id, "entries") + "?after=0").content)
        assert [parse(e).header.kind for e in pulled] == [Kind.RECEIPT_DELIVERED]


def _forged(cluster: Cluster, link_id: str, **changes: object) -> bytes:
    home = cluster.washington.home
    me = home.load_identity()
    signer = changes.pop("signer", me)
    recipients = changes.pop("recipients", None)
    if recipients is None:
        node = cluster.beijing.node()
        recipients = [node.identity.public]
        node.close()
    return seal(
        sender=signer,  # type: ignore[arg-type]
        recipients=recipients,  # type: ignore[arg-type]
        link=str(changes.pop("link", link_id)),
        envelope_id=new_id(1_700_000_000_000, os.urandom(10)),
        seq=int(changes.pop("seq", 1)),  # type: ignore[call-overload]
        time_ms=1_700_000_000_000,
        kind=Kind.MESSAGE,
        body={"text": "forged?"},
        prev=changes.pop("prev", None),  # type: ignore[arg-type]
        salt=os.urandom(16),
        content_key=os.urandom(32),
        nonce=os.urandom(24),
        key_nonces=[os.urandom(24)],
    ).to_bytes()


@pytest.mark.parametrize(
    "case, expected",
    [
        ("wrong_signature", "bad_signature"),
        ("tampered", "bad_signature"),
        ("wrong_link", "wrong_link"),
        ("wrong_recipient", "wrong_recipient"),
        ("truncated", "malformed"),
        ("replay_other_content", "replay"),
        ("not_cbor", "malformed"),
        ("chain_broken", "chain_broken"),
    ],
)
def test_bad_envelopes_are_refused_with_their_code_and_leave_nothing(
    cluster: Cluster, case: str, expected: str
) -> None:
    link_id, envelopes = _pending(cluster, 1)
    cluster.beijing.start()
    with _peer_client(cluster) as client:
        url = _url(cluster, link_id)
        if case in ("replay_other_content", "chain_broken"):
            assert (
                decode_reply(_push(client, url, envelopes).content).results[0]["status"]
                == "accepted"
            )
        before = _record_length(cluster)
        me = cluster.washington.home.load_identity()
        impostor = PrivateIdentity.from_seeds(me.party, os.urandom(32), os.urandom(32))
        stranger = PrivateIdentity.from_seeds("moscow", os.urandom(32), os.urandom(32))
        bad = {
            "wrong_signature": lambda: _forged(cluster, link_id, signer=impostor),
            "tampered": lambda: _tamper(envelopes[0]),
            "wrong_link": lambda: _forged(cluster, link_id, link="01HZZZZZZZZZZZZZZZZZZZZZZZ"),
            "wrong_recipient": lambda: _forged(cluster, link_id, recipients=[stranger.public]),
            "truncated": lambda: envelopes[0][:-9],
            "replay_other_content": lambda: _forged(cluster, link_id, seq=1),
            "not_cbor": lambda: b"\xff\x00garbage",
            "chain_broken": lambda: _forged(cluster, link_id, seq=2, prev=os.urandom(32)),
        }[case]()
        response = _push(client, url, [bad])
        assert response.status_code == 200
        result = decode_reply(response.content).results[0]
        assert result["status"] == "refused"
        assert result["code"] == expected, result
        assert _record_length(cluster) == before
        metrics = httpx.get(cluster.beijing.local_url + "/metrics").text
        assert f'hotline_envelopes_refused_total{{code="{expected}"}}' in metrics


def _tamper(envelope: bytes) -> bytes:
    version, signed, signature = decode(envelope, max_size=1 << 20)
    inner = decode(signed, max_size=1 << 20)
    inner["h"]["ts"] += 1
    return encode([version, encode(inner), signature])


def test_oversized_and_malformed_bodies_are_refused(cluster: Cluster) -> None:
    link_id, _ = _pending(cluster, 1)
    cluster.beijing.start()
    with _peer_client(cluster) as client:
        url = _url(cluster, link_id)
        big = client.post(url, content=b"\x00" * (MAX_BODY_BYTES + 1))
        assert big.status_code == 413
        assert decode(big.content, max_size=4096)["error"] == "too_large"
        junk = client.post(url, content=b"\xa1\x61x\x01")
        assert junk.status_code == 400
        assert decode(junk.content, max_size=4096)["error"] == "malformed"
        many = _push(client, url, [b"x"] * (MAX_BATCH + 1))
        assert many.status_code == 400
        unknown = client.post(_url(cluster, "01HZZZZZZZZZZZZZZZZZZZZZZZ"), content=b"")
        assert unknown.status_code == 404
    assert _record_length(cluster) == 0


def test_tls_refuses_a_certificate_not_pinned_for_any_link(cluster: Cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    link_id, envelopes = _pending(cluster, 1)
    cluster.beijing.start()
    cert, key = make_certificate("moscow", ["127.0.0.1"])
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    context = client_context(
        tmp_path / "c.pem", tmp_path / "k.pem", cluster.beijing.home.certificate_der()
    )
    with httpx.Client(verify=context, timeout=5) as client, pytest.raises(httpx.TransportError):
        _push(client, _url(cluster, link_id), envelopes)
    assert _record_length(cluster) == 0


def test_pull_positions_out_of_range_are_refused_not_failed(cluster: Cluster) -> None:
    link_id, _ = _pending(cluster, 0)
    cluster.beijing.start()
    with _peer_client(cluster) as client:
        entries = _url(cluster, link_id, "entries")
        for query in (
            "after=" + "9" * 27,  # beyond the database's integers
            "after=9223372036854775808",
            "after=-1",
            "after=1_0",
            "after=%D9%A1",  # an Arabic-Indic digit, which int() takes
            "limit=0",
            "limit=" + "9" * 27,
        ):
            refused = client.get(f"{entries}?{query}")
            assert refused.status_code == 400, query
            assert decode(refused.content, max_size=4096)["error"] == "malformed"
        largest = client.get(f"{entries}?after=9223372036854775807&limit=64")
        assert largest.status_code == 200 and decode_entries(largest.content) == []
