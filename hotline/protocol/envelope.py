"""The envelope: a signed header over an end-to-end encrypted payload.

Wire form (deterministic CBOR)::

    envelope = [version, signed, signature]
    signed   = {"h": header, "n": nonce24, "c": ciphertext, "k": {party: wrapped_key}}
    header   = {"v", "id", "link", "from", "to", "seq", "ts", "kind",
                "ref", "ref_hash", "prev", "digest"}

* ``payload = {"salt": 16 random bytes, "body": {...}}`` is encrypted once with
  XChaCha20-Poly1305 under a random content key, with the encoded header as
  associated data; the content key is wrapped for every recipient with NaCl
  ``crypto_box`` (X25519, XSalsa20-Poly1305) from the sender's key. Sender and
  recipient can both unwrap it; a relay can do neither.
* ``digest = SHA-256(payload)`` lets an auditor check a disclosed payload
  against the signed header; the salt keeps short bodies from being guessed.
* ``signature`` is Ed25519 by the sender over ``signed``.
* An entry's hash is ``SHA-256(signed)``; ``prev`` is the hash of the sender's
  previous entry on the link, ``ref_hash`` the hash of the entry referred to.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey
from ulid import ULID

from . import PROTOCOL_VERSION
from .encoding import decode, encode, is_version
from .errors import Code, ProtocolError
from .keys import SIGNATURE_SIZE, PrivateIdentity, PublicIdentity, box_public, verify_signature
from .kinds import REFERRING_KINDS, Kind

MAX_ENVELOPE_BYTES = 256 * 1024
MAX_PAYLOAD_BYTES = 192 * 1024
MAX_RECIPIENTS = 100
HASH_SIZE = 32
NONCE_SIZE = 24
SALT_SIZE = 16
CONTENT_KEY_SIZE = 32
WRAPPED_KEY_SIZE = 24 + 16 + CONTENT_KEY_SIZE  # box nonce, MAC, key
MAX_SEQ = 2**53

# \Z, not $: "$" also matches before a final newline, and "washington\n" is not a name.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")
# A canonical ULID: upper-case Crockford base32, at most 128 bits (first digit 0-7).
CANONICAL_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
HEADER_FIELDS = frozenset(
    {"v", "id", "link", "from", "to", "seq", "ts", "kind", "ref", "ref_hash", "prev", "digest"}
)
SIGNED_FIELDS = frozenset({"h", "n", "c", "k"})


@dataclass(frozen=True)
class Header:
    id: str
    link: str
    sender: str
    recipients: tuple[str, ...]
    seq: int
    time_ms: int
    kind: Kind
    ref: str | None
    ref_hash: bytes | None
    prev: bytes | None
    digest: bytes
    version: int = PROTOCOL_VERSION

    def to_map(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "id": self.id,
            "link": self.link,
            "from": self.sender,
            "to": list(self.recipients),
            "seq": self.seq,
            "ts": self.time_ms,
            "kind": self.kind.value,
            "ref": self.ref,
            "ref_hash": self.ref_hash,
            "prev": self.prev,
            "digest": self.digest,
        }

    @classmethod
    def from_map(cls, value: Any) -> Header:
        if not isinstance(value, dict) or set(value) != HEADER_FIELDS:
            raise ProtocolError(Code.MALFORMED, "header fields are missing or unexpected")
        version = value["v"]
        if not is_version(version, PROTOCOL_VERSION):
            raise ProtocolError(Code.UNSUPPORTED_VERSION, f"header version {version!r}")
        try:
            kind = Kind(value["kind"])
        except ValueError:
            raise ProtocolError(Code.UNKNOWN_KIND, f"kind {value['kind']!r} is not known") from None
        header = cls(
            id=check_ulid(value["id"], "id"),
            link=_text(value["link"], "link", 64),
            sender=_name(value["from"], "from"),
            recipients=_recipients(value["to"]),
            seq=_int(value["seq"], "seq", 1, MAX_SEQ),
            time_ms=_int(value["ts"], "ts", 0, MAX_SEQ),
            kind=kind,
            ref=None if value["ref"] is None else check_ulid(value["ref"], "ref"),
            ref_hash=_optional_hash(value["ref_hash"], "ref_hash"),
            prev=_optional_hash(value["prev"], "prev"),
            digest=_hash(value["digest"], "digest"),
        )
        header.check_shape()
        return header

    def check_shape(self) -> None:
        if self.sender in self.recipients:
            raise ProtocolError(Code.MALFORMED, "sender cannot be a recipient")
        if (self.seq == 1) != (self.prev is None):
            raise ProtocolError(Code.CHAIN_BROKEN, "prev must be empty exactly at seq 1")
        if (self.ref is None) != (self.ref_hash is None):
            raise ProtocolError(Code.BAD_REFERENCE, "ref and ref_hash go together")
        if self.kind in REFERRING_KINDS and self.ref is None:
            raise ProtocolError(Code.BAD_REFERENCE, f"{self.kind.value} must refer to an entry")


@dataclass(frozen=True)
class Envelope:
    """A parsed, signature-checked envelope. ``signed`` is the exact signed bytes."""

    header: Header
    nonce: bytes
    ciphertext: bytes
    wrapped_keys: dict[str, bytes]
    signed: bytes
    signature: bytes

    # Cached: the record stores both, and a sender checks the size first.
    @functools.cached_property
    def hash(self) -> bytes:
        return entry_hash(self.signed)

    @functools.cached_property
    def _encoded(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.signed, self.signature])

    def to_bytes(self) -> bytes:
        return self._encoded


@dataclass(frozen=True)
class Payload:
    body: dict[str, Any]
    salt: bytes

    def to_bytes(self) -> bytes:
        return encode({"body": self.body, "salt": self.salt})

    @classmethod
    def from_bytes(cls, data: bytes) -> Payload:
        value = decode(data, max_size=MAX_PAYLOAD_BYTES)
        if not isinstance(value, dict) or set(value) != {"body", "salt"}:
            raise ProtocolError(Code.MALFORMED, "payload must hold body and salt")
        if not isinstance(value["body"], dict):
            raise ProtocolError(Code.MALFORMED, "payload body must be a map")
        salt = value["salt"]
        if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
            raise ProtocolError(Code.MALFORMED, "payload salt must be 16 bytes")
        return cls(value["body"], salt)


def entry_hash(signed: bytes) -> bytes:
    return hashlib.sha256(signed).digest()


def new_id(time_ms: int, randomness: bytes) -> str:
    """A ULID from a millisecond time and 10 random bytes (both supplied by the caller)."""
    return str(ULID.from_bytes(time_ms.to_bytes(6, "big") + randomness[:10]))


def seal(
    *,
    sender: PrivateIdentity,
    recipients: list[PublicIdentity],
    link: str,
    envelope_id: str,
    seq: int,
    time_ms: int,
    kind: Kind,
    body: dict[str, Any],
    prev: bytes | None,
    ref: str | None = None,
    ref_hash: bytes | None = None,
    salt: bytes,
    content_key: bytes,
    nonce: bytes,
    key_nonces: list[bytes],
) -> Envelope:
    """Build, encrypt and sign an envelope. All randomness is passed in."""
    if not recipients or len(recipients) > MAX_RECIPIENTS:
        raise ProtocolError(Code.MALFORMED, f"between 1 and {MAX_RECIPIENTS} recipients")
    if len(key_nonces) != len(recipients):
        raise ProtocolError(Code.MALFORMED, "one key nonce per recipient")
    if len(salt) != SALT_SIZE or len(content_key) != CONTENT_KEY_SIZE or len(nonce) != NONCE_SIZE:
        raise ProtocolError(Code.MALFORMED, "salt, content key or nonce has the wrong size")
    payload = Payload(body, salt).to_bytes()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(Code.TOO_LARGE, f"payload of {len(payload)} bytes is over the limit")
    # Refuse here what every receiver would refuse (floats, bignums, a 65-character link,
    # seq 0, ...): an entry the peer cannot take would block the rest of the chain.
    Payload.from_bytes(payload)
    # Checked as a receiver checks it: from_map refuses what parse() would.
    header = Header.from_map(
        {
            "v": PROTOCOL_VERSION,
            "id": envelope_id,
            "link": link,
            "from": sender.party,
            "to": sorted(r.party for r in recipients),
            "seq": seq,
            "ts": time_ms,
            "kind": kind.value,
            "ref": ref,
            "ref_hash": ref_hash,
            "prev": prev,
            "digest": hashlib.sha256(payload).digest(),
        }
    )
    header_map = header.to_map()
    header_bytes = encode(header_map)
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(
        payload, header_bytes, nonce, content_key
    )
    wrapped = {
        r.party: bytes(_box(sender.encryption_secret, r.encryption_key).encrypt(content_key, kn))
        for r, kn in zip(recipients, key_nonces, strict=True)
    }
    signed = encode({"h": header_map, "n": nonce, "c": ciphertext, "k": wrapped})
    envelope = Envelope(header, nonce, ciphertext, wrapped, signed, sender.sign(signed))
    if len(envelope.to_bytes()) > MAX_ENVELOPE_BYTES:
        raise ProtocolError(Code.TOO_LARGE, "envelope is over the size limit")
    return envelope


@functools.lru_cache(maxsize=256)
def _box(secret: bytes, public: bytes) -> Box:
    """A crypto_box for a pair of keys, its X25519 shared key computed once: every
    envelope between the same two parties needs the same one."""
    return Box(PrivateKey(secret), box_public(public))


def parse(data: bytes) -> Envelope:
    """Decode an envelope's structure. Does not check the signature: see :func:`verify`."""
    outer = decode(data, max_size=MAX_ENVELOPE_BYTES)
    if not isinstance(outer, list) or len(outer) != 3:
        raise ProtocolError(Code.MALFORMED, "envelope must be [version, signed, signature]")
    version, signed, signature = outer
    if not is_version(version, PROTOCOL_VERSION):
        raise ProtocolError(Code.UNSUPPORTED_VERSION, f"envelope version {version!r}")
    if not isinstance(signed, bytes) or not isinstance(signature, bytes):
        raise ProtocolError(Code.MALFORMED, "signed part and signature must be bytes")
    if len(signature) != SIGNATURE_SIZE:
        raise ProtocolError(Code.BAD_SIGNATURE, "signature must be 64 bytes")
    inner = decode(signed, max_size=MAX_ENVELOPE_BYTES)
    if not isinstance(inner, dict) or set(inner) != SIGNED_FIELDS:
        raise ProtocolError(Code.MALFORMED, "signed part fields are missing or unexpected")
    header = Header.from_map(inner["h"])
    nonce, ciphertext, wrapped = inner["n"], inner["c"], inner["k"]
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
        raise ProtocolError(Code.MALFORMED, "nonce must be 24 bytes")
    if not isinstance(ciphertext, bytes):
        raise ProtocolError(Code.MALFORMED, "ciphertext must be bytes")
    if not isinstance(wrapped, dict) or set(wrapped) != set(header.recipients):
        raise ProtocolError(Code.MALFORMED, "one wrapped key per recipient is required")
    for key in wrapped.values():
        if not isinstance(key, bytes) or len(key) != WRAPPED_KEY_SIZE:
            raise ProtocolError(Code.MALFORMED, "wrapped key has the wrong size")
    envelope = Envelope(header, nonce, ciphertext, dict(wrapped), signed, signature)
    # decode() refused any data that is not exactly the canonical encoding.
    envelope.__dict__["_encoded"] = bytes(data)
    return envelope


