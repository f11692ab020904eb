"""Liveness messages: signed heartbeats, their signed echoes, and signed progress.

None of these enter the record. They travel on one path of a link, over the
same mutual TLS as everything else, and prove to the sender that *this* path
reaches *the peer's node* (its signing key), now.

Wire form (deterministic CBOR)::

    heartbeat = [1, signed, signature]
    signed    = {"t": "heartbeat", "link": text, "from": name, "to": name,
                 "path": text, "n": uint, "ts": uint, "nonce": bstr .size 16}
    echo      = [1, signed, signature]
    signed    = {"t": "echo", "link", "from", "to", "path", "n", "ts", "nonce",
                 "hb": bstr .size 32}          ; SHA-256 of the heartbeat's signed bytes
    progress  = {"t": "have", "link", "from", "to", "have": uint}

``signature`` is Ed25519 by the ``from`` party over ``CONTEXT || signed``, so a
liveness signature can never be taken for an envelope's or a document's.

* The echo answers one heartbeat: it repeats ``link``, ``path``, ``n`` and
  ``nonce`` (with ``from`` and ``to`` swapped) and binds the heartbeat's hash.
  The sender accepts only an echo for the heartbeat it is waiting for (its
  fresh random nonce), so an old echo replayed is worthless.
* The receiver answers only heartbeats whose ``ts`` is within
  ``MAX_SKEW_MS`` of its own clock, so a recorded heartbeat cannot be replayed
  later; ``n`` grows per path and lets the sender count losses.
* A *progress* statement is a signed ``have`` ("I hold your chain up to n").
  It carries no time or nonce: ``have`` only ever grows, so replaying an old
  one changes nothing, and a third party (a relay) cannot forge a larger one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .encoding import decode, encode, is_version
from .envelope import NAME_PATTERN
from .errors import Code, ProtocolError
from .keys import SIGNATURE_SIZE, PrivateIdentity, verify_signature

LIVENESS_VERSION = 1
CONTEXT = b"hotline-liveness-v1\x00"
NONCE_SIZE = 16
HASH_SIZE = 32
MAX_SKEW_MS = 120_000
MAX_MESSAGE_BYTES = 2048
MAX_PATH_CHARS = 512
MAX_LINK_CHARS = 64
MAX_UINT = 2**63 - 1

_HEARTBEAT_FIELDS = frozenset({"t", "link", "from", "to", "path", "n", "ts", "nonce"})
_ECHO_FIELDS = _HEARTBEAT_FIELDS | {"hb"}
_PROGRESS_FIELDS = frozenset({"t", "link", "from", "to", "have"})


@dataclass(frozen=True)
class Heartbeat:
    link: str
    sender: str
    recipient: str
    path: str
    counter: int
    time_ms: int
    nonce: bytes
    signed: bytes = b""  # the exact signed bytes, once made or parsed

    def to_map(self) -> dict[str, Any]:
        return {
            "t": "heartbeat",
            "link": self.link,
            "from": self.sender,
            "to": self.recipient,
            "path": self.path,
            "n": self.counter,
            "ts": self.time_ms,
            "nonce": self.nonce,
        }

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.signed).digest()


@dataclass(frozen=True)
class Echo:
    link: str
    sender: str
    recipient: str
    path: str
    counter: int
    time_ms: int
    nonce: bytes
    heartbeat_hash: bytes

    def to_map(self) -> dict[str, Any]:
        return {
            "t": "echo",
            "link": self.link,
            "from": self.sender,
            "to": self.recipient,
            "path": self.path,
            "n": self.counter,
            "ts": self.time_ms,
            "nonce": self.nonce,
            "hb": self.heartbeat_hash,
        }


# Heartbeats -----------------------------------------------------------------


def make_heartbeat(
    me: PrivateIdentity,
    *,
    link: str,
    to: str,
    path: str,
    counter: int,
    time_ms: int,
    nonce: bytes,
) -> tuple[Heartbeat, bytes]:
    """A signed heartbeat and its wire bytes. The caller supplies time and nonce."""
    beat = Heartbeat(link, me.party, to, path, counter, time_ms, nonce)
    _check_heartbeat_fields(beat)
    signed = encode(beat.to_map())
    beat = Heartbeat(link, me.party, to, path, counter, time_ms, nonce, signed)
    return beat, _wrap(me, signed)


def read_heartbeat(
    data: bytes,
    *,
    sender_key: bytes,
    sender: str,
    me: str,
    link: str,
    now_ms: int,
) -> Heartbeat:
    """Parse and check a heartbeat addressed to ``me`` on ``link`` from ``sender``."""
    signed, value = _unwrap(data, sender_key, _HEARTBEAT_FIELDS, "heartbeat")
    beat = Heartbeat(
        link=_text(value["link"], "link", MAX_LINK_CHARS),
        sender=_name(value["from"], "from"),
        recipient=_name(value["to"], "to"),
        path=_text(value["path"], "path", MAX_PATH_CHARS),
        counter=_uint(value["n"], "n"),
        time_ms=_uint(value["ts"], "ts"),
        nonce=_bytes(value["nonce"], "nonce", NONCE_SIZE),
        signed=signed,
    )
    if beat.link != link:
        raise ProtocolError(Code.WRONG_LINK, "heartbeat names another link")
    if beat.sender != sender:
        raise ProtocolError(Code.UNKNOWN_SENDER, "heartbeat is not from this link's peer")
    if beat.recipient != me:
        raise ProtocolError(Code.WRONG_RECIPIENT, "heartbeat is addressed to another party")
    if abs(now_ms - beat.time_ms) > MAX_SKEW_MS:
        raise ProtocolError(Code.EXPIRED, "heartbeat time is too far from ours (stale or replayed)")
    return beat


# Echoes ---------------------------------------------------------------------


def make_echo(me: PrivateIdentity, beat: Heartbeat, *, time_ms: int) -> bytes:
    """The signed answer to a heartbeat we read and accepted."""
    if beat.recipient != me.party or not beat.signed:
        raise ProtocolError(Code.WRONG_RECIPIENT, "only a heartbeat addressed to us is echoed")
    echo = Echo(
        link=beat.link,
        sender=me.party,
        recipient=beat.sender,
        path=beat.path,
        counter=beat.counter,
        time_ms=time_ms,
        nonce=beat.nonce,
        heartbeat_hash=beat.hash,
    )
    _uint(time_ms, "ts")
    return _wrap(me, encode(echo.to_map()))


def read_echo(data: bytes, *, peer_key: bytes, beat: Heartbeat) -> Echo:
    """Check that ``data`` is the peer's signed echo of exactly ``beat``."""
    _, value = _unwrap(data, peer_key, _ECHO_FIELDS, "echo")
    echo = Echo(
        link=_text(value["link"], "link", MAX_LINK_CHARS),
        sender=_name(value["from"], "from"),
        recipient=_name(value["to"], "to"),
        path=_text(value["path"], "path", MAX_PATH_CHARS),
        counter=_uint(value["n"], "n"),
        time_ms=_uint(value["ts"], "ts"),
        nonce=_bytes(value["nonce"], "nonce", NONCE_SIZE),
        heartbeat_hash=_bytes(value["hb"], "hb", HASH_SIZE),
    )
    if echo.link != beat.link:
        raise ProtocolError(Code.WRONG_LINK, "echo names another link")
    if (echo.sender, echo.recipient) != (beat.recipient, beat.sender):
        raise ProtocolError(Code.UNKNOWN_SENDER, "echo is not from the party we sent to")
    if (echo.path, echo.counter, echo.nonce, echo.heartbeat_hash) != (
        beat.path,
        beat.counter,
        beat.nonce,
        beat.hash,
    ):
        raise ProtocolError(Code.REPLAY, "echo answers another heartbeat")
    return echo


