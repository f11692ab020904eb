"""What the fuzzers check, target by target, without atheris (the tests call these).

The seeds and the genuine documents come from the published vectors
(tests/vectors/protocol-v1.json): its parties' public keys, its envelopes, its
invitation, acceptance and bundle, and its negative vectors. Nothing here can sign,
so whatever verifies must be one of the genuine documents, byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hotline.protocol.bundle import read_bundle, verify_bundle
from hotline.protocol.encoding import decode, encode
from hotline.protocol.envelope import parse, verify
from hotline.protocol.errors import ProtocolError
from hotline.protocol.invitation import (
    Acceptance,
    Invitation,
    read_acceptance,
    read_acceptance_body,
    read_invitation,
    read_invitation_body,
)
from hotline.protocol.keys import PublicIdentity
from hotline.protocol.record import RecordEntry, verify_record

VECTORS_PATH = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "protocol-v1.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
LINK: str = VECTORS["link"]["id"]
PARTIES = {
    party: PublicIdentity(
        party,
        bytes.fromhex(VECTORS["parties"][party]["signing_key"]),
        bytes.fromhex(VECTORS["parties"][party]["encryption_key"]),
    )
    for party in ("washington", "beijing", "geneva")
}
LINK_PARTIES = {p: PARTIES[p] for p in ("washington", "beijing")}
ENVELOPES = [bytes.fromhex(e["wire"]) for e in VECTORS["envelopes"].values()]
INVITATION_TEXT: str = VECTORS["invitation"]["armoured"]
ACCEPTANCE_TEXT: str = VECTORS["acceptance"]["armoured"]
INVITATION_SIGNED = bytes.fromhex(VECTORS["invitation"]["signed"])
ACCEPTANCE_SIGNED = bytes.fromhex(VECTORS["acceptance"]["signed"])
BUNDLE_JSON: str = VECTORS["bundle"]["json"]
NOW_MS: int = VECTORS["invitation"]["inputs"]["created"]


def _refused(action: Callable[[], Any]) -> bool:
    try:
        action()
    except ProtocolError:
        return True
    return False


# --- The envelope decoder ------------------------------------------------------------------


def envelope_seeds() -> Iterator[bytes]:
    yield from ENVELOPES
    for vector in VECTORS["negative"]:
        wire = vector["input"].get("wire")
        if isinstance(wire, str):
            yield bytes.fromhex(wire)
        for entry in vector["input"].get("entries", ()):
            yield bytes.fromhex(entry["envelope"])


def _signed_by_a_party(data: bytes) -> bool:
    try:
        parsed = parse(data)
        sender = PARTIES.get(parsed.header.sender)
        if sender is None:
            return False
        verify(parsed, sender)
    except ProtocolError:
        return False
    return True


# The seeds a party signed (the vectors' envelopes, and the negative vectors made
# to fail after the signature): the only bytes that may verify.
GENUINE_ENVELOPES = frozenset(filter(_signed_by_a_party, envelope_seeds()))


def envelope(data: bytes) -> None:
    """Any bytes: refused, or parsed to an envelope whose wire form is exactly ``data``;
    verified only if ``data`` is a genuine envelope; then it also opens nowhere it should
    not and stands in a record exactly as the record checks say."""
    try:
        value = decode(data, max_size=len(data))
    except ProtocolError:
        value = None
    else:
        assert encode(value) == data, "decode took bytes that are not the one encoding"
    try:
        parsed = parse(data)
    except ProtocolError:
        return
    assert value is not None, "parse took bytes that decode refuses"
    assert parsed.to_bytes() == data
    assert encode([1, parsed.signed, parsed.signature]) == data, "a second wire form"
    sender = PARTIES.get(parsed.header.sender)
    verified = sender is not None and not _refused(lambda: verify(parsed, sender))
    assert verified == (data in GENUINE_ENVELOPES), "verified bytes that were never signed"
    _, fault = verify_record(parsed.header.link, LINK_PARTIES, [RecordEntry(data)])
    if fault is None:
        assert data in GENUINE_ENVELOPES, "a record took an envelope nobody signed"


# --- The bundle reader ---------------------------------------------------------------------


def _as_written(data: str | bytes) -> str:
    """The bundle's JSON in one layout, JSON types kept; ``parties`` is informational."""
    document = json.loads(data)
    document["parties"] = None
    return json.dumps(document, sort_keys=True)


GENUINE_BUNDLE = _as_written(BUNDLE_JSON)


