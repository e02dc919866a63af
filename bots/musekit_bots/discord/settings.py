"""The Discord bot's own settings: environment variables ``MUSEKIT_DISCORD_...``."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from musekit.errors import SettingsError
from musekit_bots.common.settings import load_front_end_settings

ENV_PREFIX = "MUSEKIT_DISCORD_"


class DiscordSettings(BaseSettings):
    """How the bot reaches Discord and how it behaves there (docs/discord.md)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    token: SecretStr | None = Field(None, description="The bot token (Developer Portal, Bot).")
    application_id: int | None = Field(
        None, ge=1, description="The application id; default: read from Discord at login."
    )
    dev_guild_ids: list[int] = Field(
        default_factory=list,
        description="Guilds whose commands are synced at every start (instant, for development).",
    )
    shard_count: int | None = Field(
        None, ge=1, description="Shards in the whole installation; default: Discord's advice."
    )
    shard_ids: list[int] | None = Field(
        None, description="The shards this process runs (needs shard_count); default: all."
    )
    edit_interval: float = Field(
        1.5, ge=0.5, le=10.0, description="Seconds between progress edits of one response."
    )
    default_member_permissions: int = Field(
        2048,
        ge=0,
        description="Permission bits a member needs to see the commands (2048: Send Messages); "
        "server admins can change it per command.",
    )
    api_base_url: str | None = Field(
        None, description="Discord REST base URL, for tests against a local fake API."
    )

    def require_token(self) -> str:
        """The bot token; raises :class:`SettingsError` saying how to set it if it is missing."""
        if self.token is None or not self.token.get_secret_value().strip():
            raise SettingsError(
                f"Set {ENV_PREFIX}TOKEN to the bot's token (Developer Portal: your application, "
                "Bot, Reset Token)."
            )
        return self.token.get_secret_value()

    @model_validator(mode="after")
    def _check_shards(self) -> DiscordSettings:
        if self.shard_ids is None:
            return self
        if self.shard_count is None:
            raise ValueError(
                f"{ENV_PREFIX}SHARD_IDS needs {ENV_PREFIX}SHARD_COUNT (the shards of the whole "
                "installation)"
            )
        outside = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
        if outside:
            raise ValueError(
                f"{ENV_PREFIX}SHARD_IDS: shard ids {outside} are outside 0..{self.shard_count - 1}"
            )
        return self


def load_discord_settings() -> DiscordSettings:
    """The bot's settings from the environment and ``.env``; a bad value or an unknown
    ``MUSEKIT_DISCORD_`` variable raises :class:`SettingsError` naming it."""
    return load_front_end_settings(DiscordSettings, ENV_PREFIX, "Discord")
