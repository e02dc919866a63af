"""`musekit bot slack manifest`, the bot's settings, and starting it without what it needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from musekit.cli.main import cli
from musekit.errors import SettingsError
from musekit.settings import load_settings
from musekit_bots.slack.settings import load_slack_settings

SECRET_VALUE = "xoxb-never-shown-4417"


def manifest(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["bot", "slack", "manifest"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_the_manifest_lists_every_installed_command_with_scopes_events_and_interactivity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "https://bots.example.org/slack/events"
    data = manifest(monkeypatch, MUSEKIT_SLACK_REQUEST_URL=url)
    features = data["features"]
    assert isinstance(features, dict)
    commands = {c["command"]: c for c in features["slash_commands"]}
    assert {"/muse", "/write", "/poem", "/lyrics"} <= set(commands)
    assert commands["/poem"]["description"].startswith("Write a poem")
    assert commands["/poem"]["usage_hint"] == "[topic] [option=value ...] | help"
    assert all(c["url"] == url for c in commands.values())
    assert all(c["should_escape"] is False for c in commands.values())
    shortcuts = {s["callback_id"] for s in features["shortcuts"]}
    assert "musekit_poem" in shortcuts  # poem has many options: a shortcut opens its modal
    settings = data["settings"]
    assert isinstance(settings, dict)
    assert settings["interactivity"] == {"is_enabled": True, "request_url": url}
    assert settings["event_subscriptions"]["request_url"] == url
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
    }
    assert settings["socket_mode_enabled"] is False
    scopes = data["oauth_config"]["scopes"]["bot"]  # type: ignore[index]
    assert {"commands", "chat:write", "files:write", "channels:history"} <= set(scopes)


def test_with_an_app_token_the_manifest_is_for_socket_mode_and_shows_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = manifest(
        monkeypatch,
        MUSEKIT_SLACK_APP_TOKEN="xapp-" + SECRET_VALUE,
        MUSEKIT_SLACK_UMBRELLA_COMMAND="mk",
        MUSEKIT_SLACK_COMMAND_PER_SLASH="false",
    )
    assert SECRET_VALUE not in json.dumps(data)
    settings = data["settings"]
    assert isinstance(settings, dict)
    assert settings["socket_mode_enabled"] is True
    assert "request_url" not in settings["interactivity"]
    commands = data["features"]["slash_commands"]  # type: ignore[index]
    assert [c["command"] for c in commands] == ["/mk"]
    assert "url" not in commands[0]


def test_the_bot_will_not_start_without_its_tokens_and_says_which(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = CliRunner().invoke(cli, ["bot", "slack", "--http", "--port", "3999"])
    assert result.exit_code == 2
    assert "MUSEKIT_SLACK_BOT_TOKEN and MUSEKIT_SLACK_SIGNING_SECRET" in result.output
    assert "HTTP mode" in result.output


def test_a_bad_or_misspelt_setting_is_named_and_its_value_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MUSEKIT_SLACK_UPDATE_INTERVAL", "0")
    with pytest.raises(SettingsError) as bad:
        load_slack_settings()
    assert "MUSEKIT_SLACK_UPDATE_INTERVAL: Input should be greater than or equal to 0.3" in str(
        bad.value
    )
    monkeypatch.delenv("MUSEKIT_SLACK_UPDATE_INTERVAL")
    monkeypatch.setenv("MUSEKIT_SLACK_TOKEN", SECRET_VALUE)
    with pytest.raises(SettingsError) as misspelt:
        load_slack_settings()
    assert "Unknown Slack setting MUSEKIT_SLACK_TOKEN; they are MUSEKIT_SLACK_BOT_TOKEN" in str(
        misspelt.value
    )
    assert SECRET_VALUE not in str(misspelt.value)


def test_tokens_are_secret_and_core_settings_leave_the_slack_variables_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MUSEKIT_SLACK_BOT_TOKEN", SECRET_VALUE)
    settings = load_slack_settings()
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == SECRET_VALUE
    assert SECRET_VALUE not in repr(settings)
    load_settings()  # a front end's own variables are not unknown core settings
    monkeypatch.setenv("MUSEKIT_SLAKC_BOT_TOKEN", "x")
    with pytest.raises(SettingsError, match="MUSEKIT_SLAKC_BOT_TOKEN"):
        load_settings()


def test_the_settings_can_live_in_dot_env_where_a_misspelt_one_is_refused_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    Path(".env").write_text(
        f"MUSEKIT_SLACK_BOT_TOKEN={SECRET_VALUE}\nMUSEKIT_SLACK_PORT=4000\nMUSEKIT_LOG_LEVEL=INFO\n"
    )
    settings = load_slack_settings()
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == SECRET_VALUE
    assert settings.port == 4000
    assert load_settings().log_level == "INFO"  # musekit's own settings read the same file
    Path(".env").write_text("MUSEKIT_SLACK_PROT=4000\n")
    with pytest.raises(SettingsError, match="Unknown Slack setting MUSEKIT_SLACK_PROT"):
        load_slack_settings()
