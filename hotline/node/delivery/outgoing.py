"""A message on its way out: what a send asks for (:class:`Outgoing`), checked, and
appended to its link's chain and outbox in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from ...clock import now_ms
from ...errors import Reason
from ...protocol.keys import PrivateIdentity
from ...protocol.kinds import Kind
from ...storage.fast_path import insert_staged
from ...storage.models import LINKS, Link, Message
from ..events import record_event
from ..home import NodeError
from ..language.agreed_messages import outgoing_body
from ..message_text import MAX_TEXT_CHARS, MESSAGE_KINDS
from ..record_store import (
    LinkNotFound,
    Reference,
    append_own,
    find_entry,
    link_from_row,
    lock_link_outside_session,
)
from ..refusals import Refused
from ..runtime import NodeRuntime
from .ladder import stage_message


@dataclass(frozen=True)
class Outgoing:
    """A message to send: link name or id, body, kind, and the entry it answers."""

    link: str
    body: dict[str, Any]
    kind: Kind = Kind.MESSAGE
    ref: str | None = None


_LOCK_LINKS = (
    select(LINKS)
    .where(
        or_(
            LINKS.c.name.in_(bindparam("keys", expanding=True)),
            LINKS.c.id.in_(bindparam("keys", expanding=True)),
        )
    )
    .order_by(LINKS.c.id)
    .with_for_update()
)


def lock_links(session: Session, names_or_ids: set[str]) -> dict[str, Link]:
    """Lock the named links, in id order (no deadlock between concurrent batches),
    as Links the session does not hold (see lock_link_outside_session)."""
    if len(names_or_ids) == 1:
        (key,) = names_or_ids
        try:
            link = lock_link_outside_session(session, key, by_name=True)
        except LinkNotFound:
            return {}
        return {key: link}
    insert_staged(session)  # the rows are read afresh: this transaction's changes first
    rows = session.connection().execute(_LOCK_LINKS, {"keys": sorted(names_or_ids)})
    found: dict[str, Link] = {}
    for link in map(link_from_row, rows):
        for key in (link.id, link.name):
            if key in names_or_ids:
                found[key] = link
    return found


def append_message(
    session: Session, me: PrivateIdentity, link: Link, item: Outgoing, stamp: int
) -> Message:
    reference = None
    if item.ref is not None:
        target = find_entry(session, link.id, item.ref)
        if target is None:
            raise Refused(Reason.UNKNOWN_ENTRY, f"no entry {item.ref} on link {link.name}")
        reference = Reference(target.id, target.hash)
    entry, _ = append_own(session, link, me, item.kind, item.body, now_ms=stamp, ref=reference)
    message = stage_message(session, entry, item.body, direction="out", now_ms=stamp)
    record_event(
        session,
        "message.queued",
        {
            "id": entry.id,
            "seq": entry.seq,
            "kind": item.kind.value,
            "body": item.body,
            "ref": item.ref,
        },
        link_id=link.id,
        now_ms=stamp,
    )
    if item.ref is not None:
        session.execute(
            update(Message)
            .where(Message.id == item.ref, Message.direction == "in")
            .values(answered_ms=stamp, answered_by=entry.id)
        )
    return message


def check_body(kind: Kind, body: dict[str, Any]) -> None:
    """Refuse a body no send may carry: not a message, emergency outside an activation,
    empty or too long text."""
    if kind not in MESSAGE_KINDS:
        raise Refused(Reason.MALFORMED, f"{kind.value} is not a message kind")
    channel = body.get("channel", "routine")
    if channel != "routine":
        if channel != "emergency":
            raise Refused(Reason.UNKNOWN_CHANNEL, f"channel {channel!r}: 'emergency' or 'routine'")
        if not body.get("criterion"):
            raise Refused(
                Reason.NOT_AN_EMERGENCY,
                "the emergency channel is for the agreed criteria only, and this names none: "
                "send it as routine instead",
            )
        raise Refused(
            Reason.ACTIVATION_REQUIRED,
            "emergency messages leave through an activation (console, 'Desk.activate_emergency' "
            "or POST /api/v1/links/{link}/emergency), which checks the criterion and the "
            "two-person rule",
        )
    if kind is Kind.MESSAGE:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Refused(Reason.EMPTY, "a message needs non-empty text")
        if len(text) > MAX_TEXT_CHARS:
            raise Refused(
                Reason.TOO_LONG, f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}"
            )


def send_many(
    node: NodeRuntime, items: list[Outgoing], *, queued: bool = False
) -> list[Message | NodeError]:
    """Group commit: several messages, one transaction. Each item gets its message or
    the error that refused it; refused items write nothing. ``queued``: the items were
    counted by :meth:`~hotline.node.runtime.NodeRuntime.sends_queued`."""
    results: list[Message | NodeError] = []
    with node.transaction(settles_queued=len(items) if queued else 0) as session:
        links = lock_links(session, {item.link for item in items})
        stamp = now_ms()
        for item in items:
            try:
                check_body(item.kind, item.body)
                link = links.get(item.link)
                if link is None:
                    raise Refused(
                        Reason.UNKNOWN_LINK,
                        f"no link named {item.link!r}; see 'hotline link list'",
                    )
                if item.kind is Kind.AGREED_TEXT:
                    body = outgoing_body(session, link, item.body)
                    item = Outgoing(item.link, body, item.kind, item.ref)
                results.append(append_message(session, node.identity, link, item, stamp))
            except NodeError as exc:
                results.append(exc)
    return results


def send_many_if_idle(
    node: NodeRuntime, items: list[Outgoing], *, queued: bool = False
) -> list[Message | NodeError] | None:
    """:func:`send_many` on the calling thread, only on SQLite and only if no other
    thread of this process is writing; None (nothing done) otherwise. For the event
    loop's lone sends: a hand-off to a worker thread and back costs more than a small
    transaction when both cores are busy."""
    return node.write_if_idle(lambda: send_many(node, items, queued=queued))
