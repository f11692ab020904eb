"""Fuzzing every decoder: whatever the bytes, the only exception is ProtocolError.

Inputs are random bytes, mutations of valid documents (bit flips, byte changes,
truncation, deletion, insertion, duplication, splicing two documents together), and
structurally valid documents with one field replaced by a value of another type,
validly re-signed, so that the checks behind the signature are reached as well.
Record and bundle verification report faults as values and must never raise at all.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotline.node.wire import decode_entries, decode_push, decode_reply
from hotline.protocol.bundle import compare_bundles, read_bundle, verify_bundle
from hotline.protocol.encoding import decode, encode
from hotline.protocol.envelope import (
    MAX_ENVELOPE_BYTES,
    Header,
    Payload,
    open_payload,
    parse,
    verify,
)
from hotline.protocol.errors import ProtocolError
from hotline.protocol.invitation import (
    ACCEPTANCE,
    INVITATION,
    armour,
    dearmour,
    read_acceptance,
    read_acceptance_body,
    read_invitation,
    read_invitation_body,
)
from hotline.protocol.record import ChainHead, RecordEntry, place, verify_record
from tests.vectors.generate import (
    INVITATION_CREATED,
    encrypt,
    forge,
    identity,
    public,
    scenario,
    wrap,
)

S = scenario()
W, B = identity("washington"), identity("beijing")
PARTIES = {p: public(p) for p in ("washington", "beijing")}
ENVELOPES = [e.to_bytes() for e in (S.message_1, S.receipt_1, S.message_2, S.multilateral)]
INVITATION_SIGNED, INVITATION_SIGNATURE = dearmour(INVITATION, S.invitation_text)
ACCEPTANCE_SIGNED, ACCEPTANCE_SIGNATURE = dearmour(ACCEPTANCE, S.acceptance_text)
BUNDLE_JSON = S.bundle.to_json()
SAMPLES = [
    *ENVELOPES,
    INVITATION_SIGNED,
    ACCEPTANCE_SIGNED,
    S.invitation_text.encode(),
    S.acceptance_text.encode(),
    BUNDLE_JSON.encode(),
]
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def refused_or_accepted(action: Callable[[], object]) -> None:
    """Run ``action``; a ProtocolError is a fine outcome, anything else fails the test."""
    with contextlib.suppress(ProtocolError):
        action()


# --- Mutations -----------------------------------------------------------------------------


def _mutate(data: bytes, op: str, position: int, argument: bytes, other: bytes) -> bytes:
    if not data:
        return argument
    i = position % len(data)
    if op == "flip":
        return data[:i] + bytes([data[i] ^ (1 << (position % 8))]) + data[i + 1 :]
    if op == "set":
        return data[:i] + argument[:1] + data[i + 1 :]
    if op == "truncate":
        return data[:i]
    if op == "delete":
        return data[:i] + data[i + 1 + len(argument) :]
    if op == "insert":
        return data[:i] + argument + data[i:]
    if op == "duplicate":
        return data[:i] + data[i : i + 1 + len(argument)] * 2 + data[i + 1 + len(argument) :]
    # splice: our head, the other document's tail
    j = position % max(1, len(other))
    return data[:i] + other[j:]


mutation = st.tuples(
    st.sampled_from(["flip", "set", "truncate", "delete", "insert", "duplicate", "splice"]),
    st.integers(0, 2**20),
    st.binary(min_size=1, max_size=12),
    st.sampled_from(SAMPLES),
)


def mutated(samples: list[bytes]) -> st.SearchStrategy[bytes]:
    def apply(base: bytes, ops: list[tuple[str, int, bytes, bytes]]) -> bytes:
        for op in ops:
            base = _mutate(base, *op)
        return base

    return st.builds(apply, st.sampled_from(samples), st.lists(mutation, min_size=1, max_size=4))


def text_mutated(text: str) -> st.SearchStrategy[str]:
    alphabet = st.sampled_from([*"AZaz09+/=-\n\r :", "é", "收", "\x00", "\u2028"])

    def apply(ops: list[tuple[str, int, str]]) -> str:
        result = text
        for op, position, char in ops:
            i = position % max(1, len(result))
            if op == "replace":
                result = result[:i] + char + result[i + 1 :]
            elif op == "insert":
                result = result[:i] + char + result[i:]
            elif op == "delete":
                result = result[:i] + result[i + 1 :]
            else:
                result = result[:i]
        return result

    ops = st.tuples(
        st.sampled_from(["replace", "insert", "delete", "truncate"]),
        st.integers(0, 2**16),
        alphabet,
    )
    return st.builds(apply, st.lists(ops, min_size=1, max_size=5))


any_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**64), 2**64 - 1),
        st.text(max_size=30),
        st.binary(max_size=80),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, 2**70, -1, "", "=="]),
    st.text(max_size=30),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


# --- Envelopes -----------------------------------------------------------------------------


def _all_envelope_steps(data: bytes) -> None:
    """parse, then verify, then open both as recipient and as sender, each on its own."""
    try:
        envelope = parse(data)
    except ProtocolError:
        return
    refused_or_accepted(lambda: verify(envelope, W.public))
    refused_or_accepted(lambda: verify(envelope, B.public))
    refused_or_accepted(lambda: open_payload(envelope, B, W.public))
    refused_or_accepted(lambda: open_payload(envelope, W, B.public))
    refused_or_accepted(lambda: place(ChainHead(1, S.message_1.hash), envelope, None))


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_to_every_byte_decoder(data: bytes) -> None:
    refused_or_accepted(lambda: decode(data, max_size=MAX_ENVELOPE_BYTES))
    _all_envelope_steps(data)
    refused_or_accepted(lambda: Payload.from_bytes(data))
    refused_or_accepted(lambda: read_invitation_body(data))
    refused_or_accepted(lambda: read_acceptance_body(data))
    refused_or_accepted(lambda: read_bundle(data))
    refused_or_accepted(lambda: decode_push(data))
    refused_or_accepted(lambda: decode_reply(data))
    refused_or_accepted(lambda: decode_entries(data))
    _, _ = verify_record(S.link, PARTIES, [RecordEntry(data, data)])


@settings(FUZZ, max_examples=300)
@given(mutated(ENVELOPES))
def test_mutated_envelopes(data: bytes) -> None:
    _all_envelope_steps(data)
    summary, fault = verify_record(
        S.link, PARTIES, [RecordEntry(ENVELOPES[0]), RecordEntry(data, data[:40])]
    )
    assert fault is not None or summary.entries == 2


HEADER = S.message_1.header.to_map()
SIGNED_PART = {
    "h": HEADER,
    "n": S.message_1.nonce,
    "c": S.message_1.ciphertext,
    "k": S.message_1.wrapped_keys,
}


@settings(FUZZ, max_examples=300)
@given(
    target=st.sampled_from(["header", "signed", "outer", "wrapped"]),
    field=st.sampled_from([*sorted(HEADER), "h", "n", "c", "k", "extra"]),
    value=any_value,
)
def test_one_field_of_another_type_behind_a_valid_signature(
    target: str, field: str, value: Any
) -> None:
    header = dict(HEADER)
    signed_part = dict(SIGNED_PART)
    if target == "header":
        header[field] = value
        signed_part["h"] = header
        signed_part["c"] = encrypt(header, b"\xa0", bytes(32), S.message_1.nonce)
    elif target == "signed":
        signed_part[field] = value
    elif target == "wrapped":
        signed_part["k"] = {"beijing": value} if field == "extra" else value
    if target == "outer":
        signed = encode(signed_part)
        data = encode([value, signed, W.sign(signed)] if field == "extra" else [1, value, value])
    else:
        signed = encode(signed_part)
        data = encode([1, signed, W.sign(signed)])
    _all_envelope_steps(data)
    refused_or_accepted(lambda: Header.from_map(value))
    refused_or_accepted(lambda: Header.from_map(header))


@FUZZ
@given(any_value)
def test_any_payload_value_behind_a_valid_signature(value: Any) -> None:
    payload = encode(value)
    header = dict(HEADER, digest=hashlib.sha256(payload).digest())
    key = bytes(range(32))
    data = forge(
        W,
        header,
        nonce=S.message_1.nonce,
        ciphertext=encrypt(header, payload, key, S.message_1.nonce),
        wrapped={"beijing": wrap(W, B.public, key, bytes(24))},
    )
    envelope = parse(data)
    verify(envelope, W.public)
    refused_or_accepted(lambda: open_payload(envelope, B, W.public))
    refused_or_accepted(lambda: Payload.from_bytes(payload))


# --- Invitations and acceptances ----------------------------------------------------------


def _all_document_steps(text: str) -> None:
    refused_or_accepted(lambda: dearmour(INVITATION, text))
    refused_or_accepted(lambda: dearmour(ACCEPTANCE, text))
    refused_or_accepted(lambda: read_invitation(text, now_ms=INVITATION_CREATED))
    refused_or_accepted(lambda: read_acceptance(text, S.invitation))


@FUZZ
@given(text_mutated(S.invitation_text) | text_mutated(S.acceptance_text))
def test_mutated_armour(text: str) -> None:
    _all_document_steps(text)


@FUZZ
@given(mutated([INVITATION_SIGNED, ACCEPTANCE_SIGNED]), st.booleans())
def test_mutated_documents_validly_armoured(signed: bytes, as_acceptance: bool) -> None:
    refused_or_accepted(lambda: read_invitation_body(signed))
    refused_or_accepted(lambda: read_acceptance_body(signed))
    label = ACCEPTANCE if as_acceptance else INVITATION
    _all_document_steps(armour(label, signed, W.sign(signed), []))
    _all_document_steps(armour(label, signed, INVITATION_SIGNATURE, ["Party: x"]))


INVITATION_BODY = decode(INVITATION_SIGNED, max_size=1 << 16)
ACCEPTANCE_BODY = decode(ACCEPTANCE_SIGNED, max_size=1 << 16)


@settings(FUZZ, max_examples=300)
@given(
    which=st.sampled_from(["invitation", "acceptance", "inviter", "acceptor"]),
    field=st.sampled_from(
        [
            "type",
            "v",
            "id",
            "link_name",
            "purpose",
            "created",
            "expires",
            "inviter",
            "invitation",
            "invitation_hash",
            "acceptor",
            "party",
            "signing_key",
            "encryption_key",
            "tls_certificate",
            "endpoints",
        ]
    ),
    value=any_value,
)
def test_one_document_field_of_another_type_validly_signed(
    which: str, field: str, value: Any
) -> None:
    invitation = dict(INVITATION_BODY)
    acceptance = dict(ACCEPTANCE_BODY)
    if which == "invitation":
        invitation[field] = value
    elif which == "acceptance":
        acceptance[field] = value
    elif which == "inviter":
        invitation["inviter"] = dict(invitation["inviter"], **{field: value})
    else:
        acceptance["acceptor"] = dict(acceptance["acceptor"], **{field: value})
    for body, label, signer in ((invitation, INVITATION, W), (acceptance, ACCEPTANCE, B)):
        signed = encode(body)
        _all_document_steps(armour(label, signed, signer.sign(signed), []))


# --- Bundles -------------------------------------------------------------------------------


def _all_bundle_steps(data: str | bytes) -> None:
    try:
        bundle = read_bundle(data)
    except ProtocolError:
        return
    summary, fault = verify_bundle(bundle)  # faults are values: no exception at all
    assert fault is not None or summary.entries == len(bundle.entries)
    refused_or_accepted(lambda: compare_bundles(bundle, S.bundle))
    refused_or_accepted(bundle.to_json)


@FUZZ
@given(mutated([BUNDLE_JSON.encode()]))
@example(b"[" * 100_000)
@example(b'{"format": "hotline-record-bundle", "version": 1, "link": ' + b"[" * 100_000)
def test_mutated_bundle_bytes(data: bytes) -> None:
    _all_bundle_steps(data)


BUNDLE_DOCUMENT = json.loads(BUNDLE_JSON)
BUNDLE_PATHS: list[tuple[str | int, ...]] = [
    ("format",),
    ("version",),
    ("link",),
    ("link", "id"),
    ("link", "name"),
    ("setup",),
    ("setup", "invitation"),
    ("setup", "invitation", 0),
    ("setup", "acceptance", 1),
    ("exported_by",),
    ("exported_ms",),
    ("entries",),
    ("entries", 0),
    ("entries", 1, "envelope"),
    ("entries", 2, "payload"),
    ("signature",),
]


@settings(FUZZ, max_examples=300)
@given(
    path=st.sampled_from(BUNDLE_PATHS),
    value=json_scalar
    | json_value
    | st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
)
def test_one_bundle_field_replaced(path: tuple[str | int, ...], value: Any) -> None:
    document = json.loads(BUNDLE_JSON)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    _all_bundle_steps(json.dumps(document))


@FUZZ
@given(
    index=st.integers(0, 2),
    data=mutated(ENVELOPES),
    payload=st.none() | st.binary(max_size=100),
)
def test_bundles_with_mutated_entries_report_a_fault_or_verify(
    index: int, data: bytes, payload: bytes | None
) -> None:
    document = json.loads(BUNDLE_JSON)
    document["entries"][index] = {
        "envelope": base64.b64encode(data).decode(),
        "payload": None if payload is None else base64.b64encode(payload).decode(),
    }
    _all_bundle_steps(json.dumps(document))
