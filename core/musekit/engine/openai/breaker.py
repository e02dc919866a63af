"""A circuit breaker per replica: stop sending requests to a server that is down.

Closed (normal) until ``failures`` attempts in a row fail, or a ``/health`` probe
says the server is unhealthy; then open: the replica gets no requests. After
``cooldown`` seconds, or as soon as a probe finds it healthy again, it is
half-open: one trial request goes through, and its outcome closes the breaker or
opens it again. A trial whose outcome never comes back frees its slot after
another ``cooldown``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum


class BreakerState(Enum):
    """Whether a replica takes requests."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Tracks one replica's failures and decides whether it takes the next request."""

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None  # set while open
        self._trial_until: float | None = None  # set while a half-open trial is out

    @property
    def state(self) -> BreakerState:
        """Closed, open, or half-open (the cooldown has passed; a trial may go)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def available(self) -> bool:
        """Whether the replica may take a request now."""
        state = self.state
        if state is BreakerState.HALF_OPEN:
            return self._trial_until is None or self._clock() >= self._trial_until
        return state is BreakerState.CLOSED

    def admit(self) -> None:
        """A request goes to the replica; in half-open state it is the one trial."""
        if self.state is BreakerState.HALF_OPEN:
            self._trial_until = self._clock() + self._cooldown

    def record(self, *, ok: bool) -> None:
        """The outcome of a request: a success closes the breaker, failures open it."""
        if ok:
            self._close()
            return
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self._open()

    def probe(self, *, healthy: bool) -> None:
        """The outcome of a ``/health`` probe: unhealthy opens, healthy allows a trial now."""
        if not healthy:
            self._open()
        elif self._opened_at is not None:
            self._opened_at = self._clock() - self._cooldown

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._trial_until = None

    def _close(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_until = None
