"""Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding).

Every signed or hashed structure goes through :func:`encode`. :func:`decode` is
strict: it refuses duplicate keys, indefinite lengths, tags, floats and any input
that does not re-encode to exactly the same bytes, so one value has one encoding.

Every tag is refused as ``malformed``, whatever it wraps: cbor2 would otherwise turn
some tags (bignums, shared values, string namespaces, the self-describe tag) into
plain values, and which ones is cbor2's choice, not the protocol's.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
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
    # cbor2 already stops at MAX_DEPTH and refuses every tag (so no integer beyond 64
    # bits, no shared value holding itself); the depth here only bounds the recursion.
    if depth > MAX_DEPTH:
        raise ProtocolError(Code.MALFORMED, "nesting too deep")
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
            max_depth=MAX_DEPTH,
            semantic_decoders=_NO_TAGS,
            tag_hook=_refuse_tag,
        )
    except ProtocolError:
        raise
    except Exception as exc:  # cbor2 raises several types for truncated or invalid input
        if isinstance(exc.__cause__, ProtocolError):  # a tag, refused by _NO_TAGS
            raise exc.__cause__ from None
        raise ProtocolError(Code.MALFORMED, f"not valid CBOR: {exc}") from None
    _check_types(value)
    if encode(value) != data:
        raise ProtocolError(Code.NON_CANONICAL, "encoding is not deterministic CBOR")
    return value


def is_version(value: Any, expected: int) -> bool:
    """True for exactly the integer ``expected``. ``true`` (CBOR or JSON) decodes to
    Python's True, which equals 1: taken for a version, it would give a document a
    second form, and an envelope a second wire form under the same entry hash."""
    return type(value) is int and value == expected


def _refuse_tag(decoder: Any, tag: Any) -> Any:
    raise ProtocolError(Code.MALFORMED, f"CBOR tag {tag.tag} is not allowed")


def _refuse_semantic(tag: int, *_: Any) -> Any:
    raise ProtocolError(Code.MALFORMED, f"CBOR tag {tag} is not allowed")


class _RefuseEveryTag(Mapping[int, Any]):
    """cbor2's semantic decoders, one for every tag number: each refuses. cbor2 looks a
    tag up here (by ``[]``) only when the input holds one, so valid input costs nothing."""

    def __getitem__(self, tag: int) -> Any:
        return functools.partial(_refuse_semantic, tag)

    def __contains__(self, tag: object) -> bool:
        return True

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


_NO_TAGS = _RefuseEveryTag()
