"""Application commands generated from command specs: types, choices, ranges, descriptions."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import discord
import pytest
from discord import app_commands
from pydantic import Field

from musekit import CommandSpec, Params, hookimpl
from musekit.plugins import PluginHost
from musekit.result import Result, ResultField, Section
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.store import open_store
from musekit.testing import FakeEngine, make_kit
from musekit_bots.discord.bot import MuseBot
from musekit_bots.discord.options import build_command
from musekit_bots.discord.render import render_result
from musekit_bots.discord.settings import DiscordSettings
from musekit_bots.discord.testing import FakeDiscord, slash_payload

Colour = Literal[tuple(f"colour-{n}" for n in range(30))]  # type: ignore[valid-type]


class Mood(enum.Enum):
    CALM = "calm"
    STORMY = "stormy"


class WideParams(Params):
    topic: str = Field(min_length=2, max_length=9000, description="What it is about. " * 10)
    count: int = Field(3, gt=0, lt=10, description="How many.")
    heat: float = Field(0.5, ge=0.0, le=2.0, description="How hot.")
    rhymed: bool | None = Field(None, description="Rhymed or not.")
    mood: Mood = Field(Mood.CALM, description="The mood.")
    colour: Colour | None = Field(None, description="One of thirty colours.")
    tags: tuple[str, ...] = Field((), description="Not an option type Discord has.")
    maxWords: int | None = Field(None, ge=1, description="Discord wants it in lower case.")


WIDE = CommandSpec(
    name="wide", description="A command with every kind of option.", params=WideParams
)


async def ignore(
    interaction: discord.Interaction, spec: CommandSpec, params: dict[str, Any]
) -> None:
    return None


def as_sent(command: app_commands.Command[Any, ..., None]) -> dict[str, Any]:
    """The command as discord.py sends it to Discord when syncing."""
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(
        discord.Client(intents=discord.Intents.none())
    )
    return command.to_dict(tree)


def options_of(spec: CommandSpec) -> dict[str, dict[str, Any]]:
    sent = as_sent(build_command(spec, ignore, default_permissions=2048))
    return {option["name"]: option for option in sent["options"]}


def test_option_types_ranges_and_choices_come_from_the_fields() -> None:
    options = options_of(WIDE)

    assert list(options) == ["topic", "count", "heat", "rhymed", "mood", "colour", "maxwords"]
    topic = options["topic"]
    assert (topic["type"], topic["required"]) == (3, True)
    assert (topic["min_length"], topic["max_length"]) == (2, 6000)  # Discord's ceiling
    assert len(topic["description"]) <= 100
    assert topic["description"].endswith("…")
    count = options["count"]
    assert (count["type"], count["required"], count["min_value"], count["max_value"]) == (
        4,
        False,
        1,
        9,
    )
    heat = options["heat"]
    assert (heat["type"], heat["min_value"], heat["max_value"]) == (10, 0.0, 2.0)
    assert options["rhymed"]["type"] == 5
    assert options["mood"]["choices"] == [
        {"name": "calm", "value": "calm"},
        {"name": "stormy", "value": "stormy"},
    ]
    colour = options["colour"]
    assert "choices" not in colour
    assert colour["autocomplete"] is True  # 30 choices: more than Discord lists


def test_the_installed_commands_fit_discords_limits() -> None:
    kit = make_kit()
    for name in kit.commands:
        sent = as_sent(build_command(kit.host.command(name).spec, ignore, default_permissions=0))
        assert len(sent["description"]) <= 100
        assert len(sent["options"]) <= 25
        for option in sent["options"]:
            assert len(option["name"]) <= 32
            assert 1 <= len(option["description"]) <= 100
            assert len(option.get("choices", [])) <= 25


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_autocomplete_suggests_matching_choices_through_discord_py(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    class Wide:
        MUSEKIT_API = (1,)

        @hookimpl
        def register_commands(self, register: Any) -> None:
            register(WIDE, ignore)

    host = PluginHost()
    host.add(Wide(), name="wide")
    async with await open_store(f"sqlite+aiosqlite:///{tmp_path / 's.db'}") as store:
        service = CommandService(Runner(host, FakeEngine()), store)
        bot = MuseBot(service, DiscordSettings(token="t", api_base_url=fake.url))
        await bot.login("t")
        payload = slash_payload("wide", {"topic": "sea", "colour": "colour-2"})
        payload["type"] = 4  # APPLICATION_COMMAND_AUTOCOMPLETE
        payload["data"]["options"][1]["focused"] = True
        bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        (answer,) = await fake.wait_for("POST", "/callback")
        await bot.close()

    assert answer.body["type"] == 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    values = [choice["value"] for choice in answer.body["data"]["choices"]]
    assert values == ["colour-2", *(f"colour-2{n}" for n in range(10))]


def test_a_results_embed_stays_within_discords_limits() -> None:
    fields = [ResultField(name="n" * 300, value="v" * 2000) for _ in range(30)]
    result = Result(title="t", sections=[Section(body="x")], fields=fields, warnings=["w" * 5000])

    (outgoing,) = render_result(result)
    (embed,) = outgoing.embeds
    data = embed.to_dict()
    assert len(data["description"]) <= 4096
    assert len(data["fields"]) <= 25
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in data["fields"])
    total = len(data["description"]) + sum(len(f["name"]) + len(f["value"]) for f in data["fields"])
    assert total <= 6000


def test_a_result_with_nothing_to_show_still_sends_a_message() -> None:
    (outgoing,) = render_result(Result(title=""))
    assert outgoing.content == "(The command returned nothing to show.)"
