"""Rows inserted in bulk, and row updates, when the session next flushes or commits.

Record entries, outbox rows and messages are written once and never changed by
the transaction that writes them. Staged, they are inserted with one
Core statement per table and set of columns, in the order staged, instead of one
ORM object each through the unit of work (which was most of a send's cost).
A link's chain heads and counters change with every entry: those changes are
staged as one UPDATE per row (:func:`stage_update`), also without the unit of work.

They are inserted before anything the ORM flushes, and before commit. Whoever
stages an entry, outbox row or message also changes the link whose chain it
extends, so a later query that autoflushes finds them; code that turns autoflush
off calls ``session.flush()`` or :func:`insert_staged` before a query that must see
them (see ingest.py and record_store.find_entry).
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Table, and_, bindparam, event
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction
from sqlalchemy.orm.instrumentation import manager_of_class

from .driver import Prepared

_STAGED = "hotline.staged_rows"
_UPDATES = "hotline.staged_updates"


def stage(session: Session, table: Table, row: dict[str, Any]) -> None:
    staged: list[tuple[Table, dict[str, Any]]] = session.info.setdefault(_STAGED, [])
    staged.append((table, row))


_Mapped = TypeVar("_Mapped", bound=DeclarativeBase)


def stage_new(session: Session, cls: type[_Mapped], **values: Any) -> _Mapped:
    """Stage a new row of ``cls`` (every column; unset ones NULL) and return it as
    a transient object, to read, not to change or add to a session."""
    table = cast(Table, cls.__table__)
    keys = column_keys(table)
    if not values.keys() <= keys.keys():
        raise TypeError(f"not columns of {table.name}: {sorted(values.keys() - keys.keys())}")
    row = {key: values.get(key) for key in keys}
    stage(session, table, row)
    return outside_session(cls, row)


def outside_session(cls: type[_Mapped], row: dict[str, Any]) -> _Mapped:
    """An object of ``cls`` holding ``row`` (column key to value), made as the ORM
    makes loaded ones: its values put in place rather than set one by one through
    the attribute events (which cost seven times as much, and record changes nothing
    will flush). No session holds it: read it, do not change it."""
    obj: _Mapped = manager_of_class(cls).new_instance()
    obj.__dict__.update(row)
    return obj


@functools.cache
def column_keys(table: Table) -> dict[str, None]:
    """The table's column keys, in table order."""
    return dict.fromkeys(column.key for column in table.columns)


def stage_update(
    session: Session, table: Table, key: tuple[Any, ...], values: dict[str, Any]
) -> None:
    """Stage an UPDATE of the row whose primary key is ``key``; later values for
    the same row and column replace earlier ones."""
    updates: dict[tuple[Table, tuple[Any, ...]], dict[str, Any]]
    updates = session.info.setdefault(_UPDATES, {})
    updates.setdefault((table, key), {}).update(values)


def insert_staged(session: Session) -> None:
    """Write what is staged: the inserts, then the updates."""
    staged: list[tuple[Table, dict[str, Any]]] | None = session.info.pop(_STAGED, None)
    updates: dict[tuple[Table, tuple[Any, ...]], dict[str, Any]] | None
    updates = session.info.pop(_UPDATES, None)
    if not staged and not updates:
        return
    connection = session.connection()
    groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for table, row in staged or ():
        groups.setdefault((table, tuple(row)), []).append(row)
    for (table, _), rows in groups.items():
        insert_rows(connection, table, rows)
    for (table, key), values in (updates or {}).items():
        update_row(connection, table, key, values)


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) in one executemany on the driver's
    cursor (driver.py), the statement compiled once per dialect, table and set of
    columns: SQLAlchemy's own executemany builds every row's parameters through the
    compiled statement, which cost more than the database's work on those rows."""
    _insert_statement(table, tuple(rows[0])).execute_many(connection, rows)


def update_row(
    connection: Connection, table: Table, key: tuple[Any, ...], values: dict[str, Any]
) -> None:
    """UPDATE the row of ``table`` whose primary key is ``key``, setting ``values``,
    compiled once per table and set of columns like :func:`insert_rows`."""
    parameters = {f"new_{name}": value for name, value in values.items()}
    parameters.update((f"key_{i}", value) for i, value in enumerate(key))
    _update_statement(table, tuple(values)).execute_many(connection, [parameters])


@functools.lru_cache(maxsize=256)
def _insert_statement(table: Table, keys: tuple[str, ...]) -> Prepared:
    # inline(): no implicit RETURNING of generated keys (PostgreSQL would add one).
    return Prepared(table.insert().inline().values({k: bindparam(k) for k in keys}))


@functools.lru_cache(maxsize=256)
def _update_statement(table: Table, keys: tuple[str, ...]) -> Prepared:
    """UPDATE ... SET <key> = :new_<key>, ... WHERE <primary key> = :key_0 AND ..."""
    primary = table.primary_key.columns
    where = and_(*(column == bindparam(f"key_{i}") for i, column in enumerate(primary)))
    return Prepared(table.update().where(where).values({k: bindparam(f"new_{k}") for k in keys}))


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
        session.info.pop(_UPDATES, None)
