"""Progress shown by editing one chat message, at a bounded cadence.

Chat platforms limit how often a bot may edit messages (Slack's chat.update is
about 50 a minute per workspace). :class:`ProgressUpdater` takes every streamed
delta and status line as it comes, and coalesces them into at most one edit per
``interval`` seconds, with never two edits of the message at once. An optional
:class:`EditBudget`, shared by every message of a workspace, caps the
workspace's progress edits too: past it, progress waits (and coalesces) rather
than spend what the final edits need. The final state is always sent.

Platform-neutral: the platform is an async ``edit`` callable given a
:class:`Progress` snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger("musekit.bots.cadence")


@dataclass(frozen=True)
class Progress:
    """What to show now: the latest status line and the text streamed so far."""

    status: str
    text: str


#: Shows a snapshot: the platform's message edit (or, the first time, its post).
Edit = Callable[[Progress], Awaitable[None]]


class EditBudget:
    """A token bucket of message edits: ``per_minute`` on average, ``burst`` at once.

    Share one between every message of a workspace (or channel) whose edits the
    platform counts together.
    """

    def __init__(
        self, per_minute: float, *, burst: int = 5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("an edit budget needs per_minute > 0 and burst >= 1")
        self.per_minute = per_minute
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def try_take(self) -> bool:
        """Spend one edit if the budget has one now."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def take_anyway(self) -> None:
        """Spend one edit that must happen (a final result): the budget may go into debt."""
        self._refill()
        self._tokens -= 1

    def wait_time(self) -> float:
        """Seconds until the budget has an edit again (0 if it has one now)."""
        self._refill()
        return max(0.0, (1 - self._tokens) * 60 / self.per_minute)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(
            float(self.burst), self._tokens + (now - self._updated) * self.per_minute / 60
        )
        self._updated = now


class ProgressUpdater:
    """Coalesces deltas and status lines into at most one ``edit`` per ``interval``.

    :meth:`add` and :meth:`status` are plain callbacks (the command service's
    ``on_delta``/``on_status`` shapes) and must be called inside a running event
    loop. A progress edit that fails stops further progress edits (``failed``
    becomes True) but never raises; :meth:`finish` always sends the final
    snapshot and lets its failure through, so the caller can fall back.
    """

    def __init__(
        self,
        edit: Edit,
        *,
        interval: float,
        budget: EditBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("the update interval must be above 0 seconds")
        self._edit = edit
        self._interval = interval
        self._budget = budget
        self._clock = clock
        self._status = ""
        self._parts: list[str] = []
        self._last_edit: float | None = None
        self._dirty = False
        self._closed = False
        self._editing = False
        self._task: asyncio.Task[None] | None = None
        self.edits = 0
        """Edits sent so far, final included."""
        self.failed = False
        """Whether a progress edit failed (later progress is not sent)."""

    @property
    def snapshot(self) -> Progress:
        """The state an edit would show now."""
        return Progress(status=self._status, text="".join(self._parts))

    def add(self, text: str) -> None:
        """Append streamed text."""
        if text:
            self._parts.append(text)
            self._changed()

    def status(self, message: str) -> None:
        """Replace the status line."""
        self._status = message
        self._changed()

    async def stop(self) -> None:
        """Stop progress edits, waiting for one in flight rather than cut it off, so an
        edit made after this is the last one the platform sees."""
        self._closed = True
        task = self._task
        if task is not None:
            if self._editing:
                await asyncio.shield(task)
            else:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def finish(self, final: Progress | None = None) -> None:
        """:meth:`stop`, then send ``final`` (default: the current snapshot), spending from
        the budget even when it is empty. Raises what the final edit raises."""
        await self.stop()
        if self._budget is not None:
            self._budget.take_anyway()
        await self._edit(final or self.snapshot)
        self.edits += 1

    def _changed(self) -> None:
        self._dirty = True
        if self._task is None and not self._closed and not self.failed:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._dirty and not self._closed and not self.failed:
                await asyncio.sleep(self._delay())
                if self._budget is not None and not self._budget.try_take():
                    continue  # the workspace's edits are spent: coalesce, try again later
                self._dirty = False
                self._last_edit = self._clock()
                self._editing = True
                try:
                    await self._edit(self.snapshot)
                    self.edits += 1
                except Exception as exc:
                    self.failed = True
                    logger.warning("a progress edit failed: %s", type(exc).__name__)
                finally:
                    self._editing = False
        finally:
            self._task = None

    def _delay(self) -> float:
        delay = 0.0
        if self._last_edit is not None:
            delay = self._last_edit + self._interval - self._clock()
        if self._budget is not None:
            delay = max(delay, self._budget.wait_time())
        return max(0.0, delay)
