"""Database failures in plain words: no driver text (it may quote values), no password."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from musekit.store.errors import InvalidInput, StoreUnavailable

# Driver exceptions by class name, so that no driver has to be imported to recognise them.
_REASONS = {
    "InvalidPasswordError": "the server refused the user name or password",
    "InvalidAuthorizationSpecificationError": "the server refused the user name or password",
    "InvalidCatalogNameError": "that database does not exist on the server",
    "CannotConnectNowError": "the server is starting up or shutting down",
    "TooManyConnectionsError": "the server has too many connections",
    "ConnectionRefusedError": "no database server answered there",
    "gaierror": "the host name could not be resolved",
    "TimeoutError": "the database did not answer in time",
    "ConnectionDoesNotExistError": "the connection to the database was lost",
    "ConnectionResetError": "the connection to the database was lost",
}


def reason(exc: BaseException) -> str:
    """What went wrong, from the exception and its causes, without their text."""
    seen: BaseException | None = exc
    while seen is not None:
        name = type(seen).__name__
        if name in _REASONS:
            return _REASONS[name]
        text = str(seen)  # matched, never shown: SQLite says these only in its text
        if "unable to open database file" in text:
            return "the database file cannot be opened (check its folder and permissions)"
        if "database is locked" in text:
            return "another process kept the database locked for too long"
        if "readonly database" in text:
            return "the database file is read-only"
        seen = getattr(seen, "orig", None) or seen.__cause__
    if isinstance(exc, OSError):
        return "the database could not be reached"
    return f"the database reported an error ({type(exc).__name__})"


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn database errors into :class:`StoreUnavailable` (or :class:`InvalidInput`)."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise InvalidInput(
            f"The store at {where} refused the change: it conflicts with a stored record."
        ) from exc
    except (sa.exc.DBAPIError, OSError, TimeoutError) as exc:
        raise StoreUnavailable(f"The store at {where} failed: {reason(exc)}.") from exc
