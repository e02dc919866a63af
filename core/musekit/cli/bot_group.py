"""``musekit bot``: the chat front ends installed alongside musekit, found by entry point.

Core knows no platform: a front end package declares a click command in the
``musekit.bots`` entry-point group (``slack = "musekit_bots.slack.cli:slack"``),
and it appears here as ``musekit bot slack``. Nothing is imported until that
command is asked for, so a missing extra (``pip install 'musekit[slack]'``)
only matters to the command that needs it.
"""

from __future__ import annotations

import importlib.metadata

import click

#: The entry-point group chat front ends register their click command in.
BOT_ENTRY_POINT_GROUP = "musekit.bots"


class BotGroup(click.Group):
    """Lists the installed front ends and loads one only when it is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({ep.name for ep in _entry_points()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for entry_point in _entry_points():
            if entry_point.name != cmd_name:
                continue
            try:
                command = entry_point.load()
            except ImportError as exc:
                missing = exc.name or entry_point.module
                raise click.ClickException(
                    f"The {cmd_name} bot needs a library that is not installed ({missing}): "
                    f"pip install 'musekit[{cmd_name}]'"
                ) from None
            if not isinstance(command, click.Command):
                raise click.ClickException(
                    f"The {cmd_name} bot's entry point is not a click command."
                )
            return command
        return None


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=BOT_ENTRY_POINT_GROUP))
