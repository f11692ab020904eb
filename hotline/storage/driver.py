"""Statements run on the database driver's own cursor, inside SQLAlchemy's
connection and transaction.

SQLAlchemy's execution path (events, an execution context, a result object) costs
more than SQLite's own work on a small statement. The statements that run in
every send, receive and reply to a push are compiled by SQLAlchemy once per
dialect (and, for staged writes, set of columns: see staging.py) and then go
straight to the cursor, as does each transaction's BEGIN. Counted with callgrind
on one send, receive and reply (``python -m bench.instructions``): 15.8 million
instructions before, 14.2 million with the staged writes and BEGIN here, 12.6
million with the reads and updates of :class:`Prepared` too. Errors are raised as
SQLAlchemy's, as if it had run the statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
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


@dataclass(frozen=True)
class _Compiled:
    sql: str
    defaults: dict[str, Any]  # parameters the statement carries itself (LIMIT 1, 'out')
    order: tuple[str, ...] | None  # positional drivers: the parameters' order


class Prepared:
    """A Core statement, compiled once per dialect, run on the driver's cursor. Only
    for statements whose parameters and result columns SQLAlchemy would pass through
    unconverted (text, integers, bytes): others are refused when first compiled."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        values = {**compiled.defaults, **parameters}
        if compiled.order is None:
            return execute(connection, compiled.sql, values)
        return execute(connection, compiled.sql, tuple(values[n] for n in compiled.order))

    def scalar(self, connection: Connection, parameters: dict[str, Any]) -> Any:
        rows = self.rows(connection, parameters)
        return rows[0][0] if rows else None

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=dialect)
        for name in compiled.params:
            bind = compiled.binds[name]
            if bind.expanding or bind.type.dialect_impl(dialect).bind_processor(dialect):
                raise ValueError(f"parameter {name} needs converting by SQLAlchemy")
        for column in getattr(self.statement, "exported_columns", ()):
            if column.type.dialect_impl(dialect).result_processor(dialect, None):
                raise ValueError(f"column {column.key} needs converting by SQLAlchemy")
        order = tuple(compiled.positiontup) if compiled.positional else None
        result = _Compiled(str(compiled), dict(compiled.params), order)
        self._compiled[dialect.name] = result
        return result
