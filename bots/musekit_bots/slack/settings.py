"""The Slack bot's own settings: ``MUSEKIT_SLACK_...`` variables, in the environment or ``.env``
(docs/slack.md)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from musekit_bots.common.settings import load_front_end_settings

ENV_PREFIX = "MUSEKIT_SLACK_"

#: Slack's Web API, as slack_sdk calls it.
SLACK_API = "https://slack.com/api/"


class SlackSettings(BaseSettings):
    """How the bot reaches Slack and how it behaves there."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = Field(
        None, description="The bot token (xoxb-...): OAuth & Permissions, after installing."
    )
    signing_secret: SecretStr | None = Field(
        None, description="Basic Information > Signing Secret: verifies every HTTP request."
    )
    app_token: SecretStr | None = Field(
        None,
        description="An app-level token (xapp-...) with connections:write: runs in Socket Mode.",
    )
    api_base_url: str = Field(
        SLACK_API, description="The Web API base URL (a proxy, or a fake server in tests)."
    )
    umbrella_command: str = Field(
        "muse",
        pattern=r"^[a-z][a-z0-9_-]{0,30}$",
        description="The slash command that runs any command (/muse poem ...), plus help "
        "and history.",
    )
    command_per_slash: bool = Field(
        True,
        description="Also one slash command per musekit command (/poem ...); turn off where "
        "a workspace limits slash commands.",
    )
    update_interval: float = Field(
        1.0, ge=0.3, le=10.0, description="Seconds between progress updates of one message."
    )
    updates_per_minute: int = Field(
        50,
        ge=1,
        description="chat.update calls per minute for progress, across the workspace.",
    )
    modal_min_params: int = Field(
        3, ge=1, description="Commands with at least this many options get a shortcut and modal."
    )
    app_name: str = Field("musekit", min_length=1, max_length=35, description="The app's name.")
    request_url: str | None = Field(
        None,
        description="HTTP mode: the public URL Slack posts to (https://HOST/slack/events), "
        "written into the manifest.",
    )
    host: str = Field("127.0.0.1", description="HTTP mode: the address to listen on.")
    port: int = Field(3000, ge=1, le=65535, description="HTTP mode: the port to listen on.")


def load_slack_settings() -> SlackSettings:
    """The bot's settings from the environment and ``.env``; a bad value or a misspelt
    variable raises :class:`SettingsError` naming it (never its value)."""
    return load_front_end_settings(SlackSettings, ENV_PREFIX, "Slack")
