"""The real Bolt app in HTTP mode on loopback, a fake Slack Web API, and a real service.

Shared by the Slack bot's tests: requests are signed as Slack signs them and go
over real HTTP to the bot; everything the bot sends Slack lands in
:class:`~musekit_bots.slack.testing.FakeSlack`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field

from musekit import hookimpl
from musekit.context import Context
from musekit.engine.types import ChatRequest, Message
from musekit.guards.limits import Limiter
from musekit.observability.metrics import ServiceMetrics
from musekit.plugins import PluginHost
from musekit.result import Attachment, Result, Section, Variation
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.settings import LimitsSettings
from musekit.spec import CommandSpec, Params
from musekit.store import Store, open_store
from musekit.testing import FakeEngine
from musekit_bots.slack.app import build_app
from musekit_bots.slack.bot import SlackBot
from musekit_bots.slack.serve import EVENTS_PATH, http_app, web_client
from musekit_bots.slack.settings import SlackSettings
from musekit_bots.slack.testing import (
    FakeSlack,
    serve_loopback,
    signed_headers,
    slash_command_body,
)
from musekit_plugins import rules

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-0000-fake-token-not-real"


class VerseParams(Params):
    text: str = Field(min_length=1, max_length=200, description="What it is about.")
    mood: Literal["calm", "dark"] = Field("calm", description="The mood.")
    lines: int = Field(4, ge=1, le=40, description="How many lines.")


class NoTextParams(Params):
    count: int = Field(3, ge=1, le=10)


async def verse(ctx: Context, params: VerseParams) -> Result:
    """Streams the engine's reply; revises earlier turns of its thread; has a variation."""
    request = ChatRequest(
        messages=(*ctx.history_messages(), Message(role="user", content=params.text))
    )
    body = await ctx.engine.generate(request)
    return Result(
        title=f"On {params.text}",
        sections=[Section(body=body, style="verse")],
        variations=[Variation(sections=[Section(body=f"another take on {params.text}")])],
    )


async def ideas(ctx: Context, params: NoTextParams) -> Result:
    texts = [f"idea number {i}" for i in range(1, params.count + 1)]
    return Result(
        title="Ideas",
        sections=[Section(body="\n".join(texts))],
        data={"ideas": [{"id": None, "text": t} for t in texts]},
    )


async def card(ctx: Context, params: VerseParams) -> Result:
    data = json.dumps({"name": params.text}).encode()
    return Result(
        title="A card",
        sections=[Section(body=f"card for {params.text}")],
        attachments=[Attachment(filename="card.json", media_type="application/json", data=data)],
    )


async def tome(ctx: Context, params: VerseParams) -> Result:
    """A result far past one message: many paragraphs, and one line with no break at all."""
    paragraphs = [f"Paragraph {i}: " + "the tide & <the> moon " * 40 for i in range(60)]
    return Result(
        title="A long one",
        sections=[
            Section(heading="Part one", body="\n\n".join(paragraphs)),
            Section(heading="Part two", body="x" * 7000, style="code"),
        ],
    )


class Commands:
    MUSEKIT_API = (1,)

    @hookimpl
    def register_commands(self, register: Any) -> None:
        register(
            CommandSpec(
                name="verse", description="Write verse.", params=VerseParams, text_param="text"
            ),
            verse,
        )
        register(CommandSpec(name="ideas", description="Ideas.", params=NoTextParams), ideas)
        register(
            CommandSpec(name="card", description="A card.", params=VerseParams, text_param="text"),
            card,
        )
        register(
            CommandSpec(name="tome", description="Long.", params=VerseParams, text_param="text"),
            tome,
        )


def make_host(rule_config: dict[str, Any] | None = None) -> PluginHost:
    host = PluginHost(plugin_config={"rules": rule_config} if rule_config else None)
    host.add(Commands(), name="commands")
    host.add(rules, name="rules")
    return host


@dataclass
class Harness:
    """The bot serving on loopback, its fake Slack, engine and store."""

    slack: FakeSlack
    bot: SlackBot
    engine: FakeEngine
    store: Store
    url: str
    http: httpx.AsyncClient

    async def post(
        self,
        body: str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = signed_headers(secret, body, timestamp=timestamp, content_type=content_type)
        return await self.http.post(
            self.url + EVENTS_PATH, content=body, headers=extra | headers if extra else headers
        )

    async def command(self, text: str, command: str = "/verse", **fields: Any) -> httpx.Response:
        body = slash_command_body(
            command, text, response_url=self.slack.response_url("r"), **fields
        )
        return await self.post(body)

    async def settle(self) -> None:
        """Wait until the bot's background work is done."""
        await self.bot.drain()

    def private_notes(self) -> list[str]:
        """What the user was told privately (through the response URL)."""
        return [str(c.args.get("text", "")) for c in self.slack.called("response_url")]

    def posted_text(self) -> str:
        """Every block text of every message posted or updated, in order."""
        texts = []
        for call in self.slack.calls:
            if call.method in ("chat.postMessage", "chat.update"):
                texts += [_block_text(b) for b in call.args.get("blocks") or []]
        return "\n".join(texts)


def _block_text(block: dict[str, Any]) -> str:
    if isinstance(block.get("text"), dict):
        return str(block["text"]["text"])
    return "\n".join(str(f["text"]) for f in block.get("fields", []))


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    engine: FakeEngine | None = None,
    host: PluginHost | None = None,
    limits: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    engine = engine or FakeEngine(default="a quiet line")
    slack = await FakeSlack().__aenter__()
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    service = CommandService(
        Runner(host or make_host(), engine),
        store,
        limiter=Limiter(LimitsSettings(**{"user_in_flight": 0, **(limits or {})})),
        metrics=ServiceMetrics(),
    )
    slack_settings = SlackSettings(
        bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_base_url=slack.api_url, **settings
    )
    bot = SlackBot(service, slack_settings, web_client(slack_settings))
    server = serve_loopback(http_app(bot, build_app(bot)))
    url = await server.__aenter__()
    try:
        async with httpx.AsyncClient() as http:
            yield Harness(slack, bot, engine, store, url, http)
    finally:
        await bot.drain()
        # Both servers stop at once: each takes uvicorn's fixed pauses to shut down.
        await asyncio.gather(server.__aexit__(None, None, None), slack.__aexit__())
        await store.close()


def form_payload(call_body: str) -> dict[str, Any]:
    """The ``payload`` JSON of an interaction's form body."""
    return dict(json.loads(urllib.parse.parse_qs(call_body)["payload"][0]))


def now() -> int:
    return int(time.time())
