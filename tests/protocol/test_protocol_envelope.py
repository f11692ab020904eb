"""The envelope: seal, parse, verify, open, and every refusal on the way."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ulid import ULID

from hotline.protocol.encoding import encode
from hotline.protocol.envelope import (
    CANONICAL_ULID,
    HEADER_FIELDS,
    MAX_ENVELOPE_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_RECIPIENTS,
    MAX_SEQ,
    Envelope,
    Header,
    Payload,
    new_id,
    open_payload,
    parse,
    seal,
    verify,
)
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.keys import PrivateIdentity, PublicIdentity
from hotline.protocol.kinds import REFERRING_KINDS, Kind
from tests.vectors.generate import encrypt, fill, forge, identity, wrap

W, B, G = identity("washington"), identity("beijing"), identity("geneva")
OUTSIDER = PrivateIdentity.from_seeds("outsider", fill(0xA0, 32), fill(0xA1, 32))
LINK = new_id(1_700_000_000_000, fill(0x01, 10))
T = 1_700_000_100_000
ENVELOPE_ID = new_id(T, fill(0x02, 10))
SALT, KEY, NONCE, KEY_NONCE = fill(0x11, 16), fill(0x12, 32), fill(0x13, 24), fill(0x14, 24)
BODY: dict[str, Any] = {"lang": "en", "text": "Received; under review."}
PAYLOAD = Payload(BODY, SALT).to_bytes()
PREV = hashlib.sha256(b"previous entry").digest()


def make(
    *,
    sender: PrivateIdentity = W,
    recipients: tuple[PublicIdentity, ...] = (B.public,),
    body: dict[str, Any] | None = None,
    seq: int = 1,
    prev: bytes | None = None,
    kind: Kind = Kind.MESSAGE,
    ref: str | None = None,
    ref_hash: bytes | None = None,
    link: str = LINK,
    time_ms: int = T,
    envelope_id: str = ENVELOPE_ID,
    salt: bytes = SALT,
    content_key: bytes = KEY,
    nonce: bytes = NONCE,
    key_nonces: list[bytes] | None = None,
) -> Envelope:
    return seal(
        sender=sender,
        recipients=list(recipients),
        link=link,
        envelope_id=envelope_id,
        seq=seq,
        time_ms=time_ms,
        kind=kind,
        body=BODY if body is None else body,
        prev=prev,
        ref=ref,
        ref_hash=ref_hash,
        salt=salt,
        content_key=content_key,
        nonce=nonce,
        key_nonces=[fill(0x14 + i, 24) for i in range(len(recipients))]
        if key_nonces is None
        else key_nonces,
    )


BASE = make()
BASE_WIRE = BASE.to_bytes()
BASE_HEADER = BASE.header.to_map()


def forged(
    changes: dict[str, Any] | None = None,
    *,
    drop: tuple[str, ...] = (),
    payload: bytes = PAYLOAD,
    nonce: bytes = NONCE,
    wrapped: Any = None,
    signer: PrivateIdentity = W,
    ciphertext: Any = None,
) -> bytes:
    """A validly signed envelope with a hand-made header; the digest follows ``payload``
    and the ciphertext is a real encryption under the (changed) header unless given."""
    header = dict(BASE_HEADER, digest=hashlib.sha256(payload).digest())
    header.update(changes or {})
    for field in drop:
        del header[field]
    if ciphertext is None:
        ciphertext = encrypt(header, payload, KEY, NONCE)
    return forge(
        signer,
        header,
        nonce=nonce,
        ciphertext=ciphertext,
        wrapped=BASE.wrapped_keys if wrapped is None else wrapped,
    )


def code_of(action: Any) -> Code:
    with pytest.raises(ProtocolError) as raised:
        action()
    return raised.value.code


def parse_code(data: bytes) -> Code:
    return code_of(lambda: parse(data))


def open_code(data: bytes, me: PrivateIdentity = B, counterpart: PrivateIdentity = W) -> Code:
    envelope = parse(data)
    verify(envelope, W.public)
    return code_of(lambda: open_payload(envelope, me, counterpart.public))


# --- Round trips -------------------------------------------------------------------------


def test_round_trip() -> None:
    envelope = parse(BASE_WIRE)
    assert envelope == BASE
    assert envelope.to_bytes() == BASE_WIRE
    assert envelope.hash == hashlib.sha256(envelope.signed).digest()
    header = envelope.header
    assert (header.id, header.link, header.sender, header.recipients) == (
        ENVELOPE_ID,
        LINK,
        "washington",
        ("beijing",),
    )
    assert (header.seq, header.time_ms, header.kind, header.prev) == (1, T, Kind.MESSAGE, None)
    assert header.digest == hashlib.sha256(PAYLOAD).digest()
    verify(envelope, W.public)
    payload = open_payload(envelope, B, W.public)
    assert payload == Payload(BODY, SALT)
    assert payload.to_bytes() == PAYLOAD


def test_sender_reads_its_own_envelope_back() -> None:
    assert open_payload(BASE, W, B.public).body == BODY


def test_seal_is_deterministic_given_its_randomness_and_differs_without() -> None:
    assert make().to_bytes() == BASE_WIRE
    assert make(salt=fill(0x99, 16)).header.digest != BASE.header.digest
    assert make(nonce=fill(0x99, 24)).ciphertext != BASE.ciphertext


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    assert b"under review" not in BASE_WIRE
    assert len(BASE.ciphertext) == len(PAYLOAD) + 16


def test_multilateral_envelope_opens_for_every_recipient_only() -> None:
    envelope = parse(make(recipients=(G.public, B.public)).to_bytes())
    assert envelope.header.recipients == ("beijing", "geneva")
    assert set(envelope.wrapped_keys) == {"beijing", "geneva"}
    for me in (B, G):
        assert open_payload(envelope, me, W.public).body == BODY
    assert code_of(lambda: open_payload(envelope, OUTSIDER, W.public)) is Code.WRONG_RECIPIENT


def test_a_hundred_recipients_and_no_more() -> None:
    crowd = [
        PrivateIdentity.from_seeds(f"party-{i:03d}", fill(i, 32), fill(255 - i, 32)).public
        for i in range(MAX_RECIPIENTS + 1)
    ]
    envelope = parse(make(recipients=tuple(crowd[:MAX_RECIPIENTS])).to_bytes())
    assert len(envelope.header.recipients) == MAX_RECIPIENTS
    assert code_of(lambda: make(recipients=tuple(crowd))) is Code.MALFORMED
    assert code_of(lambda: make(recipients=())) is Code.MALFORMED
    too_many = [p.party for p in crowd]
    header = dict(BASE_HEADER, to=too_many)
    wrapped = {p.party: wrap(W, p, KEY, KEY_NONCE) for p in crowd}
    assert parse_code(forged(header, wrapped=wrapped)) is Code.MALFORMED


def test_receipt_refers_to_an_entry() -> None:
    receipt = make(
        sender=B,
        recipients=(W.public,),
        kind=Kind.RECEIPT_DELIVERED,
        ref=BASE.header.id,
        ref_hash=BASE.hash,
        body={"stage": "delivered", "received_ms": T + 5},
    )
    header = parse(receipt.to_bytes()).header
    assert (header.ref, header.ref_hash) == (BASE.header.id, BASE.hash)


json_like = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**64), 2**64 - 1),
        st.text(max_size=50),
        st.binary(max_size=50),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(body=st.dictionaries(st.text(max_size=12), json_like, max_size=6))
def test_any_body_round_trips(body: dict[str, Any]) -> None:
    envelope = parse(make(body=body).to_bytes())
    verify(envelope, W.public)
    assert open_payload(envelope, B, W.public).body == body


@settings(max_examples=120, deadline=None)
@given(position=st.integers(0, len(BASE_WIRE) * 8 - 1))
def test_any_single_bit_flip_is_refused(position: int) -> None:
    wire = bytearray(BASE_WIRE)
    wire[position // 8] ^= 1 << (position % 8)

    def accept() -> None:
        envelope = parse(bytes(wire))
        verify(envelope, W.public)

    assert code_of(accept) in set(Code)


# --- seal refuses what a receiver would refuse ---------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"recipients": ()}, Code.MALFORMED),
        ({"recipients": (W.public,)}, Code.MALFORMED),  # sender cannot be a recipient
        ({"key_nonces": []}, Code.MALFORMED),
        ({"key_nonces": [KEY_NONCE, KEY_NONCE]}, Code.MALFORMED),
        ({"salt": fill(1, 15)}, Code.MALFORMED),
        ({"content_key": fill(1, 31)}, Code.MALFORMED),
        ({"nonce": fill(1, 25)}, Code.MALFORMED),
        ({"envelope_id": "not-a-ulid"}, Code.MALFORMED),
        ({"envelope_id": ENVELOPE_ID.lower()}, Code.NON_CANONICAL),
        ({"seq": 1, "prev": PREV}, Code.CHAIN_BROKEN),
        ({"seq": 2, "prev": None}, Code.CHAIN_BROKEN),
        ({"kind": Kind.RECEIPT_DELIVERED}, Code.BAD_REFERENCE),
        ({"ref": ENVELOPE_ID}, Code.BAD_REFERENCE),
        ({"ref_hash": PREV}, Code.BAD_REFERENCE),
        (
            {"sender": PrivateIdentity.from_seeds("Bad Name", fill(1, 32), fill(2, 32))},
            Code.MALFORMED,
        ),
        # Fields that seal() used to pass through unchecked and parse() refuses.
        ({"link": "x" * 65}, Code.MALFORMED),
        ({"link": ""}, Code.MALFORMED),
        ({"seq": 0}, Code.MALFORMED),
        ({"seq": MAX_SEQ + 1, "prev": PREV}, Code.MALFORMED),
        ({"time_ms": -1}, Code.MALFORMED),
        ({"seq": 2, "prev": b"short"}, Code.MALFORMED),
        ({"ref": "nope", "ref_hash": PREV}, Code.MALFORMED),
        ({"body": {"x": 1.5}}, Code.MALFORMED),
        ({"body": {"x": 2**64}}, Code.MALFORMED),
        ({"body": {"x": {1: "integer key"}}}, Code.MALFORMED),
    ],
)
def test_seal_refusals(changes: dict[str, Any], code: Code) -> None:
    assert code_of(lambda: make(**changes)) is code


def _expected_seal_refusal(
    link: str, seq: int, time_ms: int, with_prev: bool, kind: Kind, with_ref: bool
) -> Code | None:
    """The code seal() must give for these inputs, from §4.2 alone (None: it seals)."""
    if not 0 < len(link) <= 64:
        return Code.MALFORMED
    if not 1 <= seq <= MAX_SEQ or not 0 <= time_ms <= MAX_SEQ:
        return Code.MALFORMED
    if (seq == 1) == with_prev:
        return Code.CHAIN_BROKEN
    if kind in REFERRING_KINDS and not with_ref:
        return Code.BAD_REFERENCE
    return None


def test_seal_accepts_what_parse_accepts_and_refuses_the_rest_with_its_code() -> None:
    """Both ways: whatever seal() accepts parses, verifies and opens; whatever it refuses
    carries the code the header rules give; and enough of each is generated."""
    outcomes = {"sealed": 0, "refused": 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        link=st.text(min_size=1, max_size=64) | st.text(max_size=70),
        seq=st.integers(1, 4) | st.integers(-2, MAX_SEQ + 2),
        time_ms=st.integers(0, 2**53) | st.integers(-2, 2**60),
        with_prev=st.booleans(),
        kind=st.sampled_from(Kind),
        with_ref=st.booleans(),
    )
    def check(
        link: str, seq: int, time_ms: int, with_prev: bool, kind: Kind, with_ref: bool
    ) -> None:
        expected = _expected_seal_refusal(link, seq, time_ms, with_prev, kind, with_ref)
        try:
            envelope = make(
                link=link,
                seq=seq,
                time_ms=time_ms,
                prev=PREV if with_prev else None,
                kind=kind,
                ref=ENVELOPE_ID if with_ref else None,
                ref_hash=PREV if with_ref else None,
            )
        except ProtocolError as refused:
            assert refused.code is expected, refused
            outcomes["refused"] += 1
            return
        assert expected is None
        again = parse(envelope.to_bytes())
        assert again.to_bytes() == envelope.to_bytes()
        verify(again, W.public)
        assert open_payload(again, B, W.public).body == BODY
        outcomes["sealed"] += 1

    check()
    # About a third of the examples seal; a bound well below keeps the test steady.
    assert outcomes["sealed"] >= 20, outcomes
    assert outcomes["refused"] >= 20, outcomes


# --- Size limits ---------------------------------------------------------------------------


def _body_of_payload_size(size: int) -> dict[str, Any]:
    probe = 100_000
    overhead = len(Payload({"text": "x" * probe}, SALT).to_bytes()) - probe
    return {"text": "x" * (size - overhead)}


def test_payload_size_limit() -> None:
    body = _body_of_payload_size(MAX_PAYLOAD_BYTES)
    assert len(Payload(body, SALT).to_bytes()) == MAX_PAYLOAD_BYTES
    envelope = parse(make(body=body).to_bytes())
    assert len(envelope.to_bytes()) <= MAX_ENVELOPE_BYTES
    assert open_payload(envelope, B, W.public).body == body
    over = _body_of_payload_size(MAX_PAYLOAD_BYTES + 1)
    assert code_of(lambda: make(body=over)) is Code.TOO_LARGE


def test_oversized_payload_inside_a_signed_envelope_is_refused_on_open() -> None:
    payload = Payload(_body_of_payload_size(MAX_PAYLOAD_BYTES + 1), SALT).to_bytes()
    assert open_code(forged(payload=payload)) is Code.TOO_LARGE


def test_envelope_size_limit_comes_first() -> None:
    assert parse_code(b"\x00" * (MAX_ENVELOPE_BYTES + 1)) is Code.TOO_LARGE
    assert parse_code(b"\x00" * MAX_ENVELOPE_BYTES) is Code.NON_CANONICAL  # 0 then trailing
    big = encode([1, b"x" * MAX_ENVELOPE_BYTES, b"s" * 64])
    assert parse_code(big) is Code.TOO_LARGE


# --- parse: outer structure ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", Code.MALFORMED),
        (b"\xff", Code.MALFORMED),
        (BASE_WIRE[:-1], Code.MALFORMED),
        (BASE_WIRE + b"\x00", Code.NON_CANONICAL),
        (b"\x83\x18\x01" + BASE_WIRE[2:], Code.NON_CANONICAL),
        (encode({"v": 1}), Code.MALFORMED),
        (encode([1, BASE.signed]), Code.MALFORMED),
        (encode([1, BASE.signed, BASE.signature, b""]), Code.MALFORMED),
        (encode([0, BASE.signed, BASE.signature]), Code.UNSUPPORTED_VERSION),
        (encode([2, BASE.signed, BASE.signature]), Code.UNSUPPORTED_VERSION),
        (encode(["1", BASE.signed, BASE.signature]), Code.UNSUPPORTED_VERSION),
        (encode([1, "signed", BASE.signature]), Code.MALFORMED),
        (encode([1, BASE.signed, BASE.signature.hex()]), Code.MALFORMED),
        (encode([1, BASE.signed, BASE.signature[:63]]), Code.BAD_SIGNATURE),
        (encode([1, BASE.signed, BASE.signature + b"\x00"]), Code.BAD_SIGNATURE),
        (encode([1, b"\xff", BASE.signature]), Code.MALFORMED),
        (encode([1, BASE.signed + b"\x00", BASE.signature]), Code.NON_CANONICAL),
        (encode([1, encode([1, 2]), BASE.signature]), Code.MALFORMED),
    ],
)
def test_parse_outer_refusals(data: bytes, code: Code) -> None:
    assert parse_code(data) is code


def _signed_with(inner: dict[str, Any]) -> bytes:
    signed = encode(inner)
    return encode([1, signed, W.sign(signed)])


def test_parse_refuses_a_non_canonical_signed_part() -> None:
    # The same map with its keys in the wrong order ("n" before "k").
    inner = {"h": BASE_HEADER, "n": NONCE, "c": BASE.ciphertext, "k": BASE.wrapped_keys}
    canonical = encode(inner)
    items = [(k, inner[k]) for k in ("h", "n", "c", "k")]
    shuffled = bytes([0xA4]) + b"".join(encode(k) + encode(v) for k, v in items)
    assert sorted(shuffled) == sorted(canonical) and shuffled != canonical
    assert parse_code(encode([1, shuffled, W.sign(shuffled)])) is Code.NON_CANONICAL


@pytest.mark.parametrize(
    "inner",
    [
        {"h": BASE_HEADER, "n": NONCE, "c": BASE.ciphertext},
        {"h": BASE_HEADER, "n": NONCE, "c": BASE.ciphertext, "k": BASE.wrapped_keys, "x": 1},
        {"header": BASE_HEADER, "n": NONCE, "c": BASE.ciphertext, "k": BASE.wrapped_keys},
    ],
)
def test_parse_refuses_signed_parts_with_other_fields(inner: dict[str, Any]) -> None:
    assert parse_code(_signed_with(inner)) is Code.MALFORMED


# --- parse: header -------------------------------------------------------------------------


@pytest.mark.parametrize("field", sorted(HEADER_FIELDS))
def test_every_header_field_is_required(field: str) -> None:
    assert parse_code(forged(drop=(field,))) is Code.MALFORMED


def test_header_cannot_have_extra_fields_or_be_something_else() -> None:
    assert parse_code(forged({"subject": "x"})) is Code.MALFORMED
    inner = {"h": [BASE_HEADER], "n": NONCE, "c": BASE.ciphertext, "k": BASE.wrapped_keys}
    assert parse_code(_signed_with(inner)) is Code.MALFORMED


OTHER_ID = new_id(T, fill(0x03, 10))
HEADER_CASES: list[tuple[dict[str, Any], Code]] = [
    ({"v": 2}, Code.UNSUPPORTED_VERSION),
    ({"v": 0}, Code.UNSUPPORTED_VERSION),
    ({"kind": "message.secret"}, Code.UNKNOWN_KIND),
    ({"kind": "MESSAGE"}, Code.UNKNOWN_KIND),
    ({"kind": 1}, Code.UNKNOWN_KIND),
    ({"kind": None}, Code.UNKNOWN_KIND),
    ({"kind": ["message"]}, Code.UNKNOWN_KIND),
    ({"id": "not-a-ulid"}, Code.MALFORMED),
    ({"id": "U" * 26}, Code.MALFORMED),
    ({"id": "8" + "0" * 25}, Code.MALFORMED),  # beyond 128 bits
    ({"id": ENVELOPE_ID.lower()}, Code.NON_CANONICAL),
    ({"id": 12345}, Code.MALFORMED),
    ({"link": ""}, Code.MALFORMED),
    ({"link": "x" * 65}, Code.MALFORMED),
    ({"link": b"link"}, Code.MALFORMED),
    ({"from": "Washington"}, Code.MALFORMED),
    ({"from": "-washington"}, Code.MALFORMED),
    ({"from": "w" * 64}, Code.MALFORMED),
    ({"from": ""}, Code.MALFORMED),
    ({"to": []}, Code.MALFORMED),
    ({"to": "beijing"}, Code.MALFORMED),
    ({"to": ["BEIJING"]}, Code.MALFORMED),
    ({"to": ["geneva", "beijing"]}, Code.NON_CANONICAL),
    ({"to": ["beijing", "beijing"]}, Code.NON_CANONICAL),
    ({"to": ["beijing", "washington"]}, Code.MALFORMED),  # the sender among the recipients
    ({"seq": 0}, Code.MALFORMED),
    ({"seq": -1}, Code.MALFORMED),
    ({"seq": True}, Code.MALFORMED),
    ({"seq": "1"}, Code.MALFORMED),
    ({"seq": MAX_SEQ + 1, "prev": PREV}, Code.MALFORMED),
    ({"ts": -1}, Code.MALFORMED),
    ({"ts": None}, Code.MALFORMED),
    ({"ts": MAX_SEQ + 1}, Code.MALFORMED),
    ({"ref": "nope", "ref_hash": PREV}, Code.MALFORMED),
    ({"ref": OTHER_ID, "ref_hash": PREV[:31]}, Code.MALFORMED),
    ({"seq": 2, "prev": PREV + b"\x00"}, Code.MALFORMED),
    ({"seq": 2, "prev": PREV.hex()}, Code.MALFORMED),
    ({"digest": None}, Code.MALFORMED),
    ({"digest": b"\x00" * 31}, Code.MALFORMED),
    ({"prev": PREV}, Code.CHAIN_BROKEN),  # seq 1 with a prev
    ({"seq": 2}, Code.CHAIN_BROKEN),  # seq 2 without one
    ({"ref": OTHER_ID}, Code.BAD_REFERENCE),  # ref without ref_hash
    ({"ref_hash": PREV}, Code.BAD_REFERENCE),  # ref_hash without ref
]


@pytest.mark.parametrize(("changes", "code"), HEADER_CASES, ids=[str(c) for c, _ in HEADER_CASES])
def test_parse_header_refusals(changes: dict[str, Any], code: Code) -> None:
    assert parse_code(forged(changes)) is code


@pytest.mark.parametrize("kind", sorted(REFERRING_KINDS))
def test_referring_kinds_need_a_reference(kind: Kind) -> None:
    assert parse_code(forged({"kind": kind.value})) is Code.BAD_REFERENCE
    ok = parse(forged({"kind": kind.value, "ref": OTHER_ID, "ref_hash": PREV}))
    assert ok.header.kind is kind


def test_header_accepts_the_limits() -> None:
    edge = {
        "link": "x" * 64,
        "from": "w" * 63,
        "seq": MAX_SEQ,
        "prev": PREV,
        "ts": MAX_SEQ,
    }
    header = parse(forged(edge)).header
    assert (header.link, header.sender, header.seq, header.time_ms) == (
        "x" * 64,
        "w" * 63,
        MAX_SEQ,
        MAX_SEQ,
    )


# --- parse: nonce, ciphertext, wrapped keys ------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"nonce": NONCE[:23]}, Code.MALFORMED),
        ({"nonce": NONCE + b"\x00"}, Code.MALFORMED),
        ({"nonce": NONCE.hex()}, Code.MALFORMED),
        ({"ciphertext": "text"}, Code.MALFORMED),
        ({"wrapped": {}}, Code.MALFORMED),
        ({"wrapped": [BASE.wrapped_keys["beijing"]]}, Code.MALFORMED),
        ({"wrapped": {"geneva": BASE.wrapped_keys["beijing"]}}, Code.MALFORMED),
        (
            {"wrapped": dict(BASE.wrapped_keys, geneva=BASE.wrapped_keys["beijing"])},
            Code.MALFORMED,
        ),
        ({"wrapped": {"beijing": BASE.wrapped_keys["beijing"][:71]}}, Code.MALFORMED),
        ({"wrapped": {"beijing": BASE.wrapped_keys["beijing"] + b"\x00"}}, Code.MALFORMED),
        ({"wrapped": {"beijing": "key"}}, Code.MALFORMED),
    ],
)
def test_parse_body_refusals(kwargs: dict[str, Any], code: Code) -> None:
    assert parse_code(forged(**kwargs)) is code


# --- verify --------------------------------------------------------------------------------


def test_parse_does_not_check_the_signature_but_verify_does() -> None:
    bad = encode([1, BASE.signed, bytes(64)])
    envelope = parse(bad)
    assert code_of(lambda: verify(envelope, W.public)) is Code.BAD_SIGNATURE


def test_verify_refusals() -> None:
    assert code_of(lambda: verify(BASE, B.public)) is Code.UNKNOWN_SENDER
    impostor = parse(forged(signer=B))  # says "washington", signed by beijing
    assert code_of(lambda: verify(impostor, W.public)) is Code.BAD_SIGNATURE
    other = make(body={"text": "other"})
    swapped = parse(encode([1, BASE.signed, other.signature]))
    assert code_of(lambda: verify(swapped, W.public)) is Code.BAD_SIGNATURE
    lookalike = PublicIdentity("washington", B.public.signing_key, W.public.encryption_key)
    assert code_of(lambda: verify(BASE, lookalike)) is Code.BAD_SIGNATURE


# --- open ----------------------------------------------------------------------------------


def test_open_wrong_recipient() -> None:
    assert open_code(BASE_WIRE, me=G) is Code.WRONG_RECIPIENT
    assert open_code(BASE_WIRE, me=OUTSIDER) is Code.WRONG_RECIPIENT


def test_open_with_the_wrong_counterpart_fails_to_decrypt() -> None:
    assert open_code(BASE_WIRE, me=B, counterpart=G) is Code.DECRYPT_FAILED


def test_open_decrypt_failures() -> None:
    wrapped = bytearray(BASE.wrapped_keys["beijing"])
    wrapped[30] ^= 0x01
    assert open_code(forged(wrapped={"beijing": bytes(wrapped)})) is Code.DECRYPT_FAILED
    ciphertext = bytearray(encrypt(BASE_HEADER, PAYLOAD, KEY, NONCE))
    ciphertext[-1] ^= 0x01
    assert open_code(forged(ciphertext=bytes(ciphertext))) is Code.DECRYPT_FAILED
    assert open_code(forged(nonce=fill(0x77, 24), ciphertext=BASE.ciphertext)) is (
        Code.DECRYPT_FAILED
    )
    wrong_key = wrap(W, B.public, fill(0x66, 32), KEY_NONCE)
    assert open_code(forged(wrapped={"beijing": wrong_key})) is Code.DECRYPT_FAILED


def test_the_header_is_bound_to_the_ciphertext() -> None:
    """Moving a ciphertext under another (even validly signed) header fails to decrypt."""
    later = forged({"ts": T + 1}, ciphertext=BASE.ciphertext)
    assert open_code(later) is Code.DECRYPT_FAILED


def test_open_digest_mismatch() -> None:
    lying = forged({"digest": hashlib.sha256(b"something else").digest()})
    assert open_code(lying) is Code.DIGEST_MISMATCH


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (encode({"body": BODY}), Code.MALFORMED),
        (encode({"body": BODY, "salt": SALT, "extra": 1}), Code.MALFORMED),
        (encode({"body": BODY, "salt": SALT[:15]}), Code.MALFORMED),
        (encode({"body": BODY, "salt": SALT.hex()}), Code.MALFORMED),
        (encode({"body": ["text"], "salt": SALT}), Code.MALFORMED),
        (encode([BODY, SALT]), Code.MALFORMED),
        (encode({"body": {"x": 1.5}, "salt": SALT}), Code.MALFORMED),
        (PAYLOAD + b"\x00", Code.NON_CANONICAL),
        (b"\xff", Code.MALFORMED),
    ],
)
def test_open_refuses_a_signed_payload_of_the_wrong_shape(payload: bytes, code: Code) -> None:
    assert open_code(forged(payload=payload)) is code


@given(value=st.from_regex(CANONICAL_ULID, fullmatch=True))
def test_a_canonical_ulid_is_one_the_ulid_library_reads_back_unchanged(value: str) -> None:
    # check_ulid accepts these on sight; the ULID library agrees that they are ULIDs.
    assert str(ULID.from_str(value)) == value


CROCKFORD_AND_LOOKALIKES = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyzILOUilou"


@given(value=st.text(alphabet=CROCKFORD_AND_LOOKALIKES, min_size=25, max_size=27))
def test_ids_outside_the_pattern_are_judged_as_the_ulid_library_judges_them(value: str) -> None:
    header = {**BASE_HEADER, "id": value}
    try:
        parsed = str(ULID.from_str(value)) if len(value) == 26 else None
    except ValueError:
        parsed = None
    if parsed == value:
        assert Header.from_map(header).id == value
    else:
        with pytest.raises(ProtocolError) as refused:
            Header.from_map(header)
        expected = Code.MALFORMED if parsed is None else Code.NON_CANONICAL
        assert refused.value.code is expected
