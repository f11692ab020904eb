"""Party keys and fingerprints."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.protocol.errors import Code, ProtocolError
from hotline.protocol.keys import PrivateIdentity, PublicIdentity, fingerprint, verify_signature
from tests.vectors.generate import identity


def test_fingerprint_format() -> None:
    printed = identity("washington").public.fingerprint
    assert re.fullmatch(r"\d{5}( \d{5}){7}", printed)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(0, 63), st.integers(0, 7))
def test_fingerprint_changes_with_any_bit_of_either_key(key: bytes, byte: int, bit: int) -> None:
    signing, encryption = key, bytes(reversed(key))
    joined = bytearray(signing + encryption)
    joined[byte] ^= 1 << bit
    assert fingerprint(signing, encryption) != fingerprint(bytes(joined[:32]), bytes(joined[32:]))


def test_fingerprint_binds_which_key_is_which() -> None:
    a, b = bytes(range(32)), bytes(range(32, 64))
    assert fingerprint(a, b) != fingerprint(b, a)


@pytest.mark.parametrize(("signing", "encryption"), [(31, 32), (32, 33), (0, 32)])
def test_public_identity_needs_32_byte_keys(signing: int, encryption: int) -> None:
    with pytest.raises(ProtocolError) as raised:
        PublicIdentity("washington", b"\x01" * signing, b"\x02" * encryption)
    assert raised.value.code is Code.MALFORMED


def test_private_identity_needs_32_byte_secrets() -> None:
    with pytest.raises(ProtocolError) as raised:
        PrivateIdentity.from_seeds("washington", b"\x01" * 31, b"\x02" * 32)
    assert raised.value.code is Code.MALFORMED


def test_signatures() -> None:
    me = identity("washington")
    signature = me.sign(b"hello")
    me.public.verify(b"hello", signature)
    for message, sig in [
        (b"hellO", signature),
        (b"hello", signature[:-1] + bytes([signature[-1] ^ 1])),
        (b"hello", signature[:63]),
        (b"hello", signature + b"\x00"),
        (b"hello", b""),
    ]:
        with pytest.raises(ProtocolError) as raised:
            me.public.verify(message, sig)
        assert raised.value.code is Code.BAD_SIGNATURE
    with pytest.raises(ProtocolError) as raised:
        verify_signature(identity("beijing").public.signing_key, b"hello", signature)
    assert raised.value.code is Code.BAD_SIGNATURE
