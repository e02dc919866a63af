"""Async engines for SQLite (WAL, a busy timeout, BEGIN IMMEDIATE for writes) and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

#: Execution option marking a connection whose transaction writes (SQLite: BEGIN IMMEDIATE).
WRITE = "musekit_write"

#: Seconds a SQLite writer waits for another process's write lock.
SQLITE_BUSY_TIMEOUT = 30
#: Seconds to open a PostgreSQL connection.
CONNECT_TIMEOUT = 10


def make_engine(url: sa.URL) -> AsyncEngine:
    """An engine for ``url`` (a musekit store URL: aiosqlite or asyncpg)."""
    if url.get_backend_name() != "sqlite":
        return create_async_engine(
            url, pool_pre_ping=True, connect_args={"timeout": CONNECT_TIMEOUT}
        )
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
    sa.event.listen(engine.sync_engine, "connect", _sqlite_connect)
    sa.event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


async def writing(conn: AsyncConnection) -> AsyncConnection:
    """The connection, marked so that its next transaction takes the write lock at once.

    On SQLite, a transaction that reads and then writes can fail at once with "database is
    locked" when another writer got in between; one that starts with the write lock waits.
    """
    return await conn.execution_options(**{WRITE: True})


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver emits no BEGIN: _sqlite_begin does
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT * 1000}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
