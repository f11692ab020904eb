"""Statements run on the database driver's own cursor, inside SQLAlchemy's
connection and transaction.

SQLAlchemy's execution path (events, an execution context, a result object) costs
more than SQLite's own work on a small statement. The statements that run in
every send, receive and reply to a push are compiled by SQLAlchemy once per
dialect (and, for staged writes, set of columns: see staging.py) and then go
straight to the cursor, as does each transaction's BEGIN.

What stays the same as going through SQLAlchemy: the SQL (SQLAlchemy compiles
it), the conversions of parameters and columns (its bind and result processors),
the connection and transaction (the caller's), and the errors (raised as
SQLAlchemy's, as if it had run the statement). What is given up: SQLAlchemy's
execution events and expanding parameters (refused). ``python -m
bench.instructions`` counts what this saves; its runs are in bench/RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Callable
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
