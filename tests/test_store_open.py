"""Opening the store: where it lives, which URLs work, clear errors without secrets,
concurrent writers on SQLite, and no database library loaded before it is needed."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pg_server import PostgresServer, free_port

from musekit import Invocation, Invoker
from musekit.errors import SettingsError
from musekit.settings import StoreSettings, load_settings
from musekit.store import Store, StoreUnavailable, open_store
from musekit.store.urls import store_url

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def record(store: Store, user: str = "u1") -> str:
    inv = Invocation(command="write", invoker=Invoker(user_id=user))
    await store.record_start(inv, started_at=T0)
    await store.record_finish(inv.id, status="ok", completion_tokens=3, finished_at=T0)
    return inv.id


async def test_by_default_a_sqlite_file_in_the_user_data_folder_is_created_on_first_use(
    tmp_path: Path,
) -> None:
    path = tmp_path / "xdg-data" / "musekit" / "musekit.db"  # the folder conftest points to
    assert not path.parent.exists()

    async with await open_store(StoreSettings()) as store:
        kept = await record(store)
        assert store.where == f"sqlite+aiosqlite:///{path}"

    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    async with await open_store() as store:
        assert [r.id for r in await store.history()] == [kept]


async def test_the_url_setting_names_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_STORE__URL", f"sqlite:///{tmp_path / 'team.db'}")

    async with await open_store(load_settings().store) as store:
        await record(store)

    assert (tmp_path / "team.db").is_file()
    assert not (tmp_path / "xdg-data").exists()


async def test_a_plain_postgresql_url_uses_the_async_driver(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    async with await open_store(plain) as store:
        assert store.dialect == "postgresql"
        await record(store)
        assert len(await store.history()) == 1


def test_urls_get_the_async_drivers_and_libpq_ssl_modes_become_asyncpg_ones() -> None:
    assert str(store_url("sqlite:///team.db")) == "sqlite+aiosqlite:///team.db"
    assert store_url("postgres://u:p@db/muse?sslmode=verify-full").render_as_string(False) == (
        "postgresql+asyncpg://u:p@db/muse?ssl=verify-full"
    )


async def test_an_in_memory_store_takes_concurrent_calls() -> None:
    async with await open_store("sqlite+aiosqlite:///:memory:") as store:
        kept = await asyncio.gather(*(record(store, f"u{i % 3}") for i in range(40)))
        reads = await asyncio.gather(*(store.tokens_used(f"u{i}", since=T0) for i in range(3)))
        assert len(await store.history(limit=100)) == 40
        assert sorted(kept) == sorted(r.id for r in await store.history(limit=100))
        assert sum(reads) == 40 * 3


async def test_concurrent_writers_on_one_sqlite_file_never_fail_with_database_locked(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    # Two stores are two processes' worth of connections: SQLite's own lock arbitrates.
    first, second = await open_store(url), await open_store(url)
    try:
        kept = await asyncio.gather(
            *(record(store, f"u{i}") for i in range(60) for store in (first, second))
        )
        history = await first.history(limit=1000)
        assert len(kept) == 120
        assert sorted(r.id for r in history) == sorted(kept)
        assert {r.status for r in history} == {"ok"}
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root:pw@db/muse", "'mysql' databases are not supported; use 'sqlite' or"),
        ("not a url", "store.url (env MUSEKIT_STORE__URL) is not a database URL"),
    ],
)
async def test_an_unsupported_url_is_a_settings_error(url: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(expected)) as refused:
        await open_store(url)
    assert "pw" not in refused.value.message
    assert refused.value.exit_code == 2


async def test_no_server_at_the_url_is_a_clear_error_with_the_password_masked() -> None:
    url = f"postgresql://bob:hunter2@127.0.0.1:{free_port()}/muse"

    with pytest.raises(StoreUnavailable) as refused:
        await open_store(url)

    assert refused.value.message == (
        f"The store at postgresql+asyncpg://bob:***@127.0.0.1:{url.split(':')[3]} failed: "
        "no database server answered there."
    )


async def test_a_wrong_password_or_database_is_named_without_the_password(
    postgres_server: PostgresServer,
) -> None:
    wrong_password = postgres_server.url().replace(postgres_server.password, "hunter2")
    with pytest.raises(StoreUnavailable, match="refused the user name or password") as refused:
        await open_store(wrong_password)
    assert "hunter2" not in refused.value.message
    assert "musekit:***@" in refused.value.message

    with pytest.raises(StoreUnavailable, match="that database does not exist on the server"):
        await open_store(postgres_server.url("no_such_db"))


async def test_a_sqlite_file_where_no_folder_can_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder", "utf-8")
    path = tmp_path / "a-file" / "store.db"
    with pytest.raises(StoreUnavailable) as refused:
        await open_store(f"sqlite:///{path}")
    assert refused.value.message == (
        f"The store at sqlite+aiosqlite:///{path} failed: its folder cannot be made."
    )


def test_importing_the_store_or_the_cli_loads_no_database_library() -> None:
    code = (
        "import sys, musekit.store, musekit.cli.main; "
        "print(sorted({'sqlalchemy', 'aiosqlite', 'asyncpg'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
