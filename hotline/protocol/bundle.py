"""Export bundles: a self-contained, offline-verifiable copy of one link's record.

A bundle is a JSON document holding the link's two signed set-up documents
(invitation and acceptance, which pin every party's keys), every envelope of the
record in the exporter's order, optionally the decrypted payloads (checked
against the signed digests), and the exporter's signature over all of it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .encoding import encode
from .errors import Code, ProtocolError
from .invitation import read_acceptance_body, read_invitation_body
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
    if len(text) > MAX_BUNDLE_BYTES:
        raise ProtocolError(
            Code.TOO_LARGE, f"bundle is {len(text)} bytes; the limit is {MAX_BUNDLE_BYTES}"
        )
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(Code.MALFORMED, f"bundle is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ProtocolError(Code.MALFORMED, "not a Hotline record bundle")
    if document.get("version") != 1:
        raise ProtocolError(Code.UNSUPPORTED_VERSION, f"bundle version {document.get('version')!r}")
    try:
        link = document["link"]
        setup = document["setup"]
        entries = tuple(
            RecordEntry(_b64(e["envelope"]), None if e["payload"] is None else _b64(e["payload"]))
            for e in document["entries"]
        )
        return Bundle(
            link_id=str(link["id"]),
            link_name=str(link["name"]),
            purpose=str(link["purpose"]),
            invitation=(_b64(setup["invitation"][0]), _b64(setup["invitation"][1])),
            acceptance=(_b64(setup["acceptance"][0]), _b64(setup["acceptance"][1])),
            exported_by=str(document["exported_by"]),
            exported_ms=int(document["exported_ms"]),
            entries=entries,
            signature=_b64(document["signature"]),
        )
    except (KeyError, TypeError, IndexError, ValueError, OverflowError) as exc:
        raise ProtocolError(Code.MALFORMED, f"bundle field missing or invalid: {exc}") from None


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
        if acceptance.invitation_hash != invitation.hash:
            raise ProtocolError(Code.BAD_REFERENCE, "the acceptance is for another invitation")
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


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None
