"""Rows inserted in bulk when the session next flushes or commits.

Record entries, outbox rows and messages are written once and never changed by
the transaction that writes them. Staged, they are inserted with one
Core statement per table and set of columns, in the order staged, instead of one
ORM object each through the unit of work (which was most of a send's cost).

They are inserted before anything the ORM flushes, and before commit. Whoever
stages an entry, outbox row or message also changes the link whose chain it
extends, so a later query that autoflushes finds them; code that turns autoflush
off calls ``session.flush()`` or :func:`insert_staged` before a query that must see
them (see ingest.py and record_store.find_entry).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction

_STAGED = "hotline.staged_rows"


def stage(session: Session, table: Table, row: dict[str, Any]) -> None:
    staged: list[tuple[Table, dict[str, Any]]] = session.info.setdefault(_STAGED, [])
    staged.append((table, row))


def stage_object(session: Session, obj: DeclarativeBase) -> None:
    """Stage a new, transient mapped object's row (every column; unset ones NULL).
    The object stays transient: the caller may read it, not change it."""
    table = cast(Table, obj.__table__)
    stage(session, table, {column.key: getattr(obj, column.key) for column in table.columns})


def insert_staged(session: Session) -> None:
    staged: list[tuple[Table, dict[str, Any]]] | None = session.info.pop(_STAGED, None)
    if not staged:
        return
    groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for table, row in staged:
        groups.setdefault((table, tuple(row)), []).append(row)
    connection = session.connection()
    for (table, _), rows in groups.items():
        connection.execute(table.insert(), rows)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    insert_staged(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    insert_staged(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_staged(session: Session, transaction: SessionTransaction) -> None:
    # Rolled back (or a commit that failed): the staged rows go with the rest.
    if transaction.parent is None:
        session.info.pop(_STAGED, None)
