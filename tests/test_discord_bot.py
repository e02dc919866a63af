"""The Discord bot through discord.py's own code path, against a local fake Discord API.

Each test feeds the gateway payloads Discord documents (INTERACTION_CREATE,
MESSAGE_CREATE) to the client's own parser, with discord.py's REST base pointed
at :class:`FakeDiscord`, a real HTTP server on loopback that records what the
bot sent. Behind the bot: a real CommandService with a FakeEngine and a
temporary SQLite store.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from musekit import ChatRequest, CommandSpec, Context, Message, Params, Result, Section, hookimpl
from musekit.errors import EngineBusy, EngineUnavailable
from musekit.guards.limits import Limiter
from musekit.observability.metrics import ServiceMetrics
from musekit.plugins import PluginHost
from musekit.result import Attachment, ResultField, Variation
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.settings import LimitsSettings
from musekit.store import Store, open_store
from musekit.testing import FakeEngine
from musekit_bots.common.actions import Regenerate, ShowVariation, Vote, encode
from musekit_bots.discord.bot import MuseBot, thread_key
from musekit_bots.discord.settings import DiscordSettings
from musekit_bots.discord.testing import (
    CHANNEL_ID,
    GUILD_ID,
    Call,
    FakeDiscord,
    button_payload,
    message,
    message_payload,
    slash_payload,
    snowflake,
)
from musekit_plugins import rules

SECRET = "sk-discord-7f3a"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class TextParams(Params):
    text: str = Field(min_length=1, max_length=500, description="What to write about.")


class IdeaParams(Params):
    topic: str = Field(min_length=1, description="What to brainstorm.")


async def echo(ctx: Context, params: TextParams) -> Result:
    messages = [Message(role="system", content="Echo."), *ctx.history_messages()]
    messages.append(Message(role="user", content=params.text))
    reply = await ctx.engine.generate(ChatRequest(messages=tuple(messages)))
    return Result(title="Echo", sections=[Section(body=reply, style="verse")])


async def card(ctx: Context, params: TextParams) -> Result:
    body = await ctx.engine.generate(
        ChatRequest(messages=(Message(role="user", content=params.text),))
    )
    attachments = [
        Attachment(filename="card.png", media_type="image/png", data=PNG),
        Attachment(filename="card.json", media_type="application/json", data=b'{"name": "x"}'),
    ]
    fields = [ResultField(name="form", value="haiku (5-7-5 ok)")]
    return Result(
        title="Card", sections=[Section(body=body)], attachments=attachments, fields=fields
    )


async def takes(ctx: Context, params: TextParams) -> Result:
    body = await ctx.engine.generate(
        ChatRequest(messages=(Message(role="user", content=params.text),))
    )
    variations = [Variation(sections=[Section(body=f"other take {n}")]) for n in (1, 2)]
    return Result(title="Takes", sections=[Section(body=body)], variations=variations)


async def ideas(ctx: Context, params: IdeaParams) -> Result:
    texts = ["a lighthouse keeper", "a choir of crows", "a map that lies"]
    # The service stores the ideas and writes their ids in (convention 1).
    data: Any = {"ideas": [{"id": None, "text": t} for t in texts]}
    return Result(title="Ideas", sections=[Section(body="\n".join(texts))], data=data)


async def crash(ctx: Context, params: TextParams) -> Result:
    raise RuntimeError(f"token {SECRET} leaked")


HANDLERS: dict[str, tuple[Any, type[Params], str | None]] = {
    "echo": (echo, TextParams, "text"),
    "card": (card, TextParams, "text"),
    "takes": (takes, TextParams, "text"),
    "ideas": (ideas, IdeaParams, None),
    "crash": (crash, TextParams, "text"),
}


class Commands:
    MUSEKIT_API = (1,)

    @hookimpl
    def register_commands(self, register: Any) -> None:
        for name, (handler, params, text_param) in HANDLERS.items():
            spec = CommandSpec(
                name=name, description=f"The {name} command.", params=params, text_param=text_param
            )
            register(spec, handler)


@dataclass
class Rig:
    """A logged-in bot, its fake Discord, engine and store."""

    bot: MuseBot
    fake: FakeDiscord
    engine: FakeEngine
    store: Store

    def feed(self, payload: dict[str, Any]) -> None:
        """Hand a gateway INTERACTION_CREATE to discord.py's own parser."""
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]

    async def run(self, payload: dict[str, Any]) -> list[Call]:
        """Feed one interaction, wait until the bot is done with it; the calls on its token."""
        self.feed(payload)
        token = payload["token"]
        await self.fake.wait_for("POST", f"/{token}/callback")
        assert await self.bot.drain(5)
        return [c for c in self.fake.calls if token in c.path]

    async def reply(self, thread_id: int, text: str, *, expect_posts: int = 1) -> list[Call]:
        """Feed a MESSAGE_CREATE in a thread; wait for the bot's posts there and its finish."""
        self.bot._connection.parse_message_create(message_payload(thread_id, text))  # type: ignore[arg-type]
        await self.fake.wait_for("POST", f"/channels/{thread_id}/messages", expect_posts)
        assert await self.bot.drain(5)
        return [c for c in self.fake.calls if f"/channels/{thread_id}/" in c.path]


