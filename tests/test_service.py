"""The command service: every invocation ends recorded, whatever happens on the way."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke
from pydantic import Field

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    Delta,
    Invocation,
    Invoker,
    Limits,
    Message,
    Params,
    Result,
    Section,
    Turn,
    hookimpl,
)
from musekit.errors import PermissionDenied, PluginFailure
from musekit.guards.limits import Limiter
from musekit.observability.metrics import ServiceMetrics
from musekit.plugins import PluginHost
from musekit.runner import Runner
from musekit.service import CommandService, Outcome
from musekit.settings import LimitsSettings, load_settings
from musekit.store import Store, open_store
from musekit.testing import FakeEngine, FakeVLLM
from musekit_plugins import rules

SECRET = "sk-service-5d1e"


class TextParams(Params):
    text: str = Field("x", description="Free text.")


async def echo(ctx: Context, params: TextParams) -> Result:
    request = ChatRequest(messages=(Message(role="user", content=params.text),))
    return Result(title=params.text, sections=[Section(body=await ctx.engine.generate(request))])


async def crash(ctx: Context, params: TextParams) -> Result:
    raise RuntimeError(f"database password {SECRET}")


async def dawdle(ctx: Context, params: TextParams) -> Result:
    await asyncio.sleep(30)
    raise AssertionError("not reached")


async def hold(ctx: Context, params: TextParams) -> Result:
    ctx.status("holding")
    await asyncio.sleep(30)
    raise AssertionError("not reached")


async def recall(ctx: Context, params: TextParams) -> Result:
    """Shows the history it was given, one line per turn."""
    lines = [f"{t.command} {t.params} {t.text}" for t in ctx.history]
    return Result(title="history", sections=[Section(body="\n".join(lines))])


COMMANDS = {"echo": echo, "crash": crash, "dawdle": dawdle, "hold": hold, "recall": recall}


class Commands:
    MUSEKIT_API = (1,)

    @hookimpl
    def register_commands(self, register: Any) -> None:
        for name, handler in COMMANDS.items():
            limits = Limits(max_seconds=0.3) if name == "dawdle" else Limits()
            spec = CommandSpec(
                name=name, description=name, params=TextParams, text_param="text", limits=limits
            )
            register(spec, handler)


def host(rule_config: dict[str, Any] | None = None) -> PluginHost:
    plugins = PluginHost(plugin_config={"rules": rule_config} if rule_config else None)
    plugins.add(Commands(), name="commands")
    plugins.add(rules, name="rules")
    return plugins


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await open_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def service(
    store: Store,
    engine: FakeEngine | None = None,
    *,
    plugins: PluginHost | None = None,
    **limits: Any,
) -> CommandService:
    return CommandService(
        Runner(plugins or host(), engine or FakeEngine(default="a quiet line")),
        store,
        limiter=Limiter(LimitsSettings(**limits)),
        metrics=ServiceMetrics(),
    )


def ask(command: str = "echo", text: str = "the sea", **fields: Any) -> Invocation:
    return Invocation(command=command, params={"text": text}, **fields)


# Every outcome, recorded ---------------------------------------------------------------


async def test_an_invocation_ends_recorded_ok_with_its_result_tokens_and_timings(
    store: Store,
) -> None:
    streamed: list[Delta] = []
    invocation = ask(invoker=Invoker(user_id="U7"), platform="slack", channel="general")

    outcome = await service(store).submit(invocation, on_delta=streamed.append)

    assert outcome.status == "ok"
    assert outcome.result is not None
    assert outcome.result.text == "a quiet line"
    assert "".join(d.text for d in streamed) == "a quiet line"
    record = await store.get(invocation.id)
    assert record is not None
    assert (record.status, record.user_id, record.channel) == ("ok", "U7", "general")
    assert record.result == outcome.result
    assert (record.prompt_tokens, record.completion_tokens) == (2, 3)
    assert set(record.timings) == {"queue", "first_token", "total"}
    assert 0 <= record.timings["queue"] <= record.timings["first_token"] <= record.timings["total"]
    assert record.finished_at is not None


async def test_a_crashing_plugin_ends_recorded_as_an_error_without_its_secret(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    invocation = ask("crash")

    outcome = await service(store).submit(invocation)

    assert outcome.status == "error"
    assert isinstance(outcome.error, PluginFailure)
    assert outcome.message is not None
    assert "(plugin 'commands') failed unexpectedly" in outcome.message
    assert not outcome.private
    record = await store.get(invocation.id)
    assert record is not None
    assert (record.status, record.error) == ("error", outcome.message)
    assert SECRET not in str(record.model_dump())
    assert all(SECRET not in r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)


async def test_a_command_past_its_time_limit_ends_recorded_as_a_timeout(store: Store) -> None:
    invocation = ask("dawdle")

    outcome = await service(store).submit(invocation)

    assert outcome.status == "timeout"
    assert outcome.message == "The 'dawdle' command ran past its limit of 0.3 seconds."
    record = await store.get(invocation.id)
    assert record is not None
    assert (record.status, record.error) == ("timeout", outcome.message)


async def test_a_cancelled_invocation_ends_recorded_and_the_cancellation_goes_through(
    store: Store,
) -> None:
    invocation = ask("hold")
    holding = asyncio.Event()
    task = asyncio.create_task(service(store).submit(invocation, on_status=lambda _: holding.set()))
    await holding.wait()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    record = await store.get(invocation.id)
    assert record is not None
    assert (record.status, record.error) == ("cancelled", "Cancelled.")
    assert record.finished_at is not None


async def test_an_unknown_command_ends_recorded_as_an_error_counted_under_unknown(
    store: Store,
) -> None:
    svc = service(store)
    invocation = Invocation(command="sonnet-of-doom")

    outcome = await svc.submit(invocation)

    assert outcome.status == "error"
    assert outcome.message is not None
    assert outcome.message.startswith("Unknown command 'sonnet-of-doom'.")
    assert outcome.private
    record = await store.get(invocation.id)
    assert record is not None
    assert record.status == "error"
    sample = svc.metrics.registry.get_sample_value(
        "musekit_invocations_total", {"command": "unknown", "outcome": "error"}
    )
    assert sample == 1


# Guard rails ---------------------------------------------------------------------------


async def test_a_permission_denial_is_private_recorded_and_nothing_runs(store: Store) -> None:
    engine = FakeEngine()
    plugins = host({"rules": [{"effect": "deny", "channels": ["general"], "reason": "not here"}]})
    svc = service(store, engine, plugins=plugins)
    invocation = ask(channel="general", platform="slack")

    outcome = await svc.submit(invocation)

    assert outcome == Outcome(
        invocation.id,
        "denied",
        message="You can't run 'echo' in #general: not here.",
        private=True,
        error=outcome.error,
    )
    assert isinstance(outcome.error, PermissionDenied)
    assert engine.requests == []
    record = await store.get(invocation.id)
    assert record is not None
    assert (record.status, record.error) == ("denied", outcome.message)
    denials = svc.metrics.registry.get_sample_value(
        "musekit_limit_denials_total", {"kind": "permission"}
    )
    assert denials == 1


async def test_a_user_over_the_in_flight_limit_is_refused_and_the_others_run(
    store: Store,
) -> None:
    engine = FakeEngine(latency=0.2)
    svc = service(store, engine, user_in_flight=2)
    invocations = [ask(invoker=Invoker(user_id="U1")) for _ in range(5)]

    outcomes = await asyncio.gather(*(svc.submit(i) for i in invocations))

    assert sorted(o.status for o in outcomes) == ["denied"] * 3 + ["ok"] * 2
    refused = next(o for o in outcomes if o.status == "denied")
    assert refused.message == (
        "You already have 2 commands running; you can start another when one finishes."
    )
    assert refused.private
    assert len(engine.requests) == 2
    statuses = [r.status for r in await store.history(user="U1", limit=10)]
    assert sorted(statuses) == ["denied"] * 3 + ["ok"] * 2
    assert (await svc.submit(ask(invoker=Invoker(user_id="U1")))).status == "ok"


async def test_the_daily_token_budget_holds_across_services_sharing_a_database(
    store_url: str,
) -> None:
    async with await open_store(store_url) as first, await open_store(store_url) as second:
        spender = service(first, user_tokens_per_day=5)
        other_process = service(second, user_tokens_per_day=5)
        ada = Invoker(user_id="U-ada")

        spent = await spender.submit(ask(invoker=ada))  # 2 prompt + 3 completion tokens
        refused = await other_process.submit(ask(invoker=ada))
        someone_else = await other_process.submit(ask(invoker=Invoker(user_id="U-bo")))

    assert spent.status == "ok"
    assert refused.status == "denied"
    assert refused.message is not None
    assert refused.message.startswith(
        "You've used your 5 tokens for today; the budget resets at 00:00 UTC (in "
    )
    assert someone_else.status == "ok"


async def test_mass_mentions_are_neutralised_before_the_caller_or_the_store_sees_them(
    store: Store,
) -> None:
    invocation = ask(text="@everyone")
    engine = FakeEngine(default="hear ye @here and <!channel>")

    outcome = await service(store, engine).submit(invocation)

    assert outcome.result is not None
    assert outcome.result.title == "@\u200beveryone"
    assert outcome.result.text == "hear ye @\u200bhere and @\u200bchannel"
    record = await store.get(invocation.id)
    assert record is not None
    assert record.result == outcome.result


# Conversations -------------------------------------------------------------------------


async def test_a_conversation_s_earlier_turns_reach_the_plugin_as_history(store: Store) -> None:
    engine = FakeEngine(["first answer", "elsewhere"])
    svc = service(store, engine)

    await svc.submit(ask(text="first", conversation="t-1"))
    await svc.submit(ask("crash", text="broken", conversation="t-1"))
    await svc.submit(ask(text="other thread", conversation="t-2"))
    outcome = await svc.submit(ask("recall", text="and now?", conversation="t-1"))
    lonely = await svc.submit(ask("recall", text="no thread"))

    assert outcome.result is not None
    assert outcome.result.text == "echo {'text': 'first'} first answer"
    assert lonely.result is not None
    assert lonely.result.text == ""


async def test_the_runner_hands_the_history_it_is_given_to_the_plugin() -> None:
    turns = (Turn(command="echo", params={"text": "a"}, text="one"),)

    result = await Runner(host(), FakeEngine()).run(ask("recall"), history=turns)

    assert result.text == "echo {'text': 'a'} one"


def test_history_messages_pair_each_request_with_its_result() -> None:
    turns = (
        Turn(command="poem", params={"topic": "rain", "form": "haiku"}, text="wet roofs"),
        Turn(command="poem", params={"topic": "make it darker"}, text="black roofs"),
    )
    spec = host().command("echo").spec
    ctx = Context(
        invocation=ask(),
        spec=spec,
        engine=FakeEngine(),
        settings=None,
        logger=logging.LoggerAdapter(logging.getLogger("test")),
        history=turns,
    )

    assert [(m.role, m.content) for m in ctx.history_messages()] == [
        ("user", "topic: rain\nform: haiku"),
        ("assistant", "wet roofs"),
        ("user", "topic: make it darker"),
        ("assistant", "black roofs"),
    ]


# A failing store -----------------------------------------------------------------------


class BrokenStore:
    """A store whose every write and read fails, with a secret in the exception text."""

    def __init__(self, real: Store) -> None:
        self.real = real

    async def record_start(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError(f"postgresql://bot:{SECRET}@db refused")

    record_finish = record_start

    async def conversation(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise ConnectionError(f"postgresql://bot:{SECRET}@db refused")

    async def tokens_used(self, *args: Any, **kwargs: Any) -> int:
        raise ConnectionError(f"postgresql://bot:{SECRET}@db refused")


async def test_a_failing_store_never_loses_the_outcome_and_leaks_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    svc = service(store, user_tokens_per_day=100)
    svc.store = BrokenStore(store)  # type: ignore[assignment]

    outcome = await svc.submit(ask(conversation="t-9"))

    assert outcome.status == "ok"
    assert outcome.result is not None
    assert outcome.result.text == "a quiet line"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        "store record_start failed: ConnectionError",
        "store conversation failed: ConnectionError",
        "store record_finish failed: ConnectionError",
    ]
    assert all(SECRET not in r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    failed = {
        op: svc.metrics.registry.get_sample_value("musekit_store_errors_total", {"operation": op})
        for op in ("record_start", "conversation", "record_finish")
    }
    assert failed == {"record_start": 1, "conversation": 1, "record_finish": 1}


# Built from settings -------------------------------------------------------------------


async def test_from_settings_opens_the_configured_store_and_applies_the_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_STORE__URL", f"sqlite+aiosqlite:///{tmp_path / 'team.db'}")
    monkeypatch.setenv("MUSEKIT_LIMITS__USER_COOLDOWN", "60")
    svc = await CommandService.from_settings(load_settings(), engine=FakeEngine())
    try:
        first = await svc.submit(Invocation(command="write", params={"prompt": "first snow"}))
        second = await svc.submit(Invocation(command="write", params={"prompt": "more snow"}))
        recorded = await svc.store.get(first.invocation_id)
    finally:
        await svc.aclose()

    assert first.status == "ok"
    assert (second.status, second.message) == ("denied", "You can run another command in 1 min.")
    assert recorded is not None
    assert recorded.status == "ok"


# The CLI goes through the service --------------------------------------------------------


async def test_a_cli_run_is_recorded_in_the_default_store(
    cli: Invoke, cli_engine: FakeEngine
) -> None:
    done = await asyncio.to_thread(cli, "run", "write", "--json", "first snow")
    refused = await asyncio.to_thread(cli, "run", "write", "")

    assert done.exit_code == 0
    assert refused.exit_code == 2  # bad parameters are refused before anything runs
    async with await open_store(load_settings().store) as default:
        (record,) = await default.history()
    assert record.id == json.loads(done.stdout)["invocation_id"]
    assert (record.command, record.platform, record.user_id) == ("write", "cli", "local")
    assert (record.status, record.params) == ("ok", {"prompt": "first snow"})
    assert record.result is not None
    assert record.result.text == "A fake reply from the engine."
    listed = await asyncio.to_thread(cli, "history", "list", "--json")
    assert [entry["id"] for entry in json.loads(listed.stdout)] == [record.id]


# Command budgets, over the wire ------------------------------------------------------------


async def test_the_host_clamps_what_a_plugin_asks_of_a_real_server(store: Store) -> None:
    from musekit.engine.openai.engine import OpenAIEngine
    from musekit.settings import OpenAISettings

    async def greedy(ctx: Context, params: TextParams) -> Result:
        request = ChatRequest(messages=(Message(role="user", content=params.text),), n=16)
        completion = await ctx.engine.complete(request.with_sampling(max_tokens=100_000))
        return Result(title="greedy", sections=[Section(body=c.text) for c in completion.choices])

    class Greedy:
        MUSEKIT_API = (1,)

        @hookimpl
        def register_commands(self, register: Any) -> None:
            limits = Limits(max_output_tokens=3, max_samples=2)
            register(
                CommandSpec(
                    name="greedy", description="Asks too much.", params=TextParams, limits=limits
                ),
                greedy,
            )

    plugins = PluginHost()
    plugins.add(Greedy(), name="greedy")
    async with FakeVLLM(default="one two three four five") as fake:
        engine = OpenAIEngine(OpenAISettings(base_urls=[fake.base_url]))
        svc = CommandService(Runner(plugins, engine), store, metrics=ServiceMetrics())
        outcome = await svc.submit(Invocation(command="greedy"))
        await engine.aclose()

    (body,) = fake.requests
    assert (body["n"], body["max_completion_tokens"]) == (2, 3)
    assert outcome.result is not None
    assert [s.body for s in outcome.result.sections] == ["one two three "] * 2
    assert outcome.result.warnings == ["asked for 16 samples; the limit is 2"]
