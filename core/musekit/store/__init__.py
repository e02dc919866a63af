"""Team memory: invocations, conversations, ideas and votes, undelivered results.

``open_store(settings.store)`` opens it (SQLite by default, PostgreSQL by URL). The
database drivers and SQLAlchemy load only then, so importing this package stays cheap.
See docs/storage.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from musekit.store.errors import (
    InvalidInput,
    NotFound,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
)
from musekit.store.records import Delivery, IdeaRecord, InvocationRecord, Status

_LAZY = {
    "Store": "musekit.store.store",
    "open_store": "musekit.store.opening",
    "prune_expired": "musekit.store.retention",
}

__all__ = [
    "Delivery",
    "IdeaRecord",
    "InvalidInput",
    "InvocationRecord",
    "NotFound",
    "SchemaTooNew",
    "Status",
    "StoreError",
    "StoreUnavailable",
    *_LAZY,
]

if TYPE_CHECKING:
    from musekit.store.opening import open_store as open_store
    from musekit.store.retention import prune_expired as prune_expired
    from musekit.store.store import Store as Store


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'musekit.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
