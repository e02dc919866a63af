"""Retention: removing what is older than ``store.retention_days``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from musekit.settings import StoreSettings
from musekit.store.store import Store

log = logging.getLogger(__name__)


def retention_cutoff(days: int | None, *, now: datetime | None = None) -> datetime | None:
    """The time before which invocations are removed; ``None`` when everything is kept."""
    if days is None:
        return None
    return (now or datetime.now(UTC)) - timedelta(days=days)


async def prune_expired(
    store: Store, settings: StoreSettings, *, now: datetime | None = None
) -> int:
    """Apply ``store.retention_days`` now (long-running processes call it on start-up);
    the number of rows removed, 0 when retention is off."""
    cutoff = retention_cutoff(settings.retention_days, now=now)
    if cutoff is None:
        return 0
    removed = await store.prune(older_than=cutoff)
    log.info("retention: removed %d rows started before %s", removed, cutoff.isoformat())
    return removed
