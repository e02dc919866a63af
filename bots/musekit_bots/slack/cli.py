"""``musekit bot slack``: run the Slack bot, or print its app manifest."""

from __future__ import annotations

import asyncio
import contextlib
import json

import click


@click.group(invoke_without_command=True)
@click.option(
    "--http",
    is_flag=True,
    help="HTTP mode (Slack posts to /slack/events), even when an app token is set.",
)
@click.option("--port", type=click.IntRange(1, 65535), help="HTTP mode: the port to listen on.")
@click.option("--host", help="HTTP mode: the address to listen on (default: loopback).")
@click.pass_context
def slack(ctx: click.Context, http: bool, port: int | None, host: str | None) -> None:
    """Run the Slack bot: Socket Mode when MUSEKIT_SLACK_APP_TOKEN is set, else HTTP mode.

    `musekit bot slack manifest` prints the app manifest to install it with
    (docs/slack.md).
    """
    if ctx.invoked_subcommand is not None:
        return
    from musekit.cli.session import guarded, load_settings_or_exit
    from musekit_bots.slack.serve import run_bot
    from musekit_bots.slack.settings import load_slack_settings

    debug = _debug(ctx)
    core = load_settings_or_exit(debug=debug)
    with guarded(debug=debug):
        settings = load_slack_settings()
        overrides = {k: v for k, v in {"port": port, "host": host}.items() if v is not None}
        settings = settings.model_copy(update=overrides)
        use_http = http or port is not None or settings.app_token is None
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_bot(core, settings, http=use_http))


@slack.command()
@click.pass_context
def manifest(ctx: click.Context) -> None:
    """Print the Slack app manifest (JSON) generated from the installed commands."""
    from musekit.app import load_host
    from musekit.cli.session import guarded, load_settings_or_exit
    from musekit_bots.slack.manifest import build_manifest
    from musekit_bots.slack.settings import load_slack_settings

    debug = _debug(ctx)
    core = load_settings_or_exit(debug=debug)
    with guarded(debug=debug):
        settings = load_slack_settings()
        specs = [command.spec for _, command in sorted(load_host(core).commands.items())]
        click.echo(json.dumps(build_manifest(specs, settings), indent=2, ensure_ascii=False))


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("debug"))
