"""The built-in `rules` plugin: ordered allow/deny rules with glob patterns, from settings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke

from musekit import Invocation, Invoker
from musekit.errors import PermissionDenied
from musekit.guards.permissions import check_permissions
from musekit.testing import FakeEngine, Kit, make_kit

# Admins may run anything anywhere; poems stay out of #general; the rest is allowed.
TEAM_RULES: dict[str, Any] = {
    "rules": [
        {"effect": "allow", "roles": ["admin"]},
        {
            "effect": "deny",
            "commands": ["poem", "lyrics"],
            "channels": ["#general"],
            "reason": "poems go in #poetry",
        },
    ]
}


def kit_with(rules: dict[str, Any]) -> Kit:
    """Every installed plugin (the rules plugin by its entry point) with these rules."""
    return make_kit(engine=FakeEngine(default="A fake reply."), settings={"rules": rules})


def write(
    *,
    user: str = "U1",
    roles: tuple[str, ...] = (),
    channel: str | None = "general",
    platform: str = "slack",
    command: str = "write",
) -> Invocation:
    return Invocation(
        command=command,
        params={"prompt": "first snow"},
        invoker=Invoker(user_id=user, roles=roles),
        channel=channel,
        platform=platform,
    )


def denial(kit: Kit, invocation: Invocation) -> str | None:
    """The message the host's permission checks give, or None if they let it run."""
    return check_permissions(kit.host, invocation, kit.host.command(invocation.command).spec)


def test_the_rules_plugin_is_installed_and_allows_everything_when_unconfigured() -> None:
    kit = make_kit()

    assert kit.host.plugins["rules"].status == "loaded"
    assert kit.host.permission_checks == []
    assert denial(kit, write(command="poem")) is None


def test_a_deny_rule_refuses_with_its_reason_naming_command_and_channel() -> None:
    kit = kit_with({"rules": [{"effect": "deny", "channels": ["general"], "reason": "not here"}]})

    with pytest.raises(PermissionDenied) as refused:
        kit.run(write())

    assert refused.value.message == "You can't run 'write' in #general: not here."
    assert kit.engine.requests == []
    assert kit.run(write(channel="random")).text == "A fake reply."


def test_lyrics_and_poems_stay_out_of_general() -> None:
    kit = kit_with(TEAM_RULES)

    message = denial(kit, write(command="poem"))

    assert message == "You can't run 'poem' in #general: poems go in #poetry."


def test_the_first_matching_rule_wins() -> None:
    kit = kit_with(TEAM_RULES)

    assert denial(kit, write(command="poem", roles=("member", "admin"))) is None
    assert denial(kit, write(command="poem", channel="poetry")) is None
    assert denial(kit, write(command="write")) is None  # no rule matches: the default allows


def test_a_default_deny_refuses_what_no_rule_allows() -> None:
    kit = kit_with({"default": "deny", "rules": [{"effect": "allow", "users": ["U1"]}]})

    assert denial(kit, write(user="U1")) is None
    assert denial(kit, write(user="U2")) == (
        "You can't run 'write' in #general: no permission rule allows it."
    )


@pytest.mark.parametrize(
    ("rule", "allowed", "denied"),
    [
        ({"channels": ["team-*"]}, write(channel="general"), write(channel="team-art")),
        ({"users": ["U9?"]}, write(user="U100"), write(user="U91")),
        ({"roles": ["guest*"]}, write(roles=("member",)), write(roles=("member", "guests"))),
        ({"platforms": ["discord"]}, write(platform="slack"), write(platform="discord")),
        ({"commands": ["po[e]m"]}, write(command="write"), write(command="poem")),
        (
            {"users": ["U1"], "channels": ["general"]},
            write(user="U1", channel="random"),
            write(user="U1", channel="general"),
        ),
    ],
    ids=["channel", "user", "any-role", "platform", "command", "every-condition"],
)
def test_each_condition_matches_by_glob_pattern(
    rule: dict[str, Any], allowed: Invocation, denied: Invocation
) -> None:
    kit = kit_with({"rules": [{"effect": "deny", **rule}]})

    assert denial(kit, allowed) is None
    assert denial(kit, denied) is not None


def test_patterns_are_case_sensitive() -> None:
    kit = kit_with({"rules": [{"effect": "deny", "users": ["alice"]}]})

    assert denial(kit, write(user="Alice")) is None
    assert denial(kit, write(user="alice")) is not None


def test_a_rule_with_channels_does_not_match_a_run_outside_any_channel() -> None:
    kit = kit_with({"rules": [{"effect": "deny", "channels": ["general"]}]})

    assert denial(kit, write(channel=None, platform="cli")) is None


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        (
            {"rules": [{"effect": "allow"}, {"effect": "maybe"}]},
            "plugin_config.rules.rules.1.effect: Input should be 'allow' or 'deny'",
        ),
        (
            {"rules": [{"effect": "deny", "channel": ["general"]}]},
            "plugin_config.rules.rules.0.channel: unknown setting",
        ),
        (
            {"rules": [{"effect": "deny", "users": [""]}]},
            "plugin_config.rules.rules.0.users: Value error, a pattern must not be empty",
        ),
        ({"default": "block"}, "plugin_config.rules.default: Input should be 'allow' or 'deny'"),
    ],
    ids=["effect", "unknown-field", "empty-pattern", "default"],
)
def test_invalid_rules_fail_the_plugin_naming_the_rule(rules: dict[str, Any], problem: str) -> None:
    from musekit.plugins import PluginHost

    host = PluginHost(plugin_config={"rules": rules})
    host.load_entry_points()

    info = host.plugins["rules"]
    assert info.status == "failed"
    assert info.error == f"has invalid settings: {problem}"


# Through the CLI: settings from a TOML file or the environment -----------------------------


def test_rules_in_musekit_toml_deny_a_cli_run_with_exit_2(
    cli: Invoke, cli_engine: FakeEngine, isolated: Path
) -> None:
    (isolated / "musekit.toml").write_text(
        '[[plugin_config.rules.rules]]\neffect = "deny"\ncommands = ["write"]\n'
        'platforms = ["cli"]\nreason = "the write command is for the bots"\n',
        "utf-8",
    )

    result = cli("run", "write", "first snow")

    assert result.exit_code == 2
    assert "You can't run 'write': the write command is for the bots." in result.stderr
    assert cli_engine.requests == []


def test_rules_from_the_environment_as_json(
    cli: Invoke, cli_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = [{"effect": "allow", "users": ["local"]}]
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__RULES__RULES", json.dumps(rules))
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__RULES__DEFAULT", "deny")

    assert cli("run", "write", "first snow").exit_code == 0
    assert len(cli_engine.requests) == 1


def test_invalid_rules_stop_every_command_naming_the_rule(
    cli: Invoke, cli_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__RULES__RULES", '[{"effect": "deny", "user": "x"}]')

    result = cli("run", "write", "first snow")

    assert result.exit_code == 2
    assert "permission rules did not load" in result.stderr
    assert "plugin_config.rules.rules.0.user: unknown setting" in result.stderr
    assert cli_engine.requests == []


def test_rules_that_are_not_json_in_the_environment_say_how_to_write_them(
    cli: Invoke, cli_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__RULES__RULES", "deny everyone")

    result = cli("run", "write", "first snow")

    assert result.exit_code == 2
    assert "write the rules as a JSON list of tables" in result.stderr
    assert cli_engine.requests == []


# docs/guard-rails.md: the example rules do what the page says ------------------------------


def test_the_example_rules_in_the_guard_rails_doc_do_what_it_says(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from musekit.app import load_host
    from musekit.settings import load_settings

    doc = Path(__file__).parents[1] / "docs" / "guard-rails.md"
    block = re.search(
        r"<!-- file: musekit.toml -->\s*```toml\n(.*?)\n```", doc.read_text("utf-8"), re.DOTALL
    )
    assert block is not None
    (isolated / "musekit.toml").write_text(block[1], "utf-8")
    kit = Kit(load_host(load_settings()), FakeEngine())

    assert denial(kit, write(command="poem", roles=("admin",))) is None
    assert denial(kit, write(command="poem")) == (
        "You can't run 'poem' in #general: poems go in #poetry."
    )
    assert denial(kit, write(command="poem", channel="poetry")) is None
    assert denial(kit, write(roles=("guest",), channel="random")) == (
        "You can't run 'write' in #random: guests can use /write only."
    )
