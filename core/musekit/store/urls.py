"""Which database: the ``store.url`` setting, else a SQLite file in the user's data folder."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import sqlalchemy as sa

from musekit.errors import SettingsError

#: The async driver musekit uses for each database it supports.
DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def default_path() -> Path:
    """The SQLite file used when ``store.url`` is not set."""
    return platformdirs.user_data_path("musekit") / "musekit.db"


def store_url(raw: str | None) -> sa.URL:
    """The URL to connect to, with musekit's async driver: ``postgresql://`` works as written."""
    if raw is None:
        return sa.URL.create(DRIVERS["sqlite"], database=str(default_path()))
    try:
        url = sa.make_url(raw.replace("postgres://", "postgresql://", 1))
    except sa.exc.ArgumentError:
        raise SettingsError(
            "store.url (env MUSEKIT_STORE__URL) is not a database URL; write it as "
            "'sqlite:///PATH' or 'postgresql://USER:PASSWORD@HOST:PORT/DATABASE'."
        ) from None
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise SettingsError(
            f"store.url (env MUSEKIT_STORE__URL): '{backend}' databases are not supported; "
            "use 'sqlite' or 'postgresql'."
        )
    url = url.set(drivername=DRIVERS[backend])
    if "sslmode" in url.query:  # libpq's name; asyncpg takes the same values as ``ssl``
        url = url.update_query_dict({"ssl": url.query["sslmode"]}).difference_update_query(
            ["sslmode"]
        )
    return url


def shown(url: sa.URL) -> str:
    """The URL as it may be shown or logged: the password masked."""
    return url.render_as_string(hide_password=True)


def is_memory(url: sa.URL) -> bool:
    """An in-memory SQLite database (one connection, gone when closed)."""
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )
