"""Entry point of the ``musekit`` command.

Only click is imported at start-up: ``musekit --help`` stays fast, and no
engine, model or chat library loads until a command needs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from musekit.cli.bot_group import BotGroup
from musekit.cli.craft_command import craft
from musekit.cli.history_command import history
from musekit.cli.run_group import RunGroup


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (TOML); same as MUSEKIT_CONFIG.",
)
@click.version_option(package_name="musekit")
@click.pass_context
def cli(ctx: click.Context, debug: bool, config: Path | None) -> None:
    """musekit: creative-writing commands run by a language model.

    Run `musekit run --help` to list the commands your plugins provide.
    """
    if config is not None:
        os.environ["MUSEKIT_CONFIG"] = str(config)
    ctx.obj = {"debug": debug}


@cli.group(cls=RunGroup)
def run() -> None:
    """Run a plugin command: `musekit run COMMAND --help` shows its options."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List plugins with their version, commands and load errors."""
    from musekit.cli.plugins_command import show_plugins

    show_plugins(as_json=as_json, debug=ctx.obj["debug"])


@cli.command()
@click.argument("command")
@click.pass_context
def schema(ctx: click.Context, command: str) -> None:
    """Print a command's parameters as JSON Schema."""
    from musekit.cli.plugins_command import show_schema

    show_schema(command, debug=ctx.obj["debug"])


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check settings, plugins, engine and model, in plain words."""
    from musekit.cli.doctor import run_doctor

    run_doctor(debug=ctx.obj["debug"])


@cli.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Serve the model over an OpenAI-compatible API: vLLM on a GPU host, else the embedded engine.

    Settings are in the `serve` section (docs/serving.md). When the server is
    ready, this prints the settings that point the bots at it. Ctrl-C stops it.
    """
    from musekit.cli.session import guarded, load_settings_or_exit

    settings = load_settings_or_exit(debug=ctx.obj["debug"])
    with guarded(debug=ctx.obj["debug"]):
        from musekit_server.serve import serve as run_server

        run_server(settings)


@cli.group(cls=BotGroup)
def bot() -> None:
    """Run a chat bot (Slack, Discord): `musekit bot` lists the installed ones."""


cli.add_command(craft)
cli.add_command(history)


def main(args: list[str] | None = None, **extra: Any) -> None:
    """Run the CLI (the ``musekit`` console script)."""
    cli.main(args=args, prog_name="musekit", **extra)
