"""Agreed documents of a link: the phrasebook and the glossary both parties signed.

They follow the link policy's propose / countersign rules (:mod:`.policy`), with one
difference: the document is not a protocol structure but the language library's
**canonical encoding** (deterministic CBOR of a phrasebook or glossary, see
:mod:`hotline.language.versioned`), carried whole in the proposal so that the other
side checks its digest and reads exactly the text it signs, with no file shared
out of band.

Both parties sign the same statement, the deterministic CBOR of ``{"context":
"hotline-agreed-document-v1", "document": "phrasebook" | "glossary", "link": link
id, "version": n, "digest": SHA-256(content)}``:

* the proposer in a ``phrasebook.propose`` (``glossary.propose``) entry, body
  ``{"document", "version", "digest", "content": canonical CBOR, "signature"}``;
* the other party in a ``phrasebook.accept`` (``glossary.accept``) entry whose
  ``ref`` names the proposal, body ``{"document", "version", "digest", "signature"}``.

A version is in force once both signatures verify. A proposal's version must be
greater than the version in force (the document's own version number: messages
name it). Everything here is pure; reading the content as a phrasebook or a glossary
is the node's business.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .encoding import encode
from .errors import Code, ProtocolError
from .keys import SIGNATURE_SIZE, PrivateIdentity, PublicIdentity, verify_signature
from .kinds import Kind

SIGNING_CONTEXT = "hotline-agreed-document-v1"
DOCUMENTS = ("phrasebook", "glossary")
MAX_CONTENT_BYTES = 160 * 1024  # within a payload's 192 KiB, with room for the rest
MAX_VERSION = 2**31
PROPOSE_FIELDS = frozenset({"document", "version", "digest", "content", "signature"})
ACCEPT_FIELDS = frozenset({"document", "version", "digest", "signature"})

PROPOSE_KINDS = {"phrasebook": Kind.PHRASEBOOK_PROPOSE, "glossary": Kind.GLOSSARY_PROPOSE}
ACCEPT_KINDS = {"phrasebook": Kind.PHRASEBOOK_ACCEPT, "glossary": Kind.GLOSSARY_ACCEPT}
DOCUMENT_OF: dict[Kind, str] = {
    **{kind: name for name, kind in PROPOSE_KINDS.items()},
    **{kind: name for name, kind in ACCEPT_KINDS.items()},
}


def statement(document: str, link: str, version: int, digest: bytes) -> bytes:
    """What both parties sign."""
    return encode(
        {
            "context": SIGNING_CONTEXT,
            "document": document,
            "link": link,
            "version": version,
            "digest": digest,
        }
    )


def content_digest(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


@dataclass(frozen=True)
class Signed:
    """One document version as signed: what it is, for which link, and its content
    (None in an acceptance, which names the proposal's digest only)."""

    document: str
    link: str
    version: int
    digest: bytes
    signature: bytes
    content: bytes | None = None

    def verify(self, signer: PublicIdentity) -> None:
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise ProtocolError(Code.BAD_SIGNATURE, "a document signature must be 64 bytes")
        verify_signature(
            signer.signing_key,
            statement(self.document, self.link, self.version, self.digest),
            self.signature,
        )


def proposal_body(
    me: PrivateIdentity, document: str, link: str, version: int, content: bytes
) -> dict[str, Any]:
    _document(document)
    if len(content) > MAX_CONTENT_BYTES:
        raise ProtocolError(
            Code.TOO_LARGE, f"the {document} is {len(content)} bytes; at most {MAX_CONTENT_BYTES}"
        )
    digest = content_digest(content)
    return {
        "document": document,
        "version": version,
        "digest": digest,
        "content": content,
        "signature": me.sign(statement(document, link, version, digest)),
    }


def acceptance_body(
    me: PrivateIdentity, document: str, link: str, version: int, digest: bytes
) -> dict[str, Any]:
    return {
        "document": document,
        "version": version,
        "digest": digest,
        "signature": me.sign(statement(document, link, version, digest)),
    }


def read_proposal(body: Any, *, document: str, link: str, proposer: PublicIdentity) -> Signed:
    """Check a proposal body: fields, the digest of the content, the signature."""
    _fields(body, PROPOSE_FIELDS, f"{document} proposal")
    signed = _signed(body, document, link)
    content = body["content"]
    if not isinstance(content, bytes) or not 0 < len(content) <= MAX_CONTENT_BYTES:
        raise ProtocolError(Code.MALFORMED, f"content must be 1..{MAX_CONTENT_BYTES} bytes")
    if content_digest(content) != signed.digest:
        raise ProtocolError(Code.DIGEST_MISMATCH, f"the {document}'s content is not its digest")
    signed.verify(proposer)
    return Signed(document, link, signed.version, signed.digest, signed.signature, content)


def read_acceptance(body: Any, proposal: Signed, *, acceptor: PublicIdentity) -> Signed:
    """Check an acceptance body against the proposal it refers to."""
    _fields(body, ACCEPT_FIELDS, f"{proposal.document} acceptance")
    signed = _signed(body, proposal.document, proposal.link)
    if signed.version != proposal.version:
        raise ProtocolError(
            Code.WRONG_VERSION,
            f"the acceptance names version {signed.version}, the proposal {proposal.version}",
        )
    if signed.digest != proposal.digest:
        raise ProtocolError(
            Code.BAD_REFERENCE, f"the acceptance is for another {proposal.document}"
        )
    signed.verify(acceptor)
    return signed


def check_newer(document: str, in_force: int, proposed: int) -> None:
    """A proposal must be a later version than the one in force (0: none yet)."""
    if proposed <= in_force:
        raise ProtocolError(
            Code.WRONG_VERSION,
            f"{document} version {proposed} proposed, but version {in_force} is in force: "
            f"propose a later version",
        )


def _document(document: Any) -> str:
    if document not in DOCUMENTS:
        raise ProtocolError(Code.MALFORMED, f"document must be one of {list(DOCUMENTS)}")
    return str(document)


def _fields(body: Any, expected: frozenset[str], what: str) -> None:
    if not isinstance(body, dict):
        raise ProtocolError(Code.MALFORMED, f"a {what} must be a map")
    unknown = sorted(k for k in body if k not in expected)
    if unknown:
        raise ProtocolError(Code.UNKNOWN_FIELD, f"unknown {what} fields: {unknown}")
    missing = sorted(expected - set(body))
    if missing:
        raise ProtocolError(Code.MALFORMED, f"missing {what} fields: {missing}")


def _signed(body: dict[str, Any], document: str, link: str) -> Signed:
    if body["document"] != document:
        raise ProtocolError(
            Code.MALFORMED, f"the body is about {body['document']!r}, not {document}"
        )
    version, digest = body["version"], body["digest"]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION:
        raise ProtocolError(Code.MALFORMED, f"version must be an integer in 1..{MAX_VERSION}")
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise ProtocolError(Code.MALFORMED, "digest must be 32 bytes")
    return Signed(document, link, version, digest, body["signature"])
