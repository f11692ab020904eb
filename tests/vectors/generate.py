"""Hotline protocol v1 test vectors, derived from fixed inputs only.

Run ``.venv/bin/python tests/vectors/generate.py`` to rewrite ``protocol-v1.json``
next to this file. Every input (key seeds, identifiers, times, salts, nonces,
content keys, TLS certificates) is fixed here, so the output is reproducible byte
for byte; ``tests/protocol/test_protocol_vectors.py`` re-derives it, compares it with the
committed file, and independently parses, verifies and opens the committed bytes.

The helpers below (fixed identities, :func:`forge`, :func:`encrypt`, :func:`wrap`)
are also used by the protocol unit tests to build deliberately wrong inputs.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt
from nacl.public import Box, PublicKey

from hotline.protocol import PROTOCOL_VERSION
from hotline.protocol.bundle import Bundle, make_bundle
from hotline.protocol.encoding import encode
from hotline.protocol.envelope import MAX_ENVELOPE_BYTES, Envelope, Payload, new_id, seal
from hotline.protocol.invitation import (
    INVITATION,
    Acceptance,
    Invitation,
    armour,
    dearmour,
    make_acceptance,
    make_invitation,
)
from hotline.protocol.keys import PrivateIdentity, PublicIdentity
from hotline.protocol.kinds import Kind
from hotline.protocol.record import RecordEntry

VECTORS_PATH = Path(__file__).with_name("protocol-v1.json")

# 2023-11-14T22:13:20Z. All times are Unix milliseconds.
T0 = 1_700_000_000_000
DAY_MS = 86_400_000

# (Ed25519 signing seed, X25519 encryption secret) per party.
SEEDS: dict[str, tuple[bytes, bytes]] = {
    "washington": (bytes(range(0, 32)), bytes(range(32, 64))),
    "beijing": (bytes(range(64, 96)), bytes(range(96, 128))),
    # A third party: the "wrong recipient", and a member of the multilateral example.
    "geneva": (bytes(range(128, 160)), bytes(range(160, 192))),
}
# Ed25519 private keys of the nodes' self-signed TLS certificates.
TLS_SEEDS: dict[str, bytes] = {
    "washington": bytes(range(192, 224)),
    "beijing": bytes(range(224, 256)),
}
TLS_SERIALS = {"washington": 0x48_4F_54_4C_01, "beijing": 0x48_4F_54_4C_02}
ENDPOINTS = {
    "washington": ["https://hotline.washington.example:7443"],
    "beijing": ["https://hotline.beijing.example:7443"],
}

LINK_NAME = "defence"
PURPOSE = "Defence ministries' direct link"
INVITATION_RANDOMNESS = bytes.fromhex("0f1e2d3c4b5a69788796")
INVITATION_CREATED = T0
INVITATION_EXPIRES = T0 + 7 * DAY_MS
ACCEPTANCE_CREATED = T0 + 3_600_000


def fill(byte: int, size: int) -> bytes:
    """``size`` copies of ``byte``: a fixed stand-in for random bytes, easy to spot in hex."""
    return bytes([byte]) * size


def identity(party: str) -> PrivateIdentity:
    signing_seed, encryption_secret = SEEDS[party]
    return PrivateIdentity.from_seeds(party, signing_seed, encryption_secret)


def public(party: str) -> PublicIdentity:
    return identity(party).public


def tls_certificate(party: str) -> bytes:
    """A deterministic self-signed Ed25519 certificate (DER), shaped like the node's own."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(TLS_SEEDS[party])
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, party)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(TLS_SERIALS[party])
        .not_valid_before(datetime.datetime(2023, 11, 14, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2033, 11, 11, tzinfo=datetime.UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(f"hotline.{party}.example")]),
            critical=False,
        )
    )
    certificate = builder.sign(key, algorithm=None)
    return certificate.public_bytes(serialization.Encoding.DER)


# --- Building blocks for hand-made (deliberately wrong) envelopes -------------------------


def encrypt(header: dict[str, Any], payload: bytes, content_key: bytes, nonce: bytes) -> bytes:
    """XChaCha20-Poly1305 of ``payload`` with the encoded header as associated data."""
    return crypto_aead_xchacha20poly1305_ietf_encrypt(payload, encode(header), nonce, content_key)


def wrap(
    sender: PrivateIdentity, recipient: PublicIdentity, content_key: bytes, key_nonce: bytes
) -> bytes:
    """crypto_box of the content key from sender to recipient: nonce || MAC+ciphertext."""
    box = Box(sender.box_secret, PublicKey(recipient.encryption_key))
    return bytes(box.encrypt(content_key, key_nonce))


def forge(
    signer: PrivateIdentity,
    header: dict[str, Any],
    *,
    nonce: bytes,
    ciphertext: bytes,
    wrapped: dict[str, bytes],
    version: int = PROTOCOL_VERSION,
    signature: bytes | None = None,
) -> bytes:
    """Wire bytes for an arbitrary header, validly signed by ``signer`` unless a signature
    is given. Nothing is checked: this is how tests make inputs seal() would refuse."""
    signed = encode({"h": header, "n": nonce, "c": ciphertext, "k": wrapped})
    return encode([version, signed, signer.sign(signed) if signature is None else signature])


# --- The fixed scenario ------------------------------------------------------------------


@dataclass(frozen=True)
class SealInputs:
    """Everything seal() needs apart from the link and the chain/reference hashes."""

    sender: str
    recipients: tuple[str, ...]
    id_randomness: bytes
    time_ms: int
    seq: int
    kind: Kind
    body: dict[str, Any]
    salt: bytes
    content_key: bytes
    nonce: bytes
    key_nonces: dict[str, bytes] = field(default_factory=dict)

    @property
    def envelope_id(self) -> str:
        return new_id(self.time_ms, self.id_randomness)


