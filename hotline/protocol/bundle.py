"""Export bundles: a self-contained, offline-verifiable copy of one link's record.

A bundle is a JSON document holding the link's two signed set-up documents
(invitation and acceptance, which pin every party's keys), every envelope of the
record in the exporter's order, optionally the decrypted payloads (checked
against the signed digests), and the exporter's signature over all of it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .encoding import encode, is_version
from .errors import Code, ProtocolError
from .invitation import base64_decode, read_acceptance_body, read_invitation_body
from .keys import PrivateIdentity, PublicIdentity, verify_signature
from .record import Fault, RecordEntry, RecordSummary, verify_record

FORMAT = "hotline-record-bundle"
MAX_BUNDLE_BYTES = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Bundle:
    link_id: str
    link_name: str
    purpose: str
    invitation: tuple[bytes, bytes]  # (signed, signature)
    acceptance: tuple[bytes, bytes]
    exported_by: str
    exported_ms: int
    entries: tuple[RecordEntry, ...]
    signature: bytes

    def signed_content(self) -> bytes:
        return encode(
            {
                "format": FORMAT,
                "version": 1,
                "link": self.link_id,
                "invitation": list(self.invitation),
                "acceptance": list(self.acceptance),
                "exported_by": self.exported_by,
                "exported": self.exported_ms,
                "entries": [[e.envelope_bytes, e.payload_bytes] for e in self.entries],
            }
        )

    def parties(self) -> dict[str, PublicIdentity]:
        invitation = read_invitation_body(self.invitation[0])
        acceptance = read_acceptance_body(self.acceptance[0])
        return {
            card.identity.party: card.identity for card in (invitation.inviter, acceptance.acceptor)
        }

    def to_json(self) -> str:
        def b64(data: bytes | None) -> str | None:
            return None if data is None else base64.b64encode(data).decode()

        parties = self.parties()
        document = {
            "format": FORMAT,
            "version": 1,
            "link": {"id": self.link_id, "name": self.link_name, "purpose": self.purpose},
            "parties": [{"party": p.party, "fingerprint": p.fingerprint} for p in parties.values()],
            "setup": {
                "invitation": [b64(x) for x in self.invitation],
                "acceptance": [b64(x) for x in self.acceptance],
            },
            "exported_by": self.exported_by,
            "exported_ms": self.exported_ms,
            "entries": [
                {"envelope": b64(e.envelope_bytes), "payload": b64(e.payload_bytes)}
                for e in self.entries
            ],
            "signature": b64(self.signature),
        }
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def make_bundle(
    exporter: PrivateIdentity,
    *,
    link_id: str,
    link_name: str,
    purpose: str,
    invitation: tuple[bytes, bytes],
    acceptance: tuple[bytes, bytes],
    exported_ms: int,
    entries: Sequence[RecordEntry],
) -> Bundle:
    unsigned = Bundle(
        link_id,
        link_name,
        purpose,
        invitation,
        acceptance,
        exporter.party,
        exported_ms,
        tuple(entries),
        b"",
    )
    return Bundle(
        link_id,
        link_name,
        purpose,
        invitation,
        acceptance,
        exporter.party,
        exported_ms,
        tuple(entries),
        exporter.sign(unsigned.signed_content()),
    )


def read_bundle(text: str | bytes) -> Bundle:
    """Read a bundle's JSON strictly: UTF-8, no repeated keys, exactly the documented
    fields in every object, each of its JSON type (an integer is a JSON integer, never
    a string, a float or a boolean), base64 in its one form. Reading checks form only;
    :func:`verify_bundle` checks what the bundle claims."""
    if len(text) > MAX_BUNDLE_BYTES:
        raise ProtocolError(
            Code.TOO_LARGE, f"bundle is {len(text)} bytes; the limit is {MAX_BUNDLE_BYTES}"
        )
    try:
        # json.loads would guess UTF-16 or UTF-32 from bytes, and skip a byte order mark.
        document = json.loads(
            text.decode("utf-8") if isinstance(text, bytes) else text,
            object_pairs_hook=_object,
            parse_constant=_refuse_constant,
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(Code.MALFORMED, f"bundle is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ProtocolError(Code.MALFORMED, "not a Hotline record bundle")
    if not is_version(document.get("version"), 1):
        raise ProtocolError(Code.UNSUPPORTED_VERSION, f"bundle version {document.get('version')!r}")
    _fields(document, BUNDLE_FIELDS, "bundle")
    link = _fields(document["link"], LINK_FIELDS, "link")
    setup = _fields(document["setup"], SETUP_FIELDS, "setup")
    for party in _list(document["parties"], "parties"):
        _fields(party, PARTY_FIELDS, "parties item")
        _text(party["party"], "parties.party")
        _text(party["fingerprint"], "parties.fingerprint")
    entries = []
    for entry in _list(document["entries"], "entries"):
        _fields(entry, ENTRY_FIELDS, "entries item")
        payload = entry["payload"]
        entries.append(
            RecordEntry(
                _b64(entry["envelope"], "entries.envelope"),
                None if payload is None else _b64(payload, "entries.payload"),
            )
        )
    return Bundle(
        link_id=_text(link["id"], "link.id"),
        link_name=_text(link["name"], "link.name"),
        purpose=_text(link["purpose"], "link.purpose"),
        invitation=_document_pair(setup["invitation"], "setup.invitation"),
        acceptance=_document_pair(setup["acceptance"], "setup.acceptance"),
        exported_by=_text(document["exported_by"], "exported_by"),
        exported_ms=_integer(document["exported_ms"], "exported_ms", 0, MAX_EXPORTED_MS),
        entries=tuple(entries),
        signature=_b64(document["signature"], "signature"),
    )


BUNDLE_FIELDS = frozenset(
    {
        "format",
        "version",
        "link",
        "parties",
        "setup",
        "exported_by",
        "exported_ms",
        "entries",
        "signature",
    }
)
LINK_FIELDS = frozenset({"id", "name", "purpose"})
PARTY_FIELDS = frozenset({"party", "fingerprint"})
SETUP_FIELDS = frozenset({"invitation", "acceptance"})
ENTRY_FIELDS = frozenset({"envelope", "payload"})
MAX_EXPORTED_MS = 2**53  # as an envelope's ts: exact in every JSON reader


def verify_bundle(bundle: Bundle) -> tuple[RecordSummary, Fault | None]:
    """Check the set-up documents, the exporter's signature and the whole record."""
    try:
        invitation = read_invitation_body(bundle.invitation[0])
        inviter = invitation.inviter.identity
        verify_signature(inviter.signing_key, *bundle.invitation)
        acceptance = read_acceptance_body(bundle.acceptance[0])
        acceptor = acceptance.acceptor.identity
        verify_signature(acceptor.signing_key, *bundle.acceptance)
        if invitation.id != bundle.link_id:
            raise ProtocolError(Code.WRONG_LINK, "the invitation is for another link")
        if (bundle.link_name, bundle.purpose) != (invitation.link_name, invitation.purpose):
            # Not covered by the exporter's signature: they must be the invitation's.
            raise ProtocolError(Code.WRONG_LINK, "link name or purpose differs from the invitation")
        answered = (acceptance.invitation_id, acceptance.invitation_hash)
        if answered != (invitation.id, invitation.hash):
            raise ProtocolError(Code.BAD_REFERENCE, "the acceptance is for another invitation")
        if acceptor.party == inviter.party:
            # As when the acceptance is read (§9.5): one name would stand for two keys.
            raise ProtocolError(Code.MALFORMED, "both parties have the same name")
        parties = {inviter.party: inviter, acceptor.party: acceptor}
        exporter = parties.get(bundle.exported_by)
        if exporter is None:
            raise ProtocolError(Code.UNKNOWN_SENDER, "the exporter is not a party to the link")
    except ProtocolError as exc:
        return RecordSummary(), Fault(-1, None, None, None, exc.code, exc.detail)
    # The entries first, so that a damaged entry is named precisely; then the
    # exporter's signature over the whole bundle.
    summary, fault = verify_record(bundle.link_id, parties, bundle.entries)
    if fault is not None:
        return summary, fault
    try:
        verify_signature(exporter.signing_key, bundle.signed_content(), bundle.signature)
    except ProtocolError as exc:
        detail = f"the exporter's signature over the bundle does not verify ({exc.detail})"
        return summary, Fault(-1, None, None, None, exc.code, detail)
    return summary, None


