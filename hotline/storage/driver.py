"""Statements run on the database driver's own cursor, inside SQLAlchemy's
connection and transaction.

SQLAlchemy's execution path (events, an execution context, a result object) costs
about as much as SQLite's own work on a small statement: a send, a receive and the
reply to a push, each one transaction, spent a tenth of their instructions there.
The few statements on that path whose SQL SQLAlchemy compiled once (see
staging.py), and the transaction's BEGIN, go straight to the cursor; errors are
raised as SQLAlchemy's, as if it had run them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def execute(connection: Connection, sql: str, parameters: Any = (), *, many: bool = False) -> Any:
    """Run ``sql`` (the driver's parameter style); the first row's first column, if
    it returns rows, else None."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
            return None
        cursor.execute(sql, parameters)
        row = cursor.fetchone() if cursor.description else None
        return None if row is None else row[0]
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, parameters, exc, connection.dialect.loaded_dbapi.Error
        ) from exc
    finally:
        cursor.close()
