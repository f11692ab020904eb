"""Refusal codes: every rejected input names exactly one of these."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    MALFORMED = "malformed"
    NON_CANONICAL = "non_canonical"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KIND = "unknown_kind"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_SENDER = "unknown_sender"
    WRONG_LINK = "wrong_link"
    WRONG_RECIPIENT = "wrong_recipient"
    DECRYPT_FAILED = "decrypt_failed"
    DIGEST_MISMATCH = "digest_mismatch"
    REPLAY = "replay"
    CHAIN_BROKEN = "chain_broken"
    SEQUENCE_GAP = "sequence_gap"
    BAD_REFERENCE = "bad_reference"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    # Link policies (hotline.protocol.policy).
    UNKNOWN_FIELD = "unknown_field"
    WRONG_VERSION = "wrong_version"


class ProtocolError(Exception):
    """An input the protocol refuses. ``code`` is stable; ``detail`` is for people."""

    def __init__(self, code: Code, detail: str) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail
