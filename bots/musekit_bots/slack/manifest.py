"""The Slack app manifest, generated from the installed commands' specs and the settings.

Paste it at https://api.slack.com/apps ("Create New App" > "From a manifest"):
slash commands, shortcuts, bot scopes, events and interactivity all come from it.
"""

from __future__ import annotations

from typing import Any

from musekit.spec import CommandSpec
from musekit_bots.slack.settings import SlackSettings

#: What the bot needs: slash commands, posting (also where not invited), files, and reading
#: replies in the threads it started.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "files:write",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
)
#: Message events, so a reply in a result's thread can refine it.
BOT_EVENTS = ("message.channels", "message.groups", "message.im", "message.mpim")
#: Global shortcuts, at most: the menu stays short.
MAX_SHORTCUTS = 5


def shortcut_id(command: str) -> str:
    """The callback id of a command's global shortcut."""
    return f"musekit_{command}"


def modal_commands(specs: list[CommandSpec], settings: SlackSettings) -> list[CommandSpec]:
    """The commands with enough options to deserve a shortcut and modal, most options first."""
    many = [s for s in specs if len(s.params.model_fields) >= settings.modal_min_params]
    many.sort(key=lambda s: (-len(s.params.model_fields), s.name))
    return many[:MAX_SHORTCUTS]


def build_manifest(specs: list[CommandSpec], settings: SlackSettings) -> dict[str, Any]:
    """The manifest for these commands: Socket Mode when an app token is set, else HTTP mode
    with ``request_url`` (a placeholder URL to edit when it is not set)."""
    socket_mode = settings.app_token is not None
    url = settings.request_url or "https://YOUR-HOST/slack/events"
    umbrella = settings.umbrella_command
    commands = [
        _slash(
            umbrella,
            f"Run a {settings.app_name} command, or: help, history.",
            "COMMAND [text] [option=value ...]",
        )
    ]
    if settings.command_per_slash:
        commands += [_slash(s.name, s.description, _usage(s)) for s in specs if s.name != umbrella]
    if not socket_mode:
        for command in commands:
            command["url"] = url
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    if not socket_mode:
        interactivity["request_url"] = url
        events["request_url"] = url
    return {
        "display_information": {
            "name": settings.app_name,
            "description": "Poems, lyrics and brainstorms, checked before anyone sees them.",
        },
        "features": {
            "bot_user": {"display_name": settings.app_name, "always_online": False},
            "slash_commands": commands,
            "shortcuts": [
                {
                    "name": s.name[:24],
                    "type": "global",
                    "callback_id": shortcut_id(s.name),
                    "description": s.description[:150],
                }
                for s in modal_commands(specs, settings)
            ],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def _slash(name: str, description: str, usage: str) -> dict[str, Any]:
    return {
        "command": f"/{name}",
        "description": description,
        "usage_hint": usage[:1000],
        "should_escape": False,
    }


def _usage(spec: CommandSpec) -> str:
    text = f"[{spec.text_param}] " if spec.text_param else ""
    return f"{text}[option=value ...] | help"
