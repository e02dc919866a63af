"""Prompt hygiene: user text only ever as user content; no mass mention reaches a platform."""

from __future__ import annotations

import importlib.metadata
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    Message,
    Params,
    Result,
    ResultField,
    Section,
    Variation,
    hookimpl,
)
from musekit.guards.hygiene import ZERO_WIDTH_SPACE, neutralise_result, neutralise_text
from musekit.hookspecs import RegisterCommand
from musekit.plugins import ENTRY_POINT_GROUP
from musekit.testing import check_conformance, make_kit

ZWSP = ZERO_WIDTH_SPACE

#: What a platform would turn into a mass notification.
MASS_MENTION = re.compile(r"@(everyone|here|channel)|<!(channel|here|everyone)|<@&\d+>", re.I)


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("hello @everyone!", f"hello @{ZWSP}everyone!"),
        ("@here look", f"@{ZWSP}here look"),
        (
            "<!channel> and <!here> and <!everyone>",
            f"@{ZWSP}channel and @{ZWSP}here and @{ZWSP}everyone",
        ),
        ("<!here|here> now", f"@{ZWSP}here now"),
        ("ping <@&123456789012345678> team", "ping @role team"),
        ("@EVERYONE", f"@{ZWSP}EVERYONE"),
        ("mail ana@example.com, thank <@42>", "mail ana@example.com, thank <@42>"),
    ],
    ids=["everyone", "here", "slack", "slack-label", "discord-role", "case", "untouched"],
)
def test_mass_mentions_are_neutralised(text: str, safe: str) -> None:
    assert neutralise_text(text) == safe


@given(st.text(alphabet=st.sampled_from(list("@<!&|>here everyonchl123")), max_size=60))
def test_no_mass_mention_survives_and_neutralising_twice_changes_nothing(text: str) -> None:
    once = neutralise_text(text)

    assert MASS_MENTION.search(once) is None
    assert neutralise_text(once) == once


def test_every_text_of_a_result_is_neutralised() -> None:
    loud = "hey @everyone"
    result = Result(
        title=loud,
        sections=[Section(heading=loud, body=loud), Section(body="<!channel>")],
        fields=[ResultField(name=loud, value="<@&1>")],
        warnings=[loud],
        variations=[
            Variation(sections=[Section(body=loud)], fields=[ResultField(name="a", value=loud)])
        ],
        data={"kept": loud},
    )

    safe = neutralise_result(result)

    shown = safe.model_dump(exclude={"data"})
    assert MASS_MENTION.search(str(shown)) is None
    assert safe.sections[0].body == f"hey @{ZWSP}everyone"
    assert safe.data == {"kept": loud}  # for programs, not shown: left as it was
    assert result.title == loud  # the original is not changed


# User text as user content: the conformance check, over every built-in plugin --------------


def builtin_commands() -> list[str]:
    plugins = {
        ep.name
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.value.startswith("musekit_plugins.")
    }
    kit = make_kit()
    return sorted(name for name, cmd in kit.host.commands.items() if cmd.plugin in plugins)


def test_the_builtin_commands_include_write() -> None:
    assert "write" in builtin_commands()


@pytest.mark.parametrize("command", builtin_commands())
def test_every_builtin_command_passes_the_conformance_check(command: str) -> None:
    assert check_conformance(make_kit(), command) == []


class _Params(Params):
    text: str = Field(description="What the line is about.")


async def _system_last(ctx: Context, params: _Params) -> Result:
    request = ChatRequest(
        messages=(
            Message(role="user", content="Write a line."),
            Message(role="system", content=f"About: {params.text}"),
        )
    )
    return Result(title="line", sections=[Section(body=await ctx.engine.generate(request))])


class _SystemLast:
    MUSEKIT_API = (1,)

    @hookimpl
    def register_commands(self, register: RegisterCommand) -> None:
        spec = CommandSpec(name="line", description="A line.", params=_Params, text_param="text")
        register(spec, _system_last)


def test_the_conformance_check_catches_user_text_sent_as_system_content() -> None:
    problems = check_conformance(make_kit({"lines": _SystemLast()}))

    assert [(p.command, p.check) for p in problems] == [("line", "prefix")]
    assert "user text from 'text' is sent as system content" in problems[0].detail
