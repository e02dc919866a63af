"""Schema versions: fresh databases, upgrades that keep rows, newer databases refused,
failed steps rolled back, and processes starting at once; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from subprocess import PIPE

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from musekit import Invocation, Invoker
from musekit.store import SchemaTooNew, Store, open_store
from musekit.store.engine import make_engine
from musekit.store.migrations import MIGRATIONS, Migration, current_version, latest_version, migrate
from musekit.store.urls import shown, store_url

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    made = make_engine(_url(store_url))
    yield made
    await made.dispose()


def _url(raw: str) -> sa.URL:
    return store_url(raw)


async def version_of(engine: AsyncEngine) -> int | None:
    async with engine.connect() as conn:
        return await current_version(conn)


async def columns_of(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda sync: sa.inspect(sync).get_columns(table))
    return {column["name"] for column in found}


def add_mood(conn: sa.Connection) -> None:
    """A step a later musekit might add: a column, filled in for existing rows."""
    conn.execute(sa.text("ALTER TABLE invocations ADD COLUMN mood VARCHAR(20)"))
    conn.execute(sa.text("UPDATE invocations SET mood = 'calm'"))


def add_mood_then_fail(conn: sa.Connection) -> None:
    add_mood(conn)
    raise RuntimeError("the step broke half-way")


def test_the_steps_are_numbered_in_order_after_version_1() -> None:
    assert latest_version() == 1 + len(MIGRATIONS)
    assert [step.version for step in MIGRATIONS] == list(range(2, latest_version() + 1))
    with pytest.raises(ValueError, match="out of order"):
        latest_version([Migration(3, "skips 2", add_mood)])


async def test_a_fresh_database_gets_the_latest_schema(store_url: str) -> None:
    async with await open_store(store_url):
        pass
    engine = make_engine(_url(store_url))
    try:
        assert await version_of(engine) == latest_version()
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
            rows = (await conn.execute(sa.text("SELECT count(*) FROM schema_version"))).scalar()
        assert {"schema_version", "invocations", "ideas", "votes"} <= tables
        assert rows == 1
    finally:
        await engine.dispose()


async def test_an_older_database_is_upgraded_and_keeps_its_rows(
    store_url: str, engine: AsyncEngine
) -> None:
    async with await open_store(store_url) as store:
        inv = Invocation(command="write", params={"prompt": "fog"}, invoker=Invoker(user_id="u1"))
        await store.record_start(inv, started_at=T0)
        await store.record_finish(inv.id, status="ok", completion_tokens=9, finished_at=T0)
        (idea,) = await store.add_ideas(inv.id, ["a foghorn's song"])
        await store.vote(idea, "u2", 1)

    assert await migrate(engine, "test", [Migration(2, "moods", add_mood)]) == 2

    assert await version_of(engine) == 2
    async with engine.connect() as conn:
        moods = (await conn.execute(sa.text("SELECT mood FROM invocations"))).scalars().all()
    assert moods == ["calm"]
    store = Store(engine, where="test")
    record = await store.get(inv.id)
    assert record is not None
    assert (record.status, record.completion_tokens, record.params) == ("ok", 9, {"prompt": "fog"})
    assert [(i.text, i.up) for i in await store.ideas(inv.id)] == [("a foghorn's song", 1)]


async def test_a_failed_step_changes_nothing(store_url: str, engine: AsyncEngine) -> None:
    async with await open_store(store_url):
        pass

    with pytest.raises(RuntimeError, match="half-way"):
        await migrate(engine, "test", [Migration(2, "moods", add_mood_then_fail)])

    assert await version_of(engine) == 1
    assert "mood" not in await columns_of(engine, "invocations")


async def test_a_database_newer_than_this_musekit_is_refused_untouched(
    store_url: str, engine: AsyncEngine
) -> None:
    async with await open_store(store_url):
        pass
    await migrate(engine, "test", [Migration(2, "moods", add_mood)])

    with pytest.raises(SchemaTooNew) as refused:
        await open_store(store_url)

    message = refused.value.message
    assert f"The store at {shown(_url(store_url))} has schema version 2" in message
    assert "newer than this musekit knows (version 1): upgrade musekit" in message
    assert refused.value.exit_code == 1
    assert await version_of(engine) == 2
    assert "mood" in await columns_of(engine, "invocations")


START_AT_ONCE = textwrap.dedent(
    """
    import asyncio, sys, time
    from musekit.store.engine import make_engine
    from musekit.store.migrations import migrate
    from musekit.store.urls import store_url

    async def main(url: str, at: float) -> None:
        engine = make_engine(store_url(url))
        async with engine.connect():  # connected and warm, so that all migrate at once
            pass
        await asyncio.sleep(max(0.0, at - time.time()))
        await migrate(engine, "test")
        await engine.dispose()

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    print("migrated")
    """
)


async def open_at(url: str, at: float) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", START_AT_ONCE, url, str(at), stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode().strip(), err.decode()


async def test_processes_starting_at_once_set_up_the_schema_once(store_url: str) -> None:
    at = time.time() + 3  # every process has connected by then
    results = await asyncio.gather(*(open_at(store_url, at) for _ in range(3)))

    assert results == [(0, "migrated", "")] * 3
    engine = make_engine(_url(store_url))
    try:
        async with engine.connect() as conn:
            versions = (await conn.execute(sa.text("SELECT version FROM schema_version"))).all()
        assert [tuple(row) for row in versions] == [(latest_version(),)]
    finally:
        await engine.dispose()
