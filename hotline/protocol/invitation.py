"""Out-of-band link set-up: a signed invitation and a signed acceptance.

The inviter writes an invitation file; the other party checks the fingerprint
read aloud over a separate channel, then writes an acceptance file that the
inviter completes the link with. Each document is ``[signed, signature]`` in
deterministic CBOR, armoured as base64 between BEGIN/END lines. Lines before the
base64 block are a readable summary and are never trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from .encoding import decode, encode, is_version
from .envelope import HASH_SIZE, NAME_PATTERN, check_ulid
from .errors import Code, ProtocolError
from .keys import PrivateIdentity, PublicIdentity, verify_signature

MAX_DOCUMENT_BYTES = 16 * 1024
MAX_ENDPOINTS = 8
INVITATION = "INVITATION"
ACCEPTANCE = "ACCEPTANCE"


@dataclass(frozen=True)
class PartyCard:
    """A party as it introduces itself: keys, TLS certificate, reachable endpoints."""

    identity: PublicIdentity
    tls_certificate: bytes  # DER
    endpoints: tuple[str, ...]

    def to_map(self) -> dict[str, Any]:
        return {
            "party": self.identity.party,
            "signing_key": self.identity.signing_key,
            "encryption_key": self.identity.encryption_key,
            "tls_certificate": self.tls_certificate,
            "endpoints": list(self.endpoints),
        }

    @classmethod
    def from_map(cls, value: Any) -> PartyCard:
        if not isinstance(value, dict):
            raise ProtocolError(Code.MALFORMED, "party card must be a map")
        _only_fields(value, CARD_FIELDS, "party card")
        party = value.get("party")
        if not isinstance(party, str) or not NAME_PATTERN.fullmatch(party):
            raise ProtocolError(Code.MALFORMED, "party name is missing or invalid")
        keys = value.get("signing_key"), value.get("encryption_key")
        if not all(isinstance(k, bytes) for k in keys):
            raise ProtocolError(Code.MALFORMED, "keys must be bytes")
        cert = value.get("tls_certificate")
        if not isinstance(cert, bytes) or not 0 < len(cert) <= 8192:
            raise ProtocolError(Code.MALFORMED, "TLS certificate is missing or too large")
        endpoints = value.get("endpoints")
        if (
            not isinstance(endpoints, list)
            or not 0 < len(endpoints) <= MAX_ENDPOINTS
            or not all(isinstance(e, str) and e.startswith("https://") for e in endpoints)
        ):
            raise ProtocolError(Code.MALFORMED, "endpoints must be 1..8 https:// URLs")
        return cls(PublicIdentity(party, keys[0], keys[1]), cert, tuple(endpoints))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Invitation:
    id: str
    link_name: str
    purpose: str
    inviter: PartyCard
    created_ms: int
    expires_ms: int
    signed: bytes

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.signed).digest()


@dataclass(frozen=True)
class Acceptance:
    invitation_id: str
    invitation_hash: bytes
    acceptor: PartyCard
    created_ms: int
    signed: bytes


def make_invitation(
    me: PrivateIdentity,
    *,
    invitation_id: str,
    link_name: str,
    purpose: str,
    tls_certificate: bytes,
    endpoints: list[str],
    created_ms: int,
    expires_ms: int,
) -> tuple[Invitation, str]:
    card = PartyCard(me.public, tls_certificate, tuple(endpoints))
    body = {
        "type": "invitation",
        "v": 1,
        "id": invitation_id,
        "link_name": link_name,
        "purpose": purpose,
        "created": created_ms,
        "expires": expires_ms,
        "inviter": card.to_map(),
    }
    invitation = read_invitation_body(encode(body))
    summary = [
        f"Party: {me.party}",
        f"Link: {link_name} ({purpose})",
        f"Fingerprint: {me.public.fingerprint}",
        f"Invitation: {invitation_id}",
    ]
    return invitation, armour(INVITATION, invitation.signed, me.sign(invitation.signed), summary)


def read_invitation(text: str, *, now_ms: int) -> Invitation:
    signed, signature = dearmour(INVITATION, text)
    invitation = read_invitation_body(signed)
    verify_signature(invitation.inviter.identity.signing_key, signed, signature)
    if now_ms >= invitation.expires_ms:
        raise ProtocolError(Code.EXPIRED, "this invitation has expired; ask for a new one")
    return invitation


def read_invitation_body(signed: bytes) -> Invitation:
    value = decode(signed, max_size=MAX_DOCUMENT_BYTES)
    if (
        not isinstance(value, dict)
        or value.get("type") != "invitation"
        or not is_version(value.get("v"), 1)
    ):
        raise ProtocolError(Code.MALFORMED, "not a version-1 Hotline invitation")
    _only_fields(value, INVITATION_FIELDS, "invitation")
    try:
        invitation = Invitation(
            id=check_ulid(value["id"], "invitation id"),
            link_name=_str(value["link_name"]),
            purpose=_str(value["purpose"]),
            inviter=PartyCard.from_map(value["inviter"]),
            created_ms=_int(value["created"]),
            expires_ms=_int(value["expires"]),
            signed=signed,
        )
    except (KeyError, TypeError):
        raise ProtocolError(Code.MALFORMED, "invitation fields are missing") from None
    # Checked on reading (make_invitation reads what it writes): an invitation may
    # have been written by other software than ours, and is read before anyone trusts it.
    if not NAME_PATTERN.fullmatch(invitation.link_name):
        raise ProtocolError(Code.MALFORMED, "link name must be lower-case letters, digits, '-'")
    if not 0 < len(invitation.purpose) <= 500:
        raise ProtocolError(Code.MALFORMED, "purpose must be 1..500 characters")
    if invitation.expires_ms <= invitation.created_ms:
        raise ProtocolError(Code.EXPIRED, "expiry must be after creation")
    return invitation


def make_acceptance(
    me: PrivateIdentity,
    invitation: Invitation,
    *,
    tls_certificate: bytes,
    endpoints: list[str],
    created_ms: int,
) -> tuple[Acceptance, str]:
    card = PartyCard(me.public, tls_certificate, tuple(endpoints))
    if card.identity.party == invitation.inviter.identity.party:
        raise ProtocolError(Code.MALFORMED, "both parties have the same name")
    body = {
        "type": "acceptance",
        "v": 1,
        "invitation": invitation.id,
        "invitation_hash": invitation.hash,
        "created": created_ms,
        "acceptor": card.to_map(),
    }
    acceptance = read_acceptance_body(encode(body))
    summary = [
        f"Party: {me.party}",
        f"Accepts invitation: {invitation.id} ({invitation.link_name})",
        f"Fingerprint: {me.public.fingerprint}",
    ]
    return acceptance, armour(ACCEPTANCE, acceptance.signed, me.sign(acceptance.signed), summary)


def read_acceptance(text: str, invitation: Invitation) -> Acceptance:
    signed, signature = dearmour(ACCEPTANCE, text)
    acceptance = read_acceptance_body(signed)
    verify_signature(acceptance.acceptor.identity.signing_key, signed, signature)
    if acceptance.invitation_id != invitation.id or acceptance.invitation_hash != invitation.hash:
        raise ProtocolError(Code.BAD_REFERENCE, "this acceptance is for a different invitation")
    if acceptance.acceptor.identity.party == invitation.inviter.identity.party:
        raise ProtocolError(Code.MALFORMED, "both parties have the same name")
    return acceptance


def read_acceptance_body(signed: bytes) -> Acceptance:
    value = decode(signed, max_size=MAX_DOCUMENT_BYTES)
    if (
        not isinstance(value, dict)
        or value.get("type") != "acceptance"
        or not is_version(value.get("v"), 1)
    ):
        raise ProtocolError(Code.MALFORMED, "not a version-1 Hotline acceptance")
    _only_fields(value, ACCEPTANCE_FIELDS, "acceptance")
    try:
        invitation_hash = value["invitation_hash"]
        if not isinstance(invitation_hash, bytes) or len(invitation_hash) != HASH_SIZE:
            raise TypeError
        return Acceptance(
            invitation_id=check_ulid(value["invitation"], "invitation"),
            invitation_hash=invitation_hash,
            acceptor=PartyCard.from_map(value["acceptor"]),
            created_ms=_int(value["created"]),
            signed=signed,
        )
    except (KeyError, TypeError):
        raise ProtocolError(Code.MALFORMED, "acceptance fields are missing") from None


INVITATION_FIELDS = frozenset(
    {"type", "v", "id", "link_name", "purpose", "created", "expires", "inviter"}
)
ACCEPTANCE_FIELDS = frozenset({"type", "v", "invitation", "invitation_hash", "created", "acceptor"})
CARD_FIELDS = frozenset({"party", "signing_key", "encryption_key", "tls_certificate", "endpoints"})


def _only_fields(value: dict[Any, Any], allowed: frozenset[str], what: str) -> None:
    """Version 1 has exactly these fields: anything else is refused, not ignored."""
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ProtocolError(Code.MALFORMED, f"unknown {what} field(s): {', '.join(unknown)}")


def armour(label: str, signed: bytes, signature: bytes, summary: list[str]) -> str:
    blob = base64.b64encode(encode([signed, signature])).decode()
    lines = [f"-----BEGIN HOTLINE {label}-----", *summary, ""]
    lines += [blob[i : i + 64] for i in range(0, len(blob), 64)]
    lines.append(f"-----END HOTLINE {label}-----")
    return "\n".join(lines) + "\n"


def dearmour(label: str, text: str) -> tuple[bytes, bytes]:
    begin, end = f"-----BEGIN HOTLINE {label}-----", f"-----END HOTLINE {label}-----"
    if len(text) > 4 * MAX_DOCUMENT_BYTES:
        raise ProtocolError(Code.TOO_LARGE, "file is too large to be a Hotline document")
    # Lines end in LF or CRLF; only ASCII space, tab and CR around a line are ignored,
    # so that every reader finds the same lines (str.splitlines and str.strip would
    # also take Unicode separators and spaces).
    lines = [line.strip(ARMOUR_SPACE) for line in text.strip(ARMOUR_SPACE + "\n").split("\n")]
    if not lines or lines[0] != begin or lines[-1] != end:
        raise ProtocolError(Code.MALFORMED, f"not a Hotline {label.lower()} file")
    try:
        blank = lines.index("")
    except ValueError:
        raise ProtocolError(Code.MALFORMED, "the encoded block is missing") from None
    raw = base64_decode("".join(lines[blank + 1 : -1]), "the encoded block")
    value = decode(raw, max_size=2 * MAX_DOCUMENT_BYTES)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, bytes) for v in value)
    ):
        raise ProtocolError(Code.MALFORMED, "the encoded block is not [signed, signature]")
    return value[0], value[1]


ARMOUR_SPACE = " \t\r"


def base64_decode(text: str, what: str) -> bytes:
    """RFC 4648 base64, standard alphabet, padded, in its one form: the text must be
    exactly the encoding of the bytes it gives (no line breaks, no stray padding, no
    set bits in the padding), so that one document has one written form."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(Code.MALFORMED, f"{what} is not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise ProtocolError(Code.MALFORMED, f"{what} is not in canonical base64")
    return raw


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError
    return value
