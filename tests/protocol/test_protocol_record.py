"""The per-link record: placing incoming entries, and verifying a record offline."""

from __future__ import annotations

import dataclasses
import hashlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.protocol.encoding import encode
from hotline.protocol.envelope import Envelope, parse
from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.kinds import Kind
from hotline.protocol.record import (
    ChainHead,
    Fault,
    Placement,
    RecordEntry,
    place,
    verify_record,
)
from tests.vectors.generate import (
    MESSAGE_1,
    MESSAGE_2,
    RECEIPT_1,
    SealInputs,
    fill,
    payload_bytes,
    public,
    scenario,
    seal_inputs,
)

S = scenario()
LINK = S.link
M1, R1, M2 = S.message_1, S.receipt_1, S.message_2
PARTIES = {p: public(p) for p in ("washington", "beijing")}


def variant(base: SealInputs, tag: int, **changes: object) -> SealInputs:
    """Another entry like ``base`` with its own id, salt and keys."""
    recipients = changes.get("recipients", base.recipients)
    assert isinstance(recipients, tuple)
    fresh = {
        "id_randomness": fill(tag, 10),
        "salt": fill(tag, 16),
        "content_key": fill(tag, 32),
        "nonce": fill(tag, 24),
        "key_nonces": {r: fill(tag, 24) for r in recipients},
    }
    return dataclasses.replace(base, **{**fresh, **changes})  # type: ignore[arg-type]


def entry(envelope: Envelope | bytes, payload: bytes | None = None) -> RecordEntry:
    wire = envelope if isinstance(envelope, bytes) else envelope.to_bytes()
    return RecordEntry(wire, payload)


def fault_of(*entries: RecordEntry, link: str = LINK) -> Fault:
    _, fault = verify_record(link, PARTIES, entries)
    assert fault is not None
    return fault


def flip_signature(envelope: Envelope) -> bytes:
    wire = bytearray(envelope.to_bytes())
    wire[-1] ^= 0x01
    return bytes(wire)


# --- A good record -------------------------------------------------------------------------


def test_good_record_summary() -> None:
    summary, fault = verify_record(
        LINK,
        PARTIES,
        [
            entry(M1, payload_bytes(MESSAGE_1)),
            entry(R1, payload_bytes(RECEIPT_1)),
            entry(M2),
        ],
    )
    assert fault is None
    assert summary.entries == 3
    assert summary.per_party == {"washington": 2, "beijing": 1}
    assert summary.receipts == 1
    assert summary.payloads_checked == 2
    assert summary.heads == {
        "washington": ChainHead(2, M2.hash),
        "beijing": ChainHead(1, R1.hash),
    }


def test_empty_record() -> None:
    summary, fault = verify_record(LINK, PARTIES, [])
    assert fault is None
    assert summary.entries == 0
    assert summary.heads == {"washington": ChainHead(), "beijing": ChainHead()}


def test_chains_may_interleave_in_any_order_that_keeps_each_chain_and_references() -> None:
    for order in ([M1, R1, M2], [M1, M2, R1]):
        _, fault = verify_record(LINK, PARTIES, [entry(e) for e in order])
        assert fault is None


def test_a_reference_may_point_at_the_senders_own_earlier_entry_unless_it_is_a_receipt() -> None:
    translation = seal_inputs(
        variant(MESSAGE_2, 0x61, kind=Kind.TRANSLATION, body={"lang": "zh", "text": "收到"}),
        LINK,
        prev=M1.hash,
        ref=M1,
    )
    _, fault = verify_record(LINK, PARTIES, [entry(M1), entry(translation)])
    assert fault is None
    own_receipt = seal_inputs(
        variant(MESSAGE_2, 0x62, kind=Kind.RECEIPT_DELIVERED, body={"stage": "delivered"}),
        LINK,
        prev=M1.hash,
        ref=M1,
    )
    fault = fault_of(entry(M1), entry(own_receipt))
    assert (fault.index, fault.code, fault.entry_id) == (
        1,
        Code.BAD_REFERENCE,
        own_receipt.header.id,
    )


# --- Each fault, located -------------------------------------------------------------------


def test_unreadable_entry_is_located_by_position_only() -> None:
    fault = fault_of(entry(M1), entry(b"\xff\x00"))
    assert (fault.index, fault.code) == (1, Code.MALFORMED)
    assert (fault.entry_id, fault.sender, fault.seq) == (None, None, None)
    assert fault.describe().startswith("entry #2: malformed: ")