def build_service(
    store: Store, engine: FakeEngine, rule_config: dict[str, Any] | None = None, **limits: Any
) -> CommandService:
    host = PluginHost(plugin_config={"rules": rule_config} if rule_config else None)
    host.add(Commands(), name="commands")
    host.add(rules, name="rules")
    return CommandService(
        Runner(host, engine),
        store,
        limiter=Limiter(LimitsSettings(**limits)),
        metrics=ServiceMetrics(),
    )


@contextlib.asynccontextmanager
async def started(
    fake: FakeDiscord,
    store: Store,
    engine: FakeEngine | None = None,
    *,
    rule_config: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[Rig]:
    """A bot logged in to the fake Discord (GET /users/@me, application info, setup hook)."""
    engine = engine or FakeEngine(default="first snow on the roofs")
    service = build_service(store, engine, rule_config, **(limits or {}))
    options = {"token": "bot-token", "api_base_url": fake.url, "edit_interval": 0.5, **settings}
    bot = MuseBot(service, DiscordSettings(**options))
    await bot.login("bot-token")
    try:
        yield Rig(bot, fake, engine, store)
    finally:
        await bot.drain(5)
        await bot.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await open_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def rig(fake: FakeDiscord, store: Store) -> AsyncIterator[Rig]:
    async with started(fake, store) as ready:
        yield ready


def edits(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.method == "PATCH" and c.path.endswith("/messages/@original")]


# Tests ------------------------------------------------------------------------------------------


async def test_a_command_is_deferred_before_the_engine_is_asked_then_answered(rig: Rig) -> None:
    seen: list[float] = []

    def reply(request: ChatRequest, index: int) -> str:
        seen.append(rig.fake.clock())
        return "first snow on the roofs"

    rig.engine.script(reply)
    calls = await rig.run(slash_payload("echo", {"text": "winter"}))

    defer = calls[0]
    assert (defer.method, defer.path.endswith("/callback")) == ("POST", True)
    assert defer.body["type"] == 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
    assert defer.at < seen[0]
    final = edits(calls)[-1]
    assert final.content == "**Echo**\n\nfirst snow on the roofs"
    assert final.body["allowed_mentions"] == {"parse": []}
    assert encode(Regenerate(_invocation_id(final))) in final.custom_ids


def _invocation_id(call: Call) -> str:
    for custom_id in call.custom_ids:
        if custom_id.startswith("mk:regen:"):
            return custom_id.removeprefix("mk:regen:")
    raise AssertionError(f"no regenerate button in {call.custom_ids}")


async def test_progress_is_edited_at_a_bounded_cadence(fake: FakeDiscord, store: Store) -> None:
    engine = FakeEngine(default=" ".join(f"word{n}" for n in range(40)), token_delay=0.04)
    async with started(fake, store, engine, edit_interval=0.5) as rig:
        calls = await rig.run(slash_payload("echo", {"text": "winter"}))

    *progress, final = edits(calls)
    assert len(progress) >= 2  # it streamed (about 1.6 s of tokens)...
    assert len(progress) <= 1.6 / 0.5 + 2  # ...at most one edit per interval
    gaps = [b.at - a.at for a, b in itertools.pairwise(progress)]
    assert min(gaps) >= 0.45
    assert "word0 word1" in progress[-1].content  # the text streamed so far
    assert all(c.body["allowed_mentions"] == {"parse": []} for c in progress)
    assert final.custom_ids  # the result, with its buttons, came last


async def test_a_long_result_is_split_at_2000_characters_without_losing_text(
    fake: FakeDiscord, store: Store
) -> None:
    # Few, long tokens: the fake engine's tokens are words, and a command gets 512 at most.
    stanza = "\n".join(
        f"line-{n}-of-a-long-stanza about-the-grey-and-restless-sea" for n in range(12)
    )
    text = "\n\n".join(f"{stanza} ({k})" for k in range(8))
    assert len(text) > 4000
    async with started(fake, store, FakeEngine(default=text)) as rig:
        calls = await rig.run(slash_payload("echo", {"text": "the sea"}))

    first = edits(calls)[-1]
    followups = [c for c in calls if c.method == "POST" and "/webhooks/" in c.path]
    parts = [first, *followups]
    assert len(parts) >= 3
    assert all(len(c.content) <= 2000 for c in parts)
    assert all(c.content.endswith("\n\n") for c in parts[:-1])  # stanzas are kept whole
    assert "".join(c.content for c in parts) == "**Echo**\n\n" + text
    assert not first.custom_ids  # the buttons go under the last part
    assert parts[-1].custom_ids
    assert all(c.body["allowed_mentions"] == {"parse": []} for c in parts)


async def test_attachments_are_uploaded_as_files_with_the_fields_in_an_embed(rig: Rig) -> None:
    calls = await rig.run(slash_payload("card", {"text": "a lighthouse keeper"}))

    final = edits(calls)[-1]
    assert final.files == {
        "card.png": PNG,
        "card.json": b'{"name": "x"}',
    }
    assert [a["filename"] for a in final.body["attachments"]] == ["card.png", "card.json"]
    (embed,) = final.body["embeds"]
    assert embed["fields"][0] == {"name": "form", "value": "haiku (5-7-5 ok)", "inline": True}


async def test_regenerate_runs_the_command_again_with_the_same_params_and_conversation(
    rig: Rig,
) -> None:
    first = await rig.run(slash_payload("echo", {"text": "winter"}))
    shown = edits(first)[-1]
    invocation_id = _invocation_id(shown)
    pressed_on = message(CHANNEL_ID, shown.body, rig.fake.original_message_id(_token(first)) or 1)

    rig.engine.script("second take on snow")
    again = await rig.run(button_payload(encode(Regenerate(invocation_id)), pressed_on, user_id=7))

    assert again[0].body["type"] == 5  # a new message, deferred at once
    assert edits(again)[-1].content == "**Echo**\n\nsecond take on snow"
    assert [m.content for m in rig.engine.requests[-1].messages][-1] == "winter"
    original = await rig.store.get(invocation_id)
    (latest,) = await rig.store.history(user="7")
    assert original is not None
    assert latest.params == original.params
    assert latest.conversation == original.conversation is not None


async def test_variations_are_shown_without_asking_the_engine(rig: Rig) -> None:
    first = await rig.run(slash_payload("takes", {"text": "rain"}))
    shown = edits(first)[-1]
    invocation_id = _invocation_id(shown)
    asked = len(rig.engine.requests)
    pressed_on = message(CHANNEL_ID, shown.body, 1)

    calls = await rig.run(button_payload(encode(ShowVariation(invocation_id, 0)), pressed_on))

    final = edits(calls)[-1]
    assert "other take 1" in final.content
    assert "variation 1 of 2" in final.content
    assert encode(ShowVariation(invocation_id, 1)) in final.custom_ids  # the next one
    assert len(rig.engine.requests) == asked


async def test_votes_on_ideas_are_stored_and_the_ranking_is_shown_privately(rig: Rig) -> None:
    first = await rig.run(slash_payload("ideas", {"topic": "a ghost story"}))
    shown = edits(first)[-1]
    invocation_id = _invocation_id(shown)
    stored = await rig.store.ideas(invocation_id)
    assert len(stored) == 3
    for idea in stored:
        assert encode(Vote(idea.id, 1)) in shown.custom_ids
        assert encode(Vote(idea.id, -1)) in shown.custom_ids
    pressed_on = message(CHANNEL_ID, shown.body, 1)

    await rig.run(button_payload(encode(Vote(stored[1].id, 1)), pressed_on, user_id=5))
    calls = await rig.run(button_payload(encode(Vote(stored[2].id, -1)), pressed_on, user_id=5))

    defer, answer = calls[0], calls[-1]
    assert defer.body["data"]["flags"] & 64  # ephemeral
    assert answer.content.splitlines()[1:] == [
        "1. a choir of crows (👍 1 · 👎 0)",
        "2. a lighthouse keeper (👍 0 · 👎 0)",
        "3. a map that lies (👍 0 · 👎 1)",
    ]
    ideas = {idea.text: (idea.up, idea.down) for idea in await rig.store.ideas(invocation_id)}
    assert ideas["a choir of crows"] == (1, 0)


async def test_a_forged_button_does_nothing_but_say_so(rig: Rig) -> None:
    forged = "mk:vote:abc:up"
    row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "?", "custom_id": forged}]}
    calls = await rig.run(button_payload(forged, message(CHANNEL_ID, {"components": [row]}, 1)))

    (answer,) = calls
    assert answer.body["type"] == 4
    assert answer.body["data"]["flags"] & 64
    assert "no longer works" in answer.body["data"]["content"]
    assert rig.engine.requests == []


async def test_a_reply_in_the_results_thread_refines_it_with_the_history(rig: Rig) -> None:
    first = await rig.run(slash_payload("echo", {"text": "winter"}))
    shown = edits(first)[-1]
    invocation_id = _invocation_id(shown)
    starter = rig.fake.original_message_id(_token(first))
    assert starter is not None
    pressed_on = message(CHANNEL_ID, shown.body, starter)

    opened = await rig.run(button_payload(f"mk:thread:{invocation_id}", pressed_on))
    threads = rig.fake.find("POST", f"/channels/{CHANNEL_ID}/messages/{starter}/threads")
    assert len(threads) == 1
    assert threads[0].body["name"] == "Echo"
    assert f"<#{starter}>" in opened[-1].content

    rig.engine.script("darker snow on the roofs, @everyone")
    posts = await rig.reply(starter, "make it darker")

    request = rig.engine.requests[-1]
    assert [(m.role, m.content) for m in request.messages][1:] == [
        ("user", "text: winter"),
        ("assistant", "first snow on the roofs"),
        ("user", "make it darker"),
    ]
    final = posts[-1]
    assert "darker snow on the roofs, @\u200beveryone" in final.content
    assert final.body["allowed_mentions"] == {"parse": []}
    turns = await rig.store.conversation(thread_key(starter))
    assert [t.params["text"] for t in turns] == ["winter", "make it darker"]


