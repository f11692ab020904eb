"""Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding).

Every signed or hashed structure goes through :func:`encode`. :func:`decode` is
strict: it refuses duplicate keys, indefinite lengths, tags, floats and any input
that does not re-encode to exactly the same bytes, so one value has one encoding.
"""

from __future__ import annotations

import functools
from typing import Any

import cbor2

from .errors import Code, ProtocolError

MAX_DEPTH = 16


def encode(value: Any) -> bytes:
    # cbor2's canonical mode encodes every map key on its own to sort the keys, at
    # three to five times the cost of the plain encoding (seven encodings per
    # message on each side). The plain encoder keeps a map's insertion order, so
    # handing it maps already in deterministic order gives the same bytes; values
    # it would have to canonicalise itself (floats, sets, non-text keys) still go
    # through canonical mode. A property test holds the two to the same output.
    try:
        ordered = _in_key_order(value)
    except _NotPlain:
        return cbor2.dumps(value, canonical=True)
    return cbor2.dumps(ordered)


class _NotPlain(Exception):
    pass


_PLAIN = (str, bytes, int, bool, type(None))


def _in_key_order(value: Any) -> Any:
    """The value with every map's keys in RFC 8949 §4.2.1 order: by encoded key,
    which for text is shorter first, then bytewise."""
    kind = type(value)
    if kind is dict:
        order = _key_order(tuple(value))
        if order is None:
            raise _NotPlain
        return {key: _in_key_order(value[key]) for key in order}
    if kind is list or kind is tuple:
        return [_in_key_order(item) for item in value]
    if kind in _PLAIN:
        return value
    raise _NotPlain


@functools.lru_cache(maxsize=1024)  # a few shapes recur: headers, payloads, bodies
def _key_order(keys: tuple[Any, ...]) -> tuple[str, ...] | None:
    """The keys in deterministic order; None unless they are all text."""
    if not all(type(key) is str for key in keys):
        return None
    return tuple(sorted(keys, key=_text_key_order))


def _text_key_order(key: str) -> tuple[int, bytes]:
    encoded = key.encode()
    return len(encoded), encoded


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
