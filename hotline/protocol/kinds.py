"""Envelope kinds. Every event on a link is one of these, and all enter the record.

Kinds are namespaced strings so later features add kinds without a new envelope
version. A receiver refuses a kind it does not know (code ``unknown_kind``), so
both parties must upgrade before a new kind is used on a link.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    # Messages written by people (free text, or an agreed text by entry id + parameters).
    MESSAGE = "message"
    AGREED_TEXT = "message.agreed"
    # Receipts: the machine's "delivered" and the people's ladder rungs.
    RECEIPT_DELIVERED = "receipt.delivered"
    RECEIPT_DISPLAYED = "receipt.displayed"
    RECEIPT_ACKNOWLEDGED = "receipt.acknowledged"
    # Calls and live sessions.
    CALL_REQUEST = "call.request"
    CALL_ACCEPT = "call.accept"
    CALL_DECLINE = "call.decline"
    CALL_CANCEL = "call.cancel"
    CALL_MISSED = "call.missed"
    CALL_END = "call.end"
    SESSION_TEXT = "session.text"
    # Link policy, proposed by one side and countersigned by the other.
    POLICY_PROPOSE = "policy.propose"
    POLICY_ACCEPT = "policy.accept"
    # The phrasebook and the glossary agreed on a link, proposed and countersigned
    # like the policy (hotline.protocol.agreed_documents).
    PHRASEBOOK_PROPOSE = "phrasebook.propose"
    PHRASEBOOK_ACCEPT = "phrasebook.accept"
    GLOSSARY_PROPOSE = "glossary.propose"
    GLOSSARY_ACCEPT = "glossary.accept"
    # Human-confirmed link tests (machine heartbeats never enter the record).
    LINK_TEST = "link.test"
    LINK_TEST_CONFIRM = "link.test.confirm"
    # A translation attached to an earlier message.
    TRANSLATION = "translation"


RECEIPT_KINDS = frozenset(
    {Kind.RECEIPT_DELIVERED, Kind.RECEIPT_DISPLAYED, Kind.RECEIPT_ACKNOWLEDGED}
)
# Kinds that must name the entry they are about (ref and ref_hash both set).
REFERRING_KINDS = RECEIPT_KINDS | {
    Kind.CALL_ACCEPT,
    Kind.CALL_DECLINE,
    Kind.CALL_CANCEL,
    Kind.CALL_MISSED,
    Kind.CALL_END,
    Kind.SESSION_TEXT,
    Kind.POLICY_ACCEPT,
    Kind.PHRASEBOOK_ACCEPT,
    Kind.GLOSSARY_ACCEPT,
    Kind.LINK_TEST_CONFIRM,
    Kind.TRANSLATION,
}
# Kinds acknowledged by a signed delivery receipt. Receipts are not receipted.
RECEIPTED_KINDS = frozenset(Kind) - RECEIPT_KINDS
