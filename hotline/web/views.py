"""JSON views of stored rows, shared by the local API and the CLI.

The views name only the fields they show: the protocols below describe them, so this
layer reads what the node hands over without knowing how it is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..node.status import LinkStatus


class StoredMessage(Protocol):
    """A message as its view reads it (the ladder's ``*_ms`` rungs are read by name)."""

    @property
    def id(self) -> str: ...
    @property
    def link_id(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def sender(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def criterion(self) -> str | None: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def ref(self) -> str | None: ...
    @property
    def created_ms(self) -> int: ...
    @property
    def received_ms(self) -> int | None: ...
    @property
    def displayed_by(self) -> str | None: ...
    @property
    def acknowledged_by(self) -> str | None: ...
    @property
    def answered_by(self) -> str | None: ...


class StoredLink(Protocol):
    """A link as its view reads it."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def peer_party(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def peer_endpoints(self) -> list[str]: ...
    @property
    def own_seq(self) -> int: ...
    @property
    def peer_seq(self) -> int: ...
    @property
    def peer_has_seq(self) -> int: ...
    @property
    def record_length(self) -> int: ...
    @property
    def last_sent_ms(self) -> int | None: ...
    @property
    def last_received_ms(self) -> int | None: ...


class StoredPath(Protocol):
    """A path as its view reads it."""

    @property
    def id(self) -> int: ...
    @property
    def link_id(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def last_good_ms(self) -> int | None: ...
    @property
    def last_attempt_ms(self) -> int | None: ...
    @property
    def rtt_ms(self) -> int | None: ...
    @property
    def failures(self) -> int: ...
    @property
    def changed_ms(self) -> int: ...
    @property
    def avoid_until_ms(self) -> int | None: ...


LADDER = ("queued", "transmitted", "delivered", "displayed", "acknowledged", "answered")


def message_view(message: StoredMessage) -> dict[str, Any]:
    ladder = {rung: getattr(message, f"{rung}_ms", None) for rung in LADDER}
    if message.direction == "in":
        ladder["queued"] = None
        ladder["received"] = message.received_ms
    return {
        "id": message.id,
        "link_id": message.link_id,
        "direction": message.direction,
        "sender": message.sender,
        "seq": message.seq,
        "kind": message.kind,
        "channel": message.channel,
        "criterion": message.criterion,
        "body": message.body,
        "ref": message.ref,
        "created_ms": message.created_ms,
        "status": message_status(message),
        "ladder": ladder,
        "displayed_by": message.displayed_by,
        "acknowledged_by": message.acknowledged_by,
        "answered_by": message.answered_by,
    }


def message_views(
    messages: Sequence[StoredMessage], agreed: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Message views, each agreed text with ``agreed``'s view of it (its exact rendering
    in every language: :func:`hotline.node.language.agreed_messages.agreed_views`)."""
    views = [message_view(m) for m in messages]
    for view in views:
        if view["id"] in agreed:
            view["agreed"] = agreed[view["id"]]
    return views


def message_status(message: StoredMessage) -> str:
    if message.direction == "in":
        for rung in ("answered", "acknowledged", "displayed"):
            if getattr(message, f"{rung}_ms") is not None:
                return rung
        return "received"
    for rung in reversed(LADDER):
        if getattr(message, f"{rung}_ms", None) is not None:
            return rung
    return "queued"


def link_view(link: StoredLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "name": link.name,
        "purpose": link.purpose,
        "peer": link.peer_party,
        "role": link.role,
        "endpoints": link.peer_endpoints,
        "own_seq": link.own_seq,
        "peer_seq": link.peer_seq,
        "peer_has_seq": link.peer_has_seq,
        "record_length": link.record_length,
        "last_sent_ms": link.last_sent_ms,
        "last_received_ms": link.last_received_ms,
    }


def status_view(status: LinkStatus) -> dict[str, Any]:
    return {
        **link_view(status.link),
        "outbox_depth": status.outbox_depth,
        "oldest_queued_ms": status.oldest_queued_ms,
        "held": status.held,
        "messages_out": status.messages_out,
        "messages_in": status.messages_in,
        "awaiting_delivery": status.awaiting_delivery,
    }


def path_view(path: StoredPath) -> dict[str, Any]:
    return {
        "id": path.id,
        "link_id": path.link_id,
        "position": path.position,
        "kind": path.kind,
        "url": path.url,
        "state": path.state,
        "active": path.active,
        "last_good_ms": path.last_good_ms,
        "last_attempt_ms": path.last_attempt_ms,
        "rtt_ms": path.rtt_ms,
        "failures": path.failures,
        "changed_ms": path.changed_ms,
        "avoid_until_ms": path.avoid_until_ms,  # set by an escalation's switch_path
    }
