"""The receipt ladder: transmitted → delivered → displayed → acknowledged → answered.

Each rung is set once, from an entry in the record (the peer's signed receipt or
reply) or, for "transmitted", from the peer's transport-level acknowledgement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ...protocol.kinds import Kind
from ...storage.fast_path import Prepared, stage_new
from ...storage.models import ENTRIES, MESSAGES, Entry, Message
from ..calls import CALL_KINDS, apply_peer_call_entry
from ..events import record_event
from ..language.documents import DOCUMENT_KINDS, apply_peer_document_entry
from ..language.translation_store import apply_peer_translation
from ..message_text import MESSAGE_KINDS
from ..rules.emergency import on_incoming as on_emergency
from ..rules.link_tests import TEST_KINDS, apply_peer_test_entry
from ..rules.policy import apply_peer_policy_entry

# Built once: these run for every push and receipt, and building a statement
# costs more than running it.
_ENTRY_SEQ = Prepared(
    select(ENTRIES.c.seq).where(
        ENTRIES.c.link_id == bindparam("link_id"), ENTRIES.c.id == bindparam("entry_id")
    )
)


def _set_outgoing(column: str) -> Prepared:
    """UPDATE our messages up to seq :through whose ``column`` is unset, to :at."""
    return Prepared(
        update(MESSAGES)
        .where(
            MESSAGES.c.link_id == bindparam("link"),
            MESSAGES.c.direction == "out",
            MESSAGES.c.seq <= bindparam("through"),
            MESSAGES.c[column].is_(None),
        )
        .values({column: bindparam("at")})
        .returning(MESSAGES.c.id)
    )


_SET_DELIVERED = _set_outgoing("delivered_ms")
_SET_TRANSMITTED = _set_outgoing("transmitted_ms")


def stage_message(
    session: Session, entry: Entry, body: dict[str, Any], *, direction: str, now_ms: int
) -> Message:
    """Stage the ladder row of the message ``entry`` carries."""
    emergency = body.get("channel") == "emergency"
    criterion = body.get("criterion") if emergency else None
    return stage_new(
        session,
        Message,
        id=entry.id,
        link_id=entry.link_id,
        direction=direction,
        sender=entry.sender,
        seq=entry.seq,
        kind=entry.kind,
        body=body,
        ref=entry.ref,
        created_ms=entry.time_ms,
        queued_ms=now_ms if direction == "out" else None,
        received_ms=now_ms if direction == "in" else None,
        channel="emergency" if emergency else "routine",
        criterion=criterion[:64] if isinstance(criterion, str) else None,
    )


def apply_peer_entry(
    session: Session, entry: Entry, kind: Kind, body: dict[str, Any], *, now_ms: int
) -> None:
    """Update our view after the peer's entry ``entry`` entered the record."""
    if kind in MESSAGE_KINDS:
        message = stage_message(session, entry, body, direction="in", now_ms=now_ms)
        record_event(
            session,
            "message.received",
            {
                "id": entry.id,
                "sender": entry.sender,
                "seq": entry.seq,
                "kind": kind.value,
                "body": body,
                "ref": entry.ref,
                "sent_ms": entry.time_ms,
                "received_ms": now_ms,
                "channel": message.channel,
            },
            link_id=entry.link_id,
            now_ms=now_ms,
        )
        if message.channel == "emergency":
            on_emergency(session, entry, message, body, now_ms)
        if entry.ref is not None:
            _set_rung(session, entry, entry.ref, "answered", by=entry.id, now_ms=now_ms)
        return
    if kind in CALL_KINDS:
        apply_peer_call_entry(session, entry, kind, body, now_ms=now_ms)
        return
    if kind in (Kind.POLICY_PROPOSE, Kind.POLICY_ACCEPT):
        apply_peer_policy_entry(session, entry, kind, body, now_ms=now_ms)
        return
    if kind in DOCUMENT_KINDS:
        apply_peer_document_entry(session, entry, kind, body, now_ms=now_ms)
        return
    if kind in TEST_KINDS:
        apply_peer_test_entry(session, entry, kind, body, now_ms=now_ms)
        return
    if kind is Kind.TRANSLATION:
        apply_peer_translation(session, entry, body, now_ms=now_ms)
        return
    if kind is Kind.RECEIPT_DELIVERED and entry.ref is not None:
        _mark_delivered(session, entry, at_ms=entry.time_ms, now_ms=now_ms)
        return
    rung = {
        Kind.RECEIPT_DISPLAYED: "displayed",
        Kind.RECEIPT_ACKNOWLEDGED: "acknowledged",
    }.get(kind)
    if rung is not None and entry.ref is not None:
        by = body.get("by") if isinstance(body.get("by"), str) else None
        _set_rung(session, entry, entry.ref, rung, by=by, at_ms=entry.time_ms, now_ms=now_ms)


def _set_rung(
    session: Session,
    entry: Entry,
    message_id: str,
    rung: str,
    *,
    by: str | None,
    now_ms: int,
    at_ms: int | None = None,
) -> None:
    at = at_ms if at_ms is not None else now_ms
    column = getattr(Message, f"{rung}_ms")
    values: dict[str, Any] = {f"{rung}_ms": at}
    if rung in ("displayed", "acknowledged", "answered"):
        values[f"{rung}_by"] = by
    result = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.direction == "out", column.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        record_event(
            session,
            "message.ladder",
            {"id": message_id, "rung": rung, "at_ms": at, "by": by, "entry": entry.id},
            link_id=entry.link_id,
            now_ms=now_ms,
        )


def _mark_delivered(session: Session, receipt: Entry, *, at_ms: int, now_ms: int) -> None:
    """A delivery receipt is cumulative: the entry it names (checked against its hash
    on ingest) and, through that entry's chain, every earlier one of ours."""
    # On the driver: this runs for every receipt, and our messages are not ORM
    # objects here.
    connection = session.connection()
    through = _ENTRY_SEQ.scalar(connection, {"link_id": receipt.link_id, "entry_id": receipt.ref})
    if through is None:
        return
    rows = _SET_DELIVERED.rows(
        connection, {"link": receipt.link_id, "through": through, "at": at_ms}
    )
    for (message_id,) in rows:
        record_event(
            session,
            "message.ladder",
            {
                "id": message_id,
                "rung": "delivered",
                "at_ms": at_ms,
                "by": None,
                "entry": receipt.id,
            },
            link_id=receipt.link_id,
            now_ms=now_ms,
        )


def mark_transmitted(session: Session, link_id: str, up_to_seq: int, *, now_ms: int) -> list[str]:
    """The peer holds our chain up to ``up_to_seq``: set "transmitted" where unset."""
    parameters = {"link": link_id, "through": up_to_seq, "at": now_ms}
    rows = _SET_TRANSMITTED.rows(session.connection(), parameters)
    ids = [r[0] for r in rows]
    for message_id in ids:
        record_event(
            session,
            "message.ladder",
            {"id": message_id, "rung": "transmitted", "at_ms": now_ms, "by": None},
            link_id=link_id,
            now_ms=now_ms,
        )
    return ids
