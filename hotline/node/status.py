"""What ``hotline status`` and the local API's ``/api/v1/status`` show: per link, its
outbox, held entries and messages. Read from the database alone, so a command can
read it without loading the rest of the node."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..storage.models import Entry, Held, Link, Message, Outbox


@dataclass(frozen=True)
class LinkStatus:
    link: Link
    outbox_depth: int
    oldest_queued_ms: int | None
    held: int
    messages_out: int
    messages_in: int
    awaiting_delivery: int


def link_statuses(session: Session) -> list[LinkStatus]:
    return [
        _status(session, link) for link in session.scalars(select(Link).order_by(Link.created_ms))
    ]


def _status(session: Session, link: Link) -> LinkStatus:
    depth, oldest = session.execute(
        select(func.count(), func.min(Entry.stored_ms))
        .select_from(Outbox)
        .join(Entry, (Entry.link_id == Outbox.link_id) & (Entry.id == Outbox.entry_id))
        .where(Outbox.link_id == link.id)
    ).one()
    counts = dict(
        session.execute(
            select(Message.direction, func.count())
            .where(Message.link_id == link.id)
            .group_by(Message.direction)
        ).all()
    )
    awaiting = session.scalar(
        select(func.count()).where(
            Message.link_id == link.id,
            Message.direction == "out",
            Message.delivered_ms.is_(None),
        )
    )
    held = session.scalar(select(func.count()).where(Held.link_id == link.id))
    return LinkStatus(
        link=link,
        outbox_depth=int(depth),
        oldest_queued_ms=None if oldest is None else int(oldest),
        held=int(held or 0),
        messages_out=int(counts.get("out", 0)),
        messages_in=int(counts.get("in", 0)),
        awaiting_delivery=int(awaiting or 0),
    )


def read_statuses(database_url: str) -> list[LinkStatus]:
    """The statuses read from the database at ``database_url`` (a node that is not
    serving), on an engine of their own."""
    from ..storage.database import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine, read_only=True)() as session:
            return link_statuses(session)
    finally:
        engine.dispose()