def test_wrong_link() -> None:
    other = seal_inputs(MESSAGE_1, "another-link", prev=None)
    fault = fault_of(entry(other))
    assert (fault.index, fault.code, fault.entry_id, fault.sender, fault.seq) == (
        0,
        Code.WRONG_LINK,
        other.header.id,
        "washington",
        1,
    )


def test_unknown_sender() -> None:
    from_geneva = seal_inputs(
        variant(MESSAGE_1, 0x63, sender="geneva", recipients=("washington",)),
        LINK,
        prev=None,
    )
    fault = fault_of(entry(M1), entry(from_geneva))
    assert (fault.index, fault.code, fault.sender) == (1, Code.UNKNOWN_SENDER, "geneva")


def test_bad_signature() -> None:
    fault = fault_of(entry(M1), entry(R1), entry(flip_signature(M2)))
    assert (fault.index, fault.code, fault.entry_id, fault.seq) == (
        2,
        Code.BAD_SIGNATURE,
        M2.header.id,
        2,
    )


def test_recipient_outside_the_link() -> None:
    multilateral = seal_inputs(
        variant(MESSAGE_1, 0x64, recipients=("beijing", "geneva")), LINK, prev=None
    )
    fault = fault_of(entry(multilateral))
    assert (fault.index, fault.code) == (0, Code.WRONG_RECIPIENT)


def test_sequence_gaps() -> None:
    fault = fault_of(entry(M2))
    assert (fault.index, fault.code, fault.seq) == (0, Code.SEQUENCE_GAP, 2)
    duplicate = fault_of(entry(M1), entry(R1), entry(M1))
    assert (duplicate.index, duplicate.code, duplicate.seq) == (2, Code.SEQUENCE_GAP, 1)
    reversed_chain = fault_of(entry(M2), entry(M1))
    assert (reversed_chain.index, reversed_chain.code) == (0, Code.SEQUENCE_GAP)


def test_chain_broken() -> None:
    forked = seal_inputs(variant(MESSAGE_2, 0x65), LINK, prev=hashlib.sha256(b"x").digest())
    fault = fault_of(entry(M1), entry(forked))
    assert (fault.index, fault.code, fault.entry_id, fault.sender, fault.seq) == (
        1,
        Code.CHAIN_BROKEN,
        forked.header.id,
        "washington",
        2,
    )


def test_replayed_id() -> None:
    same_id = seal_inputs(
        variant(MESSAGE_2, 0x66, id_randomness=MESSAGE_1.id_randomness, time_ms=M1.header.time_ms),
        LINK,
        prev=M1.hash,
    )
    assert same_id.header.id == M1.header.id
    fault = fault_of(entry(M1), entry(same_id))
    assert (fault.index, fault.code, fault.seq) == (1, Code.REPLAY, 2)


def test_bad_references() -> None:
    before_target = fault_of(entry(R1), entry(M1))
    assert (before_target.index, before_target.code) == (0, Code.BAD_REFERENCE)
    wrong_hash = seal_inputs(variant(RECEIPT_1, 0x67), LINK, prev=None, ref=M1, ref_hash=M2.hash)
    fault = fault_of(entry(M1), entry(M2), entry(wrong_hash))
    assert (fault.index, fault.code, fault.entry_id) == (
        2,
        Code.BAD_REFERENCE,
        wrong_hash.header.id,
    )


def test_disclosed_payload_must_match_the_digest() -> None:
    fault = fault_of(entry(M1, payload_bytes(MESSAGE_1)), entry(R1, payload_bytes(MESSAGE_1)))
    assert (fault.index, fault.code, fault.entry_id) == (1, Code.DIGEST_MISMATCH, R1.header.id)


def test_only_the_first_fault_is_reported_and_the_summary_stops_there() -> None:
    summary, fault = verify_record(
        LINK,
        PARTIES,
        [entry(M1), entry(flip_signature(R1)), entry(b"garbage"), entry(M1)],
    )
    assert fault is not None
    assert (fault.index, fault.code, fault.entry_id) == (1, Code.BAD_SIGNATURE, R1.header.id)
    assert summary.entries == 1
    assert summary.heads["washington"] == ChainHead(1, M1.hash)
    assert summary.heads["beijing"] == ChainHead()