# Progress -------------------------------------------------------------------


def sign_progress(me: PrivateIdentity, *, link: str, to: str, have: int) -> bytes:
    """Signature over "``me`` holds ``to``'s chain on ``link`` up to ``have``"."""
    _uint(have, "have")
    return me.sign(CONTEXT + _progress_bytes(link, me.party, to, have))


def verify_progress(
    signature: bytes, *, signer_key: bytes, link: str, signer: str, to: str, have: int
) -> None:
    verify_signature(signer_key, CONTEXT + _progress_bytes(link, signer, to, have), signature)


def _progress_bytes(link: str, sender: str, to: str, have: int) -> bytes:
    value = {"t": "have", "link": link, "from": sender, "to": to, "have": have}
    assert set(value) == _PROGRESS_FIELDS
    return encode(value)


# Helpers --------------------------------------------------------------------


def _wrap(me: PrivateIdentity, signed: bytes) -> bytes:
    return encode([LIVENESS_VERSION, signed, me.sign(CONTEXT + signed)])


def _unwrap(
    data: bytes, key: bytes, fields: frozenset[str], what: str
) -> tuple[bytes, dict[str, Any]]:
    outer = decode(data, max_size=MAX_MESSAGE_BYTES)
    if not isinstance(outer, list) or len(outer) != 3:
        raise ProtocolError(Code.MALFORMED, f"{what} must be [version, signed, signature]")
    version, signed, signature = outer
    if not is_version(version, LIVENESS_VERSION):
        raise ProtocolError(Code.UNSUPPORTED_VERSION, f"{what} version {version!r}")
    if not isinstance(signed, bytes) or not isinstance(signature, bytes):
        raise ProtocolError(Code.MALFORMED, f"{what} signed part and signature are byte strings")
    if len(signature) != SIGNATURE_SIZE:
        raise ProtocolError(Code.BAD_SIGNATURE, "signature must be 64 bytes")
    verify_signature(key, CONTEXT + signed, signature)
    value = decode(signed, max_size=MAX_MESSAGE_BYTES)
    if not isinstance(value, dict) or set(value) != fields or value.get("t") != what:
        raise ProtocolError(Code.MALFORMED, f"{what} fields are missing or unexpected")
    return signed, value


def _check_heartbeat_fields(beat: Heartbeat) -> None:
    _text(beat.link, "link", MAX_LINK_CHARS)
    _name(beat.sender, "from")
    _name(beat.recipient, "to")
    _text(beat.path, "path", MAX_PATH_CHARS)
    _uint(beat.counter, "n")
    _uint(beat.time_ms, "ts")
    _bytes(beat.nonce, "nonce", NONCE_SIZE)


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ProtocolError(Code.MALFORMED, f"{field} must be text of 1..{limit} characters")
    return value


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ProtocolError(Code.MALFORMED, f"{field} must be a party name")
    return value


def _uint(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_UINT:
        raise ProtocolError(Code.MALFORMED, f"{field} must be an unsigned integer")
    return value


def _bytes(value: Any, field: str, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise ProtocolError(Code.MALFORMED, f"{field} must be {size} bytes")
    return value
