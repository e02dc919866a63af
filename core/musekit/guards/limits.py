"""Per-user and per-channel limits, with messages that say when to try again.

Counters of running commands, cooldowns and channel rates live in this process's
memory: each bot process keeps its own. The daily token budget is read from the
store, so it holds across processes that share a database. See docs/guard-rails.md.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from musekit.errors import UsageError
from musekit.guards.permissions import channel_label
from musekit.invocation import Invocation
from musekit.settings import LimitsSettings

logger = logging.getLogger("musekit.guards")

LimitKind = Literal[
    "user_in_flight", "user_cooldown", "user_tokens", "channel_in_flight", "channel_rate"
]

#: Reads the tokens a user has used since a time: ``(user_id, since) -> tokens``.
TokensUsed = Callable[[str, datetime], Awaitable[int]]

_RATE_WINDOW = 60.0
#: Cooldown entries kept before the cold ones are dropped.
_PRUNE_AT = 1024


class LimitReached(UsageError):
    """A limit refused the invocation; ``retry_after`` is in seconds, if known."""

    def __init__(self, kind: LimitKind, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


@dataclass
class Admission:
    """A command let through: :meth:`release` when it ends (only the first call counts)."""

    limiter: Limiter
    user: str
    channel: str | None  # qualified by platform
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter._release(self)


class Limiter:
    """Admits invocations within :class:`LimitsSettings`, or raises :class:`LimitReached`."""

    def __init__(
        self,
        settings: LimitsSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._now = now
        self._user_running: defaultdict[str, int] = defaultdict(int)
        self._user_started: dict[str, float] = {}
        self._channel_running: defaultdict[str, int] = defaultdict(int)
        self._channel_starts: defaultdict[str, deque[float]] = defaultdict(deque)

    async def admit(
        self, invocation: Invocation, tokens_used: TokensUsed | None = None
    ) -> Admission:
        """Count the invocation in, or raise :class:`LimitReached` saying when to try again.

        ``tokens_used(user_id, since)`` reads the day's tokens; if it fails, the budget is
        not enforced for this invocation (logged), rather than refusing everyone.
        """
        user = invocation.invoker.user_id
        if self.settings.user_tokens_per_day and tokens_used is not None:
            await self._check_tokens(user, tokens_used)
        # No await from here on: the checks and the counting happen as one step.
        now = self._clock()
        self._check_user(user, now)
        channel = None
        if invocation.channel is not None:
            channel = f"{invocation.platform}:{invocation.channel}"
            self._check_channel(channel, channel_label(invocation.channel), now)
        if len(self._user_started) + len(self._channel_starts) >= _PRUNE_AT:
            self._prune(now)
        self._user_running[user] += 1
        if self.settings.user_cooldown:
            self._user_started[user] = now
        if channel is not None:
            self._channel_running[channel] += 1
            if self.settings.channel_per_minute:
                self._channel_starts[channel].append(now)
        return Admission(self, user, channel)

    def _check_user(self, user: str, now: float) -> None:
        limit = self.settings.user_in_flight
        if limit and self._user_running.get(user, 0) >= limit:
            running = "a command" if limit == 1 else f"{limit} commands"
            raise LimitReached(
                "user_in_flight",
                f"You already have {running} running; you can start another when one finishes.",
            )
        cooldown = self.settings.user_cooldown
        last = self._user_started.get(user)
        if cooldown and last is not None and now - last < cooldown:
            wait = cooldown - (now - last)
            raise LimitReached(
                "user_cooldown", f"You can run another command in {format_wait(wait)}.", wait
            )

    def _check_channel(self, channel: str, label: str, now: float) -> None:
        limit = self.settings.channel_in_flight
        if limit and self._channel_running.get(channel, 0) >= limit:
            raise LimitReached(
                "channel_in_flight",
                f"{label} already has {limit} command{'s' if limit > 1 else ''} running; "
                "try again when one finishes.",
            )
        rate = self.settings.channel_per_minute
        if not rate:
            return
        starts = self._channel_starts.get(channel, deque())
        while starts and now - starts[0] >= _RATE_WINDOW:
            starts.popleft()
        if len(starts) >= rate:
            wait = _RATE_WINDOW - (now - starts[0])
            raise LimitReached(
                "channel_rate",
                f"{label} has started {rate} command{'s' if rate > 1 else ''} in the last "
                f"minute; you can run another in {format_wait(wait)}.",
                wait,
            )

    async def _check_tokens(self, user: str, tokens_used: TokensUsed) -> None:
        now = self._now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            used = await tokens_used(user, midnight)
        except Exception as exc:
            logger.warning(
                "could not read today's tokens (%s); budget not enforced", type(exc).__name__
            )
            return
        budget = self.settings.user_tokens_per_day
        if used >= budget:
            wait = (midnight + timedelta(days=1) - now).total_seconds()
            raise LimitReached(
                "user_tokens",
                f"You've used your {budget:,} tokens for today; the budget resets at "
                f"00:00 UTC (in {format_wait(wait)}).",
                wait,
            )

    def _release(self, admission: Admission) -> None:
        _decrement(self._user_running, admission.user)
        if admission.channel is not None:
            _decrement(self._channel_running, admission.channel)

    def _prune(self, now: float) -> None:
        """Forget cooldowns and channel starts that no longer count, so memory follows
        the active users and channels."""
        cooldown = self.settings.user_cooldown
        for user in [u for u, t in self._user_started.items() if now - t >= cooldown]:
            del self._user_started[user]
        for channel in [
            c
            for c, starts in self._channel_starts.items()
            if not starts or now - starts[-1] >= _RATE_WINDOW
        ]:
            del self._channel_starts[channel]


def _decrement(counts: defaultdict[str, int], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def format_wait(seconds: float) -> str:
    """A wait as people say it, rounded up: ``12 s``, ``4 min 5 s``, ``3 h 12 min``."""
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
