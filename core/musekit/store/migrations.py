"""Schema versions: a fresh database gets the latest schema; an older one runs the steps after
its version, each in a transaction of its own, under a lock, so that processes starting at the
same time neither collide nor apply a step twice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from musekit.store.engine import writing
from musekit.store.errors import SchemaTooNew
from musekit.store.schema import metadata, schema_version

#: PostgreSQL advisory lock key held while the schema is checked or changed ("musekit").
LOCK_KEY = int.from_bytes(b"musekit", "big")


@dataclass(frozen=True)
class Migration:
    """One step: brings a database at ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[sa.Connection], None]


#: Steps after version 1 (the first schema), in order. Each change to schema.py adds one.
MIGRATIONS: tuple[Migration, ...] = ()


def latest_version(steps: Sequence[Migration] = MIGRATIONS) -> int:
    """The version a database has once ``steps`` are applied."""
    for expected, step in enumerate(steps, start=2):
        if step.version != expected:
            raise ValueError(f"migration {step.version} is out of order (expected {expected})")
    return 1 + len(steps)


async def migrate(engine: AsyncEngine, where: str, steps: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database to the latest version and return it.

    Raises :class:`SchemaTooNew` for a database a newer musekit has migrated, changing nothing.
    """
    target = latest_version(steps)
    async with engine.connect() as plain:
        conn = await writing(plain)
        async with conn.begin():
            version = await _locked_version(conn)
            if version is None:
                await conn.run_sync(metadata.create_all)
                await conn.execute(schema_version.insert().values(version=target))
                return target
            _refuse_newer(version, target, where)
        for step in steps:
            async with conn.begin():
                version = await _locked_version(conn)
                assert version is not None
                _refuse_newer(version, target, where)
                if version < step.version:
                    await conn.run_sync(step.apply)
                    await conn.execute(schema_version.update().values(version=step.version))
    return target


async def current_version(conn: AsyncConnection) -> int | None:
    """The database's schema version; ``None`` for a database musekit has not set up."""
    has_table = await conn.run_sync(lambda sync: sa.inspect(sync).has_table("schema_version"))
    if not has_table:
        return None
    return int((await conn.execute(sa.select(schema_version.c.version))).scalar_one())


async def _locked_version(conn: AsyncConnection) -> int | None:
    """The version, read under the schema lock (SQLite: the write lock of BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_KEY)))
    return await current_version(conn)


def _refuse_newer(version: int, target: int, where: str) -> None:
    if version > target:
        raise SchemaTooNew(
            f"The store at {where} has schema version {version}, newer than this musekit "
            f"knows (version {target}): upgrade musekit, or set store.url to another database."
        )
