"""Deterministic CBOR: one value, one encoding; everything else is refused with a code."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hotline.protocol.encoding import MAX_DEPTH, decode, encode
from hotline.protocol.errors import Code, ProtocolError

LIMIT = 1 << 20

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.text(max_size=40),
    st.binary(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


def refused(data: bytes, max_size: int = LIMIT) -> Code:
    with pytest.raises(ProtocolError) as raised:
        decode(data, max_size=max_size)
    return raised.value.code


@settings(max_examples=150, deadline=None)
@given(values)
def test_any_allowed_value_round_trips_and_has_one_encoding(value: Any) -> None:
    encoded = encode(value)
    assert decode(encoded, max_size=LIMIT) == value
    assert encode(decode(encoded, max_size=LIMIT)) == encoded


anything = st.recursive(
    st.one_of(scalars, st.floats(allow_nan=False), st.frozensets(st.integers(), max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=10), inner, max_size=5),
        st.dictionaries(st.integers(-5, 5) | st.text(max_size=3), inner, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(anything)
@example({"b": 1, "aa": [{"zz": 1.5, "y": 2}, {"é": 0, "f": 0}]})
def test_encode_gives_exactly_cbor2s_canonical_encoding(value: Any) -> None:
    # encode() orders map keys itself and lets cbor2 encode plainly (faster); for
    # any value, floats, sets and non-text keys included, the bytes are the same.
    assert encode(value) == cbor2.dumps(value, canonical=True)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.integers(0, 5), min_size=2, max_size=8))
def test_map_keys_are_ordered_length_first_then_bytewise(value: dict[str, int]) -> None:
    keys = list(cbor2.loads(encode(value)))
    assert keys == sorted(value, key=lambda k: (len(k.encode()), k.encode()))


@pytest.mark.parametrize(
    ("value", "hex_"),
    [
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (256, "190100"),
        (2**32, "1b0000000100000000"),
        (2**64 - 1, "1bffffffffffffffff"),
        (-1, "20"),
        (-(2**64), "3bffffffffffffffff"),
        ("a", "6161"),
        (b"\x01", "4101"),
        ([], "80"),
        ({}, "a0"),
        (None, "f6"),
        (True, "f5"),
        (False, "f4"),
        ({"b": 1, "aa": 2}, "a261620162616102"),
    ],
)
def test_known_encodings(value: Any, hex_: str) -> None:
    assert encode(value).hex() == hex_
    assert decode(bytes.fromhex(hex_), max_size=16) == value


@pytest.mark.parametrize(
    ("hex_", "code"),
    [
        ("1801", Code.NON_CANONICAL),  # 1 written in two bytes
        ("190017", Code.NON_CANONICAL),  # 23 written in three bytes
        ("5800", Code.NON_CANONICAL),  # empty byte string with a one-byte length
        ("a2616201616101", Code.NON_CANONICAL),  # keys out of order
        ("a2626161016162", Code.MALFORMED),  # truncated
        ("0101", Code.NON_CANONICAL),  # trailing bytes
        ("", Code.MALFORMED),  # nothing at all
        ("a2616101616102", Code.MALFORMED),  # duplicate key
        ("9f01ff", Code.MALFORMED),  # indefinite-length array
        ("5f4101ff", Code.MALFORMED),  # indefinite-length byte string
        ("f93e00", Code.MALFORMED),  # half-precision float 1.5
        ("fb3ff8000000000000", Code.MALFORMED),  # double 1.5
        ("f7", Code.MALFORMED),  # undefined
        ("f0", Code.MALFORMED),  # simple value 16
        ("c074323031332d30332d32315432303a30343a30305a", Code.MALFORMED),  # tag 0 (date)
        ("d8204100", Code.MALFORMED),  # tag 32 (URI) on bytes
        ("c249010000000000000000", Code.MALFORMED),  # bignum 2**64 (tag 2)
        ("c349010000000000000000", Code.MALFORMED),  # negative bignum (tag 3)
        # Every tag is malformed, also those cbor2 would turn into an allowed value.
        ("c24101", Code.MALFORMED),  # 1 as a bignum (tag 2)
        ("c3420001", Code.MALFORMED),  # -2 as a negative bignum (tag 3)
        ("d81c01", Code.MALFORMED),  # tag 28 (shareable) around 1
        ("d9010063616263", Code.MALFORMED),  # tag 256 (string namespace) around "abc"
        ("d9d9f701", Code.MALFORMED),  # tag 55799 (self-described CBOR) around 1
        ("d86401", Code.MALFORMED),  # tag 100 (days since the epoch)
        ("d9100001", Code.MALFORMED),  # tag 4096, which nothing defines
        ("81d9d9f780", Code.MALFORMED),  # a tag inside an array
        ("a10101", Code.MALFORMED),  # integer map key
        ("a1410101", Code.MALFORMED),  # byte-string map key
        ("61ff", Code.MALFORMED),  # invalid UTF-8
        ("5bffffffffffffffff00", Code.MALFORMED),  # length far beyond the input
        ("d81c81d81d00", Code.MALFORMED),  # shared-reference tags (a list holding itself)
    ],
)
def test_refusals(hex_: str, code: Code) -> None:
    assert refused(bytes.fromhex(hex_)) is code


def test_nesting_limit() -> None:
    deepest_allowed = b"\x81" * MAX_DEPTH + b"\x80"  # the innermost empty array is at depth 16
    assert decode(deepest_allowed, max_size=64) is not None
    assert decode(b"\xa1\x61a" * MAX_DEPTH + b"\x01", max_size=64) is not None
    assert refused(b"\x81" * (MAX_DEPTH + 1) + b"\x80") is Code.MALFORMED
    assert refused(b"\x81" * MAX_DEPTH + b"\x81\x01") is Code.MALFORMED  # 1 at depth 17
    assert refused(b"\xa1\x61a" * (MAX_DEPTH + 1) + b"\x01") is Code.MALFORMED
    assert refused(b"\x81" * 200 + b"\x00") is Code.MALFORMED


def test_too_deep_is_malformed_even_with_trailing_bytes() -> None:
    # Step 3 (outside the data model) comes before step 4 (not the one encoding).
    assert refused(b"\x81" * (MAX_DEPTH + 1) + b"\x80\x00") is Code.MALFORMED
    assert refused(b"\xc2\x41\x01\x00") is Code.MALFORMED  # a tag, then a trailing byte


def test_size_limit_is_checked_before_decoding() -> None:
    data = encode(b"x" * 100)
    assert decode(data, max_size=len(data)) == b"x" * 100
    assert refused(data, max_size=len(data) - 1) is Code.TOO_LARGE
    # Even garbage is refused for its size first.
    assert refused(b"\xff" * 11, max_size=10) is Code.TOO_LARGE


def test_encode_of_a_decoded_value_is_the_input() -> None:
    data = encode({"text": "收到", "n": -25, "raw": b"\x00\xff", "list": [None, True]})
    assert encode(decode(data, max_size=LIMIT)) == data
