"""``rules``: permission rules as settings, an ordinary built-in plugin.

Rules are tried in order and the first that matches decides; when none
matches, ``default`` does. A rule matches when every condition it sets matches:
``users``, ``roles`` (any of the invoker's roles or groups), ``channels``,
``platforms`` and ``commands``, each a list of glob patterns (``*``, ``?``,
``[abc]``; case-sensitive). A condition left out matches anything. See
docs/guard-rails.md.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from musekit import CommandSpec, Invocation, hookimpl
from musekit.hookspecs import RegisterPermissionCheck, RegisterSettings

MUSEKIT_API = (1,)

Effect = Literal["allow", "deny"]

#: Why a command is refused when the rule says no more.
DEFAULT_REASON = "the permission rules don't allow it"

Patterns = tuple[str, ...]


class Rule(BaseModel):
    """Allow or deny the invocations that match every condition given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    effect: Effect = Field(description="'allow' or 'deny'.")
    users: Patterns = Field((), description="User ids.")
    roles: Patterns = Field((), description="Roles or groups; any of the invoker's may match.")
    channels: Patterns = Field((), description="Channels, with or without a leading '#'.")
    platforms: Patterns = Field((), description="Platforms: cli, slack, discord...")
    commands: Patterns = Field((), description="Command names.")
    reason: str | None = Field(
        None, min_length=1, max_length=200, description="What a denied user is told."
    )

    @field_validator("users", "roles", "channels", "platforms", "commands", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("users", "roles", "channels", "platforms", "commands")
    @classmethod
    def _no_empty_pattern(cls, value: Patterns) -> Patterns:
        if any(not pattern.strip() for pattern in value):
            raise ValueError("a pattern must not be empty")
        return value

    @field_validator("channels")
    @classmethod
    def _no_hash(cls, value: Patterns) -> Patterns:
        return tuple(pattern.removeprefix("#") for pattern in value)

    def matches(self, invocation: Invocation, command: str) -> bool:
        """Whether every condition of this rule holds for the invocation."""
        channel = (invocation.channel or "").removeprefix("#")
        return (
            _any(self.users, [invocation.invoker.user_id])
            and _any(self.roles, invocation.invoker.roles)
            and _any(self.channels, [channel])
            and _any(self.platforms, [invocation.platform])
            and _any(self.commands, [command])
        )


class RulesSettings(BaseModel):
    """The ``plugin_config.rules`` section: ordered rules and the default effect."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Effect = Field("allow", description="What happens when no rule matches.")
    default_reason: str = Field(
        "no permission rule allows it",
        min_length=1,
        max_length=200,
        description="What a user is told when the default denies.",
    )
    rules: tuple[Rule, ...] = Field((), description="Tried in order; the first match decides.")

    @field_validator("rules", mode="before")
    @classmethod
    def _json_from_environment(cls, value: object) -> object:
        """An environment variable holds the list as JSON text."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("write the rules as a JSON list of tables") from None
        return value

    def reason_to_deny(self, invocation: Invocation, spec: CommandSpec) -> str | None:
        """Why the invocation is refused, or ``None`` if the rules allow it."""
        for rule in self.rules:
            if rule.matches(invocation, spec.name):
                return None if rule.effect == "allow" else rule.reason or DEFAULT_REASON
        return None if self.default == "allow" else self.default_reason


def _any(patterns: Patterns, values: tuple[str, ...] | list[str]) -> bool:
    """A condition holds when it is not set, or when a pattern matches one of the values."""
    return not patterns or any(fnmatchcase(v, p) for p in patterns for v in values)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(RulesSettings)


@hookimpl
def register_permission_checks(
    register: RegisterPermissionCheck, settings: BaseModel | None
) -> None:
    rules = settings if isinstance(settings, RulesSettings) else RulesSettings()
    if rules.rules or rules.default == "deny":
        register(rules.reason_to_deny)
