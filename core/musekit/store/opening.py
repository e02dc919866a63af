"""Opening the store: resolve the URL, create the SQLite file on first use, migrate."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from musekit.settings import StoreSettings
from musekit.store.engine import make_engine
from musekit.store.errors import StoreUnavailable
from musekit.store.failures import translated
from musekit.store.migrations import migrate
from musekit.store.store import Store
from musekit.store.urls import is_memory, shown, store_url

log = logging.getLogger(__name__)


async def open_store(settings: StoreSettings | str | None = None) -> Store:
    """Open the store named by ``settings`` (or a URL), migrated to the latest schema.

    By default (no ``store.url``), a SQLite file in the user's data folder, created on
    first use. ``postgresql://USER:PASSWORD@HOST/DB`` connects to PostgreSQL. Raises
    :class:`~musekit.store.errors.StoreUnavailable` when the database cannot be reached,
    :class:`~musekit.store.errors.SchemaTooNew` when a newer musekit has migrated it.
    """
    if isinstance(settings, StoreSettings):
        raw = None if settings.url is None else settings.url.get_secret_value()
    else:
        raw = settings
    url = store_url(raw)
    where = shown(url)
    memory = is_memory(url)
    if url.get_backend_name() == "sqlite" and not memory:
        try:
            await asyncio.to_thread(_make_folder, url.database or "")
        except OSError:
            raise StoreUnavailable(
                f"The store at {where} failed: its folder cannot be made."
            ) from None
    engine = make_engine(url)
    try:
        with translated(where):
            version = await migrate(engine, where)
    except BaseException:
        await engine.dispose()
        raise
    log.debug("store %s open at schema version %d", where, version)
    return Store(engine, where=where, memory=memory)


def _make_folder(database: str) -> None:
    """Create the SQLite file's folder on first use."""
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
