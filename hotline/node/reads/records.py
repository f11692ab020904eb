"""Frozen copies of stored rows, as the read models hand them over.

Each copy has the table's column names, so a page reads ``link.name`` or
``message.body`` as it always did, with no session behind it and nothing to change.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self


@dataclass(frozen=True)
class _Record:
    @classmethod
    def of(cls, row: object) -> Self:
        """The copy of ``row``: each field read from the column of the same name."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class LinkRecord(_Record):
    id: str
    name: str
    purpose: str
    role: str
    peer_party: str
    peer_signing_key: bytes
    peer_encryption_key: bytes
    peer_tls_certificate: bytes
    peer_endpoints: list[str]
    invitation_signed: bytes
    invitation_signature: bytes
    acceptance_signed: bytes
    acceptance_signature: bytes
    created_ms: int
    own_seq: int
    own_head: bytes | None
    peer_seq: int
    peer_head: bytes | None
    peer_has_seq: int
    record_length: int
    last_sent_ms: int | None
    last_received_ms: int | None
    share_displayed: bool
    replies_need_approval: bool


@dataclass(frozen=True)
class PathRecord(_Record):
    id: int
    link_id: str
    position: int
    kind: str
    url: str
    certificate: bytes | None
    state: str
    active: bool
    last_good_ms: int | None
    last_attempt_ms: int | None
    rtt_ms: int | None
    failures: int
    successes: int
    changed_ms: int
    created_ms: int
    avoid_until_ms: int | None


@dataclass(frozen=True)
class MessageRecord(_Record):
    id: str
    link_id: str
    direction: str
    sender: str
    seq: int
    kind: str
    body: dict[str, Any]
    ref: str | None
    created_ms: int
    queued_ms: int | None
    transmitted_ms: int | None
    delivered_ms: int | None
    received_ms: int | None
    displayed_ms: int | None
    displayed_by: str | None
    acknowledged_ms: int | None
    acknowledged_by: str | None
    answered_ms: int | None
    answered_by: str | None
    channel: str
    criterion: str | None


@dataclass(frozen=True)
class DraftRecord(_Record):
    id: int
    link_id: str
    author: str
    text: str
    lang: str
    ref: str | None
    state: str
    created_ms: int
    updated_ms: int
    submitted_ms: int | None
    decided_by: str | None
    decided_ms: int | None
    decision_note: str | None
    sent_message_id: str | None


@dataclass(frozen=True)
class CallRecord(_Record):
    id: str
    link_id: str
    direction: str
    state: str
    topic: str | None
    requested_by: str
    requested_ms: int
    ring_timeout_ms: int
    answered_by: str | None
    answered_ms: int | None
    decline_reason: str | None
    ended_by: str | None
    ended_ms: int | None
    seen_by: str | None
    seen_ms: int | None


@dataclass(frozen=True)
class ActivationRecord(_Record):
    """An emergency activation."""

    id: int
    link_id: str
    state: str
    requested_by: str
    requested_label: str
    criterion: str
    justification: str
    text: str
    lang: str
    policy_version: int
    created_ms: int
    decided_by: str | None
    decided_label: str | None
    decided_ms: int | None
    decision_note: str | None
    message_id: str | None


@dataclass(frozen=True)
class AlertRecord(_Record):
    id: int
    link_id: str | None
    kind: str
    target_role: str | None
    target_user: str | None
    message_id: str | None
    text: str
    data: dict[str, Any]
    created_ms: int
    cleared_ms: int | None
    cleared_by: str | None


@dataclass(frozen=True)
class LinkTestRecord(_Record):
    id: str
    link_id: str
    direction: str
    seq: int
    state: str
    sent_ms: int
    deadline_ms: int
    confirmed_ms: int | None
    confirmed_by: str | None
    confirm_entry: str | None


__all__ = [
    "ActivationRecord",
    "AlertRecord",
    "CallRecord",
    "DraftRecord",
    "LinkRecord",
    "LinkTestRecord",
    "MessageRecord",
    "PathRecord",
]
