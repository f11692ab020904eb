"""Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding).

Every signed or hashed structure goes through :func:`encode`. :func:`decode` is
strict: it refuses duplicate keys, indefinite lengths, tags, floats and any input
that does not re-encode to exactly the same bytes, so one value has one encoding.
"""

from __future__ import annotations

from typing import Any

import cbor2

from .errors import Code, ProtocolError

MAX_DEPTH = 16


def encode(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def _check_types(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ProtocolError(Code.MALFORMED, "nesting too deep")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**64) <= value < 2**64:
        # cbor2 decodes bignums (tags 2 and 3) itself, without calling the tag hook.
        raise ProtocolError(Code.MALFORMED, "integers must fit in 64 bits (no bignum tags)")
    if value is None or isinstance(value, bool | int | str | bytes):
        return
    if isinstance(value, list):
        for item in value:
            _check_types(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProtocolError(Code.MALFORMED, "map keys must be text")
            _check_types(item, depth + 1)
        return
    raise ProtocolError(Code.MALFORMED, f"type {type(value).__name__} is not allowed")


def decode(data: bytes, *, max_size: int) -> Any:
    if len(data) > max_size:
        raise ProtocolError(Code.TOO_LARGE, f"{len(data)} bytes exceeds the limit of {max_size}")
    try:
        value = cbor2.loads(
            data,
            allow_duplicate_keys=False,
            allow_indefinite=False,
            max_depth=MAX_DEPTH + 2,
            tag_hook=_refuse_tag,
        )
    except ProtocolError:
        raise
    except Exception as exc:  # cbor2 raises several types for truncated or invalid input
        raise ProtocolError(Code.MALFORMED, f"not valid CBOR: {exc}") from None
    _check_types(value)
    if encode(value) != data:
        raise ProtocolError(Code.NON_CANONICAL, "encoding is not deterministic CBOR")
    return value


def _refuse_tag(decoder: Any, tag: Any) -> Any:
    raise ProtocolError(Code.MALFORMED, f"CBOR tag {tag.tag} is not allowed")
