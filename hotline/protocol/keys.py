"""Party keys: Ed25519 for signatures, X25519 for encryption, and readable fingerprints."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from nacl.exceptions import BadSignatureError
from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey

from .errors import Code, ProtocolError

KEY_SIZE = 32
SIGNATURE_SIZE = 64


@dataclass(frozen=True)
class PublicIdentity:
    """What a party publishes about itself: the keys others pin."""

    party: str
    signing_key: bytes
    encryption_key: bytes

    def __post_init__(self) -> None:
        if len(self.signing_key) != KEY_SIZE or len(self.encryption_key) != KEY_SIZE:
            raise ProtocolError(Code.MALFORMED, "public keys must be 32 bytes")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signing_key, self.encryption_key)

    def verify(self, message: bytes, signature: bytes) -> None:
        verify_signature(self.signing_key, message, signature)


@dataclass(frozen=True)
class PrivateIdentity:
    """A party's secret keys. Held only by that party's node."""

    party: str
    signing_seed: bytes
    encryption_secret: bytes

    @classmethod
    def from_seeds(
        cls, party: str, signing_seed: bytes, encryption_secret: bytes
    ) -> PrivateIdentity:
        if len(signing_seed) != KEY_SIZE or len(encryption_secret) != KEY_SIZE:
            raise ProtocolError(Code.MALFORMED, "secret keys must be 32 bytes")
        return cls(party, signing_seed, encryption_secret)

    @property
    def public(self) -> PublicIdentity:
        return PublicIdentity(
            party=self.party,
            signing_key=bytes(SigningKey(self.signing_seed).verify_key),
            encryption_key=bytes(PrivateKey(self.encryption_secret).public_key),
        )

    def sign(self, message: bytes) -> bytes:
        return self._signing_key.sign(message).signature

    @cached_property
    def _signing_key(self) -> SigningKey:  # derived once: deriving costs a scalar multiplication
        return SigningKey(self.signing_seed)

    @cached_property
    def box_secret(self) -> PrivateKey:
        return PrivateKey(self.encryption_secret)


def verify_signature(signing_key: bytes, message: bytes, signature: bytes) -> None:
    if len(signature) != SIGNATURE_SIZE:
        raise ProtocolError(Code.BAD_SIGNATURE, "signature must be 64 bytes")
    try:
        VerifyKey(signing_key).verify(message, signature)
    except (BadSignatureError, ValueError):
        raise ProtocolError(Code.BAD_SIGNATURE, "signature does not verify") from None


def box_public(encryption_key: bytes) -> PublicKey:
    return PublicKey(encryption_key)


def fingerprint(signing_key: bytes, encryption_key: bytes) -> str:
    """40 decimal digits in 8 groups of 5: easy to read aloud in any language.

    Digits of SHA-256(b"hotline-fingerprint-v1" || signing key || encryption key),
    each 5-digit group taken from 5 bytes (a 40-bit integer) modulo 100000.
    """
    digest = hashlib.sha256(b"hotline-fingerprint-v1" + signing_key + encryption_key).digest()
    groups = [int.from_bytes(digest[i * 4 : i * 4 + 5], "big") % 100_000 for i in range(8)]
    return " ".join(f"{g:05d}" for g in groups)