async def test_a_message_outside_musekit_threads_is_ignored(rig: Rig) -> None:
    rig.bot._connection.parse_message_create(message_payload(999, "hello"))  # type: ignore[arg-type]
    await asyncio.sleep(0.2)
    assert await rig.bot.drain(5)
    assert rig.engine.requests == []
    assert not rig.fake.find("POST", "/channels/999/")


async def test_a_denied_command_gets_a_private_reason_and_never_reaches_the_engine(
    fake: FakeDiscord, store: Store
) -> None:
    rule = {"rules": [{"effect": "deny", "channels": ["writers-room"], "reason": "not in here"}]}
    async with started(fake, store, rule_config=rule) as rig:
        calls = await rig.run(slash_payload("echo", {"text": "winter"}))

    assert [(c.method, c.path.rsplit("/", 1)[-1]) for c in calls][1:] == [
        ("DELETE", "@original"),
        ("POST", _token(calls)),
    ]
    notice = calls[-1]
    assert notice.body["flags"] & 64
    assert notice.content == "You can't run 'echo' in #writers-room: not in here."
    assert rig.engine.requests == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (EngineBusy("queue full at http://10.0.0.5:8000"), "The model is busy right now."),
        (EngineUnavailable("http://10.0.0.5:8000 refused"), "cannot be reached right now"),
    ],
)
async def test_an_engine_that_is_busy_or_down_gets_a_friendly_private_message(
    rig: Rig, error: Exception, expected: str
) -> None:
    rig.engine.fail_next(error)
    calls = await rig.run(slash_payload("echo", {"text": "winter"}))

    notice = calls[-1]
    assert notice.body["flags"] & 64
    assert expected in notice.content
    assert "10.0.0.5" not in json.dumps([c.body for c in calls])


