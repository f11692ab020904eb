"""A phrasebook or glossary read back from its canonical encoding: what a link's
proposal carries (:mod:`hotline.protocol.agreed_documents`), so that the receiving
side checks the digest of the very bytes and renders exactly what both sides signed.

The canonical form keys entries, terms, categories and sides by id; reading it back
gives the same document (the same digest) with entries in id order. Each content is
parsed once per process (cached by its bytes' digest).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

from ..protocol.encoding import decode
from ..protocol.errors import ProtocolError
from .errors import InvalidDocument, Problem, Reason
from .glossary import Glossary, parse_glossary
from .phrasebook import Phrasebook, parse_phrasebook
from .versioned import DOCUMENT

MAX_CONTENT_BYTES = 160 * 1024


def _decoded(content: bytes, kind: str) -> dict[str, Any]:
    try:
        value = decode(content, max_size=MAX_CONTENT_BYTES)
    except ProtocolError as exc:
        raise InvalidDocument([Problem(DOCUMENT, "(cbor)", Reason.MALFORMED, exc.detail)]) from None
    if not isinstance(value, dict) or value.get("document") != kind:
        raise InvalidDocument([Problem(DOCUMENT, "document", Reason.MALFORMED, f"not a {kind}")])
    return value


def _listed(value: Any, what: str) -> list[tuple[str, Any]]:
    if not isinstance(value, Mapping):
        raise InvalidDocument([Problem(DOCUMENT, what, Reason.MALFORMED, "expected a map by id")])
    return list(value.items())


def _by_id(item: tuple[Any, Any]) -> str:
    return str(item[0])  # a hostile map may mix key types: order them all the same way


def phrasebook_document(value: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical map as a phrasebook document (the form of its files)."""
    return {
        "format": value.get("format"),
        "id": value.get("id"),
        "version": value.get("version"),
        "languages": value.get("languages"),
        "categories": [
            {"id": key, **(body if isinstance(body, Mapping) else {})}
            for key, body in _listed(value.get("categories"), "categories")
        ],
        "entries": [
            {"id": key, **(body if isinstance(body, Mapping) else {})}
            for key, body in sorted(_listed(value.get("entries"), "entries"), key=_by_id)
        ],
    }


def glossary_document(value: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical map as a glossary document (the form of its file)."""
    return {
        "format": value.get("format"),
        "id": value.get("id"),
        "version": value.get("version"),
        "languages": value.get("languages"),
        "note": value.get("note"),
        "sides": [
            {"id": key, **(body if isinstance(body, Mapping) else {})}
            for key, body in _listed(value.get("sides"), "sides")
        ],
        "terms": [
            {"id": key, **(body if isinstance(body, Mapping) else {})}
            for key, body in sorted(_listed(value.get("terms"), "terms"), key=_by_id)
        ],
    }


def phrasebook_from_canonical(content: bytes) -> Phrasebook:
    """The phrasebook whose canonical encoding is ``content``; refuses anything else
    (a document that parses but encodes differently is refused too)."""
    return _phrasebook(hashlib.sha256(content).hexdigest(), content)


def glossary_from_canonical(content: bytes) -> Glossary:
    return _glossary(hashlib.sha256(content).hexdigest(), content)


@functools.lru_cache(maxsize=32)
def _phrasebook(digest: str, content: bytes) -> Phrasebook:
    book = parse_phrasebook(phrasebook_document(_decoded(content, "phrasebook")))
    _same(book.digest(), digest)
    return book


@functools.lru_cache(maxsize=32)
def _glossary(digest: str, content: bytes) -> Glossary:
    glossary = parse_glossary(glossary_document(_decoded(content, "glossary")))
    _same(glossary.digest(), digest)
    return glossary


def _same(parsed: str, carried: str) -> None:
    if parsed != carried:
        raise InvalidDocument(
            [Problem(DOCUMENT, "(cbor)", Reason.MALFORMED, "not in canonical form")]
        )