def verify(envelope: Envelope, sender: PublicIdentity) -> None:
    if envelope.header.sender != sender.party:
        raise ProtocolError(Code.UNKNOWN_SENDER, f"envelope is from {envelope.header.sender!r}")
    verify_signature(sender.signing_key, envelope.signed, envelope.signature)


def open_payload(envelope: Envelope, me: PrivateIdentity, counterpart: PublicIdentity) -> Payload:
    """Decrypt the payload. ``counterpart`` is the sender, or, when the sender opens
    its own envelope, the recipient whose wrapped key it uses."""
    holder = me.party if me.party in envelope.wrapped_keys else counterpart.party
    if holder not in envelope.wrapped_keys:
        raise ProtocolError(Code.WRONG_RECIPIENT, f"no key for {me.party!r} in this envelope")
    try:
        box = _box(me.encryption_secret, counterpart.encryption_key)
        content_key = box.decrypt(envelope.wrapped_keys[holder])
        payload_bytes = crypto_aead_xchacha20poly1305_ietf_decrypt(
            envelope.ciphertext, encode(envelope.header.to_map()), envelope.nonce, content_key
        )
    except (CryptoError, ValueError):
        raise ProtocolError(Code.DECRYPT_FAILED, "payload does not decrypt") from None
    check_payload(envelope.header, payload_bytes)
    return Payload.from_bytes(payload_bytes)