async def test_a_crash_shows_no_exception_text_on_discord_or_in_the_logs(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = await rig.run(slash_payload("crash", {"text": "winter"}))

    assert calls[-1].body["flags"] & 64
    assert "failed unexpectedly" in calls[-1].content
    assert SECRET not in json.dumps([c.body for c in rig.fake.calls])
    assert SECRET not in caplog.text
    assert "bot-token" not in caplog.text


async def test_after_the_token_expires_the_result_goes_to_the_channel(
    fake: FakeDiscord, store: Store
) -> None:
    engine = FakeEngine(default="late snow", latency=0.3)
    async with started(fake, store, engine) as rig:
        payload = slash_payload("echo", {"text": "winter"})
        rig.feed(payload)
        await fake.wait_for("POST", "/callback")
        fake.expire(payload["token"])
        assert await rig.bot.drain(5)

    (posted,) = fake.find("POST", f"/channels/{CHANNEL_ID}/messages")
    assert posted.content == "**Echo**\n\nlate snow"
    assert posted.body["allowed_mentions"] == {"parse": []}
    assert posted.custom_ids  # the buttons still work: they need no token
    assert await store.undelivered(platform="discord") == []


async def test_a_result_nobody_can_post_is_kept_and_can_be_read_back(
    fake: FakeDiscord, store: Store
) -> None:
    engine = FakeEngine(default="kept snow", latency=0.3)
    fake.forbidden_channels.add(CHANNEL_ID)
    async with started(fake, store, engine) as rig:
        payload = slash_payload("echo", {"text": "winter"}, user_id=9)
        rig.feed(payload)
        await fake.wait_for("POST", "/callback")
        fake.expire(payload["token"])
        assert await rig.bot.drain(5)

        (kept,) = await store.undelivered(platform="discord")
        assert kept.delivery is not None
        assert kept.delivery.destination == f"channel:{CHANNEL_ID}"
        assert kept.delivery.reason == "Discord refused the message (HTTP 403, code 50013)"

        listing = await rig.run(slash_payload("muse-history", {}, user_id=9))
        assert f"`{kept.id}` /echo · ok" in listing[-1].content
        assert "not delivered" in listing[-1].content

        shown = await rig.run(slash_payload("muse-history", {"result": kept.id}, user_id=9))
        assert shown[-1].content == "**Echo**\n\nkept snow"
        assert shown[-1].body["flags"] & 64

        other = await rig.run(slash_payload("muse-history", {"result": kept.id}, user_id=10))
        assert "no result" in other[-1].content

    assert await store.undelivered(platform="discord") == []


async def test_dev_guilds_get_the_commands_at_start_and_nothing_is_synced_globally(
    fake: FakeDiscord, store: Store
) -> None:
    async with started(fake, store, dev_guild_ids=[GUILD_ID], default_member_permissions=32):
        pass

    (synced,) = fake.find("PUT", f"/guilds/{GUILD_ID}/commands")
    commands = {c["name"]: c for c in synced.body["list"]}
    assert set(commands) == {*HANDLERS, "muse-history"}
    assert commands["echo"]["default_member_permissions"] == 32
    (text,) = commands["echo"]["options"]
    assert (text["name"], text["type"], text["required"]) == ("text", 3, True)
    assert (text["min_length"], text["max_length"]) == (1, 500)
    assert not [c for c in fake.calls if c.method == "PUT" and "/guilds/" not in c.path]


def _token(calls: list[Call]) -> str:
    return calls[0].path.split("/")[3]


async def test_a_command_that_outlives_the_15_minute_token_posts_to_the_channel(
    rig: Rig,
) -> None:
    sixteen_minutes_ago = snowflake(time.time() - 16 * 60)
    calls = await rig.run(
        slash_payload("echo", {"text": "winter"}, interaction_id=sixteen_minutes_ago)
    )

    assert [c.method for c in calls] == ["POST"]  # the defer; the token is not used again
    (posted,) = rig.fake.find("POST", f"/channels/{CHANNEL_ID}/messages")
    assert posted.content == "**Echo**\n\nfirst snow on the roofs"


async def test_an_interaction_dead_before_the_defer_runs_nothing(rig: Rig) -> None:
    payload = slash_payload("echo", {"text": "winter"})
    rig.fake.expire(payload["token"])

    calls = await rig.run(payload)

    assert [c.method for c in calls] == ["POST"]
    assert rig.engine.requests == []
    assert await rig.store.history() == []


async def test_a_command_inside_a_thread_joins_its_conversation(rig: Rig) -> None:
    first = await rig.run(slash_payload("echo", {"text": "winter"}))
    starter = rig.fake.original_message_id(_token(first))
    assert starter is not None

    calls = await rig.run(
        slash_payload("echo", {"text": "spring"}, channel_id=starter, channel_type=11)
    )

    turns = await rig.store.conversation(thread_key(starter))
    assert [t.params["text"] for t in turns] == ["winter", "spring"]
    assert "mk:thread:" not in " ".join(edits(calls)[-1].custom_ids)  # already in the thread
    # Rules see the channel the thread is in (by id here: this guild is not in the cache).
    assert turns[-1].channel == str(CHANNEL_ID)


async def test_a_cooldown_refuses_the_next_command_privately(
    fake: FakeDiscord, store: Store
) -> None:
    async with started(fake, store, limits={"user_cooldown": 60}) as rig:
        await rig.run(slash_payload("echo", {"text": "winter"}, user_id=3))
        calls = await rig.run(slash_payload("echo", {"text": "spring"}, user_id=3))

    notice = calls[-1]
    assert notice.body["flags"] & 64
    assert notice.content == "You can run another command in 1 min."
    assert len(rig.engine.requests) == 1
