"""Store errors: messages safe to show anyone (no driver text, no password)."""

from __future__ import annotations

from musekit.errors import MusekitError


class StoreError(MusekitError):
    """The store could not do what was asked; the message says why in plain words."""


class StoreUnavailable(StoreError):
    """The database cannot be opened or reached (the URL is shown with its password masked)."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer musekit than this one."""


class NotFound(StoreError):
    """No invocation or idea with that id."""

    exit_code = 2


class InvalidInput(StoreError):
    """A value the store refuses (a naive time, a vote other than +1/-1, a bad limit)."""

    exit_code = 2
