"""`musekit bot discord`: settings, the sync subcommand, and clear errors for what is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Invoke

from musekit.settings import load_settings
from musekit_bots.discord.settings import load_discord_settings
from musekit_bots.discord.testing import APPLICATION_ID, FakeDiscord

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
