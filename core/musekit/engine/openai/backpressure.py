"""Backpressure: read how loaded each server is, and hold new requests in a fair line.

vLLM's ``/metrics`` (Prometheus text) says how many requests wait in its own
queue (``vllm:num_requests_waiting``) and how full its KV cache is
(``vllm:kv_cache_usage_perc``, 0 to 1). Past the configured limits a replica is
*full*; when every replica a request may use is full, the request waits in a
bounded local first-in-first-out :class:`WaitLine`, telling its user its place,
instead of piling onto the server's queue.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from musekit.errors import EngineBusy, MusekitError
from musekit.status import report_status

logger = logging.getLogger("musekit.engine.openai")

WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"


@dataclass(frozen=True)
class Load:
    """A replica's load as its last ``/metrics`` said; ``None``: not known."""

    waiting: float | None = None
    kv_cache_usage: float | None = None


UNKNOWN = Load()


def parse_load(text: str) -> Load:
    """The load in a vLLM ``/metrics`` page: waiting summed over engines, the fullest KV cache.

    Only the lines of those two gauges are parsed: a page has hundreds of histogram
    lines, read again every ``metrics_interval``. A page that is not Prometheus text,
    or lacks the metrics, gives an unknown load.
    """
    waiting: list[float] = []
    usage: list[float] = []
    gauges = "\n".join(line for line in text.splitlines() if line.startswith(_GAUGES))
    try:
        for family in text_string_to_metric_families(gauges):
            for sample in family.samples:
                if sample.name == WAITING:
                    waiting.append(sample.value)
                elif sample.name == KV_CACHE_USAGE:
                    usage.append(sample.value)
    except ValueError:
        logger.debug("A /metrics page is not Prometheus text; load unknown.")
        return UNKNOWN
    return Load(sum(waiting) if waiting else None, max(usage) if usage else None)


_GAUGES = (WAITING, KV_CACHE_USAGE)


@dataclass(frozen=True)
class Limits:
    """How loaded a replica may be and still get new requests at once."""

    max_waiting: int
    max_kv_cache_usage: float

    def full(self, load: Load) -> bool:
        """Whether a replica with this load should get no new request now."""
        return (load.waiting is not None and load.waiting >= self.max_waiting) or (
            load.kv_cache_usage is not None and load.kv_cache_usage >= self.max_kv_cache_usage
        )

    def room(self, load: Load) -> int | None:
        """How many more requests the replica takes now; ``None``: no limit is known."""
        if self.full(load):
            return 0
        if load.waiting is None:
            return None
        return self.max_waiting - int(load.waiting)


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(eq=False)
class _Waiter:
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    settled: bool = False
    error: MusekitError | None = None


class WaitLine:
    """A bounded first-in-first-out line of requests waiting for room on a server.

    Each waiter reports its place with :func:`~musekit.status.report_status` when it
    joins and whenever it moves up. Past ``limit`` waiters, or after ``timeout``
    seconds in line, a request gets :class:`EngineBusy`.
    """

    def __init__(self, limit: int, timeout: float) -> None:
        self._limit = limit
        self._timeout = timeout
        self._waiters: deque[_Waiter] = deque()

    def __len__(self) -> int:
        return len(self._waiters)

    async def join(self) -> None:
        """Wait for a turn; raises :class:`EngineBusy` or what :meth:`fail` was given."""
        if len(self._waiters) >= self._limit:
            ahead = len(self._waiters)
            already = f" and {ahead} commands are already waiting for it" if ahead else ""
            raise EngineBusy(f"The model server is busy{already}. Try again shortly.")
        waiter = _Waiter()
        self._waiters.append(waiter)
        place = len(self._waiters)
        report_status(f"waiting for the model server: {ordinal(place)} in line")
        try:
            async with asyncio.timeout(self._timeout):
                while not waiter.settled:
                    await waiter.changed.wait()
                    waiter.changed.clear()
                    if not waiter.settled and self._waiters.index(waiter) + 1 != place:
                        place = self._waiters.index(waiter) + 1
                        report_status(f"waiting for the model server: {ordinal(place)} in line")
        except TimeoutError:
            if not waiter.settled:
                raise EngineBusy(
                    f"The model server is busy: no turn came within {self._timeout:g} s. "
                    "Try again shortly."
                ) from None
        finally:
            if not waiter.settled:
                self._remove(waiter)
        if waiter.error is not None:
            raise waiter.error

    def grant(self, count: int | None) -> None:
        """Let the first ``count`` waiters go (``None``: all of them)."""
        turns = len(self._waiters) if count is None else min(count, len(self._waiters))
        for _ in range(turns):
            self._settle(self._waiters[0], None)

    def fail(self, error: MusekitError) -> None:
        """End every wait with ``error``."""
        while self._waiters:
            self._settle(self._waiters[0], error)

    def _settle(self, waiter: _Waiter, error: MusekitError | None) -> None:
        waiter.settled = True
        waiter.error = error
        self._remove(waiter)
        waiter.changed.set()

    def _remove(self, waiter: _Waiter) -> None:
        index = self._waiters.index(waiter)
        del self._waiters[index]
        for behind in itertools.islice(self._waiters, index, None):
            behind.changed.set()
