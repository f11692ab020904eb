"""The peer API's request and response bodies (deterministic CBOR).

``push``:  request ``{"have": n, "envelopes": [envelope...]}`` where ``have`` is
           how much of the receiver's chain the sender holds;
           response ``{"have": m, "results": [...], "entries": [envelope...],
           "missing": [first, last] | null}``, ``entries`` being the receiver's
           signed receipts for what it took in.
``pull``:  response ``{"entries": [envelope...]}``: the responder's own chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...protocol.encoding import decode, encode
from ...protocol.envelope import MAX_ENVELOPE_BYTES
from ...protocol.errors import Code, ProtocolError
from .ingest import IngestResult

MAX_BATCH = 64
MAX_BODY_BYTES = MAX_BATCH * (MAX_ENVELOPE_BYTES + 16) + 1024
CONTENT_TYPE = "application/cbor"


@dataclass(frozen=True)
class Push:
    have: int
    envelopes: list[bytes]


@dataclass(frozen=True)
class PushReply:
    have: int
    results: list[dict[str, Any]]
    entries: list[bytes]
    missing: tuple[int, int] | None


def encode_push(push: Push) -> bytes:
    return encode({"have": push.have, "envelopes": push.envelopes})


def decode_push(data: bytes) -> Push:
    value = decode(data, max_size=MAX_BODY_BYTES)
    if not isinstance(value, dict) or set(value) != {"have", "envelopes"}:
        raise ProtocolError(Code.MALFORMED, "push must be {have, envelopes}")
    have, envelopes = value["have"], value["envelopes"]
    if not isinstance(have, int) or isinstance(have, bool) or have < 0:
        raise ProtocolError(Code.MALFORMED, "have must be a non-negative integer")
    if not isinstance(envelopes, list) or len(envelopes) > MAX_BATCH:
        raise ProtocolError(Code.TOO_LARGE, f"at most {MAX_BATCH} envelopes per push")
    if not all(isinstance(e, bytes) for e in envelopes):
        raise ProtocolError(Code.MALFORMED, "envelopes must be byte strings")
    return Push(have, envelopes)


def encode_reply(result: IngestResult) -> bytes:
    return encode(
        {
            "have": result.have,
            "results": [
                {k: v for k, v in vars(o).items() if v is not None} for o in result.outcomes
            ],
            "entries": result.receipts,
            "missing": list(result.missing) if result.missing else None,
        }
    )


def decode_reply(data: bytes) -> PushReply:
    value = decode(data, max_size=MAX_BODY_BYTES)
    try:
        have, results, entries, missing = (
            value["have"],
            value["results"],
            value["entries"],
            value["missing"],
        )
        # type() is int: CBOR true decodes to True, which isinstance(int) would take.
        if type(have) is not int or have < 0 or not isinstance(results, list):
            raise TypeError
        if not isinstance(entries, list) or not all(isinstance(e, bytes) for e in entries):
            raise TypeError
        if missing is not None and (
            not isinstance(missing, list)
            or len(missing) != 2
            or not all(type(seq) is int and seq > 0 for seq in missing)
        ):
            raise TypeError
        gap = None if missing is None else (missing[0], missing[1])
    except (KeyError, TypeError, IndexError, ValueError):
        raise ProtocolError(Code.MALFORMED, "push reply is malformed") from None
    return PushReply(have, results, entries, gap)


def encode_entries(entries: list[bytes]) -> bytes:
    return encode({"entries": entries})


def decode_entries(data: bytes) -> list[bytes]:
    value = decode(data, max_size=MAX_BODY_BYTES)
    if not isinstance(value, dict) or not isinstance(value.get("entries"), list):
        raise ProtocolError(Code.MALFORMED, "pull reply must be {entries}")
    entries = value["entries"]
    if not all(isinstance(e, bytes) for e in entries):
        raise ProtocolError(Code.MALFORMED, "entries must be byte strings")
    return list(entries)


def encode_error(code: str, detail: str) -> bytes:
    return encode({"error": code, "detail": detail})


# Relayed pushes --------------------------------------------------------------
#
# ``relay``:   request ``{"to": party, "have": n, "have_sig": sig, "envelopes": [...]}``
#              to the relay, which forwards the same bytes to ``to``'s node;
#              ``have_sig`` is the sender's signed progress (protocol/heartbeat.py),
#              so the relay cannot make the receiver drop entries from its outbox.
#              response (relayed back verbatim) ``{"have", "have_sig", "results",
#              "entries", "missing"}``, ``have_sig`` signed by the receiver.
#              A relay that stored the batch but could not forward it yet answers
#              HTTP 202 ``{"stored": id}``.


@dataclass(frozen=True)
class RelayPush:
    to: str
    have: int
    have_sig: bytes
    envelopes: list[bytes]


def encode_relay_push(push: RelayPush) -> bytes:
    return encode(
        {"to": push.to, "have": push.have, "have_sig": push.have_sig, "envelopes": push.envelopes}
    )


def decode_relay_push(data: bytes) -> RelayPush:
    value = decode(data, max_size=MAX_BODY_BYTES)
    if not isinstance(value, dict) or set(value) != {"to", "have", "have_sig", "envelopes"}:
        raise ProtocolError(Code.MALFORMED, "relay push must be {to, have, have_sig, envelopes}")
    inner = decode_push(encode({"have": value["have"], "envelopes": value["envelopes"]}))
    to, have_sig = value["to"], value["have_sig"]
    if not isinstance(to, str) or not to:
        raise ProtocolError(Code.MALFORMED, "to must name a party")
    if not isinstance(have_sig, bytes):
        raise ProtocolError(Code.MALFORMED, "have_sig must be a byte string")
    return RelayPush(to, inner.have, have_sig, inner.envelopes)


def encode_relayed_reply(result: IngestResult, have_sig: bytes) -> bytes:
    value = decode(encode_reply(result), max_size=MAX_BODY_BYTES)
    value["have_sig"] = have_sig
    return encode(value)


def decode_relayed_reply(data: bytes) -> tuple[PushReply, bytes]:
    value = decode(data, max_size=MAX_BODY_BYTES)
    if not isinstance(value, dict) or not isinstance(value.get("have_sig"), bytes):
        raise ProtocolError(Code.MALFORMED, "relayed reply must carry have_sig")
    have_sig = value.pop("have_sig")
    return decode_reply(encode(value)), have_sig
