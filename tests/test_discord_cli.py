"""`musekit bot discord`: settings, the sync subcommand, and clear errors for what is missing."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Invoke

from musekit.settings import load_settings
from musekit.testing import FakeEngine
from musekit_bots.discord.settings import load_discord_settings
from musekit_bots.discord.testing import (
    APPLICATION_ID,
    GUILD_ID,
    FakeDiscord,
    FakeGateway,
    slash_payload,
)

TOKEN = "discord-bot-token-9c2e"


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    server = FakeDiscord()
    server.start()
    yield server
    server.stop()


def test_sync_publishes_every_command_globally_once(
    cli: Invoke, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("MUSEKIT_DISCORD_API_BASE_URL", fake.url)
    monkeypatch.setenv("MUSEKIT_DISCORD_DEV_GUILD_IDS", "[5]")

    result = cli("bot", "discord", "sync")

    assert result.exit_code == 0, result.output
    (synced,) = fake.find("PUT", "/commands")
    assert synced.path == f"/applications/{APPLICATION_ID}/commands"  # global, not a guild's
    names = {command["name"] for command in synced.body["list"]}
    assert {"poem", "write", "muse-history"} <= names
    assert f"Synced {len(names)} commands globally" in result.output
    assert TOKEN not in result.output


def test_a_missing_token_is_a_clear_error(cli: Invoke) -> None:
    result = cli("bot", "discord", "sync")

    assert result.exit_code == 2
    assert "Set MUSEKIT_DISCORD_TOKEN to the bot's token" in result.output


def test_a_refused_token_says_what_to_fix(
    cli: Invoke, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("MUSEKIT_DISCORD_API_BASE_URL", fake.url)
    fake.refuse_login = True

    result = cli("bot", "discord", "sync")

    assert result.exit_code == 2
    assert "Discord refused the bot token" in result.output
    assert TOKEN not in result.output


def test_bad_shard_settings_name_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSEKIT_DISCORD_SHARD_IDS", "[0, 4]")
    monkeypatch.setenv("MUSEKIT_DISCORD_SHARD_COUNT", "4")

    with pytest.raises(
        Exception, match=r"MUSEKIT_DISCORD_SHARD_IDS.*shard ids \[4\] are outside 0..3"
    ):
        load_discord_settings()


def test_a_misspelt_discord_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSEKIT_DISCORD_TOKN", TOKEN)

    with pytest.raises(
        Exception,
        match="Unknown Discord setting MUSEKIT_DISCORD_TOKN; they are MUSEKIT_DISCORD_TOKEN, ",
    ) as caught:
        load_discord_settings()
    assert TOKEN not in str(caught.value)


def test_the_bots_variables_in_env_or_dotenv_leave_musekits_settings_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MUSEKIT_DISCORD_TOKEN", TOKEN)
    Path(".env").write_text("MUSEKIT_DISCORD_EDIT_INTERVAL=2.5\nMUSEKIT_LOG_LEVEL=INFO\n")

    assert load_settings().log_level == "INFO"
    settings = load_discord_settings()
    assert settings.edit_interval == 2.5
    assert settings.require_token() == TOKEN


async def test_shard_settings_give_this_process_its_shards(tmp_path: Path) -> None:
    from musekit.plugins import PluginHost
    from musekit.runner import Runner
    from musekit.service import CommandService
    from musekit.store import open_store
    from musekit.testing import FakeEngine
    from musekit_bots.discord.bot import MuseBot
    from musekit_bots.discord.settings import DiscordSettings

    settings = DiscordSettings(token="t", shard_count=4, shard_ids=[2, 3])
    async with await open_store(f"sqlite+aiosqlite:///{tmp_path / 's.db'}") as store:
        bot = MuseBot(CommandService(Runner(PluginHost(), FakeEngine()), store), settings)
        assert (bot.shard_count, bot.shard_ids) == (4, [2, 3])


def test_the_bot_runs_on_the_gateway_and_stops_cleanly_on_sigterm(
    cli: Invoke, cli_engine: FakeEngine, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = FakeGateway()
    gateway.start()
    fake.gateway_url = gateway.url
    monkeypatch.setenv("MUSEKIT_DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("MUSEKIT_DISCORD_API_BASE_URL", fake.url)
    monkeypatch.setenv("MUSEKIT_DISCORD_DEV_GUILD_IDS", f"[{GUILD_ID}]")
    payload = slash_payload("write", {"prompt": "first snow"})
    returned = threading.Event()  # once the bot is gone, its signal handlers are too
    answered = threading.Event()

    def drive() -> None:
        """Send a slash command once the bot has identified, then SIGTERM once it answered."""
        try:
            _until(lambda: bool(gateway.identifies))
            gateway.dispatch("INTERACTION_CREATE", payload)
            _until(lambda: any(c.custom_ids for c in fake.find("PATCH", payload["token"])))
            answered.set()
        finally:
            if gateway.identifies and not returned.is_set():
                os.kill(os.getpid(), signal.SIGTERM)

    driver = threading.Thread(target=drive)
    driver.start()
    try:
        result = cli("bot", "discord")
    finally:
        returned.set()
        driver.join(timeout=30)
        gateway.stop()

    assert result.exit_code == 0, result.output
    assert answered.is_set()
    (identify,) = gateway.identifies
    assert identify["token"] == TOKEN
    assert identify["intents"] & (1 << 15)  # MESSAGE_CONTENT: thread replies refine results
    assert fake.find("PUT", f"/guilds/{GUILD_ID}/commands")  # dev guild synced at start
    assert not [c for c in fake.calls if c.method == "PUT" and "/guilds/" not in c.path]
    final = [c for c in fake.find("PATCH", payload["token"]) if c.custom_ids][-1]
    assert "A fake reply from the engine." in final.content


def _until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)
