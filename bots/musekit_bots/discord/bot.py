"""The Discord bot: musekit's commands as application commands, run through the command service.

Every command defers at once, before any other work, then runs through
:class:`~musekit.service.CommandService` (guard rails, history, store) while its
response shows progress at a bounded cadence, and ends with the result and its
buttons, or a message only the user sees. A reply in a result's thread refines
the result (convention 3). See docs/discord.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Concatenate, ParamSpec

import discord
from discord import app_commands

from musekit.engine.types import Delta
from musekit.errors import EngineBusy, EngineUnavailable, MusekitError
from musekit.invocation import Invocation, Invoker
from musekit.service import HISTORY_TURNS, CommandService, Outcome
from musekit.spec import CommandSpec
from musekit.store.errors import NotFound, StoreError
from musekit.store.records import InvocationRecord
from musekit_bots.common.actions import Action, Regenerate, ShowVariation, Vote
from musekit_bots.common.cadence import Progress, ProgressUpdater
from musekit_bots.common.split import split_text
from musekit_bots.discord.buttons import (
    ActionButton,
    ThreadButton,
    invocation_of,
    result_view,
    variation_view,
)
from musekit_bots.discord.options import build_command, cut
from musekit_bots.discord.render import (
    MAX_CONTENT,
    Outgoing,
    render_progress,
    render_result,
    render_variation,
)
from musekit_bots.discord.settings import DiscordSettings
from musekit_bots.discord.surfaces import (
    NO_MENTIONS,
    ChannelSurface,
    DeliveryFailed,
    InteractionSurface,
    Surface,
    refusal,
)

logger = logging.getLogger("musekit.discord")

PLATFORM = "discord"

#: The command that shows a user's recent results, and any the bot could not post.
HISTORY_COMMAND = "muse-history"

#: Global commands Discord allows an application.
MAX_COMMANDS = 100

_THREAD_KEY = "discord:thread:"
_P = ParamSpec("_P")
_BUSY = "The model is busy right now. Please try again in a minute."
_DOWN = "The model cannot be reached right now. Please try again in a few minutes."
_BROKEN = "Something went wrong on musekit's side; it was logged."


def _counted(
    handler: Callable[Concatenate[MuseBot, _P], Awaitable[None]],
) -> Callable[Concatenate[MuseBot, _P], Awaitable[None]]:
    """An event handler that :meth:`MuseBot.drain` waits for, and whose failure is logged by
    its type alone (exception text may hold user data or secrets)."""

    @functools.wraps(handler)
    async def counted(bot: MuseBot, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        async with bot._busy():
            try:
                await handler(bot, *args, **kwargs)
            except _NotDeferred:
                pass  # logged where it happened
            except Exception as exc:
                logger.error("%s failed: %s", handler.__name__, type(exc).__name__)
                logger.debug("traceback", exc_info=exc)

    return counted


class MuseBot(discord.AutoShardedClient):
    """musekit on Discord: one application command per installed musekit command.

    ``sync_dev_guilds`` syncs the commands to the settings' development guilds when
    the bot logs in (``musekit bot discord sync`` publishes them globally instead).
    """

    def __init__(
        self, service: CommandService, settings: DiscordSettings, *, sync_dev_guilds: bool = True
    ) -> None:
        if settings.api_base_url:
            discord.http.Route.BASE = settings.api_base_url.rstrip("/")
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = True  # privileged: replies in a result's thread refine it
        sharding: dict[str, Any] = {
            "shard_count": settings.shard_count,
            "shard_ids": settings.shard_ids,
            "application_id": settings.application_id,
        }
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **sharding)
        self.service = service
        self.settings = settings
        self.sync_dev_guilds = sync_dev_guilds
        self.tree = _Tree(self)
        self._add_commands()
        self._working = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # Start-up ----------------------------------------------------------------------------------

    def _add_commands(self) -> None:
        host = self.service.runner.host
        names = sorted(set(host.commands) - {HISTORY_COMMAND})
        if HISTORY_COMMAND in host.commands:
            logger.warning("a plugin's '%s' command is hidden by the bot's own", HISTORY_COMMAND)
        if len(names) >= MAX_COMMANDS:
            logger.warning(
                "Discord allows %d commands; %d are installed, the last %d are left out",
                MAX_COMMANDS,
                len(names),
                len(names) - MAX_COMMANDS + 1,
            )
        for name in names[: MAX_COMMANDS - 1]:
            spec = host.commands[name].spec
            self.tree.add_command(
                build_command(
                    spec,
                    self.run_command,
                    default_permissions=self.settings.default_member_permissions,
                )
            )
        self.tree.add_command(_history_command(self))

    async def setup_hook(self) -> None:
        """Make old buttons work again, and sync the development guilds' commands."""
        self.add_dynamic_items(ActionButton, ThreadButton)
        if not self.sync_dev_guilds:
            return
        for guild_id in self.settings.dev_guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                logger.error("syncing commands to guild %d failed: %s", guild_id, refusal(exc))
            else:
                logger.info("synced %d commands to guild %d", len(synced), guild_id)

    async def sync_globally(self) -> int:
        """Publish the commands to every guild (takes up to an hour to show); how many."""
        return len(await self.tree.sync())

    async def drain(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the commands running now to end; whether they did.

        Call it before :meth:`close` so a shutdown does not cut results off.
        """
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    @contextlib.asynccontextmanager
    async def _busy(self) -> AsyncIterator[None]:
        """Counts a running handler, for :meth:`drain`."""
        self._working += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._working -= 1
            if not self._working:
                self._idle.set()

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """An event handler failed: its type is logged, never its text."""
        kind = sys.exc_info()[0]
        logger.error("the %s handler failed: %s", event_method, kind.__name__ if kind else "?")

    # Commands ----------------------------------------------------------------------------------

    @_counted
    async def run_command(
        self, interaction: discord.Interaction, spec: CommandSpec, params: dict[str, Any]
    ) -> None:
        """A slash command: defer first, then run it through the service and show the outcome."""
        response_id = await _defer(interaction)
        # A command in a thread joins the thread's conversation; elsewhere it starts one, keyed
        # by its response message, which is the id of a thread opened on that message.
        channel = interaction.channel
        in_thread = isinstance(channel, discord.Thread)
        if isinstance(channel, discord.Thread):
            conversation: str | None = thread_key(channel.id)
        else:
            conversation = thread_key(response_id) if response_id else None
        invocation = Invocation(
            command=spec.name,
            params=params,
            invoker=invoker_of(interaction.user),
            platform=PLATFORM,
            channel=channel_label(interaction.channel, interaction.channel_id),
            conversation=conversation,
        )
        surface = self._interaction_surface(interaction)
        await self._run(invocation, surface, thread=conversation is not None and not in_thread)

    @_counted
    async def on_action(self, interaction: discord.Interaction, action: Action) -> None:
        """A button on a result was pressed."""
        match action:
            case Regenerate(invocation_id):
                await self._regenerate(interaction, invocation_id)
            case ShowVariation(invocation_id, index):
                await self._variation(interaction, invocation_id, index)
            case Vote():
                await self._vote(interaction, action)

    @_counted
    async def on_stale_button(self, interaction: discord.Interaction) -> None:
        """A button this bot does not recognise: say so, do nothing."""
        try:
            await interaction.response.send_message(
                "This button no longer works.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            logger.warning("answering a stale button failed: %s", refusal(exc))

    async def _regenerate(self, interaction: discord.Interaction, invocation_id: str) -> None:
        await _defer(interaction)
        surface = self._interaction_surface(interaction)
        record = await self._record(invocation_id)
        if record is None:
            await surface.private("That result is no longer in the history.")
            return
        await self._rerun(interaction, record, surface)

    async def _rerun(
        self, interaction: discord.Interaction, record: InvocationRecord, surface: Surface
    ) -> None:
        """Run a stored invocation again for whoever pressed the button (convention 2)."""
        invocation = Invocation(
            command=record.command,
            params=dict(record.params),
            invoker=invoker_of(interaction.user),
            platform=PLATFORM,
            channel=record.channel,
            conversation=record.conversation,
        )
        in_thread = isinstance(interaction.channel, discord.Thread)
        await self._run(
            invocation, surface, thread=record.conversation is not None and not in_thread
        )

    async def _variation(
        self, interaction: discord.Interaction, invocation_id: str, index: int
    ) -> None:
        await _defer(interaction)
        surface = self._interaction_surface(interaction)
        record = await self._record(invocation_id)
        if record is None or record.result is None:
            await surface.private("That result is no longer in the history.")
            return
        variations = record.result.variations
        if not variations:  # nothing else was kept: a new take instead (convention 2)
            await self._rerun(interaction, record, surface)
            return
        if index >= len(variations):
            await surface.private("There are no more variations.")
            return
        messages = render_variation(record.result, index)
        try:
            await surface.deliver(messages, variation_view(invocation_id, index, len(variations)))
        except DeliveryFailed as failure:
            logger.warning("a variation was not shown: %s", failure.reason)

    async def _vote(self, interaction: discord.Interaction, vote: Vote) -> None:
        await _defer(interaction, ephemeral=True)
        store = self.service.store
        try:
            await store.vote(vote.idea_id, str(interaction.user.id), vote.value)
            invocation_id = invocation_of(interaction.message)
            ideas = await store.ideas(invocation_id) if invocation_id else []
        except NotFound:
            text = "That idea is no longer in the history."
        except StoreError as exc:
            logger.error("a vote was not saved: %s", exc.message)
            text = "Your vote could not be saved right now. Please try again."
        else:
            ranked = sorted(ideas, key=lambda idea: (-idea.score, idea.position))
            lines = [
                f"{n}. {cut(idea.text, 150)} (👍 {idea.up} · 👎 {idea.down})"
                for n, idea in enumerate(ranked, start=1)
            ]
            text = "\n".join(["Vote counted. The ideas so far:", *lines])
        await _followup(interaction, split_text(text, MAX_CONTENT)[0])

    @_counted
    async def on_thread_button(self, interaction: discord.Interaction, invocation_id: str) -> None:
        """Open the result's thread (named after the result); replies there refine it."""
        await _defer(interaction, ephemeral=True)
        record = await self._record(invocation_id)
        starter = thread_id_of(record.conversation) if record else None
        channel = interaction.channel
        if record is None or starter is None:
            text = "This result has no conversation to continue."
        elif isinstance(channel, discord.Thread):
            text = "This is the result's thread: reply here to refine it."
        elif not isinstance(channel, discord.TextChannel):
            text = "Threads need a server text channel."
        else:
            title = record.result.title if record.result and record.result.title else record.command
            try:
                await channel.get_partial_message(starter).create_thread(
                    name=cut(title, 100), auto_archive_duration=1440
                )
            except discord.HTTPException as exc:
                if exc.code != 160004:  # 160004: the thread exists already, which is fine
                    logger.warning("opening a thread failed: %s", refusal(exc))
                    await _followup(interaction, "The thread could not be opened here.")
                    return
            text = f"Reply in <#{starter}> to refine the result: each message there revises it."
        await _followup(interaction, text)

    # Thread replies ----------------------------------------------------------------------------

    @_counted
    async def on_message(self, message: discord.Message) -> None:
        """A message in a result's thread refines the result with the thread's history."""
        if message.author.bot or not message.content.strip():
            return
        if not isinstance(message.channel, discord.Thread | discord.PartialMessageable):
            return  # only threads hold conversations (an uncached one is a PartialMessageable)
        conversation = thread_key(message.channel.id)
        try:
            records = await self.service.store.conversation(conversation, limit=HISTORY_TURNS)
        except StoreError as exc:
            logger.error("reading a thread's conversation failed: %s", exc.message)
            return
        original = next((r for r in records if r.status == "ok"), None)
        if original is None:
            return  # not a musekit thread
        surface = ChannelSurface(message.channel, f"thread:{message.channel.id}", reply_to=message)
        try:
            spec = self.service.runner.host.command(original.command).spec
        except MusekitError as exc:
            await surface.private(exc.message)
            return
        if spec.text_param is None:
            await surface.private(f"'{spec.name}' takes no text to refine: use its buttons.")
            return
        invocation = Invocation(
            command=original.command,
            params={**original.params, spec.text_param: message.content},
            invoker=invoker_of(message.author),
            platform=PLATFORM,
            channel=original.channel,
            conversation=conversation,
        )
        await self._run(invocation, surface, thread=False)

    # Running -----------------------------------------------------------------------------------

    async def _run(self, invocation: Invocation, surface: Surface, *, thread: bool) -> None:
        """Submit ``invocation`` showing progress on ``surface``, then show its outcome there.

        A result Discord does not take is kept in the store (convention 5).
        """

        async def show(progress: Progress) -> None:
            await surface.progress(render_progress(progress))

        updater = ProgressUpdater(show, interval=self.settings.edit_interval)

        def on_delta(delta: Delta) -> None:
            if delta.index == 0 and delta.text:
                updater.add(delta.text)

        outcome = await self.service.submit(invocation, on_delta=on_delta, on_status=updater.status)
        await updater.stop()  # an edit in flight ends first: the outcome is the last word
        try:
            await _finish(outcome, surface, thread=thread)
        except DeliveryFailed as failure:
            await self._keep(invocation.id, failure)
        except discord.HTTPException as exc:
            refused = DeliveryFailed(f"invocation:{invocation.id}", refusal(exc))
            await self._keep(invocation.id, refused)

    async def _keep(self, invocation_id: str, failure: DeliveryFailed) -> None:
        logger.warning(
            "result %s was not delivered to %s (%s); it is kept in the store",
            invocation_id,
            failure.destination,
            failure.reason,
        )
        try:
            await self.service.store.keep_undelivered(
                invocation_id,
                platform=PLATFORM,
                destination=failure.destination,
                reason=failure.reason,
            )
        except Exception as exc:
            logger.error("keeping an undelivered result failed: %s", type(exc).__name__)

    async def _record(self, invocation_id: str) -> InvocationRecord | None:
        try:
            return await self.service.store.get(invocation_id)
        except StoreError as exc:
            logger.error("reading invocation %s failed: %s", invocation_id, exc.message)
            return None

    def _interaction_surface(self, interaction: discord.Interaction) -> InteractionSurface:
        channel_id = interaction.channel_id or 0
        channel: discord.abc.Messageable
        if isinstance(interaction.channel, discord.abc.Messageable):
            channel = interaction.channel
        else:
            channel = self.get_partial_messageable(channel_id, guild_id=interaction.guild_id)
        fallback = ChannelSurface(
            channel, f"channel:{channel_id}", size_limit=interaction.filesize_limit
        )
        return InteractionSurface(interaction, fallback)

    # History -----------------------------------------------------------------------------------

    @_counted
    async def show_history(self, interaction: discord.Interaction, result_id: str | None) -> None:
        """/muse-history: the user's recent results here, or one of them in full (just to them)."""
        await _defer(interaction, ephemeral=True)
        store = self.service.store
        user = str(interaction.user.id)
        try:
            if result_id is None:
                records = await store.history(user=user, platform=PLATFORM, limit=10)
                await _followup(interaction, _history_lines(records))
                return
            record = await store.get(result_id)
        except StoreError as exc:
            logger.error("reading the history failed: %s", exc.message)
            await _followup(interaction, "The history cannot be read right now.")
            return
        if record is None or record.user_id != user or record.result is None:
            await _followup(interaction, f"You have no result '{cut(result_id, 64)}'.")
            return
        for outgoing in render_result(record.result, size_limit=interaction.filesize_limit):
            await _followup(interaction, outgoing)
        if record.delivered is False:
            try:
                await store.mark_delivered(record.id)
            except StoreError as exc:
                logger.error("marking a result delivered failed: %s", exc.message)


class _Tree(app_commands.CommandTree[MuseBot]):
    async def on_error(
        self, interaction: discord.Interaction[MuseBot], error: app_commands.AppCommandError
    ) -> None:
        """A command failed outside the service: the user hears so; the log gets its type."""
        cause = getattr(error, "original", error)
        logger.error(
            "command %s failed: %s",
            interaction.command and interaction.command.name,
            type(cause).__name__,
        )
        try:
            if interaction.response.is_done():
                await interaction.followup.send(_BROKEN, ephemeral=True)
            else:
                await interaction.response.send_message(_BROKEN, ephemeral=True)
        except discord.HTTPException as exc:
            logger.warning("telling the user failed: %s", refusal(exc))


async def _finish(outcome: Outcome, surface: Surface, *, thread: bool) -> None:
    """End the response: the result with its buttons, or a note for the user alone."""
    result = outcome.result
    if outcome.status == "ok" and result is not None:
        messages = render_result(result, size_limit=surface.size_limit)
        await surface.deliver(messages, result_view(outcome.invocation_id, result, thread=thread))
    else:
        await surface.private(friendly(outcome))


def friendly(outcome: Outcome) -> str:
    """The note a user gets for an outcome without a result (already free of error text)."""
    if isinstance(outcome.error, EngineBusy):
        return _BUSY
    if isinstance(outcome.error, EngineUnavailable):
        return _DOWN
    return outcome.message or _BROKEN


class _NotDeferred(Exception):
    """Discord refused the defer (the interaction died first): nothing more can be said."""


async def _defer(interaction: discord.Interaction, *, ephemeral: bool = False) -> int | None:
    """Acknowledge the interaction now (Discord's 3 s); the response message's id if known.

    Raises :class:`_NotDeferred` if Discord refused.
    """
    try:
        response = await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    except discord.HTTPException as exc:
        logger.warning("deferring an interaction failed: %s", refusal(exc))
        raise _NotDeferred from None
    return response.message_id if response is not None else None


async def _followup(interaction: discord.Interaction, message: str | Outgoing) -> None:
    """A message only the interaction's user sees (after an ephemeral defer)."""
    outgoing = message if isinstance(message, Outgoing) else Outgoing(content=message)
    try:
        await interaction.followup.send(
            outgoing.content,
            embeds=outgoing.embeds,
            files=outgoing.files(),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
    except discord.HTTPException as exc:
        logger.warning("an ephemeral message failed: %s", refusal(exc))


def _history_lines(records: list[InvocationRecord]) -> str:
    if not records:
        return "You have no musekit results on Discord yet."
    lines = ["Your recent results (`/muse-history result:<id>` shows one again):"]
    for record in records:
        when = int(record.started_at.timestamp())
        line = f"`{record.id}` /{record.command} · {record.status} · <t:{when}:R>"
        if record.delivered is False:
            line += " · **not delivered**"
        lines.append(line)
    return "\n".join(lines)


def _history_command(bot: MuseBot) -> app_commands.Command[Any, ..., None]:
    @app_commands.describe(result="A result id from the list, to see that result again.")
    async def history(
        interaction: discord.Interaction,
        result: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        await bot.show_history(interaction, result)

    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=HISTORY_COMMAND,
        description="Your recent musekit results, including any the bot could not post.",
        callback=history,
    )
    return command


def thread_key(thread_id: int) -> str:
    """The conversation key of a Discord thread (its id is its starter message's id)."""
    return f"{_THREAD_KEY}{thread_id}"


def thread_id_of(conversation: str | None) -> int | None:
    """The thread id in a conversation key, if it is a Discord thread's."""
    if conversation is None or not conversation.startswith(_THREAD_KEY):
        return None
    number = conversation.removeprefix(_THREAD_KEY)
    return int(number) if number.isdigit() else None


def invoker_of(user: discord.User | discord.Member) -> Invoker:
    """Who ran a command: their id, display name, and roles (ids, and names where known)."""
    roles: list[str] = []
    if isinstance(user, discord.Member):
        # Every role id of the member, even when the guild's roles are not cached.
        roles.extend(str(role_id) for role_id in user._roles)
        if isinstance(user.guild, discord.Guild):  # role names need the guild
            roles.extend(role.name for role in user.roles if not role.is_default())
    return Invoker(user_id=str(user.id), display_name=user.display_name, roles=tuple(roles))


def channel_label(channel: object, channel_id: int | None) -> str | None:
    """A channel as permission rules name it: its name (a thread's parent's), else its id."""
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        return parent.name if parent is not None else str(channel.parent_id)
    name = getattr(channel, "name", None)
    if isinstance(name, str) and name:
        return name
    return str(channel_id) if channel_id is not None else None
