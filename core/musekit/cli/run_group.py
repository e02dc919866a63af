"""``musekit run``: a click group whose commands are generated from command specs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from musekit.plugins import PluginHost


#: Where the loaded plugin host is kept, in the click context's ``meta`` (one per CLI run).
HOST_KEY = "musekit.host"


class RunGroup(click.Group):
    """Lists and builds subcommands from the installed plugins, on demand."""

    def _load_host(self, ctx: click.Context) -> PluginHost:
        host: PluginHost | None = ctx.meta.get(HOST_KEY)
        if host is None:
            from musekit.app import load_host
            from musekit.cli.session import guarded, load_settings_or_exit

            settings = load_settings_or_exit(debug=_debug(ctx))
            with guarded(debug=_debug(ctx)):
                host = ctx.meta[HOST_KEY] = load_host(settings)
        return host

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._load_host(ctx).commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        host = self._load_host(ctx)
        if cmd_name in host.unavailable:
            from musekit.cli.session import guarded

            with guarded(debug=_debug(ctx)):
                host.command(cmd_name)  # raises CommandUnavailable, saying why
        if cmd_name not in host.commands:
            return None
        from musekit.cli.options import build_command

        return build_command(host.commands[cmd_name].spec)


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("debug"))
