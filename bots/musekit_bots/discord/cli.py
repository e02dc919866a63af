"""``musekit bot discord``: run the Discord bot; ``sync`` publishes its commands globally."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from musekit.settings import Settings
    from musekit_bots.discord.settings import DiscordSettings

#: Seconds a shutdown waits for running commands to post their results.
DRAIN_SECONDS = 30.0


@click.group(invoke_without_command=True)
@click.pass_context
def discord(ctx: click.Context) -> None:
    """Run the Discord bot (settings: MUSEKIT_DISCORD_..., docs/discord.md).

    Commands sync to MUSEKIT_DISCORD_DEV_GUILD_IDS at start; `musekit bot discord sync`
    publishes them to every server.
    """
    if ctx.invoked_subcommand is not None:
        return
    from musekit.cli.session import guarded, load_settings_or_exit
    from musekit_bots.discord.settings import load_discord_settings

    debug = _debug(ctx)
    core = load_settings_or_exit(debug=debug)
    with guarded(debug=debug):
        settings = load_discord_settings()
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(core, settings))


@discord.command()
@click.pass_context
def sync(ctx: click.Context) -> None:
    """Publish the commands globally, to every server the bot is in.

    Run it after installing or upgrading plugins, not at every start: Discord
    allows 200 command creations a day, and global commands take up to an hour
    to appear.
    """
    from musekit.cli.session import guarded, load_settings_or_exit
    from musekit_bots.discord.settings import load_discord_settings

    debug = _debug(ctx)
    core = load_settings_or_exit(debug=debug)
    with guarded(debug=debug):
        settings = load_discord_settings()
        count = asyncio.run(_sync(core, settings))
    click.echo(f"Synced {count} commands globally (Discord may take up to an hour to show them).")


async def _serve(core: Settings, settings: DiscordSettings) -> None:
    """Run the bot until Discord or a signal stops it; on a signal, let running commands end."""
    from musekit.service import CommandService
    from musekit_bots.discord.bot import MuseBot

    token = settings.require_token()
    service = await CommandService.from_settings(core)
    try:
        bot = MuseBot(service, settings)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        async with bot:
            running = asyncio.create_task(_login(bot.start(token)))
            stopped = asyncio.create_task(stopping.wait())
            await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if stopped.done():
                await bot.drain(DRAIN_SECONDS)
                await bot.close()
            stopped.cancel()
            await running
    finally:
        await service.aclose()


async def _sync(core: Settings, settings: DiscordSettings) -> int:
    from musekit.service import CommandService
    from musekit_bots.discord.bot import MuseBot

    token = settings.require_token()
    service = await CommandService.from_settings(core)
    try:
        async with MuseBot(service, settings, sync_dev_guilds=False) as bot:
            await _login(bot.login(token))
            return await bot.sync_globally()
    finally:
        await service.aclose()


async def _login(work: Awaitable[None]) -> None:
    """Await a login or start, turning discord.py's refusals into messages that say what to fix."""
    import discord as discord_py

    from musekit.errors import SettingsError

    try:
        await work
    except discord_py.LoginFailure:
        raise SettingsError(
            "Discord refused the bot token: set MUSEKIT_DISCORD_TOKEN to the token from the "
            "Developer Portal (your application, Bot, Reset Token)."
        ) from None
    except discord_py.PrivilegedIntentsRequired:
        raise SettingsError(
            "Discord refused the Message Content intent, which thread replies need: turn it on "
            "in the Developer Portal (your application, Bot, Privileged Gateway Intents)."
        ) from None
    except discord_py.HTTPException as exc:
        raise SettingsError(
            f"Discord refused the request (HTTP {exc.status}, code {exc.code})."
        ) from None


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("debug"))
