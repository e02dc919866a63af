"""A timeout for the reads of a stream that is cheap to move on at every token.

``asyncio.timeout`` around each read schedules and cancels a timer per token.
:class:`Watchdog` keeps one timer: moving :attr:`Watchdog.expires` is an
attribute write, and the timer re-arms itself when it fires before the current
expiry. Only time spent inside :meth:`Watchdog.wait` can time out, so a stream's
consumer working on a token is never cancelled by it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import TypeVar

_T = TypeVar("_T")


class Watchdog:
    """Raises :class:`TimeoutError` from :meth:`wait` once the loop time passes ``expires``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expires: float = math.inf) -> None:
        self.expires = expires
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self._expired = False

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        """``awaitable``'s result, or :class:`TimeoutError` if ``expires`` passes first."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always inside a task under asyncio
            raise RuntimeError("Watchdog.wait needs a running task")
        if self.expires <= self._loop.time():
            raise TimeoutError
        if self._handle is None or self._handle.when() > self.expires:
            self._arm()
        self._task, cancelling = task, task.cancelling()
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._expired and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        finally:
            self._task = None
            self._expired = False

    def close(self) -> None:
        """Stop the timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self) -> None:
        self.close()
        if self.expires != math.inf:
            self._handle = self._loop.call_at(self.expires, self._fire)

    def _fire(self) -> None:
        self._handle = None
        if self.expires > self._loop.time():
            self._arm()  # moved on since it was set
        elif self._task is not None:
            self._expired = True
            self._task.cancel()