def check_payload(header: Header, payload_bytes: bytes) -> None:
    if hashlib.sha256(payload_bytes).digest() != header.digest:
        raise ProtocolError(Code.DIGEST_MISMATCH, "payload does not match the signed digest")


def check_ulid(value: Any, field: str) -> str:
    """A ULID in its one written form: 26 characters of upper-case Crockford base32,
    the first 0-7 (128 bits). Text that is one in ASCII lower or mixed case is
    ``non_canonical``; anything else is ``malformed``."""
    if type(value) is str and CANONICAL_ULID.fullmatch(value):
        return value
    if isinstance(value, str) and value.isascii() and CANONICAL_ULID.fullmatch(value.upper()):
        raise ProtocolError(Code.NON_CANONICAL, f"{field} must be an upper-case ULID")
    raise ProtocolError(Code.MALFORMED, f"{field} must be a ULID (26 characters, Crockford base32)")


def _text(value: Any, field: str, max_length: int) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise ProtocolError(Code.MALFORMED, f"{field} must be text of 1..{max_length} characters")
    return value


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ProtocolError(Code.MALFORMED, f"{field} must be a party name like 'washington'")
    return value


def _recipients(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_RECIPIENTS:
        raise ProtocolError(Code.MALFORMED, f"to must list 1..{MAX_RECIPIENTS} parties")
    names = [_name(v, "to") for v in value]
    if names != sorted(set(names)):
        raise ProtocolError(Code.NON_CANONICAL, "recipients must be sorted and unique")
    return tuple(names)


def _int(value: Any, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(Code.MALFORMED, f"{field} must be an integer in {low}..{high}")
    return value


def _hash(value: Any, field: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProtocolError(Code.MALFORMED, f"{field} must be a 32-byte hash")
    return value


def _optional_hash(value: Any, field: str) -> bytes | None:
    return None if value is None else _hash(value, field)
