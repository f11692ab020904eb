"""The per-link record: each party's entries form a hash chain; receipts bind chains.

This module decides, for an incoming envelope, where it stands relative to the
chain a node already holds (:func:`place`), and checks a whole record offline
(:func:`verify_record`), reporting the first fault precisely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .envelope import Envelope, Payload, check_payload, parse, verify
from .errors import Code, ProtocolError
from .keys import PublicIdentity
from .kinds import RECEIPT_KINDS


@dataclass(frozen=True)
class ChainHead:
    """The last entry a node holds of one party's chain on one link."""

    seq: int = 0
    hash: bytes | None = None


class Placement(StrEnum):
    NEXT = "next"  # append now
    DUPLICATE = "duplicate"  # already held; acknowledge, store nothing
    AHEAD = "ahead"  # a gap before it: hold it and ask for what is missing


# How far past the head an entry may be held: seq may be at most head.seq + MAX_AHEAD.
# Bounds what a peer can make a receiver store ahead of a gap.
MAX_AHEAD = 10_000


def place(head: ChainHead, envelope: Envelope, held_hash_at_seq: bytes | None) -> Placement:
    """Where ``envelope`` stands relative to ``head``.

    ``held_hash_at_seq`` is the hash of the entry already held at the envelope's
    sequence number (when ``seq <= head.seq``), used to tell a duplicate from a
    replayed or forged entry reusing a sequence number. An entry more than
    ``MAX_AHEAD`` past the head is refused (``sequence_gap``), not held.
    """
    header = envelope.header
    if header.seq <= head.seq:
        if held_hash_at_seq == envelope.hash:
            return Placement.DUPLICATE
        raise ProtocolError(
            Code.REPLAY,
            f"sequence {header.seq} of {header.sender} is already held with different content",
        )
    if header.seq == head.seq + 1:
        if header.prev != head.hash:
            raise ProtocolError(
                Code.CHAIN_BROKEN,
                f"entry {header.seq} of {header.sender} does not follow entry {head.seq}",
            )
        return Placement.NEXT
    if header.seq > head.seq + MAX_AHEAD:
        raise ProtocolError(
            Code.SEQUENCE_GAP,
            f"seq {header.seq} of {header.sender} is more than {MAX_AHEAD} past {head.seq}",
        )
    return Placement.AHEAD


@dataclass(frozen=True)
class Fault:
    """The first thing wrong with a record, located exactly."""

    index: int  # position in the record as given (0-based); -1 for the record as a whole
    entry_id: str | None
    sender: str | None
    seq: int | None
    code: Code
    detail: str

    def describe(self) -> str:
        where = "record" if self.index < 0 else f"entry #{self.index + 1}"
        if self.entry_id:
            where += f" (id {self.entry_id}, {self.sender} seq {self.seq})"
        return f"{where}: {self.code.value}: {self.detail}"


@dataclass
class RecordSummary:
    entries: int = 0
    per_party: dict[str, int] = field(default_factory=dict)
    receipts: int = 0
    payloads_checked: int = 0
    heads: dict[str, ChainHead] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordEntry:
    """An envelope as held in a record, with its payload when the holder discloses it."""

    envelope_bytes: bytes
    payload_bytes: bytes | None = None


def verify_record(
    link: str,
    parties: Mapping[str, PublicIdentity],
    entries: Iterable[RecordEntry],
) -> tuple[RecordSummary, Fault | None]:
    """Check every signature, each chain's sequence and hashes, references and payloads.

    Entries may interleave the parties' chains in any order, but each chain must
    appear in sequence order. Returns a summary and the first fault, if any.
    """
    summary = RecordSummary()
    heads: dict[str, ChainHead] = {p: ChainHead() for p in parties}
    by_id: dict[str, tuple[str, bytes]] = {}
    summary.heads = heads
    for index, entry in enumerate(entries):
        envelope: Envelope | None = None
        try:
            envelope = parse(entry.envelope_bytes)
            _check_entry(link, parties, heads, by_id, envelope, entry, summary)
        except ProtocolError as exc:
            h = envelope.header if envelope is not None else None
            fault = Fault(
                index=index,
                entry_id=h.id if h else None,
                sender=h.sender if h else None,
                seq=h.seq if h else None,
                code=exc.code,
                detail=exc.detail,
            )
            return summary, fault
    return summary, None


def _check_entry(
    link: str,
    parties: Mapping[str, PublicIdentity],
    heads: dict[str, ChainHead],
    by_id: dict[str, tuple[str, bytes]],
    envelope: Envelope,
    entry: RecordEntry,
    summary: RecordSummary,
) -> None:
    header = envelope.header
    if header.link != link:
        raise ProtocolError(Code.WRONG_LINK, f"entry is for link {header.link!r}")
    sender = parties.get(header.sender)
    if sender is None:
        raise ProtocolError(Code.UNKNOWN_SENDER, f"{header.sender!r} is not a party")
    verify(envelope, sender)
    unknown = [r for r in header.recipients if r not in parties]
    if unknown:
        raise ProtocolError(Code.WRONG_RECIPIENT, f"recipients {unknown} are not parties")
    head = heads[header.sender]
    if header.seq != head.seq + 1:
        raise ProtocolError(
            Code.SEQUENCE_GAP,
            f"expected {header.sender} seq {head.seq + 1}, found {header.seq}",
        )
    if header.prev != head.hash:
        raise ProtocolError(
            Code.CHAIN_BROKEN,
            f"prev does not match the hash of {header.sender} seq {head.seq}",
        )
    if header.id in by_id:
        raise ProtocolError(Code.REPLAY, f"id {header.id} appears twice")
    if header.ref is not None:
        target = by_id.get(header.ref)
        if target is None:
            raise ProtocolError(Code.BAD_REFERENCE, f"ref {header.ref} is not an earlier entry")
        if target[1] != header.ref_hash:
            raise ProtocolError(Code.BAD_REFERENCE, f"ref_hash does not match {header.ref}")
        if header.kind in RECEIPT_KINDS and target[0] == header.sender:
            raise ProtocolError(Code.BAD_REFERENCE, "a receipt must be for another party")
    if entry.payload_bytes is not None:
        # As opening does (§5.3): the digest, then the payload's own form. A digest
        # alone would let a signed header vouch for bytes no recipient could read.
        check_payload(header, entry.payload_bytes)
        Payload.from_bytes(entry.payload_bytes)
        summary.payloads_checked += 1
    heads[header.sender] = ChainHead(header.seq, envelope.hash)
    by_id[header.id] = (header.sender, envelope.hash)
    summary.entries += 1
    summary.per_party[header.sender] = summary.per_party.get(header.sender, 0) + 1
    if header.kind in RECEIPT_KINDS:
        summary.receipts += 1