def test_fault_description() -> None:
    fault = fault_of(entry(M1), entry(R1), entry(flip_signature(M2)))
    assert fault.describe() == (
        f"entry #3 (id {M2.header.id}, washington seq 2): bad_signature: signature does not verify"
    )
    record_level = Fault(-1, None, None, None, Code.BAD_SIGNATURE, "exporter")
    assert record_level.describe() == "record: bad_signature: exporter"


# --- Interleavings, checked against a model ------------------------------------------------


@cache
def chains() -> tuple[list[Envelope], list[Envelope]]:
    """washington's messages w1..w4 and beijing's receipts b1..b4 (b_i for w_i)."""
    messages: list[Envelope] = []
    receipts: list[Envelope] = []
    for i in range(4):
        message = seal_inputs(
            variant(MESSAGE_1, 0x70 + i, seq=i + 1, time_ms=MESSAGE_1.time_ms + i),
            LINK,
            prev=messages[-1].hash if messages else None,
        )
        receipt = seal_inputs(
            variant(RECEIPT_1, 0x80 + i, seq=i + 1, time_ms=RECEIPT_1.time_ms + i),
            LINK,
            prev=receipts[-1].hash if receipts else None,
            ref=message,
        )
        messages.append(message)
        receipts.append(receipt)
    return messages, receipts


def model_fault(order: list[Envelope]) -> tuple[int, Code] | None:
    expected = {"washington": 1, "beijing": 1}
    seen: set[str] = set()
    for index, envelope in enumerate(order):
        header = envelope.header
        if header.seq != expected[header.sender]:
            return index, Code.SEQUENCE_GAP
        if header.ref is not None and header.ref not in seen:
            return index, Code.BAD_REFERENCE
        expected[header.sender] += 1
        seen.add(header.id)
    return None


@settings(max_examples=80, deadline=None)
@given(st.permutations(range(8)), st.integers(1, 8))
def test_any_order_is_judged_like_the_model(permutation: list[int], length: int) -> None:
    messages, receipts = chains()
    everything = messages + receipts
    order = [everything[i] for i in permutation[:length]]
    _, fault = verify_record(LINK, PARTIES, [entry(e) for e in order])
    expected = model_fault(order)
    if expected is None:
        assert fault is None
    else:
        assert fault is not None
        assert (fault.index, fault.code) == expected
        assert fault.entry_id == order[expected[0]].header.id


# --- place ---------------------------------------------------------------------------------


def placement_error(head: ChainHead, envelope: Envelope, held: bytes | None) -> Code:
    with pytest.raises(ProtocolError) as raised:
        place(head, envelope, held)
    return raised.value.code


def test_place_next() -> None:
    assert place(ChainHead(), M1, None) is Placement.NEXT
    assert place(ChainHead(1, M1.hash), M2, None) is Placement.NEXT


def test_place_duplicate() -> None:
    assert place(ChainHead(1, M1.hash), M1, M1.hash) is Placement.DUPLICATE
    assert place(ChainHead(2, M2.hash), M1, M1.hash) is Placement.DUPLICATE


def test_place_ahead_of_a_gap() -> None:
    messages, _ = chains()
    assert place(ChainHead(), messages[2], None) is Placement.AHEAD
    assert place(ChainHead(1, messages[0].hash), messages[3], None) is Placement.AHEAD


def test_place_next_with_the_wrong_prev_is_a_broken_chain() -> None:
    assert placement_error(ChainHead(1, R1.hash), M2, None) is Code.CHAIN_BROKEN
    messages, _ = chains()
    assert placement_error(ChainHead(1, M1.hash), messages[1], None) is Code.CHAIN_BROKEN


def test_place_reused_sequence_number_is_a_replay() -> None:
    other_seq_1 = seal_inputs(variant(MESSAGE_1, 0x68), LINK, prev=None)
    assert placement_error(ChainHead(1, M1.hash), other_seq_1, M1.hash) is Code.REPLAY
    # A sequence number at or below the head that the caller cannot find is no duplicate.
    assert placement_error(ChainHead(1, M1.hash), M1, None) is Code.REPLAY


def test_place_uses_the_hash_of_the_whole_signed_part() -> None:
    # The same signed part with another (invalid) signature is "the same entry":
    # place() does not check signatures, which callers verify first.
    resigned = parse(encode([1, M1.signed, bytes(64)]))
    assert resigned.hash == M1.hash
    assert place(ChainHead(1, M1.hash), resigned, M1.hash) is Placement.DUPLICATE