def bundle(data: bytes) -> None:
    """Any bytes: refused by the reader, or read into a bundle that writes back to
    itself and whose verification reports a fault (as a value) unless the input is the
    genuine bundle, JSON types and all."""
    try:
        read = read_bundle(data)
    except ProtocolError:
        return
    summary, fault = verify_bundle(read)  # faults are values: it raises nothing
    try:
        written = read.to_json()  # lists fingerprints: needs readable set-up documents
    except ProtocolError:
        assert fault is not None and fault.index == -1
    else:
        assert read_bundle(written) == read, "a bundle read does not read back"
    if fault is None:
        assert _as_written(data) == GENUINE_BUNDLE, "a changed bundle verified"
        assert summary.entries == len(read.entries)


def bundle_seeds() -> Iterator[bytes]:
    yield BUNDLE_JSON.encode()
    yield json.dumps(json.loads(BUNDLE_JSON), separators=(",", ":")).encode()
    for vector in VECTORS["negative"]:
        text = vector["input"].get("json")
        if isinstance(text, str):
            yield text.encode()


# --- The invitation reader -----------------------------------------------------------------


def _invitation_body(invitation: Invitation) -> dict[str, Any]:
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


def _acceptance_body(acceptance: Acceptance) -> dict[str, Any]:
    return {
        "type": "acceptance",
        "v": 1,
        "invitation": acceptance.invitation_id,
        "invitation_hash": acceptance.invitation_hash,
        "created": acceptance.created_ms,
        "acceptor": acceptance.acceptor.to_map(),
    }


GENUINE_INVITATION = read_invitation(INVITATION_TEXT, now_ms=NOW_MS)


def invitation(data: bytes) -> None:
    """Any bytes, as a signed body or as armoured text: refused, or read into a document
    that re-encodes to exactly the signed bytes; with its signature checked, only the
    genuine invitation and acceptance are read."""
    try:
        body = _invitation_body(read_invitation_body(data))
    except ProtocolError:
        pass
    else:
        assert encode(body) == data, "an invitation body read is not the bytes signed"
    try:
        body = _acceptance_body(read_acceptance_body(data))
    except ProtocolError:
        pass
    else:
        assert encode(body) == data, "an acceptance body read is not the bytes signed"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    try:
        invited = read_invitation(text, now_ms=NOW_MS)
    except ProtocolError:
        pass
    else:
        assert invited == GENUINE_INVITATION, "an invitation nobody signed was read"
    try:
        accepted = read_acceptance(text, GENUINE_INVITATION)
    except ProtocolError:
        pass
    else:
        assert accepted.signed == ACCEPTANCE_SIGNED, "an acceptance nobody signed was read"


def invitation_seeds() -> Iterator[bytes]:
    yield INVITATION_TEXT.encode()
    yield ACCEPTANCE_TEXT.encode()
    yield INVITATION_SIGNED
    yield ACCEPTANCE_SIGNED
    for vector in VECTORS["negative"]:
        if vector["operation"] in ("read_invitation", "read_acceptance"):
            yield vector["input"]["armoured"].encode()


# Tokens libFuzzer splices into inputs (-dict): values equal to what they replace in
# some language but not in the protocol (CBOR true for 1, a tag, JSON 1.0 or "1"),
# which a mutation one byte at a time rarely reaches.
CBOR_TOKENS = [
    b"\xf5",  # true
    b"\xf4",  # false
    b"\xf6",  # null
    b"\x18\x01",  # 1 in two bytes
    b"\xc2\x41\x01",  # 1 as a bignum
    b"\xd9\xd9\xf7",  # the self-described CBOR tag
    b"\xd8\x1c",  # tag 28
    b"\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00",  # 1.0
    b"\x9f",  # an indefinite array
    b"\xff",  # break
]
DICTIONARIES: dict[str, list[bytes]] = {
    "envelope": CBOR_TOKENS,
    "bundle": [b"true", b"1.0", b'"1"', b"1e0", b"NaN", b"null", b'"x": 1, ', b"==", b"\\u0000"],
    "invitation": [*CBOR_TOKENS, b"\r\n", b"\n\n", b"=", b"\xe2\x80\xa8", b"\t"],
}
TARGETS: dict[str, tuple[Callable[[bytes], None], Callable[[], Iterator[bytes]]]] = {
    "envelope": (envelope, envelope_seeds),
    "bundle": (bundle, bundle_seeds),
    "invitation": (invitation, invitation_seeds),
}
