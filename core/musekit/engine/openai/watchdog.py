"""A timeout for the reads of a stream that is cheap to move on at every token.

``asyncio.timeout`` around each read schedules and cancels a timer per token.
:class:`Watchdog` keeps one timer for a whole stream: moving
:attr:`Watchdog.expires` later is an attribute write, and the timer re-arms
itself when it fires before the current expiry. Only time spent reading can
time out, so a stream's consumer working on a token is never cancelled by it:
a single await is read through :meth:`Watchdog.wait`; a token loop marks its
reads with :meth:`Watchdog.reading` and :meth:`Watchdog.idle` (no coroutine per
token) and asks :meth:`Watchdog.caused` whether a ``CancelledError`` was the
watchdog's.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import TypeVar

_T = TypeVar("_T")


class Watchdog:
    """Cancels the current task's read once the loop time passes ``expires``.

    Made inside the task whose reads it watches.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, expires: float = math.inf) -> None:
        task = asyncio.current_task(loop)
        if task is None:  # pragma: no cover - always inside a task under asyncio
            raise RuntimeError("a Watchdog is made inside a task")
        self.expires = expires
        self._loop = loop
        self._task = task
        self._handle: asyncio.TimerHandle | None = None
        self._when = math.inf  # when the timer fires: ``inf`` while none is set
        self._reading = False
        self._expired = False
        # Cancellations requested before the watchdog's own (``uncancel`` tells them apart).
        self._cancelling = task.cancelling()

    def reading(self) -> None:
        """A read begins: it is cancelled when ``expires`` passes. :class:`TimeoutError`
        at once if it has passed already."""
        if self.expires <= self._loop.time():
            raise TimeoutError
        if self._when > self.expires:
            self._arm()
        self._reading = True

    def idle(self) -> None:
        """The read is over: the task's time is its own again."""
        self._reading = False

    def caused(self) -> bool:
        """After a ``CancelledError`` in a read: whether this watchdog cancelled it (the
        cancellation is then withdrawn, so the caller can raise :class:`TimeoutError`)."""
        self._reading = False
        if self._expired and self._task.uncancel() <= self._cancelling:
            self._expired = False
            return True
        return False

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        """``awaitable``'s result, or :class:`TimeoutError` if ``expires`` passes first."""
        try:
            self.reading()
        except TimeoutError:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # never awaited: finish it (an ``anext`` left pending blocks its generator)
            raise
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self.caused():
                raise TimeoutError from None
            raise
        finally:
            self._reading = False

    def close(self) -> None:
        """Stop the timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._when = math.inf

    def _arm(self) -> None:
        self.close()
        if self.expires != math.inf:
            self._when = self.expires
            self._handle = self._loop.call_at(self.expires, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._when = math.inf
        if self.expires > self._loop.time():
            self._arm()  # moved on since it was set
        elif self._reading:
            self._expired = True
            self._task.cancel()
        # Otherwise the consumer is busy with a token: the next read raises at once.
