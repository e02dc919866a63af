"""Per-user and per-channel limits: what is refused, and when the user may try again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from musekit import Invocation, Invoker
from musekit.guards.limits import Admission, Limiter, LimitReached, format_wait
from musekit.settings import LimitsSettings, load_settings


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock | None = None, **limits: Any) -> Limiter:
    defaults: dict[str, Any] = {"user_in_flight": 0}
    return Limiter(LimitsSettings(**(defaults | limits)), clock=clock or Clock())


def invocation(
    user: str = "U1", channel: str | None = "general", platform: str = "slack"
) -> Invocation:
    return Invocation(
        command="write",
        params={"prompt": "x"},
        invoker=Invoker(user_id=user),
        channel=channel,
        platform=platform,
    )


async def refusal(limits: Limiter, inv: Invocation, **kwargs: Any) -> LimitReached:
    with pytest.raises(LimitReached) as refused:
        await limits.admit(inv, **kwargs)
    return refused.value


def test_the_defaults_let_a_user_run_two_commands_at_once_and_nothing_else_is_limited() -> None:
    defaults = load_settings().limits

    assert defaults.user_in_flight == 2
    assert defaults.model_dump(exclude={"user_in_flight"}) == {
        "user_cooldown": 0.0,
        "user_tokens_per_day": 0,
        "channel_in_flight": 0,
        "channel_per_minute": 0,
    }


async def test_a_user_may_have_only_so_many_commands_running() -> None:
    limits = limiter(user_in_flight=2)
    first = await limits.admit(invocation())
    await limits.admit(invocation())

    refused = await refusal(limits, invocation())
    other_user = await limits.admit(invocation(user="U2"))

    assert refused.kind == "user_in_flight"
    assert refused.message == (
        "You already have 2 commands running; you can start another when one finishes."
    )
    assert refused.exit_code == 2
    assert isinstance(other_user, Admission)
    first.release()
    first.release()  # a second release changes nothing
    await limits.admit(invocation())
    assert (await refusal(limits, invocation())).kind == "user_in_flight"


async def test_a_cooldown_says_how_many_seconds_to_wait() -> None:
    clock = Clock()
    limits = limiter(clock, user_cooldown=30)
    (await limits.admit(invocation())).release()

    clock.now += 18.2
    refused = await refusal(limits, invocation())
    clock.now += 11.8

    assert refused.kind == "user_cooldown"
    assert refused.message == "You can run another command in 12 s."
    assert refused.retry_after == pytest.approx(11.8)
    await limits.admit(invocation())


class Tokens:
    """``Store.tokens_used`` stand-in: a fixed count, remembering what was asked."""

    def __init__(self, used: int) -> None:
        self.used = used
        self.asked: list[tuple[str, datetime]] = []

    async def __call__(self, user: str, since: datetime) -> int:
        self.asked.append((user, since))
        return self.used


async def test_the_daily_token_budget_says_when_it_resets() -> None:
    now = datetime(2025, 3, 14, 20, 48, 0, tzinfo=UTC)
    limits = Limiter(LimitsSettings(user_tokens_per_day=20_000), clock=Clock(), now=lambda: now)
    spent, left = Tokens(20_000), Tokens(19_999)

    refused = await refusal(limits, invocation(), tokens_used=spent)
    await limits.admit(invocation(), tokens_used=left)

    assert refused.kind == "user_tokens"
    assert refused.message == (
        "You've used your 20,000 tokens for today; the budget resets at 00:00 UTC (in 3 h 12 min)."
    )
    assert refused.retry_after == 3 * 3600 + 12 * 60
    assert spent.asked == [("U1", datetime(2025, 3, 14, tzinfo=UTC))]


async def test_without_a_budget_the_store_is_not_asked() -> None:
    tokens = Tokens(10**9)

    await limiter().admit(invocation(), tokens_used=tokens)

    assert tokens.asked == []


async def test_a_store_that_cannot_say_does_not_stop_everyone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(user: str, since: datetime) -> int:
        raise ConnectionError("postgresql://bot:hunter2@db/musekit refused")

    caplog.set_level(logging.INFO)
    await limiter(user_tokens_per_day=10).admit(invocation(), tokens_used=broken)

    assert [r.getMessage() for r in caplog.records] == [
        "could not read today's tokens (ConnectionError); budget not enforced"
    ]


async def test_a_channel_may_have_only_so_many_commands_running() -> None:
    limits = limiter(channel_in_flight=1)
    running = await limits.admit(invocation(user="U1"))

    refused = await refusal(limits, invocation(user="U2"))
    elsewhere = await limits.admit(invocation(user="U2", channel="random"))
    same_name_other_platform = await limits.admit(invocation(user="U3", platform="discord"))
    no_channel = await limits.admit(invocation(user="U4", channel=None, platform="cli"))

    assert refused.kind == "channel_in_flight"
    assert refused.message == "#general already has 1 command running; try again when one finishes."
    assert all(isinstance(a, Admission) for a in (elsewhere, same_name_other_platform, no_channel))
    running.release()
    await limits.admit(invocation(user="U2"))


async def test_a_channel_rate_counts_starts_in_the_last_minute() -> None:
    clock = Clock()
    limits = limiter(clock, channel_per_minute=3)
    for second in (0, 10, 20):
        clock.now = 1000 + second
        (await limits.admit(invocation(user=f"U{second}"))).release()

    clock.now = 1045
    refused = await refusal(limits, invocation(user="U9"))
    clock.now = 1060  # the first start is a minute old: it no longer counts

    assert refused.kind == "channel_rate"
    assert refused.message == (
        "#general has started 3 commands in the last minute; you can run another in 15 s."
    )
    await limits.admit(invocation(user="U9"))
    assert (await refusal(limits, invocation(user="U10"))).kind == "channel_rate"


async def test_a_refused_invocation_counts_for_nothing() -> None:
    clock = Clock()
    limits = limiter(clock, user_in_flight=1, channel_per_minute=2)
    await limits.admit(invocation(user="U1"))

    for _ in range(5):
        await refusal(limits, invocation(user="U1"))

    await limits.admit(invocation(user="U2"))  # the channel saw two starts, not seven


async def test_old_cooldowns_are_forgotten_so_memory_follows_the_active_users() -> None:
    clock = Clock()
    limits = limiter(clock, user_cooldown=5, channel_per_minute=10_000)
    for number in range(3000):
        clock.now += 0.01
        (await limits.admit(invocation(user=f"U{number}"))).release()

    assert len(limits._user_started) < 1100
    # A user still cooling down is remembered.
    assert (await refusal(limits, invocation(user="U2999"))).kind == "user_cooldown"


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.2, "1 s"),
        (12, "12 s"),
        (11.01, "12 s"),
        (60, "1 min"),
        (245, "4 min 5 s"),
        (3 * 3600, "3 h"),
        (3 * 3600 + 12 * 60 + 30, "3 h 12 min"),
    ],
)
def test_waits_read_as_people_say_them(seconds: float, said: str) -> None:
    assert format_wait(seconds) == said
