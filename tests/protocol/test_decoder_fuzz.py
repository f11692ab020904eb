"""Fuzzing every decoder: whatever the bytes, the only exception is ProtocolError, and
what is accepted is exactly what was signed.

Inputs are random bytes, mutations of valid documents (bit flips, byte changes,
truncation, deletion, insertion, duplication, splicing two documents together), and
structurally valid documents with one field replaced by a value of another type,
validly re-signed, so that the checks behind the signature are reached as well.

Each test states what may be accepted (the genuine document and nothing else; a
decoded value that re-encodes to the same bytes; a field value the specification
allows) and which codes a refusal may carry, and counts both outcomes: a test that
only refused, or only accepted, would not mean what it says. Record and bundle
verification report faults as values and must never raise at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotline.node.delivery.wire import (
    decode_entries,
    decode_push,
    decode_reply,
    encode_entries,
    encode_push,
)
from hotline.protocol.bundle import Bundle, compare_bundles, read_bundle, verify_bundle
from hotline.protocol.encoding import decode, encode
from hotline.protocol.envelope import (
    CANONICAL_ULID,
    MAX_ENVELOPE_BYTES,
    Header,
    Payload,
    open_payload,
    parse,
    verify,
)
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.invitation import (
    ACCEPTANCE,
    INVITATION,
    Acceptance,
    Invitation,
    armour,
    dearmour,
    read_acceptance,
    read_acceptance_body,
    read_invitation,
    read_invitation_body,
)
from hotline.protocol.kinds import REFERRING_KINDS, Kind
from hotline.protocol.record import RecordEntry, verify_record
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


def outcome(action: Callable[[], Any]) -> tuple[Any, Code | None]:
    """``action``'s result and None, or None and the code it was refused with. Any other
    exception fails the test."""
    try:
        return action(), None
    except ProtocolError as refused:
        return None, refused.code


def counted(outcomes: Counter[str], name: str, code: Code | None) -> None:
    outcomes[f"{name} {'accepted' if code is None else 'refused'}"] += 1


def at_least(outcomes: Counter[str], **minimum: int) -> None:
    """Each named outcome (spaces written as underscores) happened at least so often."""
    short = {
        name: outcomes[name.replace("_", " ")]
        for name, least in minimum.items()
        if outcomes[name.replace("_", " ")] < least
    }
    assert not short, f"too few: {short} (all: {dict(outcomes)})"


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


GENUINE = {data: sender for data, sender in zip(ENVELOPES, (W, B, W, W), strict=True)}


# --- Envelopes -----------------------------------------------------------------------------


def envelope_as_verified(data: bytes) -> tuple[Any, Code | None]:
    """Parse ``data`` and verify it against the party it names (if it is one of ours)."""
    envelope, code = outcome(lambda: parse(data))
    if code is not None:
        return None, code
    assert envelope.to_bytes() == data  # parse keeps the one wire form it accepted
    signer = {"washington": W, "beijing": B}.get(envelope.header.sender)
    if signer is None:
        return None, Code.UNKNOWN_SENDER
    return outcome(lambda: (verify(envelope, signer.public), envelope)[1])


def test_random_bytes_are_refused_or_re_encode_to_themselves() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(st.binary(max_size=2048) | any_value.map(encode))
    def check(data: bytes) -> None:
        value, code = outcome(lambda: decode(data, max_size=MAX_ENVELOPE_BYTES))
        counted(outcomes, "decode", code)
        if code is None:
            assert encode(value) == data
        # Nothing random carries one of our parties' valid signatures.
        _, code = envelope_as_verified(data)
        assert code is not None
        payload, code = outcome(lambda: Payload.from_bytes(data))
        assert code is not None or payload.to_bytes() == data
        for reader in (read_invitation_body, read_acceptance_body):
            document, code = outcome(lambda reader=reader: reader(data))
            assert code is not None or document.signed == data
        bundle, code = outcome(lambda: read_bundle(data))
        assert code is not None or verify_bundle(bundle)[1] is not None
        push, code = outcome(lambda: decode_push(data))
        assert code is not None or encode_push(push) == data
        entries, code = outcome(lambda: decode_entries(data))
        assert code is not None or encode_entries(entries) == data
        reply, code = outcome(lambda: decode_reply(data))
        assert code is not None or (type(reply.have) is int and reply.have >= 0)
        _, fault = verify_record(S.link, PARTIES, [RecordEntry(data, data)])
        assert fault is not None and fault.index == 0

    check()
    at_least(outcomes, decode_accepted=40, decode_refused=40)


def test_mutated_envelopes_are_never_taken_for_genuine_ones() -> None:
    outcomes: Counter[str] = Counter()

    @settings(FUZZ, max_examples=300)
    @given(mutated(ENVELOPES))
    @example(ENVELOPES[0][:1] + b"\xf5" + ENVELOPES[0][2:])  # version 1 written as true
    def check(data: bytes) -> None:
        envelope, code = envelope_as_verified(data)
        counted(outcomes, "envelope", code)
        if code is None:
            assert data in GENUINE, "a changed envelope verified"
            assert envelope.to_bytes() == data
            for other in (B, W):
                if other.party in envelope.header.recipients:
                    opened = open_payload(envelope, other, GENUINE[data].public)
                    assert opened.to_bytes() is not None
        summary, fault = verify_record(
            S.link, PARTIES, [RecordEntry(ENVELOPES[0]), RecordEntry(data, data[:40])]
        )
        assert fault is not None  # a 40-byte prefix of the wire is never its payload
        assert fault.index == 1 and summary.entries == 1

    check()
    at_least(outcomes, envelope_refused=250)


HEADER = S.message_1.header.to_map()
SIGNED_PART = {
    "h": HEADER,
    "n": S.message_1.nonce,
    "c": S.message_1.ciphertext,
    "k": S.message_1.wrapped_keys,
}
# What a replaced header field may be refused with (§4.2, §4.4), whatever the value.
HEADER_CODES: dict[str, set[Code]] = {
    "v": {Code.UNSUPPORTED_VERSION},
    "id": {Code.MALFORMED, Code.NON_CANONICAL},
    "link": {Code.MALFORMED},
    "from": {Code.MALFORMED},  # a name other than washington fails verify, not parse
    "to": {Code.MALFORMED, Code.NON_CANONICAL},
    "seq": {Code.MALFORMED, Code.CHAIN_BROKEN},
    "ts": {Code.MALFORMED},
    "kind": {Code.UNKNOWN_KIND, Code.BAD_REFERENCE},
    "ref": {Code.MALFORMED, Code.NON_CANONICAL, Code.BAD_REFERENCE},
    "ref_hash": {Code.MALFORMED, Code.BAD_REFERENCE},
    "prev": {Code.MALFORMED, Code.CHAIN_BROKEN},
    "digest": {Code.MALFORMED},
    "extra": {Code.MALFORMED},
}
# Values a field may take, so that some replacements are accepted.
VALID_VALUE: dict[str, st.SearchStrategy[Any]] = {
    "v": st.just(1),
    "id": st.from_regex(CANONICAL_ULID, fullmatch=True),
    "link": st.text(min_size=1, max_size=64),
    "from": st.just("washington"),
    "to": st.just(["beijing"]),
    "seq": st.just(1),
    "ts": st.integers(0, 2**53),
    "kind": st.sampled_from([k.value for k in Kind if k not in REFERRING_KINDS]),
    "ref": st.none(),
    "ref_hash": st.none(),
    "prev": st.none(),
    "digest": st.binary(min_size=32, max_size=32),
    "extra": st.nothing(),
}


def test_one_header_field_of_another_value_behind_a_valid_signature() -> None:
    outcomes: Counter[str] = Counter()

    @settings(FUZZ, max_examples=300)
    @given(field=st.sampled_from(sorted(HEADER_CODES)), data=st.data())
    @example(field="v", data=None)
    def check(field: str, data: st.DataObject | None) -> None:
        value = True if data is None else data.draw(any_value | VALID_VALUE[field])
        header = dict(HEADER, **{field: value})
        signed = encode(
            dict(SIGNED_PART, h=header, c=encrypt(header, b"\xa0", bytes(32), S.message_1.nonce))
        )
        wire = encode([1, signed, W.sign(signed)])
        parsed, code = outcome(lambda: Header.from_map(header))
        envelope, parse_code = outcome(lambda: parse(wire))
        assert parse_code == code  # parse judges the header exactly as Header.from_map
        counted(outcomes, "header", code)
        if code is not None:
            assert code in HEADER_CODES[field], f"{field}={value!r}: {code}"
            return
        assert encode(parsed.to_map()) == encode(header)  # == alone would take True for 1
        assert envelope.header == parsed and envelope.to_bytes() == wire
        _, code = outcome(lambda: verify(envelope, W.public))
        assert code is (None if parsed.sender == "washington" else Code.UNKNOWN_SENDER)

    check()
    at_least(outcomes, header_accepted=40, header_refused=100)


@settings(FUZZ, max_examples=200)
@given(field=st.sampled_from(["h", "n", "c", "k", "extra"]), value=any_value)
def test_one_part_of_the_signed_map_replaced_behind_a_valid_signature(
    field: str, value: Any
) -> None:
    signed = encode(dict(SIGNED_PART, **{field: value}))
    envelope, code = envelope_as_verified(encode([1, signed, W.sign(signed)]))
    if code is not None:
        assert code is Code.MALFORMED or (
            field == "h" and code in set().union(*HEADER_CODES.values())
        )
        return
    # Only a ciphertext is free in form; it then fails to decrypt (the AEAD tag).
    assert field == "c" and isinstance(value, bytes) and value != S.message_1.ciphertext
    _, code = outcome(lambda: open_payload(envelope, B, W.public))
    assert code is Code.DECRYPT_FAILED


@settings(FUZZ, max_examples=200)
@given(version=any_value, parts=st.tuples(any_value, any_value))
@example(version=True, parts=(S.message_1.signed, S.message_1.signature))
@example(version=1, parts=(S.message_1.signed, S.message_1.signature))
def test_the_unsigned_outer_array_has_one_form(version: Any, parts: tuple[Any, Any]) -> None:
    wire = encode([version, *parts])
    _, code = envelope_as_verified(wire)
    if code is None:
        assert wire == S.message_1.to_bytes()
        assert type(version) is int and version == 1
    elif not (type(version) is int and version == 1):
        assert code is Code.UNSUPPORTED_VERSION
    else:
        assert code in {Code.MALFORMED, Code.BAD_SIGNATURE, Code.NON_CANONICAL, Code.TOO_LARGE}


PAYLOAD_VALUE = st.fixed_dictionaries(
    {
        "body": st.dictionaries(st.text(max_size=10), any_value, max_size=4),
        "salt": st.binary(min_size=16, max_size=16),
    }
)


def test_any_payload_value_behind_a_valid_signature_opens_only_if_it_is_a_payload() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(any_value | PAYLOAD_VALUE)
    def check(value: Any) -> None:
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
        opened, code = outcome(lambda: open_payload(envelope, B, W.public))
        is_payload = (
            isinstance(value, dict)
            and set(value) == {"body", "salt"}
            and isinstance(value["body"], dict)
            and isinstance(value["salt"], bytes)
            and len(value["salt"]) == 16
        )
        counted(outcomes, "payload", code)
        if is_payload:
            assert code is None and opened.to_bytes() == payload
        else:
            assert code is Code.MALFORMED
        # The record judges a disclosed payload the same way (§8.5 step 10).
        _, fault = verify_record(S.link, PARTIES, [RecordEntry(data, payload)])
        assert (fault is None) == is_payload

    check()
    at_least(outcomes, payload_accepted=40, payload_refused=40)


# --- Invitations and acceptances ----------------------------------------------------------


def _all_document_steps(text: str, outcomes: Counter[str]) -> None:
    """Whatever the text, an invitation or acceptance read from it is the genuine one."""
    for label in (INVITATION, ACCEPTANCE):
        pair, code = outcome(lambda label=label: dearmour(label, text))
        counted(outcomes, f"dearmour {label.lower()}", code)
        # dearmour checks form, not signatures: what it takes, it gives back unchanged.
        assert code is not None or dearmour(label, armour(label, *pair, [])) == pair
    invitation, code = outcome(lambda: read_invitation(text, now_ms=INVITATION_CREATED))
    counted(outcomes, "invitation", code)
    assert code is not None or invitation == S.invitation
    acceptance, code = outcome(lambda: read_acceptance(text, S.invitation))
    counted(outcomes, "acceptance", code)
    assert code is not None or acceptance == S.acceptance


def harmless(text: str) -> st.SearchStrategy[str]:
    """``text`` with changes a reader ignores: the summary lines, CRLF, ASCII space."""

    def apply(summary: list[str], crlf: bool, space: str) -> str:
        lines = text.split("\n")
        blank = lines.index("")
        lines = [lines[0], *summary, *lines[blank:]]
        lines = [space + line + space for line in lines]
        return ("\r\n" if crlf else "\n").join(lines)

    summary_line = st.text(st.characters(exclude_characters="\n"), min_size=1, max_size=40)
    return st.builds(
        apply,
        st.lists(summary_line.filter(lambda line: line.strip(" \t\r") != ""), max_size=5),
        st.booleans(),
        st.sampled_from(["", " ", "\t", " \t "]),
    )


def test_mutated_armour_reads_as_the_genuine_document_or_not_at_all() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(
        text_mutated(S.invitation_text)
        | text_mutated(S.acceptance_text)
        | harmless(S.invitation_text)
        | harmless(S.acceptance_text)
    )
    def check(text: str) -> None:
        _all_document_steps(text, outcomes)

    check()
    # Changes to the summary or the spaces are read; changes to the block are not.
    assert outcomes["invitation accepted"] + outcomes["acceptance accepted"] >= 40, outcomes
    assert outcomes["invitation refused"] >= 100, outcomes


def test_mutated_documents_validly_armoured() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(mutated([INVITATION_SIGNED, ACCEPTANCE_SIGNED]), st.booleans())
    def check(signed: bytes, as_acceptance: bool) -> None:
        for reader in (read_invitation_body, read_acceptance_body):
            _, code = outcome(lambda reader=reader: reader(signed))
            counted(outcomes, "body", code)
            assert code is not None or encode(decode(signed, max_size=len(signed))) == signed
        label = ACCEPTANCE if as_acceptance else INVITATION
        # Signed by washington: an invitation reads only if its card names washington's key.
        resigned = armour(label, signed, W.sign(signed), [])
        invitation, code = outcome(lambda: read_invitation(resigned, now_ms=INVITATION_CREATED))
        assert code is not None or invitation.inviter.identity.signing_key == W.public.signing_key
        # The genuine signature over other bytes: never.
        original = armour(label, signed, INVITATION_SIGNATURE, ["Party: x"])
        invitation, code = outcome(lambda: read_invitation(original, now_ms=INVITATION_CREATED))
        assert code is not None or signed == INVITATION_SIGNED
        _, code = outcome(lambda: read_acceptance(resigned, S.invitation))
        assert code is not None  # beijing's card, washington's signature

    check()
    at_least(outcomes, body_accepted=3, body_refused=300)


def invitation_body_of(invitation: Invitation) -> dict[str, Any]:
    """The signed body an invitation read back stands for: re-encoded, it must give the
    signed bytes again, or the reader took something it did not understand."""
    return {
        "type": "invitation",
        "v": 1,
        "id": invitation.id,
        "link_name": invitation.link_name,
        "purpose": invitation.purpose,
        "created": invitation.created_ms,
        "expires": invitation.expires_ms,
        "inviter": invitation.inviter.to_map(),
    }


def acceptance_body_of(acceptance: Acceptance) -> dict[str, Any]:
    return {
        "type": "acceptance",
        "v": 1,
        "invitation": acceptance.invitation_id,
        "invitation_hash": acceptance.invitation_hash,
        "created": acceptance.created_ms,
        "acceptor": acceptance.acceptor.to_map(),
    }


INVITATION_BODY = decode(INVITATION_SIGNED, max_size=1 << 16)
ACCEPTANCE_BODY = decode(ACCEPTANCE_SIGNED, max_size=1 << 16)
# What a replaced field of a validly signed document may be refused with (§9).
DOCUMENT_CODES: dict[str, set[Code]] = {
    "type": {Code.MALFORMED},
    "v": {Code.MALFORMED},
    "id": {Code.MALFORMED, Code.NON_CANONICAL},
    "link_name": {Code.MALFORMED},
    "purpose": {Code.MALFORMED},
    "created": {Code.MALFORMED, Code.EXPIRED},
    "expires": {Code.MALFORMED, Code.EXPIRED},
    "inviter": {Code.MALFORMED},
    "invitation": {Code.MALFORMED, Code.NON_CANONICAL, Code.BAD_REFERENCE},
    "invitation_hash": {Code.MALFORMED, Code.BAD_REFERENCE},
    "acceptor": {Code.MALFORMED},
    "party": {Code.MALFORMED},
    "signing_key": {Code.MALFORMED, Code.BAD_SIGNATURE},
    "encryption_key": {Code.MALFORMED},
    "tls_certificate": {Code.MALFORMED},
    "endpoints": {Code.MALFORMED},
    "note": {Code.MALFORMED},  # a field the format does not define, refused in each map
}
DOCUMENT_VALUE: dict[str, st.SearchStrategy[Any]] = {
    "type": st.nothing(),
    "v": st.just(1),
    "id": st.from_regex(CANONICAL_ULID, fullmatch=True),
    "link_name": st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True),
    "purpose": st.text(min_size=1, max_size=500),
    "created": st.integers(0, INVITATION_CREATED),
    "expires": st.integers(INVITATION_CREATED + 1, 2**63),
    "inviter": st.nothing(),
    "invitation": st.nothing(),
    "invitation_hash": st.nothing(),
    "acceptor": st.nothing(),
    "party": st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True),
    "signing_key": st.nothing(),
    "encryption_key": st.binary(min_size=32, max_size=32),
    "tls_certificate": st.binary(min_size=1, max_size=8192),
    "endpoints": st.lists(st.just("https://h.example"), min_size=1, max_size=8),
    "note": st.nothing(),
}
DOCUMENT_FIELDS = {
    "invitation": [
        *("type", "v", "id", "link_name", "purpose", "created", "expires", "inviter", "note")
    ],
    "acceptance": ["type", "v", "invitation", "invitation_hash", "created", "acceptor", "note"],
    "inviter": ["party", "signing_key", "encryption_key", "tls_certificate", "endpoints", "note"],
    "acceptor": ["party", "signing_key", "encryption_key", "tls_certificate", "endpoints", "note"],
}


def test_one_document_field_of_another_value_validly_signed() -> None:
    outcomes: Counter[str] = Counter()

    @settings(FUZZ, max_examples=300)
    @given(which=st.sampled_from(sorted(DOCUMENT_FIELDS)), data=st.data())
    def check(which: str, data: st.DataObject) -> None:
        field = data.draw(st.sampled_from(DOCUMENT_FIELDS[which]))
        value = data.draw(any_value | DOCUMENT_VALUE[field])
        invitation, acceptance = dict(INVITATION_BODY), dict(ACCEPTANCE_BODY)
        if which in ("invitation", "acceptance"):
            target = invitation if which == "invitation" else acceptance
            target[field] = value
        else:
            card_of = invitation if which == "inviter" else acceptance
            card_of[which] = dict(card_of[which], **{field: value})
        signed = encode(invitation)
        text = armour(INVITATION, signed, W.sign(signed), [])
        read, code = outcome(lambda: read_invitation(text, now_ms=INVITATION_CREATED))
        counted(outcomes, "invitation", code)
        if code is not None:
            assert which in ("invitation", "inviter")
            assert code in DOCUMENT_CODES[field], f"{which}.{field}={value!r}: {code}"
            return
        assert encode(invitation_body_of(read)) == signed
        signed = encode(acceptance)
        text = armour(ACCEPTANCE, signed, B.sign(signed), [])
        read, code = outcome(lambda: read_acceptance(text, S.invitation))
        counted(outcomes, "acceptance", code)
        if code is not None:
            assert which in ("acceptance", "acceptor")
            assert code in DOCUMENT_CODES[field], f"{which}.{field}={value!r}: {code}"
            return
        assert encode(acceptance_body_of(read)) == signed

    check()
    at_least(
        outcomes,
        invitation_accepted=50,
        invitation_refused=50,
        acceptance_accepted=20,
        acceptance_refused=50,
    )


# --- Bundles -------------------------------------------------------------------------------


def as_written(data: str | bytes) -> str:
    """A bundle's JSON in one layout, its values and their JSON types kept (1, 1.0 and
    true stay apart): two bundles the same here differ in white space, key order and the
    text of ``parties`` only (informational: its form is checked, not its content)."""
    document = json.loads(data)
    document["parties"] = None
    return json.dumps(document, sort_keys=True)


GENUINE_BUNDLE = as_written(BUNDLE_JSON)


def _verified_bundle(data: str | bytes) -> tuple[Bundle | None, Code | None]:
    """Read and verify: the bundle if it verifies, else the code of its refusal or fault."""
    bundle, code = outcome(lambda: read_bundle(data))
    if code is not None:
        return None, code
    summary, fault = verify_bundle(bundle)  # faults are values: no exception at all
    if fault is not None:
        return None, fault.code
    assert summary.entries == len(bundle.entries)
    compare_bundles(bundle, S.bundle)
    assert read_bundle(bundle.to_json()) == bundle
    return bundle, None


def test_mutated_bundle_bytes_verify_only_as_the_genuine_bundle() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(mutated([BUNDLE_JSON.encode()]))
    @example(b"[" * 100_000)
    @example(b'{"format": "hotline-record-bundle", "version": 1, "link": ' + b"[" * 100_000)
    @example(BUNDLE_JSON.replace('"version": 1,', '"version": true,').encode())
    @example(BUNDLE_JSON.replace('"version": 1,', '"version": 1.0,').encode())
    def check(data: bytes) -> None:
        bundle, code = _verified_bundle(data)
        counted(outcomes, "bundle", code)
        assert code is not None or (bundle == S.bundle and as_written(data) == GENUINE_BUNDLE)

    check()
    at_least(outcomes, bundle_refused=150)


BUNDLE_DOCUMENT = json.loads(BUNDLE_JSON)
# A path in the bundle's JSON, and what replacing its value may be refused with (§11).
SET_UP_CODES = {Code.MALFORMED, Code.NON_CANONICAL, Code.TOO_LARGE, Code.BAD_SIGNATURE}
BUNDLE_PATHS: dict[tuple[str | int, ...], set[Code]] = {
    ("format",): {Code.MALFORMED},
    ("version",): {Code.UNSUPPORTED_VERSION},
    ("link",): {Code.MALFORMED},
    ("link", "id"): {Code.MALFORMED, Code.WRONG_LINK},
    ("link", "name"): {Code.MALFORMED, Code.WRONG_LINK},
    ("parties",): {Code.MALFORMED},
    ("setup",): {Code.MALFORMED},
    ("setup", "invitation"): SET_UP_CODES,
    ("setup", "invitation", 0): SET_UP_CODES,
    ("setup", "acceptance", 1): SET_UP_CODES,
    ("exported_by",): {Code.MALFORMED, Code.UNKNOWN_SENDER, Code.BAD_SIGNATURE},
    ("exported_ms",): {Code.MALFORMED, Code.BAD_SIGNATURE},
    ("entries",): {Code.MALFORMED, Code.BAD_SIGNATURE},
    ("entries", 0): {Code.MALFORMED},
    ("entries", 1, "envelope"): {Code.MALFORMED, Code.NON_CANONICAL},
    ("entries", 2, "payload"): {Code.MALFORMED, Code.DIGEST_MISMATCH, Code.NON_CANONICAL},
    ("signature",): {Code.MALFORMED, Code.BAD_SIGNATURE},
}


def test_one_bundle_field_replaced_is_refused_with_its_code() -> None:
    outcomes: Counter[str] = Counter()

    @settings(FUZZ, max_examples=300)
    @given(
        path=st.sampled_from(sorted(BUNDLE_PATHS, key=str)),
        value=json_scalar
        | json_value
        | st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
    )
    @example(path=("exported_ms",), value=str(BUNDLE_DOCUMENT["exported_ms"]))
    @example(path=("exported_ms",), value=float(BUNDLE_DOCUMENT["exported_ms"]))
    @example(path=("version",), value=True)
    @example(path=("entries", 2, "payload"), value=None)
    def check(path: tuple[str | int, ...], value: Any) -> None:
        document = json.loads(BUNDLE_JSON)
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        try:
            json.dumps(document, allow_nan=False)
            allowed = BUNDLE_PATHS[path]
        except ValueError:  # NaN or Infinity: not JSON at all (§11 reading, step 1)
            allowed = {Code.MALFORMED}
        written = json.dumps(document)
        bundle, code = _verified_bundle(written)
        counted(outcomes, "bundle", code)
        if code is None:
            assert bundle == S.bundle and as_written(written) == GENUINE_BUNDLE, (
                f"{path}={value!r} changed the bundle and verified"
            )
        else:
            assert code in allowed, f"{path}={value!r}: {code}"

    check()
    at_least(outcomes, bundle_accepted=1, bundle_refused=250)


def test_bundles_with_mutated_entries_name_the_entry_or_fail_the_exporters_signature() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(
        index=st.integers(0, 2),
        data=mutated(ENVELOPES),
        payload=st.none() | st.binary(max_size=100),
    )
    @example(index=2, data=ENVELOPES[2][:-1] + bytes([ENVELOPES[2][-1] ^ 1]), payload=None)
    def check(index: int, data: bytes, payload: bytes | None) -> None:
        document = json.loads(BUNDLE_JSON)
        entry = {
            "envelope": base64.b64encode(data).decode(),
            "payload": None if payload is None else base64.b64encode(payload).decode(),
        }
        same = entry == document["entries"][index]
        document["entries"][index] = entry
        _, fault = verify_bundle(read_bundle(json.dumps(document)))
        counted(outcomes, "entry", None if fault is None else fault.code)
        if fault is None:
            assert same
        elif data in GENUINE:  # another genuine entry in this place: a later one may fail
            assert fault.index >= index or (fault.index, fault.code) == (-1, Code.BAD_SIGNATURE)
        else:  # an envelope no party signed: named where it stands
            assert fault.index == index

    check()
    at_least(outcomes, entry_refused=150)