MESSAGE_1_MS = T0 + 3_700_000
MESSAGE_1 = SealInputs(
    sender="washington",
    recipients=("beijing",),
    id_randomness=bytes.fromhex("a1a2a3a4a5a6a7a8a9aa"),
    time_ms=MESSAGE_1_MS,
    seq=1,
    kind=Kind.MESSAGE,
    body={"lang": "en", "text": "Received. Under review; we will respond by 12:00 UTC."},
    salt=fill(0x11, 16),
    content_key=fill(0x12, 32),
    nonce=fill(0x13, 24),
    key_nonces={"beijing": fill(0x14, 24)},
)
RECEIPT_1 = SealInputs(
    sender="beijing",
    recipients=("washington",),
    id_randomness=bytes.fromhex("b1b2b3b4b5b6b7b8b9ba"),
    time_ms=MESSAGE_1_MS + 450,
    seq=1,
    kind=Kind.RECEIPT_DELIVERED,
    # The node's cumulative delivery receipt: it names the last entry of the batch applied.
    body={"received_ms": MESSAGE_1_MS + 450, "stage": "delivered", "through_seq": 1},
    salt=fill(0x21, 16),
    content_key=fill(0x22, 32),
    nonce=fill(0x23, 24),
    key_nonces={"washington": fill(0x24, 24)},
)
MESSAGE_2 = SealInputs(
    sender="washington",
    recipients=("beijing",),
    id_randomness=bytes.fromhex("c1c2c3c4c5c6c7c8c9ca"),
    time_ms=MESSAGE_1_MS + 60_000,
    seq=2,
    kind=Kind.MESSAGE,
    body={"lang": "zh", "text": "收到。我们正在审议，将于12:00（UTC）前答复。"},
    salt=fill(0x31, 16),
    content_key=fill(0x32, 32),
    nonce=fill(0x33, 24),
    key_nonces={"beijing": fill(0x34, 24)},
)
MULTILATERAL = SealInputs(
    sender="washington",
    recipients=("beijing", "geneva"),
    id_randomness=bytes.fromhex("d1d2d3d4d5d6d7d8d9da"),
    time_ms=MESSAGE_1_MS + 120_000,
    seq=1,
    kind=Kind.MESSAGE,
    body={"lang": "en", "text": "Link test to all parties."},
    salt=fill(0x41, 16),
    content_key=fill(0x42, 32),
    nonce=fill(0x43, 24),
    key_nonces={"beijing": fill(0x44, 24), "geneva": fill(0x45, 24)},
)
MULTILATERAL_LINK = new_id(T0 + 2, bytes.fromhex("e1e2e3e4e5e6e7e8e9ea"))
EXPORTED_MS = T0 + 4_000_000


def seal_inputs(
    inputs: SealInputs,
    link: str,
    *,
    prev: bytes | None,
    ref: Envelope | None = None,
    ref_hash: bytes | None = None,
) -> Envelope:
    recipients = sorted(inputs.recipients)
    return seal(
        sender=identity(inputs.sender),
        recipients=[public(r) for r in recipients],
        link=link,
        envelope_id=inputs.envelope_id,
        seq=inputs.seq,
        time_ms=inputs.time_ms,
        kind=inputs.kind,
        body=inputs.body,
        prev=prev,
        ref=None if ref is None else ref.header.id,
        ref_hash=(None if ref is None else ref.hash) if ref_hash is None else ref_hash,
        salt=inputs.salt,
        content_key=inputs.content_key,
        nonce=inputs.nonce,
        key_nonces=[inputs.key_nonces[r] for r in recipients],
    )


@dataclass(frozen=True)
class Scenario:
    invitation: Invitation
    invitation_text: str
    acceptance: Acceptance
    acceptance_text: str
    message_1: Envelope
    receipt_1: Envelope
    message_2: Envelope
    multilateral: Envelope
    bundle: Bundle

    @property
    def link(self) -> str:
        return self.invitation.id


def invite() -> tuple[Invitation, str]:
    return make_invitation(
        identity("washington"),
        invitation_id=new_id(INVITATION_CREATED, INVITATION_RANDOMNESS),
        link_name=LINK_NAME,
        purpose=PURPOSE,
        tls_certificate=tls_certificate("washington"),
        endpoints=ENDPOINTS["washington"],
        created_ms=INVITATION_CREATED,
        expires_ms=INVITATION_EXPIRES,
    )


def scenario() -> Scenario:
    invitation, invitation_text = invite()
    acceptance, acceptance_text = make_acceptance(
        identity("beijing"),
        invitation,
        tls_certificate=tls_certificate("beijing"),
        endpoints=ENDPOINTS["beijing"],
        created_ms=ACCEPTANCE_CREATED,
    )
    link = invitation.id
    message_1 = seal_inputs(MESSAGE_1, link, prev=None)
    receipt_1 = seal_inputs(RECEIPT_1, link, prev=None, ref=message_1)
    message_2 = seal_inputs(MESSAGE_2, link, prev=message_1.hash)
    multilateral = seal_inputs(MULTILATERAL, MULTILATERAL_LINK, prev=None)
    bundle = make_bundle(
        identity("washington"),
        link_id=link,
        link_name=LINK_NAME,
        purpose=PURPOSE,
        invitation=dearmour("INVITATION", invitation_text),
        acceptance=dearmour("ACCEPTANCE", acceptance_text),
        exported_ms=EXPORTED_MS,
        entries=[
            RecordEntry(message_1.to_bytes(), payload_bytes(MESSAGE_1)),
            RecordEntry(receipt_1.to_bytes(), payload_bytes(RECEIPT_1)),
            RecordEntry(message_2.to_bytes(), None),
        ],
    )
    return Scenario(
        invitation,
        invitation_text,
        acceptance,
        acceptance_text,
        message_1,
        receipt_1,
        message_2,
        multilateral,
        bundle,
    )


def payload_bytes(inputs: SealInputs) -> bytes:
    return Payload(inputs.body, inputs.salt).to_bytes()


# --- Rendering -----------------------------------------------------------------------------


