"""The liveness messages of the pure core: heartbeat, echo and signed progress."""

from __future__ import annotations

import pytest

from hotline.protocol.encoding import decode, encode
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.heartbeat import (
    MAX_SKEW_MS,
    Heartbeat,
    make_echo,
    make_heartbeat,
    read_echo,
    read_heartbeat,
    sign_progress,
    verify_progress,
)
from tests.vectors.generate import T0, identity

LINK = "01HF7YAT00F1E2D3C4B5A69788"
PATH = "https://hotline.beijing.example:7443"
NONCE = bytes(range(16))


def beat(**overrides: object) -> tuple[Heartbeat, bytes]:
    args: dict[str, object] = {
        "link": LINK,
        "to": "beijing",
        "path": PATH,
        "counter": 7,
        "time_ms": T0,
        "nonce": NONCE,
    }
    args.update(overrides)
    return make_heartbeat(identity("washington"), **args)  # type: ignore[arg-type]


def read(wire: bytes, **overrides: object) -> Heartbeat:
    args: dict[str, object] = {
        "sender_key": identity("washington").public.signing_key,
        "sender": "washington",
        "me": "beijing",
        "link": LINK,
        "now_ms": T0 + 100,
    }
    args.update(overrides)
    return read_heartbeat(wire, **args)  # type: ignore[arg-type]


def test_heartbeat_round_trip_and_echo() -> None:
    sent, wire = beat()
    got = read(wire)
    assert got == sent
    assert (got.counter, got.path, got.nonce) == (7, PATH, NONCE)
    echo_wire = make_echo(identity("beijing"), got, time_ms=T0 + 120)
    echo = read_echo(echo_wire, peer_key=identity("beijing").public.signing_key, beat=sent)
    assert (echo.sender, echo.recipient, echo.time_ms) == ("beijing", "washington", T0 + 120)
    assert echo.heartbeat_hash == sent.hash


def test_heartbeat_is_deterministic_given_its_inputs() -> None:
    assert beat()[1] == beat()[1]
    assert beat(counter=8)[1] != beat()[1]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"sender_key": identity("geneva").public.signing_key}, Code.BAD_SIGNATURE),
        ({"sender": "geneva"}, Code.UNKNOWN_SENDER),
        ({"me": "geneva"}, Code.WRONG_RECIPIENT),
        ({"link": "01HF7YAT00AAAAAAAAAAAAAAAA"}, Code.WRONG_LINK),
        ({"now_ms": T0 + MAX_SKEW_MS + 1}, Code.EXPIRED),
        ({"now_ms": T0 - MAX_SKEW_MS - 1}, Code.EXPIRED),
    ],
)
def test_heartbeat_refusals(overrides: dict[str, object], code: Code) -> None:
    _, wire = beat()
    with pytest.raises(ProtocolError) as caught:
        read(wire, **overrides)
    assert caught.value.code is code


def test_tampered_heartbeat_is_refused() -> None:
    _, wire = beat()
    version, signed, signature = decode(wire, max_size=4096)
    value = decode(signed, max_size=4096)
    value["n"] = 8
    forged = encode([version, encode(value), signature])
    with pytest.raises(ProtocolError) as caught:
        read(forged)
    assert caught.value.code is Code.BAD_SIGNATURE


def test_an_envelope_style_signature_does_not_verify_as_a_heartbeat() -> None:
    """Liveness signatures carry a context prefix: the same key signing the bare bytes
    (as for an envelope) does not make a valid heartbeat."""
    _, wire = beat()
    version, signed, _ = decode(wire, max_size=4096)
    bare = encode([version, signed, identity("washington").sign(signed)])
    with pytest.raises(ProtocolError) as caught:
        read(bare)
    assert caught.value.code is Code.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (b"\xff", Code.MALFORMED),
        (encode([2, b"x", bytes(64)]), Code.UNSUPPORTED_VERSION),
        (encode([1, b"x"]), Code.MALFORMED),
        (encode([1, b"x", b"short"]), Code.BAD_SIGNATURE),
        (bytes(4096), Code.TOO_LARGE),
    ],
)
def test_malformed_heartbeats(wire: bytes, code: Code) -> None:
    with pytest.raises(ProtocolError) as caught:
        read(wire)
    assert caught.value.code is code


def test_signed_map_with_extra_field_is_refused() -> None:
    me = identity("washington")
    sent, _ = beat()
    value = dict(sent.to_map(), extra=1)
    signed = encode(value)
    from hotline.protocol.heartbeat import CONTEXT

    wire = encode([1, signed, me.sign(CONTEXT + signed)])
    with pytest.raises(ProtocolError) as caught:
        read(wire)
    assert caught.value.code is Code.MALFORMED


