"""The runner: permission, validation, the plugin, limits, failures, cancellation, concurrency."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel, Field

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    Delta,
    EngineBusy,
    Invocation,
    Invoker,
    Limits,
    Message,
    Params,
    Result,
    Runner,
    Section,
    hookimpl,
)
from musekit.errors import (
    CommandNotFound,
    CommandTimeout,
    InvalidParameters,
    PermissionDenied,
    PluginFailure,
)
from musekit.plugins import PluginHost
from musekit.status import report_status
from musekit.testing import FakeEngine

Handler = Callable[[Context, Any], Awaitable[Any]]
SECRET = "secret-token-123"


class LineParams(Params):
    text: str = Field(min_length=1, max_length=40)
    samples: int = Field(1, ge=1, le=16)
    tokens: int = Field(20, ge=1, le=10_000)


class LineSettings(BaseModel):
    signature: str = "-- the muse"


async def ask_engine(ctx: Context, params: LineParams) -> Result:
    """A typical command: one engine request, one section per sample."""
    request = ChatRequest(messages=(Message(role="user", content=params.text),), n=params.samples)
    completion = await ctx.engine.complete(request.with_sampling(max_tokens=params.tokens))
    return Result(title=params.text, sections=[Section(body=c.text) for c in completion.choices])


def plugin_with(
    handler: Handler,
    *,
    limits: Limits | None = None,
    checks: tuple[Callable[[Invocation, CommandSpec], str | None], ...] = (),
    settings: type[BaseModel] | None = None,
) -> object:
    """A plugin object registering command ``line`` (and optionally checks and settings)."""
    spec = CommandSpec(
        name="line",
        description="Write a line.",
        params=LineParams,
        text_param="text",
        limits=limits or Limits(),
    )

    class Plugin:
        MUSEKIT_API = (1,)

        @hookimpl
        def register_commands(self, register: Any) -> None:
            register(spec, handler)

        @hookimpl
        def register_permission_checks(self, register: Any) -> None:
            for check in checks:
                register(check)

        @hookimpl
        def register_settings(self, register: Any) -> None:
            if settings is not None:
                register(settings)

    return Plugin()


def runner_for(plugin: object, engine: FakeEngine | None = None, **config: Any) -> Runner:
    host = PluginHost(plugin_config={"liner": config} if config else None)
    info = host.add(plugin, name="liner", version="1.0")
    assert info.status == "loaded", info.error
    return Runner(host, engine or FakeEngine())


def line(text: str = "the sea", **params: Any) -> Invocation:
    return Invocation(command="line", params={"text": text, **params})


def assert_not_logged(caplog: pytest.LogCaptureFixture, secret: str) -> None:
    """No record at INFO or above holds the secret, in its text or an attached traceback."""
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            assert secret not in record.getMessage()
            assert record.exc_info is None
            assert record.exc_text is None


# The happy path ----------------------------------------------------------------------------


async def test_a_command_runs_and_its_result_is_stamped() -> None:
    engine = FakeEngine(["a grey gull", "salt on the wind"])
    runner = runner_for(plugin_with(ask_engine), engine)
    invocation = line("the sea", samples=2)

    result = await runner.run(invocation)

    assert result.title == "the sea"
    assert [s.body for s in result.sections] == ["a grey gull", "salt on the wind"]
    assert result.command == "line"
    assert result.invocation_id == invocation.id
    assert result.warnings == []
    assert engine.requests[0].messages[0].content == "the sea"


async def test_metrics_sum_every_engine_request_of_the_command() -> None:
    async def two_requests(ctx: Context, params: LineParams) -> Result:
        first = await ask_engine(ctx, params)
        second = await ask_engine(ctx, params)
        return Result(title="two", sections=first.sections + second.sections)

    engine = FakeEngine(["one two three", "four five"], latency=0.01)
    result = await runner_for(plugin_with(two_requests), engine).run(line("a b c d"))

    # The fake engine counts a token per word: 4 prompt words per request, 3 + 2 replied.
    assert result.metrics.prompt_tokens == 8
    assert result.metrics.completion_tokens == 5
    assert result.metrics.engine == "fake"
    assert result.metrics.model == "fake-model"
    assert result.metrics.seconds >= 0.02


async def test_the_context_carries_invocation_spec_settings_logger_and_status() -> None:
    seen: dict[str, Any] = {}

    async def inspect(ctx: Context, params: LineParams) -> Result:
        seen.update(
            invocation=ctx.invocation,
            spec=ctx.spec.name,
            settings=ctx.settings,
            extra=ctx.logger.extra,
            logger=ctx.logger.logger.name,
        )
        ctx.status("thinking")
        return Result(title="ok")

    statuses: list[str] = []
    runner = runner_for(plugin_with(inspect, settings=LineSettings), signature="-- me")
    who = Invoker(user_id="u42", display_name="Ada", roles=("writer",))
    invocation = Invocation(
        command="line", params={"text": "x"}, invoker=who, platform="discord", channel="c1"
    )

    await runner.run(invocation, on_status=statuses.append)

    assert seen["invocation"] == invocation
    assert seen["spec"] == "line"
    assert seen["settings"] == LineSettings(signature="-- me")
    assert seen["extra"] == {"invocation_id": invocation.id}
    assert seen["logger"] == "musekit.plugin.liner"
    assert statuses == ["thinking"]


async def test_code_without_the_context_can_report_status_to_the_front_end() -> None:
    async def waits(ctx: Context, params: LineParams) -> Result:
        report_status("3rd in line for the model")  # as an engine in a queue would
        return Result(title="done")

    seen: list[str] = []
    await runner_for(plugin_with(waits)).run(line(), on_status=seen.append)

    assert seen == ["3rd in line for the model"]
    report_status("outside any command: ignored")
    assert seen == ["3rd in line for the model"]


async def test_deltas_are_forwarded_as_they_stream() -> None:
    deltas: list[Delta] = []
    runner = runner_for(plugin_with(ask_engine), FakeEngine(["low tide"]))
    await runner.run(line(), on_delta=deltas.append)
    assert "".join(d.text for d in deltas) == "low tide"
    assert deltas[-1].finish_reason == "stop"


async def test_an_unknown_command_lists_the_available_ones() -> None:
    runner = runner_for(plugin_with(ask_engine))
    with pytest.raises(
        CommandNotFound, match=r"Unknown command 'lines'\. Available commands: line"
    ):
        await runner.run(Invocation(command="lines"))


# Permission and validation -----------------------------------------------------------------


async def test_a_permission_check_denies_with_its_reason_before_anything_runs() -> None:
    calls: list[tuple[str, str]] = []

    def writers_only(invocation: Invocation, spec: CommandSpec) -> str | None:
        calls.append((invocation.invoker.user_id, spec.name))
        return None if "writer" in invocation.invoker.roles else "only writers may use it"

    engine = FakeEngine()
    runner = runner_for(plugin_with(ask_engine, checks=(writers_only,)), engine)
    guest = Invocation(command="line", params={"text": "x"}, invoker=Invoker(user_id="g"))

    with pytest.raises(PermissionDenied) as caught:
        await runner.run(guest)

    assert caught.value.message == "You can't run 'line': only writers may use it."
    assert caught.value.exit_code == 2
    assert calls == [("g", "line")]
    assert engine.requests == []

    writer = guest.model_copy(update={"invoker": Invoker(user_id="w", roles=("writer",))})
    assert (await runner.run(writer)).command == "line"


async def test_a_permission_check_that_raises_fails_closed_and_leaks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(invocation: Invocation, spec: CommandSpec) -> str | None:
        raise RuntimeError(SECRET)

    caplog.set_level(logging.DEBUG)
    engine = FakeEngine()
    runner = runner_for(plugin_with(ask_engine, checks=(broken,)), engine)

    with pytest.raises(PermissionDenied) as caught:
        await runner.run(line())

    assert caught.value.message == (
        "You can't run 'line': a permission check failed, so the command was not run."
    )
    assert SECRET not in str(caught.value)
    assert engine.requests == []
    assert_not_logged(caplog, SECRET)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("permission check of 'liner'" in m and "RuntimeError" in m for m in errors)


async def test_invalid_parameters_stop_the_command_before_the_plugin() -> None:
    engine = FakeEngine()
    runner = runner_for(plugin_with(ask_engine), engine)

    with pytest.raises(InvalidParameters) as caught:
        await runner.run(line("", samples=0, colour="red"))

    problems = {p.field: p.problem for p in caught.value.problems}
    assert problems == {
        "text": "String should have at least 1 character",
        "samples": "Input should be greater than or equal to 1",
        "colour": "unknown parameter",
    }
    assert engine.requests == []


async def test_permission_is_checked_before_parameters() -> None:
    def nobody(invocation: Invocation, spec: CommandSpec) -> str | None:
        return "closed"

    runner = runner_for(plugin_with(ask_engine, checks=(nobody,)))
    with pytest.raises(PermissionDenied):
        await runner.run(line(""))


# Failures of the plugin --------------------------------------------------------------------


async def test_a_plugin_error_becomes_a_plugin_failure_and_the_secret_stays_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def leaky(ctx: Context, params: LineParams) -> Result:
        raise RuntimeError(SECRET)

    caplog.set_level(logging.DEBUG)
    invocation = line()

    with pytest.raises(PluginFailure) as caught:
        await runner_for(plugin_with(leaky)).run(invocation)

    error = caught.value
    assert (error.plugin, error.command, error.exit_code) == ("liner", "line", 1)
    assert "plugin 'liner'" in error.message
    assert SECRET not in error.message
    assert error.__cause__ is None
    assert error.__suppress_context__
    assert_not_logged(caplog, SECRET)
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged == [
        f"plugin raised RuntimeError in command 'line' of plugin 'liner' "
        f"[invocation {invocation.id}]"
    ]
    # The details are there for whoever turns on debug logging.
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert len(debug) == 1


async def test_user_safe_errors_from_the_engine_pass_through() -> None:
    engine = FakeEngine()
    engine.fail_next(EngineBusy("The model is busy; try again in a moment."))
    with pytest.raises(EngineBusy, match="The model is busy"):
        await runner_for(plugin_with(ask_engine), engine).run(line())


async def test_a_handler_that_returns_something_else_than_a_result_fails() -> None:
    async def wrong(ctx: Context, params: LineParams) -> Any:
        return "just a string"

    with pytest.raises(PluginFailure, match="plugin 'liner'"):
        await runner_for(plugin_with(wrong)).run(line())


async def test_a_command_past_its_time_limit_is_stopped() -> None:
    stopped = asyncio.Event()

    async def slow(ctx: Context, params: LineParams) -> Result:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return Result(title="never")

    runner = runner_for(plugin_with(slow, limits=Limits(max_seconds=0.05)))
    with pytest.raises(CommandTimeout) as caught:
        await runner.run(line())
    assert caught.value.message == "The 'line' command ran past its limit of 0.05 seconds."
    assert caught.value.exit_code == 1
    assert stopped.is_set()


async def test_a_timeout_inside_the_plugin_is_a_plugin_failure_not_the_command_limit() -> None:
    async def own_timeout(ctx: Context, params: LineParams) -> Result:
        async with asyncio.timeout(0.001):
            await asyncio.sleep(1)
        return Result(title="never")

    runner = runner_for(plugin_with(own_timeout, limits=Limits(max_seconds=60)))
    with pytest.raises(PluginFailure):
        await runner.run(line())


# Limits ----------------------------------------------------------------------------------


async def test_limits_clamp_samples_and_tokens_whatever_the_plugin_asks() -> None:
    engine = FakeEngine(default="one two three four five six seven eight nine ten")
    limits = Limits(max_output_tokens=4, max_samples=2)
    runner = runner_for(plugin_with(ask_engine, limits=limits), engine)

    result = await runner.run(line(samples=8, tokens=5000))

    request = engine.requests[0]
    assert request.n == 2
    assert request.sampling.max_tokens == 4
    assert [s.body for s in result.sections] == ["one two three four "] * 2
    assert result.warnings == ["asked for 8 samples; the limit is 2"]
    assert result.metrics.completion_tokens == 8


async def test_requests_within_the_limits_go_through_unchanged() -> None:
    engine = FakeEngine()
    runner = runner_for(plugin_with(ask_engine, limits=Limits(max_samples=4)), engine)
    result = await runner.run(line(samples=3, tokens=50))
    assert (engine.requests[0].n, engine.requests[0].sampling.max_tokens) == (3, 50)
    assert result.warnings == []


async def test_requests_carry_the_conversation_or_plugin_as_their_routing_affinity() -> None:
    engine = FakeEngine()
    runner = runner_for(plugin_with(ask_engine), engine)

    await runner.run(line())
    await runner.run(line().model_copy(update={"conversation": "thread-42"}))

    assert [r.affinity for r in engine.requests] == ["liner", "thread-42"]


async def test_limits_also_hold_for_streaming_and_generate() -> None:
    async def streams(ctx: Context, params: LineParams) -> Result:
        request = ChatRequest(messages=(Message(role="user", content="x"),), n=5)
        async for _ in ctx.engine.stream(request.with_sampling(max_tokens=999)):
            pass
        text = await ctx.engine.generate(request.with_sampling(max_tokens=999))
        return Result(title="s", sections=[Section(body=text)])

    engine = FakeEngine()
    await runner_for(plugin_with(streams, limits=Limits(max_output_tokens=7)), engine).run(line())
    assert [(r.n, r.sampling.max_tokens) for r in engine.requests] == [(4, 7), (1, 7)]


# Cancellation and concurrency ------------------------------------------------------------


async def test_cancelling_the_task_propagates_and_sets_ctx_cancelled() -> None:
    contexts: list[Context] = []
    started = asyncio.Event()

    async def waits(ctx: Context, params: LineParams) -> Result:
        contexts.append(ctx)
        started.set()
        return await ask_engine(ctx, params)

    engine = FakeEngine(latency=30)
    task = asyncio.create_task(runner_for(plugin_with(waits), engine).run(line()))
    await started.wait()
    assert not contexts[0].cancelled.is_set()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert contexts[0].cancelled.is_set()


async def test_64_invocations_run_concurrently_on_one_engine() -> None:
    in_flight = 0
    most_in_flight = 0

    async def tracked(ctx: Context, params: LineParams) -> Result:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        try:
            return await ask_engine(ctx, params)
        finally:
            in_flight -= 1

    engine = FakeEngine(default=lambda request, index: request.messages[0].content, latency=0.05)
    runner = runner_for(plugin_with(tracked), engine)
    invocations = [line(f"line {i}") for i in range(64)]

    results = await asyncio.gather(*(runner.run(inv) for inv in invocations))

    assert most_in_flight == 64  # every command was waiting on the engine at the same time
    assert len(engine.requests) == 64
    assert [r.text for r in results] == [f"line {i}" for i in range(64)]
    assert [r.invocation_id for r in results] == [inv.id for inv in invocations]
