"""One form per value, exact types, every set-up check: the rules docs/protocol.md states
so that a second implementation written from it accepts exactly what this one accepts.

The published negative vectors (tests/vectors) hold one case of each rule; these tests
hold the edges and the variants beside them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from hotline.node.delivery.wire import decode_reply
from hotline.protocol.bundle import read_bundle, verify_bundle
from hotline.protocol.encoding import encode
from hotline.protocol.envelope import Header, Payload, parse
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.heartbeat import make_heartbeat, read_heartbeat
from hotline.protocol.invitation import (
    ACCEPTANCE,
    INVITATION,
    dearmour,
    read_acceptance_body,
    read_invitation,
    read_invitation_body,
)
from hotline.protocol.policy import Policy, acceptance_body, default_policy
from hotline.protocol.policy import Proposal as PolicyProposal
from hotline.protocol.policy import read_acceptance as read_policy_acceptance
from hotline.protocol.record import (
    MAX_AHEAD,
    ChainHead,
    Placement,
    RecordEntry,
    place,
    verify_record,
)
from tests.vectors.generate import (
    MESSAGE_1,
    MESSAGE_2,
    T0,
    SealInputs,
    encrypt,
    fill,
    forge,
    identity,
    public,
    scenario,
    seal_inputs,
)

S = scenario()
W, B = identity("washington"), identity("beijing")
PARTIES = {p: public(p) for p in ("washington", "beijing")}
HEADER = S.message_1.header.to_map()
NOW = T0 + 1000


def code_of(action: Any) -> Code:
    with pytest.raises(ProtocolError) as raised:
        action()
    return raised.value.code


def signed_envelope(header: dict[str, Any], payload: bytes) -> bytes:
    """washington's envelope with ``header`` (digest set to ``payload``'s), validly signed."""
    header = dict(header, digest=hashlib.sha256(payload).digest())
    return forge(
        W,
        header,
        nonce=S.message_1.nonce,
        ciphertext=encrypt(header, payload, MESSAGE_1.content_key, S.message_1.nonce),
        wrapped=S.message_1.wrapped_keys,
    )


# --- Envelope fields ---------------------------------------------------------------------


def test_a_ref_that_is_not_a_ulid_is_refused_under_its_own_name() -> None:
    with pytest.raises(ProtocolError) as raised:
        Header.from_map(dict(HEADER, ref="message-1", ref_hash=S.message_1.hash))
    assert raised.value.code is Code.MALFORMED
    assert raised.value.detail.startswith("ref ")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from", "washington\n"),
        ("to", ["beijing\n"]),
    ],
)
def test_a_name_with_a_final_newline_is_not_a_name(field: str, value: Any) -> None:
    assert code_of(lambda: Header.from_map(dict(HEADER, **{field: value}))) is Code.MALFORMED


def test_the_outer_version_is_the_integer_1_and_nothing_equal_to_it() -> None:
    wire = S.message_1.to_bytes()
    assert parse(wire).to_bytes() == wire
    for version, code in (
        (True, Code.UNSUPPORTED_VERSION),
        ("1", Code.UNSUPPORTED_VERSION),
        (2, Code.UNSUPPORTED_VERSION),
        (1.0, Code.MALFORMED),  # a float is outside the data model
    ):
        again = encode([version, S.message_1.signed, S.message_1.signature])
        assert code_of(lambda again=again: parse(again)) is code, version


# --- Holding ahead of a gap --------------------------------------------------------------


def _at_seq(seq: int) -> Any:
    inputs = SealInputs(**dict(vars(MESSAGE_2), seq=seq, id_randomness=fill(0xE7, 10)))
    return seal_inputs(inputs, S.link, prev=fill(0x5A, 32))


def test_place_holds_up_to_max_ahead_past_the_head_and_refuses_beyond() -> None:
    head = ChainHead(1, S.message_1.hash)
    assert MAX_AHEAD == 10_000
    assert place(head, _at_seq(1 + MAX_AHEAD), None) is Placement.AHEAD
    assert code_of(lambda: place(head, _at_seq(2 + MAX_AHEAD), None)) is Code.SEQUENCE_GAP
    # From an empty chain, too: seq 10,000 is held, 10,001 is not.
    assert place(ChainHead(), _at_seq(MAX_AHEAD), None) is Placement.AHEAD
    assert code_of(lambda: place(ChainHead(), _at_seq(MAX_AHEAD + 1), None)) is (Code.SEQUENCE_GAP)


# --- Disclosed payloads ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (encode({"text": "no salt, no body"}), Code.MALFORMED),
        (encode({"body": {"text": "x"}, "salt": fill(0x11, 15)}), Code.MALFORMED),
        (encode({"body": [1], "salt": fill(0x11, 16)}), Code.MALFORMED),
        (b"\xc2\x41\x01", Code.MALFORMED),  # a tag
    ],
)
def test_a_disclosed_payload_must_be_a_payload(payload: bytes, code: Code) -> None:
    wire = signed_envelope(HEADER, payload)
    summary, fault = verify_record(S.link, PARTIES, [RecordEntry(wire, payload)])
    assert fault is not None and (fault.index, fault.code) == (0, code)
    assert summary.payloads_checked == 0
    # Undisclosed, the same entry verifies: the record does not need its payload.
    _, fault = verify_record(S.link, PARTIES, [RecordEntry(wire, None)])
    assert fault is None
    # And a payload that is one is checked and counted.
    payload = Payload({"text": "yes"}, fill(0x11, 16)).to_bytes()
    wire = signed_envelope(HEADER, payload)
    summary, fault = verify_record(S.link, PARTIES, [RecordEntry(wire, payload)])
    assert fault is None and summary.payloads_checked == 1


# --- Set-up documents --------------------------------------------------------------------

INVITATION_SIGNED, _ = dearmour(INVITATION, S.invitation_text)
ACCEPTANCE_SIGNED, _ = dearmour(ACCEPTANCE, S.acceptance_text)


def _body(signed: bytes) -> dict[str, Any]:
    from hotline.protocol.encoding import decode

    value = decode(signed, max_size=len(signed))
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"v": True}, Code.MALFORMED),
        ({"id": "defence-link"}, Code.MALFORMED),
        ({"id": S.invitation.id.lower()}, Code.NON_CANONICAL),
        ({"link_name": "defence\n"}, Code.MALFORMED),
    ],
)
def test_invitation_fields_are_exact(changes: dict[str, Any], code: Code) -> None:
    body = dict(_body(INVITATION_SIGNED), **changes)
    assert code_of(lambda: read_invitation_body(encode(body))) is code


@pytest.mark.parametrize(
    "card_changes",
    [
        {"note": "pinned by hand"},
        {"fingerprint": "18987 78874 35183 45166 58227 73626 26108 47475"},
        {"party": "washington\n"},
    ],
)
def test_party_card_fields_are_exact(card_changes: dict[str, Any]) -> None:
    body = _body(INVITATION_SIGNED)
    body["inviter"] = dict(body["inviter"], **card_changes)
    assert code_of(lambda: read_invitation_body(encode(body))) is Code.MALFORMED


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"v": True}, Code.MALFORMED),
        ({"invitation": "defence-link"}, Code.MALFORMED),
        ({"invitation_hash": S.invitation.hash[:31]}, Code.MALFORMED),
        ({"invitation_hash": S.invitation.hash + b"\x00"}, Code.MALFORMED),
    ],
)
def test_acceptance_fields_are_exact(changes: dict[str, Any], code: Code) -> None:
    body = dict(_body(ACCEPTANCE_SIGNED), **changes)
    assert code_of(lambda: read_acceptance_body(encode(body))) is code


def _block_lines(text: str) -> tuple[list[str], int]:
    lines = text.split("\n")
    return lines, lines.index("") + 1


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\x85", "\x1e"])
def test_armour_lines_end_at_lf_only(separator: str) -> None:
    lines, begin = _block_lines(S.invitation_text)
    block = separator.join(lines[begin:-2])
    text = "\n".join([*lines[:begin], block, *lines[-2:]])
    assert code_of(lambda: read_invitation(text, now_ms=NOW)) is Code.MALFORMED


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\x0b"])
def test_only_ascii_space_tab_and_cr_surround_an_armour_line(space: str) -> None:
    lines, begin = _block_lines(S.invitation_text)
    lines[begin] = space + lines[begin]
    assert code_of(lambda: read_invitation("\n".join(lines), now_ms=NOW)) is Code.MALFORMED
    lines[begin] = " \t" + lines[begin][1:] + "\r"
    assert read_invitation("\n".join(lines), now_ms=NOW) == S.invitation


def test_armour_base64_has_one_form() -> None:
    lines, begin = _block_lines(S.acceptance_text)
    block = "".join(lines[begin:-2])
    assert block.endswith("==")  # the last group holds one byte: 4 padding bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for bit in (1, 2, 4, 8):
        loose = block[:-3] + alphabet[alphabet.index(block[-3]) | bit] + "=="
        assert base64.b64decode(loose) == base64.b64decode(block)
        text = "\n".join([*lines[:begin], loose, *lines[-2:]])
        assert code_of(lambda text=text: dearmour(ACCEPTANCE, text)) is Code.MALFORMED
    # On one line, as it is, the block reads: only its form was at stake.
    text = "\n".join([*lines[:begin], block, *lines[-2:]])
    assert dearmour(ACCEPTANCE, text) == dearmour(ACCEPTANCE, S.acceptance_text)


# --- Policies ----------------------------------------------------------------------------

POLICY = default_policy(S.link, "Defence ministries' direct link")


def test_policy_patterns_match_the_whole_text() -> None:
    document = POLICY.to_map()
    document["criteria"][0]["id"] = "armed-incident\n"
    assert code_of(lambda: Policy.from_map(document)) is Code.MALFORMED
    document = POLICY.to_map()
    document["languages"] = ["en\n", "zh-Hans"]
    for criterion in document["criteria"]:
        criterion["labels"]["en\n"] = criterion["labels"].pop("en")
    assert code_of(lambda: Policy.from_map(document)) is Code.MALFORMED
    assert Policy.from_map(POLICY.to_map()) == POLICY


def test_a_policy_acceptance_names_its_version_as_an_integer() -> None:
    proposal = PolicyProposal(POLICY, W.sign(b"unused here"))
    body = acceptance_body(B, POLICY)
    assert read_policy_acceptance(body, proposal, acceptor=B.public) == body["signature"]
    assert POLICY.version == 1
    body["version"] = True
    assert code_of(lambda: read_policy_acceptance(body, proposal, acceptor=B.public)) is (
        Code.MALFORMED
    )


# --- Liveness ----------------------------------------------------------------------------


def test_a_heartbeat_from_a_name_with_a_final_newline_is_refused() -> None:
    with pytest.raises(ProtocolError) as raised:
        make_heartbeat(
            W.__class__.from_seeds("washington\n", W.signing_seed, W.encryption_secret),
            link=S.link,
            to="beijing",
            path="https://hotline.beijing.example:7443",
            counter=1,
            time_ms=T0,
            nonce=fill(0x4E, 16),
        )
    assert raised.value.code is Code.MALFORMED
    _, wire = make_heartbeat(
        W,
        link=S.link,
        to="beijing",
        path="https://hotline.beijing.example:7443",
        counter=1,
        time_ms=T0,
        nonce=fill(0x4E, 16),
    )
    beat = read_heartbeat(
        wire,
        sender_key=W.public.signing_key,
        sender="washington",
        me="beijing",
        link=S.link,
        now_ms=T0,
    )
    assert beat.sender == "washington"


# --- Bundles -----------------------------------------------------------------------------

BUNDLE = json.loads(S.bundle.to_json())


def _bundle(change: Any) -> str:
    document = json.loads(S.bundle.to_json())
    change(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (_bundle(lambda d: d["link"].update(id=12345)), Code.MALFORMED),
        (_bundle(lambda d: d["link"].update(name=["defence"])), Code.MALFORMED),
        (_bundle(lambda d: d.update(exported_by=None)), Code.MALFORMED),
        (_bundle(lambda d: d.update(exported_ms=True)), Code.MALFORMED),
        (_bundle(lambda d: d.update(exported_ms=-1)), Code.MALFORMED),
        (_bundle(lambda d: d.update(exported_ms=2**53 + 1)), Code.MALFORMED),
        (_bundle(lambda d: d.update(version=1.0)), Code.UNSUPPORTED_VERSION),
        (_bundle(lambda d: d.pop("parties")), Code.MALFORMED),
        (_bundle(lambda d: d.update(parties="washington, beijing")), Code.MALFORMED),
        (_bundle(lambda d: d["parties"][0].update(keys="AA==")), Code.MALFORMED),
        (_bundle(lambda d: d["parties"][1].update(fingerprint=50593)), Code.MALFORMED),
        (_bundle(lambda d: d["link"].update(note="x")), Code.MALFORMED),
        (_bundle(lambda d: d["setup"].update(relay=[])), Code.MALFORMED),
        (_bundle(lambda d: d["setup"]["invitation"].append("AA==")), Code.MALFORMED),
        (_bundle(lambda d: d["entries"][0].update(note="x")), Code.MALFORMED),
        (_bundle(lambda d: d["parties"].append(float("inf"))), Code.MALFORMED),
        (S.bundle.to_json().encode("utf-16"), Code.MALFORMED),
        (S.bundle.to_json().encode("utf-32"), Code.MALFORMED),
        (b"\xef\xbb\xbf" + S.bundle.to_json().encode(), Code.MALFORMED),
        (
            S.bundle.to_json().replace('"format"', '"link": {}, "format"', 1),
            Code.MALFORMED,
        ),
    ],
)
def test_bundle_json_is_read_strictly(text: str | bytes, code: Code) -> None:
    assert code_of(lambda: read_bundle(text)) is code
    # The bundle as written, in any JSON layout, still reads and verifies.
    assert read_bundle(S.bundle.to_json().encode()) == S.bundle
    compact = read_bundle(json.dumps(BUNDLE, separators=(",", ":")))
    assert compact == S.bundle and verify_bundle(compact)[1] is None


# --- The push reply (node/wire.py) ---------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        {"have": True, "results": [], "entries": [], "missing": None},
        {"have": -1, "results": [], "entries": [], "missing": None},
        {"have": 1, "results": [], "entries": [], "missing": ["2", 3]},
        {"have": 1, "results": [], "entries": [], "missing": [True, 3]},
        {"have": 1, "results": [], "entries": [], "missing": [2, 3, 4]},
    ],
)
def test_a_push_reply_has_exact_integers(reply: dict[str, Any]) -> None:
    assert code_of(lambda: decode_reply(encode(reply))) is Code.MALFORMED
    good = decode_reply(encode({"have": 1, "results": [], "entries": [], "missing": [2, 3]}))
    assert (good.have, good.missing) == (1, (2, 3))
