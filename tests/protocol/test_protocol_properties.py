"""Properties of every signed document, both ways.

For envelopes, invitations, acceptances, bundles, link policies and heartbeats:
documents generated at random (within the rules) are accepted, exactly as written;
the same documents, changed after signing, are refused with the code the
specification names for that change. Every accepted document is changed in every
way listed for its kind, and each test counts both and requires at least 50 accepted
documents, so that it cannot pass by refusing everything or by never reaching the
check it is about.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.protocol.bundle import make_bundle, read_bundle, verify_bundle
from hotline.protocol.encoding import decode, encode
from hotline.protocol.envelope import (
    MAX_SEQ,
    NAME_PATTERN,
    Envelope,
    new_id,
    open_payload,
    parse,
    seal,
    verify,
)
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.heartbeat import make_heartbeat, read_heartbeat
from hotline.protocol.invitation import (
    ACCEPTANCE,
    INVITATION,
    Invitation,
    armour,
    dearmour,
    make_acceptance,
    make_invitation,
    read_acceptance,
    read_invitation,
)
from hotline.protocol.kinds import REFERRING_KINDS, Kind
from hotline.protocol.policy import (
    Policy,
    amend,
    default_policy,
    sign_policy,
    verify_policy_signature,
)
from hotline.protocol.record import RecordEntry
from tests.vectors.generate import (
    LINK_NAME,
    MESSAGE_1,
    MESSAGE_2,
    PURPOSE,
    RECEIPT_1,
    T0,
    fill,
    identity,
    payload_bytes,
    scenario,
    tls_certificate,
)

S = scenario()
W, B, G = identity("washington"), identity("beijing"), identity("geneva")
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def refusal(action: Callable[[], object]) -> Code | None:
    """The code ``action`` is refused with, or None if it is accepted."""
    try:
        action()
    except ProtocolError as refused:
        return refused.code
    return None


def flip_bit(data: bytes, index: int) -> bytes:
    i = index % (len(data) * 8)
    return data[: i // 8] + bytes([data[i // 8] ^ (1 << (i % 8))]) + data[i // 8 + 1 :]


Case = tuple[str, Callable[[], object], Code | None]  # name, action, code (None: any)


def refused_as_stated(outcomes: Counter[str], cases: list[Case]) -> None:
    """Each changed document is refused, with the stated code when one is stated."""
    for name, action, expected in cases:
        code = refusal(action)
        assert code is not None, f"{name}: a changed document was accepted"
        assert expected is None or code is expected, f"{name}: {code} instead of {expected}"
        outcomes[name] += 1


def required(outcomes: Counter[str], least: int) -> None:
    """Enough generated documents were accepted (and each was then changed every way)."""
    assert outcomes["accepted"] >= least, dict(outcomes)
    assert len(set(outcomes.values())) == 1, f"a change was skipped: {dict(outcomes)}"


# --- Envelopes -----------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60)


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[Envelope, dict[str, Any]]:
    kind = draw(st.sampled_from(Kind))
    seq = draw(st.integers(1, 3) | st.integers(1, MAX_SEQ))
    refers = kind in REFERRING_KINDS or draw(st.booleans())
    body = {"text": draw(text), "n": draw(st.integers(-(2**63), 2**63))}
    envelope = seal(
        sender=W,
        recipients=[B.public],
        link=S.link,
        envelope_id=new_id(
            draw(st.integers(0, 2**48 - 1)), draw(st.binary(min_size=10, max_size=10))
        ),
        seq=seq,
        time_ms=draw(st.integers(0, MAX_SEQ)),
        kind=kind,
        body=body,
        prev=None if seq == 1 else draw(st.binary(min_size=32, max_size=32)),
        ref=S.receipt_1.header.id if refers else None,
        ref_hash=S.receipt_1.hash if refers else None,
        salt=draw(st.binary(min_size=16, max_size=16)),
        content_key=draw(st.binary(min_size=32, max_size=32)),
        nonce=draw(st.binary(min_size=24, max_size=24)),
        key_nonces=[draw(st.binary(min_size=24, max_size=24))],
    )
    return envelope, body


def read_envelope(wire: bytes) -> Envelope:
    envelope = parse(wire)
    verify(envelope, W.public)
    return envelope


def envelope_changes(envelope: Envelope, where: int) -> list[Case]:
    wire = envelope.to_bytes()
    header = dict(envelope.header.to_map())
    # Another valid value under the old signature: only the signature can tell.
    header["ts"] = (header["ts"] + 1 + where) % (MAX_SEQ + 1)
    signed = encode(
        {"h": header, "n": envelope.nonce, "c": envelope.ciphertext, "k": envelope.wrapped_keys}
    )
    version = [True, 2, 0, "1"][where % 4]
    return [
        (
            "signature",
            lambda: read_envelope(wire[:-64] + flip_bit(wire[-64:], where)),
            Code.BAD_SIGNATURE,
        ),
        (
            "field",
            lambda: read_envelope(encode([1, signed, envelope.signature])),
            Code.BAD_SIGNATURE,
        ),
        (
            "version",
            lambda: read_envelope(encode([version, envelope.signed, envelope.signature])),
            Code.UNSUPPORTED_VERSION,
        ),
        ("trailing", lambda: read_envelope(wire + bytes([where % 256])), Code.NON_CANONICAL),
        ("truncated", lambda: read_envelope(wire[: where % len(wire)]), Code.MALFORMED),
        # Anywhere: the code depends on where, but the envelope is never taken.
        ("bit", lambda: read_envelope(flip_bit(wire, where)), None),
    ]


def test_envelopes_are_accepted_as_sealed_and_refused_once_changed() -> None:
    outcomes: Counter[str] = Counter()

    @PROPERTY
    @given(made=envelopes(), where=st.integers(0, 2**24))
    def check(made: tuple[Envelope, dict[str, Any]], where: int) -> None:
        envelope, body = made
        wire = envelope.to_bytes()
        accepted = read_envelope(wire)
        assert accepted.to_bytes() == wire and accepted.hash == envelope.hash
        assert open_payload(accepted, B, W.public).body == body
        outcomes["accepted"] += 1
        refused_as_stated(outcomes, envelope_changes(envelope, where))

    check()
    required(outcomes, 50)


# --- Invitations and acceptances -----------------------------------------------------------

names = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda n: n != "washington")
endpoints = st.lists(
    st.from_regex(r"[a-z]{1,12}(\.[a-z]{1,12}){0,2}", fullmatch=True).map(
        lambda host: f"https://{host}:7443"
    ),
    min_size=1,
    max_size=8,
)


@st.composite
def invitations(draw: st.DrawFn) -> tuple[Invitation, str]:
    created = draw(st.integers(0, 2**52))
    return make_invitation(
        W,
        invitation_id=new_id(
            draw(st.integers(0, 2**48 - 1)), draw(st.binary(min_size=10, max_size=10))
        ),
        link_name=draw(st.from_regex(NAME_PATTERN, fullmatch=True)),
        purpose=draw(text),
        tls_certificate=draw(st.binary(min_size=1, max_size=300)),
        endpoints=draw(endpoints),
        created_ms=created,
        expires_ms=created + draw(st.integers(1, 2**40)),
    )


def armoured(label: str, signed: bytes, signature: bytes) -> str:
    return armour(label, signed, signature, ["Party: washington"])


def resigned(label: str, body: dict[str, Any], signer: Any, **changes: Any) -> str:
    signed = encode(dict(body, **changes))
    return armoured(label, signed, signer.sign(signed))


def invitation_changes(invitation: Invitation, written: str, where: int) -> list[Case]:
    signed, signature = dearmour(INVITATION, written)
    body = decode(signed, max_size=len(signed))
    now = invitation.created_ms
    # Still a valid invitation, but no longer the one signed.
    unsigned = armoured(INVITATION, encode(dict(body, purpose=body["purpose"] + ".")), signature)
    flipped = armoured(INVITATION, signed, flip_bit(signature, where))
    version_true = resigned(INVITATION, body, W, v=True)
    card_field = resigned(INVITATION, body, W, inviter=dict(body["inviter"], note="x"))
    return [
        ("signature", lambda: read_invitation(flipped, now_ms=now), Code.BAD_SIGNATURE),
        ("field", lambda: read_invitation(unsigned, now_ms=now), Code.BAD_SIGNATURE),
        (
            "expired",
            lambda: read_invitation(written, now_ms=invitation.expires_ms + where),
            Code.EXPIRED,
        ),
        ("version_true", lambda: read_invitation(version_true, now_ms=now), Code.MALFORMED),
        ("card_field", lambda: read_invitation(card_field, now_ms=now), Code.MALFORMED),
    ]


def test_invitations_are_accepted_as_written_and_refused_once_changed() -> None:
    outcomes: Counter[str] = Counter()

    @PROPERTY
    @given(made=invitations(), where=st.integers(0, 511))
    def check(made: tuple[Invitation, str], where: int) -> None:
        invitation, written = made
        assert read_invitation(written, now_ms=invitation.created_ms) == invitation
        assert read_invitation(written, now_ms=invitation.expires_ms - 1) == invitation
        outcomes["accepted"] += 1
        refused_as_stated(outcomes, invitation_changes(invitation, written, where))

    check()
    required(outcomes, 50)


OTHER_INVITATION, _ = make_invitation(
    W,
    invitation_id=new_id(T0 + 9, fill(0x09, 10)),
    link_name=LINK_NAME,
    purpose=PURPOSE,
    tls_certificate=tls_certificate("washington"),
    endpoints=["https://hotline.washington.example:7443"],
    created_ms=T0,
    expires_ms=T0 + 1,
)


def acceptance_changes(me: Any, written: str, created: int, where: int) -> list[Case]:
    signed, signature = dearmour(ACCEPTANCE, written)
    body = decode(signed, max_size=len(signed))
    later = created + 1 if created < 2**62 else created - 1
    unsigned = armoured(ACCEPTANCE, encode(dict(body, created=later)), signature)
    flipped = armoured(ACCEPTANCE, signed, flip_bit(signature, where))
    same_name = resigned(ACCEPTANCE, body, me, acceptor=dict(body["acceptor"], party="washington"))
    version_true = resigned(ACCEPTANCE, body, me, v=True)
    return [
        ("signature", lambda: read_acceptance(flipped, S.invitation), Code.BAD_SIGNATURE),
        ("field", lambda: read_acceptance(unsigned, S.invitation), Code.BAD_SIGNATURE),
        (
            "other_invitation",
            lambda: read_acceptance(written, OTHER_INVITATION),
            Code.BAD_REFERENCE,
        ),
        ("same_name", lambda: read_acceptance(same_name, S.invitation), Code.MALFORMED),
        ("version_true", lambda: read_acceptance(version_true, S.invitation), Code.MALFORMED),
    ]


def test_acceptances_are_accepted_as_written_and_refused_once_changed() -> None:
    outcomes: Counter[str] = Counter()

    @PROPERTY
    @given(
        party=names,
        cert=st.binary(min_size=1, max_size=300),
        reachable=endpoints,
        created=st.integers(-(2**62), 2**62),
        where=st.integers(0, 511),
    )
    def check(party: str, cert: bytes, reachable: list[str], created: int, where: int) -> None:
        me = G.__class__.from_seeds(party, G.signing_seed, G.encryption_secret)
        acceptance, written = make_acceptance(
            me, S.invitation, tls_certificate=cert, endpoints=reachable, created_ms=created
        )
        assert read_acceptance(written, S.invitation) == acceptance
        assert acceptance.acceptor.identity.party == party
        outcomes["accepted"] += 1
        refused_as_stated(outcomes, acceptance_changes(me, written, created, where))

    check()
    required(outcomes, 50)


# --- Bundles -------------------------------------------------------------------------------

M1, R1, M2 = S.message_1, S.receipt_1, S.message_2
PAYLOAD = {
    M1.header.id: payload_bytes(MESSAGE_1),
    R1.header.id: payload_bytes(RECEIPT_1),
    M2.header.id: payload_bytes(MESSAGE_2),
}
# Every order of (a prefix of) the vector record in which each chain is in order and
# the receipt follows the message it names.
ORDERS = [[M1], [M1, R1], [M1, M2], [M1, R1, M2], [M1, M2, R1]]


def bundle_changes(written: str, order: list[Envelope], where: int) -> list[Case]:
    def edited(change: Callable[[dict[str, Any]], None]) -> str:
        document = json.loads(written)
        change(document)
        return json.dumps(document)

    def expect(text: str, code: Code, index: int) -> Callable[[], object]:
        def action() -> object:
            _, fault = verify_bundle(read_bundle(text))
            if fault is None:
                return None  # verified: refused_as_stated fails the case
            assert fault.index == index, f"{fault.describe()} instead of index {index}"
            raise ProtocolError(fault.code, fault.detail)

        return action

    i = where % len(order)
    wire = order[i].to_bytes()
    own = PAYLOAD[order[i].header.id]
    other = next(p for p in PAYLOAD.values() if p != own)
    later = edited(lambda d: d.update(exported_ms=(d["exported_ms"] + 1) % 2**53))
    forged_entry = edited(
        lambda d: d["entries"][i].update(
            envelope=base64.b64encode(wire[:-64] + flip_bit(wire[-64:], where)).decode()
        )
    )
    wrong_payload = edited(
        lambda d: d["entries"][i].update(payload=base64.b64encode(other).decode())
    )
    renamed = edited(lambda d: d["link"].update(name=LINK_NAME + "-x"))
    as_text = edited(lambda d: d.update(exported_ms=str(d["exported_ms"])))
    version_true = edited(lambda d: d.update(version=True))
    return [
        ("exported_ms", expect(later, Code.BAD_SIGNATURE, -1), Code.BAD_SIGNATURE),
        ("entry_signature", expect(forged_entry, Code.BAD_SIGNATURE, i), Code.BAD_SIGNATURE),
        ("wrong_payload", expect(wrong_payload, Code.DIGEST_MISMATCH, i), Code.DIGEST_MISMATCH),
        ("link_name", expect(renamed, Code.WRONG_LINK, -1), Code.WRONG_LINK),
        ("exported_ms_text", lambda: read_bundle(as_text), Code.MALFORMED),
        ("version_true", lambda: read_bundle(version_true), Code.UNSUPPORTED_VERSION),
    ]


def test_bundles_are_accepted_as_exported_and_refused_once_changed() -> None:
    outcomes: Counter[str] = Counter()

    @PROPERTY
    @given(
        order=st.sampled_from(ORDERS),
        disclosed=st.lists(st.booleans(), min_size=3, max_size=3),
        exporter=st.sampled_from([W, B]),
        exported_ms=st.integers(0, 2**53),
        where=st.integers(0, 511),
    )
    def check(
        order: list[Envelope], disclosed: list[bool], exporter: Any, exported_ms: int, where: int
    ) -> None:
        entries = [
            RecordEntry(e.to_bytes(), PAYLOAD[e.header.id] if shown else None)
            for e, shown in zip(order, disclosed, strict=False)
        ]
        bundle = make_bundle(
            exporter,
            link_id=S.link,
            link_name=LINK_NAME,
            purpose=PURPOSE,
            invitation=S.bundle.invitation,
            acceptance=S.bundle.acceptance,
            exported_ms=exported_ms,
            entries=entries,
        )
        written = bundle.to_json()
        read = read_bundle(written)
        assert read == bundle
        summary, fault = verify_bundle(read)
        assert fault is None and summary.entries == len(entries)
        assert summary.payloads_checked == sum(e.payload_bytes is not None for e in entries)
        outcomes["accepted"] += 1
        refused_as_stated(outcomes, bundle_changes(written, order, where))

    check()
    required(outcomes, 50)


# --- Link policies -------------------------------------------------------------------------

label = text.filter(lambda t: t.strip() != "" and len(t) <= 200)
seconds = st.integers(1, 366 * 86_400)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    acknowledge = [draw(seconds), draw(seconds)]
    changes = {
        "purpose": draw(label),
        "criteria": [
            {"id": f"criterion-{i}", "labels": {"en": draw(label), "zh-Hans": draw(label)}}
            for i in range(draw(st.integers(1, 4)))
        ],
        "channels": {
            name: {"acknowledge_s": ack, "answer_s": draw(st.integers(ack, 366 * 86_400))}
            for name, ack in zip(("emergency", "routine"), acknowledge, strict=True)
        },
        "two_person_rule": draw(st.booleans()),
        "share_displayed": draw(st.booleans()),
        "replies_need_approval": draw(st.booleans()),
        "link_test": {
            "interval_s": draw(st.just(0) | st.integers(60, 366 * 86_400)),
            "confirm_s": draw(st.integers(10, 366 * 86_400)),
        },
    }
    return amend(default_policy(S.link, PURPOSE), changes, in_force=0)


def policy_changes(policy: Policy, signature: bytes, where: int) -> list[Case]:
    changed = amend(policy, {"two_person_rule": not policy.two_person_rule}, in_force=0)
    flipped = flip_bit(signature, where)
    document = policy.to_map()
    version_true = encode(dict(document, v=True))
    extra = encode(dict(document, comment="x"))
    bool_as_integer = encode(dict(document, two_person_rule=int(policy.two_person_rule)))
    return [
        (
            "field",
            lambda: verify_policy_signature(W.public, changed, signature),
            Code.BAD_SIGNATURE,
        ),
        (
            "signature",
            lambda: verify_policy_signature(W.public, policy, flipped),
            Code.BAD_SIGNATURE,
        ),
        ("version_true", lambda: Policy.from_bytes(version_true), Code.UNSUPPORTED_VERSION),
        ("extra_field", lambda: Policy.from_bytes(extra), Code.UNKNOWN_FIELD),
        ("bool_as_integer", lambda: Policy.from_bytes(bool_as_integer), Code.MALFORMED),
    ]


def test_policies_are_accepted_as_signed_and_refused_once_changed() -> None:
    outcomes: Counter[str] = Counter()

    @PROPERTY
    @given(made=policies(), where=st.integers(0, 511))
    def check(made: Policy, where: int) -> None:
        data = made.to_bytes()
        assert Policy.from_bytes(data) == made and Policy.from_bytes(data).to_bytes() == data
        signature = sign_policy(W, made)
        verify_policy_signature(W.public, made, signature)
        outcomes["accepted"] += 1
        refused_as_stated(outcomes, policy_changes(made, signature, where))

    check()
    required(outcomes, 50)


# --- Heartbeats ----------------------------------------------------------------------------


def read_beat(data: bytes, *, now_ms: int, link: str = S.link) -> object:
    return read_heartbeat(
        data,
        sender_key=W.public.signing_key,
        sender="washington",
        me="beijing",
        link=link,
        now_ms=now_ms,
    )


def heartbeat_changes(signed: bytes, wire: bytes, sent_ms: int, where: int) -> list[Case]:
    # Inside the signed byte string the outer form stays canonical: only the signature,
    # checked before any field, can notice.
    start = wire.index(signed)
    inner = wire[:start] + flip_bit(signed, where) + wire[start + len(signed) :]
    other = new_id(T0, fill(0x77, 10))
    return [
        (
            "signature",
            lambda: read_beat(wire[:-64] + flip_bit(wire[-64:], where), now_ms=sent_ms),
            Code.BAD_SIGNATURE,
        ),
        ("signed_bit", lambda: read_beat(inner, now_ms=sent_ms), Code.BAD_SIGNATURE),
        (
            "version_true",
            lambda: read_beat(encode([True, signed, wire[-64:]]), now_ms=sent_ms),
            Code.UNSUPPORTED_VERSION,
        ),
        ("stale", lambda: read_beat(wire, now_ms=sent_ms + 120_001 + where), Code.EXPIRED),
        ("other_link", lambda: read_beat(wire, now_ms=sent_ms, link=other), Code.WRONG_LINK),
    ]


def test_heartbeats_are_accepted_as_sent_and_refused_once_changed() -> None:
    outcomes: Counter[str] = Counter()

    @PROPERTY
    @given(
        path=st.text(min_size=1, max_size=100),
        counter=st.integers(0, 2**63 - 1),
        sent_ms=st.integers(0, 2**62),
        nonce=st.binary(min_size=16, max_size=16),
        where=st.integers(0, 2**16),
    )
    def check(path: str, counter: int, sent_ms: int, nonce: bytes, where: int) -> None:
        beat, wire = make_heartbeat(
            W, link=S.link, to="beijing", path=path, counter=counter, time_ms=sent_ms, nonce=nonce
        )
        assert read_beat(wire, now_ms=sent_ms) == beat
        outcomes["accepted"] += 1
        refused_as_stated(outcomes, heartbeat_changes(beat.signed, wire, sent_ms, where))

    check()
    required(outcomes, 50)
