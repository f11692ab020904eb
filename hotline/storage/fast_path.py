"""The fast SQL path: what every send, receive and reply to a push writes and reads,
without SQLAlchemy's per-statement machinery. Everything else goes through the ORM.

Two parts, one interface:

- **Staged writes.** Record entries, outbox rows and messages are written once and
  never changed by the transaction that writes them. :func:`stage_new` stages such a
  row and hands back a transient object to read; :func:`stage_update` stages an
  UPDATE of a row by primary key (a link's chain heads and counters, which change
  with every entry). What is staged is written with one statement per table and set
  of columns, in the order staged, before anything the ORM flushes and before commit
  (:func:`insert_staged`, run by the session's ``before_flush`` and ``before_commit``
  events), and forgotten on rollback. Whoever stages a row also changes the link
  whose chain it extends, so a later query that autoflushes finds it; code that turns
  autoflush off calls ``session.flush()`` or :func:`insert_staged` before a query that
  must see it. :func:`insert_rows` writes rows at once (the event log).
- **Statements on the driver's cursor.** :class:`Prepared` wraps a Core statement,
  compiled by SQLAlchemy once per dialect, and runs it straight on the driver's
  cursor inside the caller's connection and transaction (:func:`execute` for raw
  SQL). What stays as through SQLAlchemy: the SQL, the conversions of parameters and
  columns (its bind and result processors), the connection and transaction, and the
  errors (raised as SQLAlchemy's). What is given up: execution events and expanding
  parameters (refused when first compiled).

Why: SQLAlchemy's execution path (events, an execution context, a result object) and
the unit of work cost more than the database's own work on these small statements;
``python -m bench.instructions`` counts what this saves (runs in bench/RESULTS.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Dialect, Table, and_, bindparam, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql.expression import ClauseElement


def execute(
    connection: Connection, sql: str, parameters: Any = (), *, many: bool = False
) -> list[tuple[Any, ...]]:
    """Run ``sql`` (in the driver's parameter style); the rows it returns, if any."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
            return []
        cursor.execute(sql, parameters)
        return list(cursor.fetchall()) if cursor.description else []
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, parameters, exc, connection.dialect.loaded_dbapi.Error
        ) from exc
    finally:
        cursor.close()


_Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    defaults: dict[str, Any]  # parameters the statement carries itself (LIMIT 1, 'out')
    order: tuple[str, ...] | None  # positional drivers: the parameters' order
    # SQLAlchemy's conversions, where a type has one (JSON, booleans on SQLite...).
    bind_processors: dict[str, _Convert]
    result_processors: tuple[_Convert | None, ...] | None  # None: no column has one

    def bind(self, parameters: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters: a tuple in order (SQLite's ?) or a dict (%(name)s)."""
        values = {**self.defaults, **parameters}
        for name, convert in self.bind_processors.items():
            values[name] = convert(values[name])
        return values if self.order is None else tuple(values[n] for n in self.order)


class Prepared:
    """A Core statement, compiled once per dialect, run on the driver's cursor, with
    the conversions SQLAlchemy would apply to its parameters and result columns.
    Expanding parameters (``IN`` lists) are refused when first compiled."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        compiled = self._for(connection.dialect)
        rows = execute(connection, compiled.sql, compiled.bind(parameters))
        if compiled.result_processors is None:
            return rows
        converters = compiled.result_processors
        return [
            tuple(v if c is None else c(v) for v, c in zip(row, converters, strict=True))
            for row in rows
        ]

    def scalar(self, connection: Connection, parameters: dict[str, Any]) -> Any:
        rows = self.rows(connection, parameters)
        return rows[0][0] if rows else None

    def execute_many(self, connection: Connection, parameter_sets: list[dict[str, Any]]) -> None:
        """Run the statement (a write) once for each set of parameters, in one call to
        the driver."""
        compiled = self._for(connection.dialect)
        bound = [compiled.bind(parameters) for parameters in parameter_sets]
        if len(bound) == 1:
            execute(connection, compiled.sql, bound[0])
        else:
            execute(connection, compiled.sql, bound, many=True)

    def _for(self, dialect: Dialect) -> _Compiled:
        return self._compiled.get(dialect.name) or self._compile(dialect)

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=dialect)
        bind_processors = {}
        for name in compiled.params:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"parameter {name} is an expanding list: not supported here")
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                bind_processors[name] = convert
        result_processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in getattr(self.statement, "exported_columns", ())
        )
        order = tuple(compiled.positiontup) if compiled.positional else None
        result = _Compiled(
            str(compiled),
            dict(compiled.params),
            order,
            bind_processors,
            result_processors if any(result_processors) else None,
        )
        self._compiled[dialect.name] = result
        return result


# Staged writes.

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
    cursor (:class:`Prepared`), the statement compiled once per dialect, table and set of
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
