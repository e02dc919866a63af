"""The Bolt app: slash commands, shortcuts, modals, buttons and thread replies, acked at once.

Every listener acknowledges first (within Slack's 3 seconds, whatever the engine
is doing) and hands the work to :class:`~musekit_bots.slack.bot.SlackBot` in the
background. Bolt verifies each HTTP request's signature and refuses stale
timestamps (401, before any listener runs); Events API retries are dropped by
event id.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from musekit.errors import CommandNotFound, InvalidParameters, MusekitError
from musekit.spec import CommandSpec
from musekit_bots.common.actions import InvalidAction, decode
from musekit_bots.common.args import ArgumentError, help_text, parse_args, wants_help
from musekit_bots.slack.blocks import ACTION_PREFIX
from musekit_bots.slack.bot import Destination, SlackBot
from musekit_bots.slack.manifest import shortcut_id
from musekit_bots.slack.modal import (
    MODAL_CALLBACK,
    field_errors,
    modal_params,
    modal_view,
    submitted,
)

logger = logging.getLogger("musekit.bots.slack")


class SeenEvents:
    """Event ids already handled, the newest ``size`` of them (Events API retries repeat one)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """Whether ``event_id`` is new; remembers it."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


def build_app(bot: SlackBot) -> AsyncApp:
    """A Bolt app over ``bot``'s Web API client; HTTP requests are verified with the signing
    secret when one is set (HTTP mode needs it; Socket Mode does not use it)."""
    settings = bot.settings
    secret = settings.signing_secret
    app = AsyncApp(
        client=bot.client,
        signing_secret=secret.get_secret_value() if secret is not None else None,
        request_verification_enabled=secret is not None,
        # Listeners ack, hand their work to a task of ours and return at once: Bolt answers
        # when they return, with no polling for the ack (its other mode wakes every 10 ms
        # per request in flight, which under a burst starves the event loop).
        process_before_response=True,
        logger=logging.getLogger("musekit.bots.slack.bolt"),
    )
    app.use(_DropRetries(SeenEvents()))
    # One listener for every slash command (it answers names it does not know): Bolt tries
    # listeners in turn, and one per command would cost every request a try per command.
    app.command(re.compile(r"^/[a-z][a-z0-9_-]*$"))(_on_command(bot))
    app.shortcut(re.compile(r"^musekit_"))(_on_shortcut(bot))
    app.view(MODAL_CALLBACK)(_on_modal(bot))
    app.action(re.compile(f"^{ACTION_PREFIX}_"))(_on_button(bot))
    app.event("message")(_on_message(bot))
    return app


Listener = Callable[..., Awaitable[None]]


class _DropRetries(AsyncMiddleware):
    """Answers an Events API retry of an event already handled with 200, doing nothing."""

    def __init__(self, seen: SeenEvents) -> None:
        self.seen = seen

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        event_id = req.body.get("event_id")
        if isinstance(event_id, str) and not self.seen.first_time(event_id):
            return BoltResponse(status=200, body="")
        return await next()


def _on_command(bot: SlackBot) -> Listener:
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()  # first, always; every answer goes through the response URL
        bot.spawn(_answer(bot, command))

    return on_command


async def _answer(bot: SlackBot, command: dict[str, Any]) -> None:
    """A slash command after its ack: help, history, a modal, a usage error, or a run."""
    umbrella = bot.settings.umbrella_command
    name = str(command.get("command", "")).lstrip("/")
    text = unescape(str(command.get("text", ""))).strip()
    where = Destination(
        team_id=str(command.get("team_id", "")),
        channel_id=str(command.get("channel_id", "")),
        user_id=str(command.get("user_id", "")),
        response_url=command.get("response_url"),
        user_name=str(command.get("user_name", "")),
    )
    invoked_as = f"/{name}"
    if name == umbrella:
        sub, _, text = text.partition(" ")
        sub, text = sub.lower(), text.strip()
        if not sub or wants_help(sub):
            await bot.tell(where, _overview(bot, umbrella))
            return
        if sub == "history":
            await bot.history(where, text.split()[0] if text else None)
            return
        name, invoked_as = sub, f"/{umbrella} {sub}"
    elif not bot.settings.command_per_slash:
        await bot.tell(where, f"Commands run through /{umbrella} here: /{umbrella} {name} ...")
        return
    try:
        spec = bot.service.runner.host.command(name).spec
    except CommandNotFound:
        note = f"{invoked_as} is not a {bot.settings.app_name} command; /{umbrella} lists them."
        await bot.tell(where, note)
        return
    except MusekitError as exc:
        await bot.tell(where, exc.message)
        return
    if wants_help(text):
        await bot.tell(where, help_text(spec, invoked_as=invoked_as))
        return
    trigger = command.get("trigger_id")
    if not text and trigger and not _valid(spec, {}):
        await _open_modal(bot, spec, str(trigger), where.channel_id)
        return
    try:
        params = parse_args(spec, text, invoked_as=invoked_as)
    except ArgumentError as exc:
        await bot.tell(where, exc.message)
        return
    await bot.run(spec.name, params, where)


def _on_shortcut(bot: SlackBot) -> Listener:
    async def on_shortcut(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        callback = str(shortcut.get("callback_id", ""))
        for name, command in bot.service.runner.host.commands.items():
            if shortcut_id(name) == callback:
                trigger = str(shortcut.get("trigger_id", ""))
                bot.spawn(_open_modal(bot, command.spec, trigger, None))
                return

    return on_shortcut


async def _open_modal(bot: SlackBot, spec: CommandSpec, trigger: str, channel: str | None) -> None:
    await bot.call("views.open", trigger_id=trigger, view=modal_view(spec, channel_id=channel))


def _on_modal(bot: SlackBot) -> Listener:
    async def on_modal(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        command, channel = submitted(view)
        found = bot.service.runner.host.commands.get(command)
        if found is None or not channel:
            await ack(response_action="errors", errors={"musekit_where": "Pick a conversation."})
            return
        try:
            params = modal_params(found.spec, view)
        except InvalidParameters as exc:
            await ack(response_action="errors", errors=field_errors(found.spec, exc))
            return
        await ack()
        user = body.get("user", {})
        team = str(body.get("team", {}).get("id") or user.get("team_id", ""))
        where = Destination(team_id=team, channel_id=channel, user_id=str(user.get("id", "")))
        bot.spawn(bot.run(command, params, where))

    return on_modal


def _on_button(bot: SlackBot) -> Listener:
    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        try:
            decoded = decode(str(action.get("value", "")))
        except InvalidAction:
            logger.warning("ignored a button press with an unknown value")
            return
        message = body.get("message") or {}
        where = Destination(
            team_id=str(body.get("team", {}).get("id", "")),
            channel_id=str(body.get("channel", {}).get("id", "")),
            user_id=str(body.get("user", {}).get("id", "")),
            thread_ts=message.get("thread_ts") or message.get("ts"),
            response_url=body.get("response_url"),
        )
        bot.spawn(bot.press(decoded, where, str(action.get("block_id", ""))))

    return on_button


def _on_message(bot: SlackBot) -> Listener:
    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        thread_ts = event.get("thread_ts")
        if event.get("subtype") or event.get("bot_id") or not thread_ts:
            return
        if thread_ts == event.get("ts") or not event.get("user"):
            return
        where = Destination(
            team_id=str(body.get("team_id", "")),
            channel_id=str(event.get("channel", "")),
            user_id=str(event["user"]),
            thread_ts=str(thread_ts),
        )
        bot.spawn(bot.refine(unescape(str(event.get("text", ""))), where))

    return on_message


def unescape(text: str) -> str:
    """Slack's escaping of user text undone (``&lt;`` -> ``<`` ...)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _valid(spec: CommandSpec, params: dict[str, Any]) -> bool:
    try:
        spec.validate_params(params)
    except InvalidParameters:
        return False
    return True


def _overview(bot: SlackBot, umbrella: str) -> str:
    lines = [f"/{umbrella} COMMAND [text] [option=value ...] runs a command. Commands:"]
    for name, command in sorted(bot.service.runner.host.commands.items()):
        lines.append(f"• `{name}`: {command.spec.description}")
    lines.append(f"`/{umbrella} COMMAND help` explains one; `/{umbrella} history` lists yours.")
    return "\n".join(lines)
