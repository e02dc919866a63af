"""Status lines for the user from anywhere inside a running command.

The runner installs the front end's status callback for the duration of a
command; code that has no :class:`~musekit.context.Context` at hand (an engine
waiting in a server's queue, say) calls :func:`report_status`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: Receives status lines a command reports while it works ("3rd in line for the model").
StatusCallback = Callable[[str], None]

_current: ContextVar[StatusCallback | None] = ContextVar("musekit_status", default=None)


def report_status(message: str) -> None:
    """Tell the user of the running command what is happening now (no-op outside one)."""
    callback = _current.get()
    if callback is not None:
        callback(message)


@contextmanager
def status_reporter(callback: StatusCallback | None) -> Iterator[None]:
    """Send :func:`report_status` lines to ``callback`` inside the ``with`` block."""
    token = _current.set(callback)
    try:
        yield
    finally:
        _current.reset(token)
