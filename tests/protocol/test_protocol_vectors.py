"""The published vectors (tests/vectors/protocol-v1.json) checked in both directions.

* Forwards: regenerating them from the fixed inputs gives the committed file byte for
  byte, and sealing again from the inputs *as written in the file* gives the same wire.
* Backwards: the committed bytes parse, verify and open, and each step is also redone
  here directly with libsodium (PyNaCl bindings) and SHA-256, not only through
  ``hotline.protocol``, so the file documents the construction rather than the code.
* Every negative vector raises exactly the code it states, at the stated step.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt
from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey

from hotline.protocol.bundle import read_bundle, verify_bundle
from hotline.protocol.encoding import decode, encode
from hotline.protocol.envelope import (
    MAX_ENVELOPE_BYTES,
    open_payload,
    parse,
    seal,
    verify,
)
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.heartbeat import read_heartbeat
from hotline.protocol.invitation import (
    make_invitation,
    read_acceptance,
    read_invitation,
)
from hotline.protocol.keys import PrivateIdentity, PublicIdentity
from hotline.protocol.kinds import Kind
from hotline.protocol.policy import Policy
from hotline.protocol.record import ChainHead, Placement, RecordEntry, place, verify_record
from tests.vectors import generate

VECTORS: dict[str, Any] = json.loads(generate.VECTORS_PATH.read_text(encoding="utf-8"))
PARTIES: dict[str, Any] = VECTORS["parties"]
ENVELOPES: dict[str, Any] = VECTORS["envelopes"]
NEGATIVE: list[dict[str, Any]] = VECTORS["negative"]


def private(party: str) -> PrivateIdentity:
    p = PARTIES[party]
    return PrivateIdentity.from_seeds(
        party, bytes.fromhex(p["signing_seed"]), bytes.fromhex(p["encryption_secret"])
    )


def public(party: str) -> PublicIdentity:
    p = PARTIES[party]
    return PublicIdentity(
        party, bytes.fromhex(p["signing_key"]), bytes.fromhex(p["encryption_key"])
    )


def link_parties() -> dict[str, PublicIdentity]:
    return {p: public(p) for p in ("washington", "beijing")}


def unhex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


# --- Forwards ----------------------------------------------------------------------------


def test_committed_file_is_exactly_what_the_generator_writes() -> None:
    regenerated = generate.render(generate.build_vectors())
    committed = generate.VECTORS_PATH.read_text(encoding="utf-8")
    assert regenerated == committed, "run: .venv/bin/python tests/vectors/generate.py"


def test_generation_is_deterministic() -> None:
    assert generate.render(generate.build_vectors()) == generate.render(generate.build_vectors())


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_sealing_again_from_the_written_inputs_gives_the_same_wire(name: str) -> None:
    vector = ENVELOPES[name]
    given = vector["inputs"]
    recipients = sorted(given["recipients"])
    envelope = seal(
        sender=private(given["sender"]),
        recipients=[public(r) for r in recipients],
        link=given["link"],
        envelope_id=vector["header"]["id"],
        seq=given["seq"],
        time_ms=given["ts"],
        kind=Kind(given["kind"]),
        body=given["body"],
        prev=unhex(given["prev"]),
        ref=given["ref"],
        ref_hash=unhex(given["ref_hash"]),
        salt=bytes.fromhex(given["salt"]),
        content_key=bytes.fromhex(given["content_key"]),
        nonce=bytes.fromhex(given["nonce"]),
        key_nonces=[bytes.fromhex(given["key_nonces"][r]) for r in recipients],
    )
    assert envelope.to_bytes().hex() == vector["wire"]
    assert envelope.hash.hex() == vector["entry_hash"]


def test_ids_are_ulids_of_the_written_time_and_randomness() -> None:
    from ulid import ULID

    for vector in ENVELOPES.values():
        given = vector["inputs"]
        raw = bytes(ULID.from_str(vector["header"]["id"]))
        assert int.from_bytes(raw[:6], "big") == given["id_time_ms"]
        assert raw[6:].hex() == given["id_randomness"]
    invitation = VECTORS["invitation"]
    raw = bytes(ULID.from_str(invitation["id"]))
    assert int.from_bytes(raw[:6], "big") == invitation["inputs"]["id_time_ms"]
    assert raw[6:].hex() == invitation["inputs"]["id_randomness"]


# --- Backwards: keys and fingerprints ------------------------------------------------------


@pytest.mark.parametrize("party", sorted(PARTIES))
def test_keys_derive_from_the_seeds(party: str) -> None:
    p = PARTIES[party]
    signing = SigningKey(bytes.fromhex(p["signing_seed"]))
    assert bytes(signing.verify_key).hex() == p["signing_key"]
    encryption = PrivateKey(bytes.fromhex(p["encryption_secret"]))
    assert bytes(encryption.public_key).hex() == p["encryption_key"]


@pytest.mark.parametrize("party", sorted(PARTIES))
def test_fingerprint_is_the_documented_digest_and_grouping(party: str) -> None:
    p = PARTIES[party]
    digest = hashlib.sha256(
        b"hotline-fingerprint-v1" + bytes.fromhex(p["signing_key"] + p["encryption_key"])
    ).digest()
    assert digest.hex() == p["fingerprint_digest"]
    # Group i is the big-endian integer of digest[4i : 4i + 5] modulo 100000 (the last
    # window has only 4 bytes), printed as 5 digits with leading zeros.
    groups = [int.from_bytes(digest[4 * i : 4 * i + 5], "big") % 100_000 for i in range(8)]
    assert p["fingerprint"] == " ".join(f"{g:05d}" for g in groups)
    assert public(party).fingerprint == p["fingerprint"]


@pytest.mark.parametrize("party", ["washington", "beijing"])
def test_tls_certificate_is_self_signed_by_the_written_key(party: str) -> None:
    tls = PARTIES[party]["tls"]
    der = bytes.fromhex(tls["certificate_der"])
    assert hashlib.sha256(der).hexdigest() == tls["certificate_sha256"]
    certificate = x509.load_der_x509_certificate(der)
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(tls["key_seed"]))
    raw = serialization.Encoding.Raw
    public_format = serialization.PublicFormat.Raw
    assert certificate.public_key().public_bytes(raw, public_format) == (
        key.public_key().public_bytes(raw, public_format)
    )
    certificate.verify_directly_issued_by(certificate)
    common_name = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert [a.value for a in common_name] == [party]
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca is False


# --- Backwards: CBOR -----------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(VECTORS["cbor"])))
def test_cbor_examples(index: int) -> None:
    vector = VECTORS["cbor"][index]
    _, value = generate.CBOR_EXAMPLES[index]
    encoded = bytes.fromhex(vector["encoding"])
    assert encode(value) == encoded
    assert decode(encoded, max_size=len(encoded)) == value
    assert generate.diagnostic(value) == vector["diagnostic"]


def test_cbor_key_order_example_is_length_first() -> None:
    encoded = bytes.fromhex(VECTORS["cbor"][0]["encoding"])
    assert list(decode(encoded, max_size=1024)) == ["v", "to", "seq", "from", "kind"]


# --- Backwards: envelopes ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_envelope_wire_layout_and_signature(name: str) -> None:
    vector = ENVELOPES[name]
    wire = bytes.fromhex(vector["wire"])
    signed = bytes.fromhex(vector["signed"])
    signature = bytes.fromhex(vector["signature"])
    assert len(wire) <= MAX_ENVELOPE_BYTES
    assert encode([1, signed, signature]) == wire
    assert hashlib.sha256(signed).hexdigest() == vector["entry_hash"]
    sender = vector["inputs"]["sender"]
    VerifyKey(bytes.fromhex(PARTIES[sender]["signing_key"])).verify(signed, signature)
    inner = decode(signed, max_size=MAX_ENVELOPE_BYTES)
    assert sorted(inner) == ["c", "h", "k", "n"]
    assert encode(inner["h"]).hex() == vector["header_cbor"]
    assert inner["h"] == {
        k: unhex(v) if k in ("ref_hash", "prev", "digest") else v
        for k, v in vector["header"].items()
    }
    assert inner["n"].hex() == vector["inputs"]["nonce"]
    assert inner["c"].hex() == vector["ciphertext"]
    assert {p: k.hex() for p, k in inner["k"].items()} == vector["wrapped_keys"]


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_envelope_decrypts_by_hand(name: str) -> None:
    """Unwrap and decrypt with libsodium directly, exactly as docs/protocol.md says."""
    vector = ENVELOPES[name]
    given = vector["inputs"]
    sender = PARTIES[given["sender"]]
    content_key = bytes.fromhex(given["content_key"])
    for party, wrapped_hex in vector["wrapped_keys"].items():
        wrapped = bytes.fromhex(wrapped_hex)
        assert len(wrapped) == 24 + 16 + 32
        assert wrapped[:24].hex() == given["key_nonces"][party]
        recipient = PARTIES[party]
        by_recipient = Box(
            PrivateKey(bytes.fromhex(recipient["encryption_secret"])),
            PublicKey(bytes.fromhex(sender["encryption_key"])),
        )
        assert by_recipient.decrypt(wrapped) == content_key
        by_sender = Box(
            PrivateKey(bytes.fromhex(sender["encryption_secret"])),
            PublicKey(bytes.fromhex(recipient["encryption_key"])),
        )
        assert by_sender.decrypt(wrapped) == content_key
    payload = crypto_aead_xchacha20poly1305_ietf_decrypt(
        bytes.fromhex(vector["ciphertext"]),
        bytes.fromhex(vector["header_cbor"]),
        bytes.fromhex(given["nonce"]),
        content_key,
    )
    assert payload.hex() == vector["payload_cbor"]
    assert hashlib.sha256(payload).hexdigest() == vector["digest"] == vector["header"]["digest"]
    assert decode(payload, max_size=len(payload)) == {
        "body": given["body"],
        "salt": bytes.fromhex(given["salt"]),
    }


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_envelope_parses_verifies_and_opens_through_the_library(name: str) -> None:
    vector = ENVELOPES[name]
    given = vector["inputs"]
    envelope = parse(bytes.fromhex(vector["wire"]))
    header = envelope.header
    assert header.id == vector["header"]["id"]
    assert header.link == given["link"]
    assert header.sender == given["sender"]
    assert list(header.recipients) == sorted(given["recipients"])
    assert (header.seq, header.time_ms, header.kind.value) == (
        given["seq"],
        given["ts"],
        given["kind"],
    )
    assert envelope.hash.hex() == vector["entry_hash"]
    verify(envelope, public(given["sender"]))
    for party in given["recipients"]:
        payload = open_payload(envelope, private(party), public(given["sender"]))
        assert payload.body == given["body"]
        assert payload.salt.hex() == given["salt"]
        # The sender can read its own envelope back with any recipient's wrapped key.
        own = open_payload(envelope, private(given["sender"]), public(party))
        assert own.to_bytes().hex() == vector["payload_cbor"]


def test_receipt_binds_message_1_and_message_2_chains_on_it() -> None:
    m1, r1, m2 = (ENVELOPES[n] for n in ("message_1", "receipt_1", "message_2"))
    assert r1["header"]["kind"] == "receipt.delivered"
    assert r1["header"]["from"] == "beijing"
    assert r1["header"]["ref"] == m1["header"]["id"]
    assert r1["header"]["ref_hash"] == m1["entry_hash"]
    assert r1["header"]["prev"] is None and r1["header"]["seq"] == 1
    assert m1["header"]["prev"] is None and m1["header"]["seq"] == 1
    assert m2["header"]["prev"] == m1["entry_hash"] and m2["header"]["seq"] == 2
    multi = ENVELOPES["multilateral"]
    assert multi["header"]["to"] == ["beijing", "geneva"]
    assert sorted(multi["wrapped_keys"]) == ["beijing", "geneva"]


def test_record_of_the_three_envelopes_verifies_with_the_written_heads() -> None:
    record = VECTORS["record"]
    entries = [RecordEntry(bytes.fromhex(ENVELOPES[n]["wire"])) for n in record["order"]]
    summary, fault = verify_record(VECTORS["link"]["id"], link_parties(), entries)
    assert fault is None
    assert summary.entries == 3
    assert summary.receipts == 1
    assert summary.per_party == {"washington": 2, "beijing": 1}
    heads = {
        p: {"seq": h.seq, "hash": h.hash.hex() if h.hash else None}
        for p, h in summary.heads.items()
    }
    assert heads == record["heads"]


def test_receiver_places_the_vectors_in_order() -> None:
    m1 = parse(bytes.fromhex(ENVELOPES["message_1"]["wire"]))
    m2 = parse(bytes.fromhex(ENVELOPES["message_2"]["wire"]))
    assert place(ChainHead(), m1, None) is Placement.NEXT
    assert place(ChainHead(), m2, None) is Placement.AHEAD
    assert place(ChainHead(1, m1.hash), m2, None) is Placement.NEXT
    assert place(ChainHead(2, m2.hash), m1, m1.hash) is Placement.DUPLICATE


# --- Backwards: invitation, acceptance, bundle ---------------------------------------------


def test_invitation_reads_and_matches_the_written_fields() -> None:
    vector = VECTORS["invitation"]
    given = vector["inputs"]
    invitation = read_invitation(vector["armoured"], now_ms=given["created"])
    assert invitation.id == vector["id"] == VECTORS["link"]["id"]
    assert invitation.signed.hex() == vector["signed"]
    assert invitation.hash.hex() == vector["hash"]
    assert hashlib.sha256(invitation.signed).hexdigest() == vector["hash"]
    VerifyKey(bytes.fromhex(PARTIES["washington"]["signing_key"])).verify(
        invitation.signed, bytes.fromhex(vector["signature"])
    )
    assert (invitation.link_name, invitation.purpose) == (given["link_name"], given["purpose"])
    assert (invitation.created_ms, invitation.expires_ms) == (given["created"], given["expires"])
    card = invitation.inviter
    assert card.identity == public("washington")
    assert card.tls_certificate.hex() == PARTIES["washington"]["tls"]["certificate_der"]
    assert list(card.endpoints) == PARTIES["washington"]["endpoints"]
    assert f"Fingerprint: {PARTIES['washington']['fingerprint']}" in vector["armoured"]
    # One millisecond before expiry it is still valid.
    read_invitation(vector["armoured"], now_ms=given["expires"] - 1)


def test_invitation_is_made_again_from_the_written_inputs() -> None:
    vector = VECTORS["invitation"]
    given = vector["inputs"]
    _, text = make_invitation(
        private(given["inviter"]),
        invitation_id=vector["id"],
        link_name=given["link_name"],
        purpose=given["purpose"],
        tls_certificate=bytes.fromhex(PARTIES["washington"]["tls"]["certificate_der"]),
        endpoints=PARTIES["washington"]["endpoints"],
        created_ms=given["created"],
        expires_ms=given["expires"],
    )
    assert text == vector["armoured"]


def test_acceptance_answers_the_invitation() -> None:
    invitation = read_invitation(
        VECTORS["invitation"]["armoured"], now_ms=VECTORS["invitation"]["inputs"]["created"]
    )
    vector = VECTORS["acceptance"]
    acceptance = read_acceptance(vector["armoured"], invitation)
    assert acceptance.signed.hex() == vector["signed"]
    assert hashlib.sha256(acceptance.signed).hexdigest() == vector["hash"]
    assert acceptance.invitation_id == invitation.id
    assert acceptance.invitation_hash == invitation.hash
    assert acceptance.created_ms == vector["inputs"]["created"]
    assert acceptance.acceptor.identity == public("beijing")
    assert acceptance.acceptor.tls_certificate.hex() == PARTIES["beijing"]["tls"]["certificate_der"]
    VerifyKey(bytes.fromhex(PARTIES["beijing"]["signing_key"])).verify(
        acceptance.signed, bytes.fromhex(vector["signature"])
    )


def test_bundle_reads_and_verifies() -> None:
    vector = VECTORS["bundle"]
    bundle = read_bundle(vector["json"])
    assert bundle.to_json() == vector["json"]
    assert bundle.signed_content().hex() == vector["signed_content"]
    assert bundle.signature.hex() == vector["signature"]
    VerifyKey(bytes.fromhex(PARTIES[vector["exporter"]]["signing_key"])).verify(
        bytes.fromhex(vector["signed_content"]), bytes.fromhex(vector["signature"])
    )
    summary, fault = verify_bundle(bundle)
    assert fault is None
    assert (summary.entries, summary.receipts, summary.payloads_checked) == (3, 1, 2)
    order = VECTORS["record"]["order"]
    assert [e.envelope_bytes.hex() for e in bundle.entries] == [ENVELOPES[n]["wire"] for n in order]
    disclosed = [n for n, e in zip(order, bundle.entries, strict=True) if e.payload_bytes]
    assert disclosed == vector["payloads_disclosed"]
    assert bundle.invitation[0].hex() == VECTORS["invitation"]["signed"]
    assert bundle.acceptance[1].hex() == VECTORS["acceptance"]["signature"]


# --- Negative vectors ----------------------------------------------------------------------


def test_negative_vectors_cover_the_documented_cases() -> None:
    names = {v["name"] for v in NEGATIVE}
    assert {
        "tampered_signature",
        "non_canonical_cbor",
        "wrong_recipient",
        "broken_chain",
        "unknown_kind",
        "unsupported_version",
        "decrypt_failed",
        "digest_mismatch",
        "too_large",
        "expired_invitation",
        "tampered_bundle",
    } <= names
    assert len(names) == len(NEGATIVE)


def _wire(given: dict[str, Any]) -> bytes:
    if "wire_repeat" in given:
        spec = given["wire_repeat"]
        return bytes.fromhex(spec["byte"]) * spec["count"]
    return bytes.fromhex(given["wire"])


@pytest.mark.parametrize("vector", NEGATIVE, ids=[v["name"] for v in NEGATIVE])
def test_negative_vector(vector: dict[str, Any]) -> None:
    operation, given, expect = vector["operation"], vector["input"], vector["expect"]
    code = Code(expect["code"])
    if operation in ("record", "verify_bundle"):
        if operation == "record":
            entries = [
                RecordEntry(bytes.fromhex(e["envelope"]), unhex(e["payload"]))
                for e in given["entries"]
            ]
            _, fault = verify_record(VECTORS["link"]["id"], link_parties(), entries)
        else:
            _, fault = verify_bundle(read_bundle(given["json"]))
        assert fault is not None
        assert fault.code is code
        assert fault.index == expect["index"]
        assert fault.entry_id == expect.get("entry_id")
        assert fault.seq == expect.get("seq")
        return
    with pytest.raises(ProtocolError) as raised:
        if operation == "parse":
            parse(_wire(given))
        elif operation == "verify":
            envelope = parse(_wire(given))  # must get past parsing
            verify(envelope, public(given["sender"]))
        elif operation == "open":
            envelope = parse(_wire(given))
            verify(envelope, public(given["sender"]))  # must get past the signature
            open_payload(envelope, private(given["opener"]), public(given["sender"]))
        elif operation == "place":
            envelope = parse(_wire(given))
            verify(envelope, public(envelope.header.sender))
            head = ChainHead(given["head"]["seq"], unhex(given["head"]["hash"]))
            place(head, envelope, unhex(given["held_hash"]))
        elif operation == "read_invitation":
            read_invitation(given["armoured"], now_ms=given["now_ms"])
        elif operation == "read_acceptance":
            invitation = read_invitation(given["invitation"], now_ms=given["now_ms"])
            read_acceptance(given["armoured"], invitation)
        elif operation == "read_bundle":
            read_bundle(given["json"])
        elif operation == "decode":
            decode(bytes.fromhex(given["cbor"]), max_size=given["max_size"])
        elif operation == "read_policy":
            Policy.from_bytes(bytes.fromhex(given["cbor"]))
        elif operation == "read_heartbeat":
            read_heartbeat(
                bytes.fromhex(given["wire"]),
                sender_key=public(given["sender"]).signing_key,
                sender=given["sender"],
                me=given["me"],
                link=given["link"],
                now_ms=given["now_ms"],
            )
        else:
            pytest.fail(f"unknown operation {operation!r}")
    assert raised.value.code is code, raised.value


# --- The specification quotes the vectors correctly ----------------------------------------

SPEC = generate.VECTORS_PATH.parents[2] / "docs" / "protocol.md"


def test_every_hex_value_quoted_in_the_specification_is_in_the_vectors() -> None:
    spec = SPEC.read_text(encoding="utf-8")
    committed = generate.VECTORS_PATH.read_text(encoding="utf-8")
    quoted = re.findall(r"\b[0-9a-f]{16,}\b", spec)
    assert len(quoted) > 60
    missing = [h for h in quoted if h not in committed]
    assert missing == []
    for party in ("washington", "beijing", "geneva"):
        assert PARTIES[party]["fingerprint"] in spec
    assert VECTORS["invitation"]["armoured"] in spec
    for vector in NEGATIVE:
        assert f"`{vector['name']}`" in spec


def test_the_specification_tables_every_negative_vector_as_the_file_states_it() -> None:
    spec = SPEC.read_text(encoding="utf-8")
    table = spec.split("### 13.7 Negative vectors", 1)[1].split("### 13.8", 1)[0]
    rows = {
        name: (operation, code)
        for name, operation, code in re.findall(
            r"^\| `([a-z0-9_]+)` \| .+ \| `([a-z_]+)` \| (`[a-z_]+`(?: at index -?\d+)?) \|$",
            table,
            flags=re.MULTILINE,
        )
    }
    expected = {}
    for vector in NEGATIVE:
        expect = vector["expect"]
        at = f" at index {expect['index']}" if "index" in expect else ""
        expected[vector["name"]] = (vector["operation"], f"`{expect['code']}`{at}")
    assert rows == expected


def test_the_specification_lists_every_error_code() -> None:
    spec = SPEC.read_text(encoding="utf-8")
    table = spec.split("## 12. Error codes", 1)[1].split("## 13.", 1)[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert sorted(listed) == sorted(c.value for c in Code)