@pytest.mark.parametrize(
    "overrides",
    [{"counter": -1}, {"nonce": b"short"}, {"path": ""}, {"to": "Not A Name"}, {"time_ms": True}],
)
def test_making_a_bad_heartbeat_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as caught:
        beat(**overrides)
    assert caught.value.code is Code.MALFORMED


def test_echo_of_another_heartbeat_is_refused_as_replay() -> None:
    first, wire = beat()
    second, _ = beat(counter=8, nonce=bytes(16))
    echo_wire = make_echo(identity("beijing"), read(wire), time_ms=T0)
    key = identity("beijing").public.signing_key
    with pytest.raises(ProtocolError) as caught:
        read_echo(echo_wire, peer_key=key, beat=second)
    assert caught.value.code is Code.REPLAY
    read_echo(echo_wire, peer_key=key, beat=first)


def test_echo_signed_by_a_third_party_is_refused() -> None:
    sent, wire = beat()
    got = read(wire)
    forged = make_echo(
        type(identity("geneva"))("beijing", identity("geneva").signing_seed, bytes(32)),
        got,
        time_ms=T0,
    )
    with pytest.raises(ProtocolError) as caught:
        read_echo(forged, peer_key=identity("beijing").public.signing_key, beat=sent)
    assert caught.value.code is Code.BAD_SIGNATURE


def test_only_the_addressee_echoes() -> None:
    _, wire = beat()
    with pytest.raises(ProtocolError) as caught:
        make_echo(identity("geneva"), read(wire), time_ms=T0)
    assert caught.value.code is Code.WRONG_RECIPIENT


def test_a_heartbeat_is_not_an_echo() -> None:
    sent, wire = beat()
    with pytest.raises(ProtocolError) as caught:
        read_echo(wire, peer_key=identity("washington").public.signing_key, beat=sent)
    assert caught.value.code is Code.MALFORMED


def test_progress_signature_binds_every_field() -> None:
    me = identity("beijing")
    key = me.public.signing_key
    signature = sign_progress(me, link=LINK, to="washington", have=42)
    verify_progress(
        signature, signer_key=key, link=LINK, signer="beijing", to="washington", have=42
    )
    for changed in (
        {"have": 43},
        {"link": "01HF7YAT00AAAAAAAAAAAAAAAA"},
        {"to": "geneva"},
        {"signer": "geneva"},
    ):
        args: dict[str, object] = {
            "signer_key": key,
            "link": LINK,
            "signer": "beijing",
            "to": "washington",
            "have": 42,
        }
        args.update(changed)
        with pytest.raises(ProtocolError) as caught:
            verify_progress(signature, **args)  # type: ignore[arg-type]
        assert caught.value.code is Code.BAD_SIGNATURE


def test_published_heartbeat_vector_reads_back() -> None:
    """The committed vector, read with nothing but the parties' public keys."""
    import json

    from hotline.protocol.heartbeat import CONTEXT
    from tests.vectors.generate import VECTORS_PATH

    vectors = json.loads(VECTORS_PATH.read_text())
    vector, link = vectors["heartbeat"], vectors["link"]["id"]
    assert bytes.fromhex(vector["context"]) == CONTEXT
    inputs = vector["heartbeat"]["inputs"]
    beat = read_heartbeat(
        bytes.fromhex(vector["heartbeat"]["wire"]),
        sender_key=bytes.fromhex(vectors["parties"]["washington"]["signing_key"]),
        sender="washington",
        me="beijing",
        link=link,
        now_ms=inputs["ts"],
    )
    assert beat.signed.hex() == vector["heartbeat"]["signed"]
    assert beat.hash.hex() == vector["heartbeat"]["hash"]
    assert (beat.path, beat.counter, beat.nonce.hex()) == (
        inputs["path"],
        inputs["n"],
        inputs["nonce"],
    )
    beijing_key = bytes.fromhex(vectors["parties"]["beijing"]["signing_key"])
    echo = read_echo(bytes.fromhex(vector["echo"]["wire"]), peer_key=beijing_key, beat=beat)
    assert echo.time_ms == vector["echo"]["inputs"]["time_ms"]
    progress = vector["progress"]
    assert encode(progress["statement"]).hex() == progress["encoding"]
    verify_progress(
        bytes.fromhex(progress["signature"]),
        signer_key=beijing_key,
        link=link,
        signer="beijing",
        to="washington",
        have=progress["statement"]["have"],
    )
