"""Export bundles: offline verification, fault location, and comparing two parties' copies."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from hotline.protocol.bundle import (
    FORMAT,
    Bundle,
    compare_bundles,
    make_bundle,
    read_bundle,
    verify_bundle,
)
from hotline.protocol.envelope import Envelope, new_id
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.invitation import dearmour, make_acceptance, make_invitation
from hotline.protocol.keys import PrivateIdentity
from hotline.protocol.record import Fault, RecordEntry, RecordSummary
from tests.vectors.generate import (
    ENDPOINTS,
    EXPORTED_MS,
    INVITATION_CREATED,
    INVITATION_EXPIRES,
    LINK_NAME,
    MESSAGE_2,
    PURPOSE,
    RECEIPT_1,
    fill,
    identity,
    payload_bytes,
    scenario,
    seal_inputs,
    tls_certificate,
)

S = scenario()
W, B, G = identity("washington"), identity("beijing"), identity("geneva")
M1, R1, M2 = S.message_1, S.receipt_1, S.message_2
INVITATION = dearmour("INVITATION", S.invitation_text)
ACCEPTANCE = dearmour("ACCEPTANCE", S.acceptance_text)


def bundle(
    entries: list[RecordEntry | Envelope],
    *,
    exporter: PrivateIdentity = W,
    link_id: str = S.link,
    link_name: str = LINK_NAME,
    purpose: str = PURPOSE,
    invitation: tuple[bytes, bytes] = INVITATION,
    acceptance: tuple[bytes, bytes] = ACCEPTANCE,
) -> Bundle:
    return make_bundle(
        exporter,
        link_id=link_id,
        link_name=link_name,
        purpose=purpose,
        invitation=invitation,
        acceptance=acceptance,
        exported_ms=EXPORTED_MS,
        entries=[e if isinstance(e, RecordEntry) else RecordEntry(e.to_bytes()) for e in entries],
    )


def verified(b: Bundle) -> tuple[RecordSummary, Fault | None]:
    """Verify after a trip through JSON, as an auditor would."""
    return verify_bundle(read_bundle(b.to_json()))


def fault_of(b: Bundle) -> Fault:
    _, fault = verified(b)
    assert fault is not None
    return fault


def edited(b: Bundle, change: Any) -> str:
    document = json.loads(b.to_json())
    change(document)
    return json.dumps(document)


def code_of(action: Any) -> Code:
    with pytest.raises(ProtocolError) as raised:
        action()
    return raised.value.code


# --- Round trip and agreement --------------------------------------------------------------


def test_json_round_trip_and_verification() -> None:
    text = S.bundle.to_json()
    again = read_bundle(text)
    assert again == S.bundle
    assert again.to_json() == text
    assert read_bundle(text.encode()) == S.bundle
    summary, fault = verify_bundle(again)
    assert fault is None
    assert (summary.entries, summary.receipts, summary.payloads_checked) == (3, 1, 2)
    document = json.loads(text)
    assert document["format"] == FORMAT and document["version"] == 1
    assert document["parties"] == [
        {"party": "washington", "fingerprint": W.public.fingerprint},
        {"party": "beijing", "fingerprint": B.public.fingerprint},
    ]
    assert again.parties() == {"washington": W.public, "beijing": B.public}


def test_both_parties_bundles_agree_whatever_their_interleaving_and_disclosure() -> None:
    theirs = bundle([M1, M2, R1], exporter=B)
    assert verified(theirs)[1] is None
    agreement = compare_bundles(S.bundle, theirs)
    assert agreement.agree
    assert (agreement.only_in_first, agreement.only_in_second) == ((), ())


def test_an_empty_record_is_a_valid_bundle() -> None:
    summary, fault = verified(bundle([]))
    assert fault is None and summary.entries == 0


def test_a_record_outlives_its_invitation() -> None:
    # Verification uses no clock: the invitation's expiry only limits set-up.
    _, fault = verified(S.bundle)
    assert fault is None and EXPORTED_MS < INVITATION_EXPIRES
    later = make_bundle(
        W,
        link_id=S.link,
        link_name=LINK_NAME,
        purpose=PURPOSE,
        invitation=INVITATION,
        acceptance=ACCEPTANCE,
        exported_ms=INVITATION_EXPIRES * 2,
        entries=S.bundle.entries,
    )
    assert verified(later)[1] is None


# --- Disagreement --------------------------------------------------------------------------


def test_compare_detects_a_missing_entry() -> None:
    shorter = bundle([M1, R1], exporter=B)
    agreement = compare_bundles(S.bundle, shorter)
    assert not agreement.agree
    assert agreement.only_in_first == (M2.header.id,)
    assert agreement.only_in_second == ()
    reverse = compare_bundles(shorter, S.bundle)
    assert (reverse.only_in_first, reverse.only_in_second) == ((), (M2.header.id,))


def test_compare_detects_a_fork() -> None:
    """washington showed beijing a different seq 2 than it keeps in its own record."""
    import dataclasses

    other_2 = seal_inputs(
        dataclasses.replace(
            MESSAGE_2,
            body={"lang": "en", "text": "A different second message."},
            id_randomness=fill(0xF2, 10),
        ),
        S.link,
        prev=M1.hash,
    )
    theirs = bundle([M1, R1, other_2], exporter=B)
    assert verified(theirs)[1] is None  # each record is valid on its own
    agreement = compare_bundles(S.bundle, theirs)
    assert not agreement.agree
    assert agreement.only_in_first == (M2.header.id,)
    assert agreement.only_in_second == (other_2.header.id,)


def test_compare_detects_another_link() -> None:
    other_invitation, _ = make_invitation(
        W,
        invitation_id=new_id(INVITATION_CREATED + 9, fill(0x09, 10)),
        link_name="space",
        purpose="Space agencies",
        tls_certificate=tls_certificate("washington"),
        endpoints=ENDPOINTS["washington"],
        created_ms=INVITATION_CREATED,
        expires_ms=INVITATION_EXPIRES,
    )
    elsewhere = bundle([M1, R1, M2], link_id=other_invitation.id)
    assert not compare_bundles(S.bundle, elsewhere).agree


# --- Faults --------------------------------------------------------------------------------


def _flip_signature(envelope: Envelope) -> bytes:
    wire = bytearray(envelope.to_bytes())
    wire[-1] ^= 0x01
    return bytes(wire)


def test_a_damaged_entry_is_named() -> None:
    damaged = bundle([M1, RecordEntry(_flip_signature(R1)), M2])
    fault = fault_of(damaged)
    assert (fault.index, fault.code, fault.entry_id, fault.sender, fault.seq) == (
        1,
        Code.BAD_SIGNATURE,
        R1.header.id,
        "beijing",
        1,
    )


def test_a_wrong_payload_is_named() -> None:
    wrong = bundle([RecordEntry(M1.to_bytes(), payload_bytes(RECEIPT_1)), R1])
    fault = fault_of(wrong)
    assert (fault.index, fault.code, fault.entry_id) == (0, Code.DIGEST_MISMATCH, M1.header.id)


def test_dropping_or_reordering_entries_is_detected_even_when_re_signed() -> None:
    dropped = fault_of(bundle([R1, M2]))
    assert (dropped.index, dropped.code) == (0, Code.BAD_REFERENCE)
    without_first = fault_of(bundle([M2]))
    assert (without_first.index, without_first.code) == (0, Code.SEQUENCE_GAP)
    reordered = fault_of(bundle([M2, M1, R1]))
    assert (reordered.index, reordered.code, reordered.entry_id) == (
        0,
        Code.SEQUENCE_GAP,
        M2.header.id,
    )


def test_edits_after_export_break_the_exporters_signature() -> None:
    def later(d: dict[str, Any]) -> None:
        d["exported_ms"] += 1

    def without_payload(d: dict[str, Any]) -> None:
        d["entries"][0]["payload"] = None

    def other_exporter(d: dict[str, Any]) -> None:
        d["exported_by"] = "beijing"

    def other_signature(d: dict[str, Any]) -> None:
        d["signature"] = base64.b64encode(bytes(64)).decode()

    for change in (later, without_payload, other_exporter, other_signature):
        _, fault = verify_bundle(read_bundle(edited(S.bundle, change)))
        assert fault is not None, change.__name__
        assert (fault.index, fault.code) == (-1, Code.BAD_SIGNATURE), change.__name__


def test_link_name_and_purpose_must_be_the_invitations() -> None:
    for field, value in (("name", "renamed"), ("purpose", "Something else")):
        text = edited(S.bundle, lambda d, f=field, v=value: d["link"].__setitem__(f, v))
        _, fault = verify_bundle(read_bundle(text))
        assert fault is not None
        assert (fault.index, fault.code) == (-1, Code.WRONG_LINK)
    assert fault_of(bundle([M1], link_name="renamed")).code is Code.WRONG_LINK


def test_set_up_document_faults_are_record_level() -> None:
    signed, signature = INVITATION
    bad_invitation = (signed, bytes([signature[0] ^ 1]) + signature[1:])
    cases: list[tuple[Bundle, Code]] = [
        (bundle([M1], exporter=G), Code.UNKNOWN_SENDER),
        (bundle([M1], link_id="another-link"), Code.WRONG_LINK),
        (bundle([M1], invitation=bad_invitation), Code.BAD_SIGNATURE),
        (bundle([M1], acceptance=(ACCEPTANCE[0], ACCEPTANCE[1][:63])), Code.BAD_SIGNATURE),
        (bundle([M1], invitation=(b"\xff", signature)), Code.MALFORMED),
        (bundle([M1], invitation=ACCEPTANCE), Code.MALFORMED),
    ]
    for b, code in cases:
        # Directly: to_json() lists the parties' fingerprints, so it needs readable set-up.
        _, fault = verify_bundle(b)
        assert fault is not None
        assert (fault.index, fault.entry_id, fault.code) == (-1, None, code)


def test_acceptance_of_another_invitation() -> None:
    other, _ = make_invitation(
        W,
        invitation_id=new_id(INVITATION_CREATED + 7, fill(0x07, 10)),
        link_name=LINK_NAME,
        purpose=PURPOSE,
        tls_certificate=tls_certificate("washington"),
        endpoints=ENDPOINTS["washington"],
        created_ms=INVITATION_CREATED,
        expires_ms=INVITATION_EXPIRES,
    )
    _, text = make_acceptance(
        B,
        other,
        tls_certificate=tls_certificate("beijing"),
        endpoints=ENDPOINTS["beijing"],
        created_ms=INVITATION_CREATED + 8,
    )
    fault = fault_of(bundle([M1], acceptance=dearmour("ACCEPTANCE", text)))
    assert (fault.index, fault.code) == (-1, Code.BAD_REFERENCE)


def test_entries_from_outside_the_link() -> None:
    fault = fault_of(bundle([M1, S.multilateral]))
    assert (fault.index, fault.code, fault.entry_id) == (
        1,
        Code.WRONG_LINK,
        S.multilateral.header.id,
    )


def test_compare_refuses_unreadable_entries() -> None:
    broken = bundle([RecordEntry(b"\xff")])
    assert code_of(lambda: compare_bundles(S.bundle, broken)) is Code.MALFORMED


# --- Reading -------------------------------------------------------------------------------


def _document(**changes: Any) -> str:
    document = json.loads(S.bundle.to_json())
    document.update(changes)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", Code.MALFORMED),
        ("not json", Code.MALFORMED),
        (b"\xff\xfe\x00", Code.MALFORMED),
        ("[]", Code.MALFORMED),
        ('{"format": "something-else", "version": 1}', Code.MALFORMED),
        (_document(version=2), Code.UNSUPPORTED_VERSION),
        (_document(version="1"), Code.UNSUPPORTED_VERSION),
        (_document(link=None), Code.MALFORMED),
        (_document(link={"id": "x"}), Code.MALFORMED),
        (_document(setup={"invitation": []}), Code.MALFORMED),
        (_document(entries=7), Code.MALFORMED),
        (_document(entries=["x"]), Code.MALFORMED),
        (_document(entries=[{"envelope": "!!"}]), Code.MALFORMED),
        (_document(entries=[{"envelope": "AA==", "payload": 5}]), Code.MALFORMED),
        (_document(signature="not base64!"), Code.MALFORMED),
        (_document(signature=None), Code.MALFORMED),
        (_document(exported_ms="soon"), Code.MALFORMED),
        (_document(exported_ms=None), Code.MALFORMED),
        (_document(exported_ms=float("inf")), Code.MALFORMED),
        (_document(exported_ms=float("nan")), Code.MALFORMED),
        (_document().replace('"exported_ms": ', '"exported_ms": 1e400, "x": '), Code.MALFORMED),
        ("[" * 100_000 + "]" * 100_000, Code.MALFORMED),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, Code.MALFORMED),
    ],
)
def test_read_bundle_refusals(text: str | bytes, code: Code) -> None:
    assert code_of(lambda: read_bundle(text)) is code


def test_read_bundle_refuses_more_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import hotline.protocol.bundle as bundle_module

    text = _document()
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", len(text) - 1)
    assert code_of(lambda: read_bundle(text)) is Code.TOO_LARGE
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", len(text))
    try:
        read_bundle(text)
    except ProtocolError as exc:  # this sample's content is refused, not its size
        assert exc.code is not Code.TOO_LARGE