def hx(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def jsonable(value: Any) -> Any:
    """CBOR data model to JSON: bytes become hex strings."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def diagnostic(value: Any) -> str:
    """RFC 8949 diagnostic notation, map entries in their deterministic order."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return f"h'{value.hex()}'"
    if isinstance(value, list):
        return "[" + ", ".join(diagnostic(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: encode(k))
        return "{" + ", ".join(f"{diagnostic(k)}: {diagnostic(value[k])}" for k in keys) + "}"
    raise TypeError(type(value).__name__)


CBOR_EXAMPLES: list[tuple[str, Any]] = [
    (
        "Map keys are sorted by their encoded bytes: shorter keys first, then bytewise.",
        {"seq": 1, "to": ["beijing"], "kind": "message", "v": 1, "from": "washington"},
    ),
    (
        "Integers take the shortest head; negative integers use major type 1.",
        [0, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296, -1, -24, -25, -257],
    ),
    (
        "Byte strings, UTF-8 text strings, null and booleans.",
        {"bytes": bytes([0, 1, 2, 255]), "text": "收到", "none": None, "yes": True, "no": False},
    ),
    ("An empty map, an empty array, an empty byte string.", [{}, [], b""]),
]


def party_vector(party: str) -> dict[str, Any]:
    me = identity(party)
    pub = me.public
    digest = hashlib.sha256(
        b"hotline-fingerprint-v1" + pub.signing_key + pub.encryption_key
    ).digest()
    vector: dict[str, Any] = {
        "signing_seed": me.signing_seed.hex(),
        "encryption_secret": me.encryption_secret.hex(),
        "signing_key": pub.signing_key.hex(),
        "encryption_key": pub.encryption_key.hex(),
        "fingerprint_digest": digest.hex(),
        "fingerprint": pub.fingerprint,
    }
    if party in TLS_SEEDS:
        der = tls_certificate(party)
        vector["tls"] = {
            "key_seed": TLS_SEEDS[party].hex(),
            "certificate_der": der.hex(),
            "certificate_sha256": hashlib.sha256(der).hexdigest(),
        }
        vector["endpoints"] = ENDPOINTS[party]
    return vector


def envelope_vector(
    description: str, inputs: SealInputs, envelope: Envelope, link: str
) -> dict[str, Any]:
    header = envelope.header
    payload = payload_bytes(inputs)
    return {
        "description": description,
        "inputs": {
            "sender": inputs.sender,
            "recipients": list(inputs.recipients),
            "link": link,
            "id_time_ms": inputs.time_ms,
            "id_randomness": inputs.id_randomness.hex(),
            "seq": inputs.seq,
            "ts": inputs.time_ms,
            "kind": inputs.kind.value,
            "body": jsonable(inputs.body),
            "prev": hx(header.prev),
            "ref": header.ref,
            "ref_hash": hx(header.ref_hash),
            "salt": inputs.salt.hex(),
            "content_key": inputs.content_key.hex(),
            "nonce": inputs.nonce.hex(),
            "key_nonces": {p: n.hex() for p, n in sorted(inputs.key_nonces.items())},
        },
        "header": jsonable(header.to_map()),
        "header_cbor": encode(header.to_map()).hex(),
        "payload_cbor": payload.hex(),
        "digest": header.digest.hex(),
        "ciphertext": envelope.ciphertext.hex(),
        "wrapped_keys": {p: k.hex() for p, k in sorted(envelope.wrapped_keys.items())},
        "signed": envelope.signed.hex(),
        "signature": envelope.signature.hex(),
        "wire": envelope.to_bytes().hex(),
        "entry_hash": envelope.hash.hex(),
    }


def document_vector(text: str, label: str, signed: bytes, digest: bytes) -> dict[str, Any]:
    _, signature = dearmour(label, text)
    return {
        "signed": signed.hex(),
        "signature": signature.hex(),
        "hash": digest.hex(),
        "armoured": text,
    }


def negative_vectors(s: Scenario) -> list[dict[str, Any]]:
    """Inputs that must be refused, each with the operation and the expected code."""
    washington = identity("washington")
    link = s.link
    m1, r1, m2 = s.message_1, s.receipt_1, s.message_2
    m1_wire = m1.to_bytes()
    m1_payload = payload_bytes(MESSAGE_1)
    vectors: list[dict[str, Any]] = []

    def add(name: str, description: str, operation: str, given: Any, expect: Any) -> None:
        vectors.append(
            {
                "name": name,
                "description": description,
                "operation": operation,
                "input": given,
                "expect": expect,
            }
        )

    def entries(*pairs: tuple[Envelope | bytes, bytes | None]) -> list[dict[str, Any]]:
        return [
            {
                "envelope": (e if isinstance(e, bytes) else e.to_bytes()).hex(),
                "payload": hx(p),
            }
            for e, p in pairs
        ]

    tampered = bytearray(m1_wire)
    tampered[-1] ^= 0x01
    add(
        "tampered_signature",
        "message_1 with the last byte of its signature flipped.",
        "verify",
        {"wire": bytes(tampered).hex(), "sender": "washington"},
        {"code": "bad_signature"},
    )
    assert m1_wire[:2] == b"\x83\x01"
    add(
        "non_canonical_cbor",
        "message_1 with the version 1 written in two bytes (0x18 0x01) instead of one.",
        "parse",
        {"wire": (b"\x83\x18\x01" + m1_wire[2:]).hex()},
        {"code": "non_canonical"},
    )
    add(
        "wrong_recipient",
        "geneva tries to open message_1, which carries a key for beijing only.",
        "open",
        {"wire": m1_wire.hex(), "sender": "washington", "opener": "geneva"},
        {"code": "wrong_recipient"},
    )
    add(
        "unknown_sender",
        "message_1 checked against beijing's identity: the header names another sender.",
        "verify",
        {"wire": m1_wire.hex(), "sender": "beijing"},
        {"code": "unknown_sender"},
    )
    version_2 = encode([2, m1.signed, m1.signature])
    add(
        "unsupported_version",
        "message_1's signed part and signature in an envelope of version 2.",
        "parse",
        {"wire": version_2.hex()},
        {"code": "unsupported_version"},
    )
    add(
        "too_large",
        "262145 zero bytes: one byte over the 256 KiB envelope limit, refused before decoding.",
        "parse",
        {"wire_repeat": {"byte": "00", "count": MAX_ENVELOPE_BYTES + 1}},
        {"code": "too_large"},
    )

    header = m1.header.to_map()
    unknown = dict(header, kind="message.secret")
    add(
        "unknown_kind",
        "A validly signed envelope whose header kind is 'message.secret'.",
        "parse",
        {
            "wire": forge(
                washington,
                unknown,
                nonce=m1.nonce,
                ciphertext=encrypt(unknown, m1_payload, MESSAGE_1.content_key, m1.nonce),
                wrapped=m1.wrapped_keys,
            ).hex()
        },
        {"code": "unknown_kind"},
    )
    damaged = bytearray(m1.ciphertext)
    damaged[0] ^= 0x80
    add(
        "decrypt_failed",
        "message_1 with one ciphertext bit flipped and then validly re-signed by washington.",
        "open",
        {
            "wire": forge(
                washington,
                header,
                nonce=m1.nonce,
                ciphertext=bytes(damaged),
                wrapped=m1.wrapped_keys,
            ).hex(),
            "sender": "washington",
            "opener": "beijing",
        },
        {"code": "decrypt_failed"},
    )
    lying = dict(header, digest=hashlib.sha256(b"another payload").digest())
    add(
        "digest_mismatch",
        "Signed and decryptable, but the header digest is not SHA-256 of the payload.",
        "open",
        {
            "wire": forge(
                washington,
                lying,
                nonce=m1.nonce,
                ciphertext=encrypt(lying, m1_payload, MESSAGE_1.content_key, m1.nonce),
                wrapped=m1.wrapped_keys,
            ).hex(),
            "sender": "washington",
            "opener": "beijing",
        },
        {"code": "digest_mismatch"},
    )

    broken = seal_inputs(MESSAGE_2, link, prev=r1.hash)
    add(
        "broken_chain",
        "washington's seq 2 whose prev is the hash of beijing's receipt, not of its own seq 1.",
        "record",
        {"entries": entries((m1, None), (r1, None), (broken, None))},
        {"code": "chain_broken", "index": 2, "entry_id": broken.header.id, "seq": 2},
    )
    add(
        "broken_chain_place",
        "The same entry offered to a receiver holding washington's chain up to seq 1.",
        "place",
        {
            "head": {"seq": 1, "hash": m1.hash.hex()},
            "held_hash": None,
            "wire": broken.to_bytes().hex(),
        },
        {"code": "chain_broken"},
    )
    gap = seal_inputs(
        SealInputs(**dict(vars(MESSAGE_2), seq=3, id_randomness=fill(0xE3, 10))),
        link,
        prev=m1.hash,
    )
    add(
        "sequence_gap",
        "washington's seq 1 followed directly by a seq 3 in the record.",
        "record",
        {"entries": entries((m1, None), (r1, None), (gap, None))},
        {"code": "sequence_gap", "index": 2, "entry_id": gap.header.id, "seq": 3},
    )
    fork = seal_inputs(
        SealInputs(**dict(vars(MESSAGE_2), body={"lang": "en", "text": "A different seq 2."})),
        link,
        prev=m1.hash,
    )
    add(
        "replay",
        "A second, different seq 2 offered to a receiver that already holds message_2.",
        "place",
        {
            "head": {"seq": 2, "hash": m2.hash.hex()},
            "held_hash": m2.hash.hex(),
            "wire": fork.to_bytes().hex(),
        },
        {"code": "replay"},
    )
    bad_ref = seal_inputs(RECEIPT_1, link, prev=None, ref=m1, ref_hash=hashlib.sha256().digest())
    add(
        "bad_reference",
        "beijing's receipt names message_1's id with a ref_hash that is not its hash.",
        "record",
        {"entries": entries((m1, None), (bad_ref, None))},
        {"code": "bad_reference", "index": 1, "entry_id": bad_ref.header.id, "seq": 1},
    )
    add(
        "record_digest_mismatch",
        "message_1 disclosed with message_2's payload.",
        "record",
        {"entries": entries((m1, payload_bytes(MESSAGE_2)))},
        {"code": "digest_mismatch", "index": 0, "entry_id": m1.header.id, "seq": 1},
    )
    to_geneva = seal(
        sender=washington,
        recipients=[public("geneva")],
        link=link,
        envelope_id=new_id(MESSAGE_1.time_ms, fill(0xE5, 10)),
        seq=1,
        time_ms=MESSAGE_1.time_ms,
        kind=Kind.MESSAGE,
        body=MESSAGE_1.body,
        prev=None,
        salt=MESSAGE_1.salt,
        content_key=MESSAGE_1.content_key,
        nonce=MESSAGE_1.nonce,
        key_nonces=[fill(0x15, 24)],
    )
    add(
        "record_wrong_recipient",
        "An entry of this link addressed to geneva, who is not a party to it.",
        "record",
        {"entries": entries((to_geneva, None))},
        {"code": "wrong_recipient", "index": 0, "entry_id": to_geneva.header.id, "seq": 1},
    )
    add(
        "record_wrong_link",
        "The multilateral example, which belongs to another link, inside this link's record.",
        "record",
        {"entries": entries((s.multilateral, None))},
        {
            "code": "wrong_link",
            "index": 0,
            "entry_id": s.multilateral.header.id,
            "seq": 1,
        },
    )

    signed, signature = dearmour(INVITATION, s.invitation_text)
    lines = s.invitation_text.splitlines()
    summary = lines[1 : lines.index("")]
    flipped = bytes([signature[0] ^ 0x01]) + signature[1:]
    add(
        "tampered_invitation",
        "The invitation re-armoured with one bit of its signature flipped.",
        "read_invitation",
        {"armoured": armour(INVITATION, signed, flipped, summary), "now_ms": INVITATION_CREATED},
        {"code": "bad_signature"},
    )
    add(
        "expired_invitation",
        "The invitation read at exactly its expiry time.",
        "read_invitation",
        {"armoured": s.invitation_text, "now_ms": INVITATION_EXPIRES},
        {"code": "expired"},
    )
    other, other_text = make_invitation(
        washington,
        invitation_id=new_id(INVITATION_CREATED + 1, INVITATION_RANDOMNESS),
        link_name=LINK_NAME,
        purpose=PURPOSE,
        tls_certificate=tls_certificate("washington"),
        endpoints=ENDPOINTS["washington"],
        created_ms=INVITATION_CREATED + 1,
        expires_ms=INVITATION_EXPIRES,
    )
    add(
        "acceptance_for_other_invitation",
        "beijing's acceptance presented to complete a different invitation.",
        "read_acceptance",
        {"armoured": s.acceptance_text, "invitation": other_text, "now_ms": INVITATION_CREATED},
        {"code": "bad_reference"},
    )
    assert other.id != s.invitation.id

    later = json.loads(s.bundle.to_json())
    later["exported_ms"] += 1
    add(
        "tampered_bundle",
        "The bundle with exported_ms changed after the exporter signed it.",
        "verify_bundle",
        {"json": json.dumps(later, indent=1, ensure_ascii=False) + "\n"},
        {"code": "bad_signature", "index": -1},
    )
    wire_2 = bytearray(m2.to_bytes())
    wire_2[-64] ^= 0x01  # the first byte of the signature
    forged_entry = json.loads(s.bundle.to_json())
    forged_entry["entries"][2]["envelope"] = base64.b64encode(bytes(wire_2)).decode()
    add(
        "tampered_bundle_entry",
        "The bundle with one signature bit of its third entry (message_2) flipped.",
        "verify_bundle",
        {"json": json.dumps(forged_entry, indent=1, ensure_ascii=False) + "\n"},
        {"code": "bad_signature", "index": 2, "entry_id": m2.header.id, "seq": 2},
    )
    return vectors + strictness_vectors(s)


def strictness_vectors(s: Scenario) -> list[dict[str, Any]]:
    """Inputs a lenient reader would take: one form per value, every type exact, every
    set-up check made. Each is refused by the rule docs/protocol.md states for it."""
    from hotline.protocol.heartbeat import make_heartbeat
    from hotline.protocol.invitation import ACCEPTANCE, PartyCard
    from hotline.protocol.policy import default_policy

    washington, beijing, geneva = identity("washington"), identity("beijing"), identity("geneva")
    link = s.link
    m1 = s.message_1
    m1_wire = m1.to_bytes()
    m1_payload = payload_bytes(MESSAGE_1)
    header = m1.header.to_map()
    vectors: list[dict[str, Any]] = []

    def add(name: str, description: str, operation: str, given: Any, expect: Any) -> None:
        vectors.append(
            {
                "name": name,
                "description": description,
                "operation": operation,
                "input": given,
                "expect": expect,
            }
        )

    def signed_by_washington(changed: dict[str, Any], payload: bytes = m1_payload) -> bytes:
        return forge(
            washington,
            changed,
            nonce=m1.nonce,
            ciphertext=encrypt(changed, payload, MESSAGE_1.content_key, m1.nonce),
            wrapped=m1.wrapped_keys,
        )

    # --- One form per value: no boolean for an integer, no tag ---------------------------
    assert m1_wire[:2] == b"\x83\x01"
    add(
        "envelope_version_true",
        "message_1 with its (unsigned) outer version written as CBOR true (0xf5) instead "
        "of the integer 1: the same entry hash under a second wire form.",
        "parse",
        {"wire": (b"\x83\xf5" + m1_wire[2:]).hex()},
        {"code": "unsupported_version"},
    )
    add(
        "header_version_true",
        "A validly signed envelope whose header v is CBOR true.",
        "parse",
        {"wire": signed_by_washington(dict(header, v=True)).hex()},
        {"code": "unsupported_version"},
    )
    add(
        "cbor_tag_bignum",
        "message_1 with its version written as a bignum (tag 2) holding 1.",
        "parse",
        {"wire": (b"\x83\xc2\x41\x01" + m1_wire[2:]).hex()},
        {"code": "malformed"},
    )
    add(
        "cbor_tag_self_described",
        "message_1 with its version 1 behind the self-described CBOR tag 55799 (d9d9f7).",
        "parse",
        {"wire": (b"\x83\xd9\xd9\xf7\x01" + m1_wire[2:]).hex()},
        {"code": "malformed"},
    )
    add(
        "cbor_depth_17",
        "17 nested one-item arrays around an empty array: the empty array is at depth 17. "
        "(16 nested arrays around an empty array decode.)",
        "decode",
        {"cbor": (b"\x81" * 17 + b"\x80").hex(), "max_size": 1024},
        {"code": "malformed"},
    )
    add(
        "ref_not_a_ulid",
        "A validly signed message whose ref is the text 'message-1', not a ULID.",
        "parse",
        {"wire": signed_by_washington(dict(header, ref="message-1", ref_hash=m1.hash)).hex()},
        {"code": "malformed"},
    )
    add(
        "ref_lower_case",
        "A validly signed message whose ref is message_1's id in lower case.",
        "parse",
        {
            "wire": signed_by_washington(
                dict(header, ref=m1.header.id.lower(), ref_hash=m1.hash)
            ).hex()
        },
        {"code": "non_canonical"},
    )
    add(
        "name_final_newline",
        "A validly signed envelope whose from is 'washington' followed by a newline.",
        "parse",
        {"wire": signed_by_washington(dict(header, **{"from": "washington\n"})).hex()},
        {"code": "malformed"},
    )

    # --- Holding ahead of a gap, and disclosed payloads ---------------------------------
    far = seal_inputs(
        SealInputs(**dict(vars(MESSAGE_2), seq=10_002, id_randomness=fill(0xE6, 10))),
        link,
        prev=fill(0x5A, 32),
    )
    add(
        "too_far_ahead",
        "washington's seq 10002 offered to a receiver holding its chain up to seq 1: more "
        "than 10000 past the head (seq 10001 would be held).",
        "place",
        {
            "head": {"seq": 1, "hash": m1.hash.hex()},
            "held_hash": None,
            "wire": far.to_bytes().hex(),
        },
        {"code": "sequence_gap"},
    )
    not_cbor = b"not CBOR at all"
    lying = signed_by_washington(dict(header, digest=hashlib.sha256(not_cbor).digest()))
    add(
        "record_payload_not_cbor",
        "An entry whose signed digest is SHA-256 of 15 bytes of ASCII text, disclosed with "
        "those bytes: the digest matches, but the payload is not CBOR.",
        "record",
        {"entries": [{"envelope": lying.hex(), "payload": not_cbor.hex()}]},
        {"code": "malformed", "index": 0, "entry_id": m1.header.id, "seq": 1},
    )
    padded = m1_payload + b"\x00"
    lying = signed_by_washington(dict(header, digest=hashlib.sha256(padded).digest()))
    add(
        "record_payload_non_canonical",
        "An entry disclosed with message_1's payload and one trailing zero byte, the "
        "signed digest being SHA-256 of exactly those bytes.",
        "record",
        {"entries": [{"envelope": lying.hex(), "payload": padded.hex()}]},
        {"code": "non_canonical", "index": 0, "entry_id": m1.header.id, "seq": 1},
    )

    # --- Set-up documents -----------------------------------------------------------------
    invitation_body = decode_document(s.invitation.signed)
    summary = ["Party: washington"]

    def invitation_text(body: dict[str, Any]) -> str:
        signed = encode(body)
        return armour(INVITATION, signed, washington.sign(signed), summary)

    card = dict(invitation_body["inviter"], note="pinned by hand")
    add(
        "party_card_extra_field",
        "The invitation with a field 'note' added to the inviter's party card, validly signed.",
        "read_invitation",
        {"armoured": invitation_text(dict(invitation_body, inviter=card)), "now_ms": T0},
        {"code": "malformed"},
    )
    add(
        "invitation_version_true",
        "The invitation with v written as CBOR true, validly signed.",
        "read_invitation",
        {"armoured": invitation_text(dict(invitation_body, v=True)), "now_ms": T0},
        {"code": "malformed"},
    )
    acceptance_body = decode_document(s.acceptance.signed)

    def acceptance_document(body: dict[str, Any], signer: PrivateIdentity) -> tuple[bytes, bytes]:
        signed = encode(body)
        return signed, signer.sign(signed)

    other_id = new_id(INVITATION_CREATED + 1, INVITATION_RANDOMNESS)
    other_id_acceptance = acceptance_document(dict(acceptance_body, invitation=other_id), beijing)
    add(
        "acceptance_other_invitation_id",
        "beijing's acceptance re-signed naming another invitation id, with this invitation's hash.",
        "read_acceptance",
        {
            "armoured": armour(ACCEPTANCE, *other_id_acceptance, []),
            "invitation": s.invitation_text,
            "now_ms": T0,
        },
        {"code": "bad_reference"},
    )
    impostor = PublicIdentity(
        "washington", public("geneva").signing_key, public("geneva").encryption_key
    )
    same_name = acceptance_document(
        dict(
            acceptance_body,
            acceptor=PartyCard(
                impostor, tls_certificate("beijing"), tuple(ENDPOINTS["beijing"])
            ).to_map(),
        ),
        geneva,
    )
    add(
        "acceptance_same_party_name",
        "An acceptance whose acceptor (geneva's keys) calls itself washington, like the inviter.",
        "read_acceptance",
        {
            "armoured": armour(ACCEPTANCE, *same_name, []),
            "invitation": s.invitation_text,
            "now_ms": T0,
        },
        {"code": "malformed"},
    )
    lines = s.acceptance_text.splitlines()
    begin = lines.index("") + 1
    loose = loose_base64("".join(lines[begin:-1]))
    add(
        "acceptance_non_canonical_base64",
        "beijing's acceptance with a padding bit set in the last character of its base64 "
        "block: the same bytes, a second written form.",
        "read_acceptance",
        {
            "armoured": "\n".join(
                [*lines[:begin], *(loose[i : i + 64] for i in range(0, len(loose), 64)), lines[-1]]
            )
            + "\n",
            "invitation": s.invitation_text,
            "now_ms": T0,
        },
        {"code": "malformed"},
    )

    # --- Bundles --------------------------------------------------------------------------
    def bundle_with(acceptance: tuple[bytes, bytes]) -> str:
        return make_bundle(
            washington,
            link_id=link,
            link_name=LINK_NAME,
            purpose=PURPOSE,
            invitation=s.bundle.invitation,
            acceptance=acceptance,
            exported_ms=EXPORTED_MS,
            entries=s.bundle.entries,
        ).to_json()

    add(
        "bundle_acceptance_other_invitation_id",
        "The bundle, re-signed by washington, whose acceptance (validly signed by beijing) "
        "has the invitation's hash but names another invitation id.",
        "verify_bundle",
        {"json": bundle_with(other_id_acceptance)},
        {"code": "bad_reference", "index": -1},
    )
    document = json.loads(s.bundle.to_json())
    document["setup"]["acceptance"] = [base64.b64encode(x).decode() for x in same_name]
    exported = Bundle(
        s.bundle.link_id,
        s.bundle.link_name,
        s.bundle.purpose,
        s.bundle.invitation,
        same_name,
        "washington",
        EXPORTED_MS,
        s.bundle.entries,
        b"",
    )
    document["signature"] = base64.b64encode(washington.sign(exported.signed_content())).decode()
    add(
        "bundle_same_party_name",
        "The bundle, re-signed by washington, whose acceptor (geneva's keys) is also named "
        "washington.",
        "verify_bundle",
        {"json": json.dumps(document, indent=1, ensure_ascii=False) + "\n"},
        {"code": "malformed", "index": -1},
    )

    def bundle_json(change: Any) -> str:
        document = json.loads(s.bundle.to_json())
        change(document)
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"

    add(
        "bundle_exported_ms_string",
        "The bundle with exported_ms written as a JSON string of the same digits.",
        "read_bundle",
        {"json": bundle_json(lambda d: d.update(exported_ms=str(d["exported_ms"])))},
        {"code": "malformed"},
    )
    add(
        "bundle_exported_ms_float",
        "The bundle with exported_ms written as a JSON number with a fraction (.0).",
        "read_bundle",
        {"json": bundle_json(lambda d: d.update(exported_ms=float(d["exported_ms"])))},
        {"code": "malformed"},
    )
    add(
        "bundle_version_true",
        "The bundle with version written as JSON true.",
        "read_bundle",
        {"json": bundle_json(lambda d: d.update(version=True))},
        {"code": "unsupported_version"},
    )
    add(
        "bundle_unknown_field",
        "The bundle with a top-level field 'comment' added.",
        "read_bundle",
        {"json": bundle_json(lambda d: d.update(comment="exported for the audit"))},
        {"code": "malformed"},
    )
    text = s.bundle.to_json()
    key = f'"exported_ms": {EXPORTED_MS},'
    assert text.count(key) == 1
    add(
        "bundle_repeated_key",
        "The bundle with exported_ms given twice in the same object, the second time larger.",
        "read_bundle",
        {"json": text.replace(key, f'{key}\n "exported_ms": {EXPORTED_MS + 1},')},
        {"code": "malformed"},
    )
    loose = loose_base64(base64.b64encode(s.bundle.signature).decode())
    add(
        "bundle_non_canonical_base64",
        "The bundle with a padding bit set in its signature's base64: the same bytes.",
        "read_bundle",
        {"json": bundle_json(lambda d: d.update(signature=loose))},
        {"code": "malformed"},
    )

    # --- Link policy and liveness -------------------------------------------------------
    policy = default_policy(link, PURPOSE).to_map()
    add(
        "policy_version_true",
        "The vector policy with its format v written as CBOR true.",
        "read_policy",
        {"cbor": encode(dict(policy, v=True)).hex()},
        {"code": "unsupported_version"},
    )
    _, beat = make_heartbeat(
        washington,
        link=link,
        to="beijing",
        path=HEARTBEAT_PATH,
        counter=HEARTBEAT_TIME,
        time_ms=HEARTBEAT_TIME,
        nonce=HEARTBEAT_NONCE,
    )
    assert beat[:2] == b"\x83\x01"
    add(
        "heartbeat_version_true",
        "The vector heartbeat with its (unsigned) outer version written as CBOR true.",
        "read_heartbeat",
        {
            "wire": (b"\x83\xf5" + beat[2:]).hex(),
            "link": link,
            "sender": "washington",
            "me": "beijing",
            "now_ms": HEARTBEAT_TIME,
        },
        {"code": "unsupported_version"},
    )
    return vectors


def loose_base64(blob: str) -> str:
    """``blob`` (padded base64) with one padding bit set: text that a lenient decoder
    turns into the same bytes."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    padding = len(blob) - len(blob.rstrip("="))
    assert padding in (1, 2), "no padding, so no padding bits"
    at = len(blob) - padding - 1
    loose = blob[:at] + alphabet[alphabet.index(blob[at]) | 1] + blob[at + 1 :]
    assert base64.b64decode(loose) == base64.b64decode(blob) and loose != blob
    return loose


def decode_document(signed: bytes) -> dict[str, Any]:
    from hotline.protocol.encoding import decode

    value = decode(signed, max_size=len(signed))
    assert isinstance(value, dict)
    return value


HEARTBEAT_PATH = "https://hotline.beijing.example:7443"
HEARTBEAT_TIME = T0 + 7_200_000
HEARTBEAT_NONCE = fill(0x4E, 16)
ECHO_TIME = HEARTBEAT_TIME + 12


def heartbeat_vector(link: str) -> dict[str, Any]:
    """washington's heartbeat on its first path to beijing, beijing's echo, and
    beijing's signed progress (it holds washington's chain up to seq 2)."""
    from hotline.protocol.heartbeat import CONTEXT, make_echo, make_heartbeat, sign_progress

    beat, wire = make_heartbeat(
        identity("washington"),
        link=link,
        to="beijing",
        path=HEARTBEAT_PATH,
        counter=HEARTBEAT_TIME,
        time_ms=HEARTBEAT_TIME,
        nonce=HEARTBEAT_NONCE,
    )
    echo = make_echo(identity("beijing"), beat, time_ms=ECHO_TIME)
    progress = {"t": "have", "link": link, "from": "beijing", "to": "washington", "have": 2}
    return {
        "description": "Liveness messages (never in the record): Ed25519 over "
        "CONTEXT || signed, CONTEXT being the bytes of 'hotline-liveness-v1' and a zero byte.",
        "context": CONTEXT.hex(),
        "heartbeat": {
            "inputs": jsonable(beat.to_map()),
            "signed": beat.signed.hex(),
            "hash": beat.hash.hex(),
            "wire": wire.hex(),
        },
        "echo": {"inputs": {"time_ms": ECHO_TIME}, "wire": echo.hex()},
        "progress": {
            "statement": jsonable(progress),
            "encoding": encode(progress).hex(),
            "signature": sign_progress(
                identity("beijing"), link=link, to="washington", have=2
            ).hex(),
        },
    }


def build_vectors() -> dict[str, Any]:
    s = scenario()
    link = s.link
    inv_signed, _ = dearmour("INVITATION", s.invitation_text)
    acc_signed, _ = dearmour("ACCEPTANCE", s.acceptance_text)
    return {
        "title": "Hotline protocol version 1: test vectors",
        "generator": "tests/vectors/generate.py",
        "protocol_version": PROTOCOL_VERSION,
        "notes": [
            "Byte strings are lower-case hex. Times are Unix milliseconds.",
            "Every random input (ULID randomness, salts, nonces, content keys) is fixed.",
            "Envelope bodies here hold only text and integers, so they are shown as JSON.",
            "Negative vectors name an operation (see docs/protocol.md, 'Test vectors') and "
            "the error code it must raise; record and bundle faults also give the entry.",
        ],
        "parties": {p: party_vector(p) for p in SEEDS},
        "cbor": [
            {"description": d, "diagnostic": diagnostic(v), "encoding": encode(v).hex()}
            for d, v in CBOR_EXAMPLES
        ],
        "invitation": {
            "inputs": {
                "inviter": "washington",
                "id_time_ms": INVITATION_CREATED,
                "id_randomness": INVITATION_RANDOMNESS.hex(),
                "link_name": LINK_NAME,
                "purpose": PURPOSE,
                "created": INVITATION_CREATED,
                "expires": INVITATION_EXPIRES,
            },
            "id": s.invitation.id,
            **document_vector(s.invitation_text, "INVITATION", inv_signed, s.invitation.hash),
        },
        "acceptance": {
            "inputs": {"acceptor": "beijing", "created": ACCEPTANCE_CREATED},
            **document_vector(
                s.acceptance_text,
                "ACCEPTANCE",
                acc_signed,
                hashlib.sha256(acc_signed).digest(),
            ),
        },
        "link": {"id": link, "name": LINK_NAME, "purpose": PURPOSE},
        "envelopes": {
            "message_1": envelope_vector(
                "washington's first message to beijing (seq 1, no prev).",
                MESSAGE_1,
                s.message_1,
                link,
            ),
            "receipt_1": envelope_vector(
                "beijing's signed delivery receipt for message_1 (beijing's seq 1).",
                RECEIPT_1,
                s.receipt_1,
                link,
            ),
            "message_2": envelope_vector(
                "washington's second message: prev is message_1's entry hash.",
                MESSAGE_2,
                s.message_2,
                link,
            ),
            "multilateral": envelope_vector(
                "One envelope to two recipients: one ciphertext, one wrapped key each.",
                MULTILATERAL,
                s.multilateral,
                MULTILATERAL_LINK,
            ),
        },
        "record": {
            "order": ["message_1", "receipt_1", "message_2"],
            "heads": {
                "washington": {"seq": 2, "hash": s.message_2.hash.hex()},
                "beijing": {"seq": 1, "hash": s.receipt_1.hash.hex()},
            },
        },
        "bundle": {
            "exporter": "washington",
            "exported_ms": EXPORTED_MS,
            "payloads_disclosed": ["message_1", "receipt_1"],
            "signed_content": s.bundle.signed_content().hex(),
            "signature": s.bundle.signature.hex(),
            "json": s.bundle.to_json(),
        },
        "heartbeat": heartbeat_vector(link),
        "negative": negative_vectors(s),
        "policy": policy_vector(link),
        "agreed_text": agreed_text_vector(link),
    }


def policy_vector(link: str) -> dict[str, Any]:
    """The default link policy, version 1, for the vector link, signed by both parties."""
    from hotline.protocol.policy import default_policy, sign_policy, signing_statement

    policy = default_policy(link, PURPOSE)
    return {
        "description": "Policy version 1 (the defaults) proposed by washington and "
        "countersigned by beijing; both sign the statement over the policy's SHA-256.",
        "document": jsonable(policy.to_map()),
        "encoding": policy.to_bytes().hex(),
        "hash": policy.hash.hex(),
        "statement": signing_statement(policy.hash).hex(),
        "signatures": {
            "washington": sign_policy(identity("washington"), policy).hex(),
            "beijing": sign_policy(identity("beijing"), policy).hex(),
        },
    }


# A two-entry phrasebook written here (not the shipped one, which changes with use).
VECTOR_PHRASEBOOK = {
    "format": 1,
    "id": "vector-phrasebook",
    "version": 1,
    "languages": ["en", "zh-Hans"],
    "categories": [
        {"id": "holding-replies", "names": {"en": "Holding replies", "zh-Hans": "临时答复"}}
    ],
    "entries": [
        {
            "id": "holding-respond-within",
            "category": "holding-replies",
            "parameters": {"within": {"type": "duration", "minimum": 60, "maximum": 1209600}},
            "text": {
                "en": "Received. We will respond within {within}.",
                "zh-Hans": "已收到。我方将在{within}内答复。",
            },
        },
        {
            "id": "holding-received-forwarded",
            "category": "holding-replies",
            "text": {
                "en": "Received. Your message has been passed to the responsible authorities.",
                "zh-Hans": "已收到。贵方来文已转呈主管部门。",
            },
        },
    ],
}


def agreed_text_vector(link: str) -> dict[str, Any]:
    """A phrasebook agreed on the vector link (proposed by washington, countersigned by
    beijing), and a message.agreed body rendered from it in both languages."""
    from hotline.language.phrasebook import parse_phrasebook
    from hotline.protocol import agreed_documents as ad

    book = parse_phrasebook(VECTOR_PHRASEBOOK)
    content = book.encode()
    digest = ad.content_digest(content)
    proposal = ad.proposal_body(identity("washington"), "phrasebook", link, 1, content)
    acceptance = ad.acceptance_body(identity("beijing"), "phrasebook", link, 1, digest)
    message = book.message("holding-respond-within", {"within": "PT2H"}).body()
    return {
        "description": "Phrasebook version 1 (document below) proposed by washington in a "
        "phrasebook.propose body and countersigned by beijing in a phrasebook.accept body; "
        "then a message.agreed body and its exact rendering in each language.",
        "document": VECTOR_PHRASEBOOK,
        "content": content.hex(),
        "digest": digest.hex(),
        "statement": ad.statement("phrasebook", link, 1, digest).hex(),
        "proposal_body": encode(proposal).hex(),
        "acceptance_body": encode(acceptance).hex(),
        "message_body": {"json": message, "cbor": encode(message).hex()},
        "rendered": {
            language: book.render(message["entry"], language, message["parameters"])
            for language in book.languages
        },
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    VECTORS_PATH.write_text(render(build_vectors()), encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")


if __name__ == "__main__":
    main()