@dataclass(frozen=True)
class Agreement:
    agree: bool
    only_in_first: tuple[str, ...]
    only_in_second: tuple[str, ...]


def compare_bundles(first: Bundle, second: Bundle) -> Agreement:
    """Two records agree when they hold exactly the same envelopes (order may differ
    between the parties' interleavings, never within a chain: verification checks that)."""
    from .envelope import parse

    def ids(bundle: Bundle) -> dict[bytes, str]:
        result = {}
        for entry in bundle.entries:
            envelope = parse(entry.envelope_bytes)
            result[envelope.hash] = envelope.header.id
        return result

    a, b = ids(first), ids(second)
    only_a = tuple(sorted(a[h] for h in a.keys() - b.keys()))
    only_b = tuple(sorted(b[h] for h in b.keys() - a.keys()))
    same_link = first.link_id == second.link_id
    return Agreement(same_link and not only_a and not only_b, only_a, only_b)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a repeated key (json.loads would keep the last)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ProtocolError(Code.MALFORMED, "a key appears twice in one object")
    return value


def _refuse_constant(name: str) -> Any:
    raise ProtocolError(Code.MALFORMED, f"{name} is not JSON")


def _fields(value: Any, expected: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(Code.MALFORMED, f"{what} must be an object")
    if set(value) != expected:
        unknown, missing = sorted(set(value) - expected), sorted(expected - set(value))
        raise ProtocolError(
            Code.MALFORMED, f"{what}: unknown fields {unknown}, missing fields {missing}"
        )
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(Code.MALFORMED, f"{what} must be an array")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(Code.MALFORMED, f"{what} must be a string")
    return value


def _integer(value: Any, what: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:  # not True, not 1.0, not "1"
        raise ProtocolError(Code.MALFORMED, f"{what} must be a JSON integer in {low}..{high}")
    return value


def _b64(value: Any, what: str) -> bytes:
    return base64_decode(_text(value, what), what)


def _document_pair(value: Any, what: str) -> tuple[bytes, bytes]:
    pair = _list(value, what)
    if len(pair) != 2:
        raise ProtocolError(Code.MALFORMED, f"{what} must be [signed, signature]")
    return _b64(pair[0], what), _b64(pair[1], what)
