"""The test kit for plugin authors: fake engine, kit, conformance check and pytest fixtures."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import Field

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    EngineBusy,
    EngineError,
    Example,
    InvalidParameters,
    Message,
    Params,
    Result,
    Section,
    Turn,
    hookimpl,
)
from musekit.errors import CommandNotFound
from musekit.hookspecs import RegisterCommand
from musekit.testing import (
    SECRET,
    FakeEngine,
    Kit,
    PluginLoadError,
    Problem,
    acheck_conformance,
    assert_conforms,
    check_conformance,
    make_kit,
    render_prompt,
)
from musekit_plugins import write

# A small plugin factory: each bad plugin below differs from GOOD in one flaw only.


class TextParams(Params):
    text: str = Field(min_length=1, max_length=200, description="What to write about.")
    mood: str | None = Field(None, max_length=30, description="A mood, in a few words.")


SYSTEM = "You write one line about the user's subject."


def command_plugin(handler: Any, spec: CommandSpec | None = None) -> object:
    """A plugin object registering ``handler`` under ``spec`` (default: a 'line' command)."""
    spec = spec or CommandSpec(
        name="line",
        description="Write one line.",
        params=TextParams,
        text_param="text",
        examples=(Example(params={"text": "the sea"}),),
    )

    @hookimpl
    def register_commands(register: RegisterCommand) -> None:
        register(spec, handler)

    return SimpleNamespace(MUSEKIT_API=(1,), register_commands=register_commands)


def line_request(system: str, user: str) -> ChatRequest:
    return ChatRequest(
        messages=(Message(role="system", content=system), Message(role="user", content=user))
    )


def user_text(params: TextParams) -> str:
    return f"Subject: {params.text}\nMood: {params.mood or 'any'}"


async def good(ctx: Context, params: TextParams) -> Result:
    text = await ctx.engine.generate(line_request(SYSTEM, user_text(params)))
    return Result(title=params.text, sections=[Section(body=text)])


async def splices_text(ctx: Context, params: TextParams) -> Result:
    system = f"{SYSTEM} The subject is {params.text}."
    text = await ctx.engine.generate(line_request(system, user_text(params)))
    return Result(title=params.text, sections=[Section(body=text)])


async def splices_mood(ctx: Context, params: TextParams) -> Result:
    system = f"{SYSTEM} Mood: {params.mood}." if params.mood else SYSTEM
    text = await ctx.engine.generate(line_request(system, user_text(params)))
    return Result(title=params.text, sections=[Section(body=text)])


async def unstable_prefix(ctx: Context, params: TextParams) -> Result:
    system = f"{SYSTEM} Request id: {ctx.invocation.id}."
    text = await ctx.engine.generate(line_request(system, user_text(params)))
    return Result(title=params.text, sections=[Section(body=text)])


async def leaks_error(ctx: Context, params: TextParams) -> Result:
    try:
        text = await ctx.engine.generate(line_request(SYSTEM, user_text(params)))
    except Exception as exc:
        raise EngineError(f"The engine failed: {exc.__cause__ or exc}") from None
    return Result(title=params.text, sections=[Section(body=text)])


async def warns_with_error(ctx: Context, params: TextParams) -> Result:
    try:
        text = await ctx.engine.generate(line_request(SYSTEM, user_text(params)))
    except Exception as exc:
        return Result(title=params.text, warnings=[f"no line: {exc!r}"])
    return Result(title=params.text, sections=[Section(body=text)])


async def logs_error(ctx: Context, params: TextParams) -> Result:
    try:
        text = await ctx.engine.generate(line_request(SYSTEM, user_text(params)))
    except Exception as exc:
        ctx.logger.warning("generation failed: %s", exc)
        raise
    return Result(title=params.text, sections=[Section(body=text)])


def good_for(params_type: type[Params]) -> Any:
    """A well-behaved handler for a command whose params have a 'text' field."""

    async def handler(ctx: Context, params: Any) -> Result:
        text = await ctx.engine.generate(line_request(SYSTEM, f"Subject: {params.text}"))
        return Result(title="t", sections=[Section(body=text)])

    return handler


def kit_of(handler: Any, spec: CommandSpec | None = None, **options: Any) -> Kit:
    return make_kit({"lines": command_plugin(handler, spec)}, **options)


# FakeEngine ------------------------------------------------------------------


def request(text: str = "hi", *, n: int = 1, max_tokens: int = 256) -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content=text),), n=n).with_sampling(
        max_tokens=max_tokens
    )


async def test_fake_engine_replies_from_its_script_then_the_default() -> None:
    engine = FakeEngine(["one two", lambda req, i: f"{req.messages[0].content}#{i}"], default="d")
    completion = await engine.complete(request("echo", n=3))
    assert [c.text for c in completion.choices] == ["one two", "echo#1", "d"]
    assert completion.usage.completion_tokens == 2 + 1 + 1
    assert engine.requests == [request("echo", n=3)]


async def test_fake_engine_truncates_at_max_tokens_and_says_so() -> None:
    engine = FakeEngine(["a b c d e"])
    choice = (await engine.complete(request(max_tokens=2))).choices[0]
    assert (choice.text, choice.finish_reason, choice.truncated) == ("a b ", "length", True)


async def test_fake_engine_fail_next_fails_only_the_next_requests() -> None:
    engine = FakeEngine(default="fine")
    engine.fail_next(EngineBusy("busy now"), times=2)
    for _ in range(2):
        with pytest.raises(EngineBusy, match="busy now"):
            await engine.complete(request())
    assert (await engine.complete(request())).text == "fine"
    assert len(engine.requests) == 3


async def test_fake_engine_waits_its_latency_and_token_delay() -> None:
    engine = FakeEngine(["a b c"], latency=0.05, token_delay=0.02)
    started = time.perf_counter()
    await engine.complete(request())
    assert time.perf_counter() - started >= 0.05 + 3 * 0.02


# Kit: building, invoking, outcomes -------------------------------------------


def test_make_kit_loads_the_installed_plugins() -> None:
    kit = make_kit()
    assert "write" in kit.commands
    assert kit.host.plugins["write"].status == "loaded"


def test_a_plugin_module_is_named_after_its_entry_point() -> None:
    kit = make_kit(write, settings={"write": {"temperature": 0.25}})
    assert kit.commands == ["write"]
    outcome = kit.invoke("write", "first snow")
    assert outcome.request.sampling.temperature == 0.25


def test_invoke_returns_the_result_requests_and_rendered_prompt() -> None:
    kit = make_kit([write], engine=FakeEngine(["  Snow on the stairs.  "]))
    outcome = kit.invoke("write", "first snow", length="medium", tone="wistful")
    assert outcome.result.title == "first snow"
    assert outcome.text == "Snow on the stairs."
    assert outcome.result.command == "write"
    assert outcome.result.metrics.engine == "fake"
    assert len(outcome.requests) == 1
    assert outcome.prompt == (
        f"[system]\n{write.SYSTEM_PROMPT}\n\n"
        f"[user]\n{write.EXAMPLE[0].content}\n\n[assistant]\n{write.EXAMPLE[1].content}\n\n"
        "[user]\nWrite about 150 words. Tone: wistful.\n\nRequest: first snow"
    )
    assert render_prompt(outcome.request) == outcome.prompt


def test_a_reply_in_a_conversation_revises_the_earlier_result() -> None:
    kit = make_kit([write], engine=FakeEngine(["Black snow on the stairs."]))
    earlier = Turn(command="write", params={"prompt": "first snow"}, text="Snow on the stairs.")

    outcome = kit.run(kit.invocation("write", "make it darker"), history=[earlier])

    assert outcome.text == "Black snow on the stairs."
    assert outcome.prompt.endswith(
        "[user]\nprompt: first snow\n\n[assistant]\nSnow on the stairs.\n\n"
        "[user]\nWrite about 60 words.\n\nRequest: make it darker"
    )


def test_each_outcome_holds_only_its_own_requests() -> None:
    kit = make_kit([write])
    first = kit.invoke("write", "one")
    second = kit.invoke("write", "two")
    assert first.request.messages[-1].content.endswith("Request: one")
    assert second.request.messages[-1].content.endswith("Request: two")
    assert kit.engine.requests == [first.request, second.request]


async def test_concurrent_ainvokes_keep_their_requests_apart() -> None:
    kit = make_kit([write], engine=FakeEngine(latency=0.02))
    topics = [f"topic {i}" for i in range(8)]
    outcomes = await asyncio.gather(*(kit.ainvoke("write", topic) for topic in topics))
    for topic, outcome in zip(topics, outcomes, strict=True):
        assert len(outcome.requests) == 1
        assert outcome.request.messages[-1].content.endswith(f"Request: {topic}")


def test_invoke_raises_the_error_a_user_would_see() -> None:
    kit = make_kit([write])
    with pytest.raises(InvalidParameters) as caught:
        kit.invoke("write", "x", length="epic")
    assert "length" in caught.value.message
    with pytest.raises(CommandNotFound, match="Unknown command 'poem'"):
        kit.invoke("poem", "x")
    kit.engine.fail_next(EngineBusy("The model is busy."))
    with pytest.raises(EngineBusy, match=r"The model is busy\."):
        kit.invoke("write", "x")


def test_text_goes_to_the_text_param_only() -> None:
    kit = make_kit([write])
    assert kit.invocation("write", "snow", length="long").params == {
        "prompt": "snow",
        "length": "long",
    }
    with pytest.raises(TypeError, match="both as text and by name"):
        kit.invocation("write", "snow", prompt="rain")
    kit = kit_of(good, CommandSpec(name="bare", description="No text.", params=Params))
    with pytest.raises(TypeError, match="'bare' takes no free text"):
        kit.invoke("bare", "hello")


def test_prompt_of_a_command_without_requests_fails_the_test() -> None:
    async def offline(ctx: Context, params: TextParams) -> Result:
        return Result(title="no model")

    outcome = kit_of(offline).invoke("line", "x")
    with pytest.raises(AssertionError, match="'line' command made no engine request"):
        _ = outcome.prompt


async def test_sync_helpers_refuse_to_run_inside_an_event_loop() -> None:
    kit = make_kit([write])
    with pytest.raises(RuntimeError, match="await the async form"):
        kit.invoke("write", "x")
    assert (await kit.ainvoke("write", "x")).text == "ok"


def test_a_plugin_that_does_not_load_fails_the_kit_with_its_reason() -> None:
    with pytest.raises(PluginLoadError, match=r"plugin 'write' has invalid settings") as caught:
        make_kit([write], settings={"write": {"temperature": 9}})
    assert "plugin_config.write.temperature" in str(caught.value)
    old = SimpleNamespace(MUSEKIT_API=(0,))
    with pytest.raises(PluginLoadError, match="plugin 'old' supports musekit API 0"):
        make_kit({"old": old})


def test_an_installed_plugin_that_fails_to_import_fails_the_kit(site: Any) -> None:
    name = site.install("mkt_broken_import")
    with pytest.raises(PluginLoadError, match=f"plugin '{name}' failed to import") as caught:
        make_kit()
    assert "Traceback" in str(caught.value)  # the plugin author gets the traceback


# Conformance -----------------------------------------------------------------


def checks(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.command, p.check) for p in problems]


def test_the_builtin_write_command_conforms() -> None:
    kit = make_kit()
    assert check_conformance(kit, "write") == []
    assert_conforms(kit, "write")
    assert kit.engine.requests == []  # the check used engines of its own


def test_a_well_behaved_command_conforms() -> None:
    assert check_conformance(kit_of(good)) == []


def test_conformance_catches_user_text_spliced_into_the_system_prompt() -> None:
    problems = check_conformance(kit_of(splices_text))
    assert checks(problems) == [("line", "prefix")]
    assert "user text from 'text' is spliced into message 0 (system)" in problems[0].detail


def test_conformance_catches_any_free_text_param_spliced_into_the_prefix() -> None:
    problems = check_conformance(kit_of(splices_mood))
    assert checks(problems) == [("line", "prefix")]
    assert "'mood'" in problems[0].detail


def test_conformance_catches_a_prefix_that_changes_with_the_input() -> None:
    problems = check_conformance(kit_of(unstable_prefix))
    assert checks(problems) == [("line", "prefix")]
    assert "messages before the last differ" in problems[0].detail


@pytest.mark.parametrize(
    ("handler", "leak"),
    [
        (leaks_error, "the user saw its text"),
        (warns_with_error, "the user saw its text"),
        (logs_error, "a WARNING log line from 'musekit.plugin.lines' saw its text"),
    ],
)
def test_conformance_catches_engine_error_text_reaching_users_or_logs(
    handler: Any, leak: str
) -> None:
    problems = check_conformance(kit_of(handler))
    assert problems, "the leak went unnoticed"
    assert {p.check for p in problems} == {"errors"}
    assert all(leak in p.detail for p in problems)


def test_conformance_checks_both_injected_failures() -> None:
    details = [p.detail for p in check_conformance(kit_of(leaks_error))]
    assert details == [
        "when the engine raised an engine error caused by a connection error, "
        "the user saw its text",
        "when the engine raised a raw RuntimeError, the user saw its text",
    ]


def test_the_secret_never_reaches_the_user_through_the_runner_alone() -> None:
    kit = kit_of(good)
    kit.engine.fail_next(RuntimeError(SECRET))
    with pytest.raises(Exception, match="failed unexpectedly") as caught:
        kit.invoke("line", "x")
    assert SECRET not in str(caught.value)


def test_conformance_catches_an_undocumented_param() -> None:
    class Undocumented(Params):
        text: str = Field(description="What to write about.")
        colour: str = "blue"

    spec = CommandSpec(name="line", description="d", params=Undocumented, text_param="text")
    problems = check_conformance(kit_of(good_for(Undocumented), spec))
    assert [str(p) for p in problems] == ["line [spec]: parameter 'colour' has no description"]


def test_conformance_catches_a_spec_that_does_not_export_as_json_schema() -> None:
    class Hooked(Params):
        text: str = Field(description="What to write about.")
        callback: Callable[[], None] = Field(print, description="Not a user parameter at all.")

    spec = CommandSpec(name="line", description="d", params=Hooked, text_param="text")
    problems = check_conformance(kit_of(good_for(Hooked), spec))
    assert checks(problems) == [("line", "spec")]
    assert problems[0].detail.startswith("json_schema() does not export as JSON")


def test_conformance_catches_a_text_param_that_takes_no_text() -> None:
    class Numbered(Params):
        text: int = Field(1, description="A number, wrongly used as the text.")

    spec = CommandSpec(name="line", description="d", params=Numbered, text_param="text")
    problems = check_conformance(kit_of(good_for(Numbered), spec))
    assert checks(problems)[0] == ("line", "spec")
    assert "text_param 'text' does not take free text" in problems[0].detail


def test_conformance_catches_an_invalid_example_in_an_unchecked_spec() -> None:
    spec = CommandSpec.model_construct(
        name="line",
        description="d",
        params=TextParams,
        text_param="text",
        examples=(Example(params={"text": ""}),),
    )
    problems = check_conformance(kit_of(good, spec))
    assert ("line", "spec") in checks(problems)
    assert any(p.detail.startswith("example 0 is invalid") for p in problems)


def test_conformance_reports_an_example_that_fails_with_the_plugin_traceback() -> None:
    async def parses_number(ctx: Context, params: TextParams) -> Result:
        text = await ctx.engine.generate(line_request(SYSTEM, user_text(params)))
        return Result(title=str(int(text)))

    problems = check_conformance(kit_of(parses_number))
    assert ("line", "examples") in checks(problems)
    example = next(p for p in problems if p.check == "examples")
    assert "invalid literal for int() with base 10: 'ok'" in example.detail
    assert check_conformance(kit_of(parses_number), reply="42") == []


def test_conformance_needs_a_valid_input_to_run_the_command() -> None:
    class Required(Params):
        count: int = Field(ge=1, description="How many.")

    spec = CommandSpec(name="count", description="Count.", params=Required)
    problems = check_conformance(kit_of(good, spec))
    assert [str(p) for p in problems] == [
        "count [spec]: no valid input to test with: add an example setting every required parameter"
    ]


def test_assert_conforms_lists_every_problem() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_conforms(kit_of(splices_text))
    assert str(caught.value).startswith("musekit conformance problems:\n  - line [prefix]: ")


async def test_conformance_has_an_async_form_and_restores_logging() -> None:
    root = logging.getLogger()
    level = root.level
    assert await acheck_conformance(kit_of(good)) == []
    assert root.level == level
    assert not [h for h in root.handlers if type(h).__name__ == "_ListHandler"]


# pytest plugin -----------------------------------------------------------------


def test_fixtures_run_the_installed_plugins_on_the_fake_engine(
    invoke: Any, fake_engine: FakeEngine, musekit_kit: Kit
) -> None:
    fake_engine.script("Snow again.")
    outcome = invoke("write", "first snow")
    assert outcome.text == "Snow again."
    assert musekit_kit.engine is fake_engine
    assert fake_engine.requests == [outcome.request]


class TestChosenPluginsAndSettings:
    @pytest.fixture
    def musekit_plugins(self) -> object:
        return {"lines": command_plugin(good)}

    def test_the_kit_has_only_the_chosen_plugins(self, musekit_kit: Kit, invoke: Any) -> None:
        assert musekit_kit.commands == ["line"]
        assert invoke("line", "the moon").prompt.endswith("[user]\nSubject: the moon\nMood: any")


class TestSettingsFixture:
    @pytest.fixture
    def musekit_settings(self) -> dict[str, dict[str, Any]]:
        return {"write": {"temperature": 1.5}}

    def test_settings_reach_the_plugin(self, invoke: Any) -> None:
        assert invoke("write", "x").request.sampling.temperature == 1.5


def test_the_pytest_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, musekit.testing.pytest_plugin as p; "
        "print(sorted(m for m in ('llama_cpp', 'pydantic', 'musekit.runner') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


DOC = Path(__file__).parents[1] / "docs" / "testing-plugins.md"
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```python\n(.*?)```", re.DOTALL)


def test_the_documented_example_passes_with_the_installed_pytest_plugin(tmp_path: Path) -> None:
    """A third party's project: the doc's plugin and tests, fixtures from the entry point."""
    files = FILE_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert [name for name, _ in files] == ["musekit_motto.py", "test_motto.py"]
    for name, code in files:
        (tmp_path / name).write_text(code, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_motto.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout
