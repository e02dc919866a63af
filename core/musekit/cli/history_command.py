"""``musekit history``: list and show past results; export or forget a user's data; prune.

Only click loads with the CLI; the store and its database driver load when one of
these commands runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from musekit.settings import Settings
    from musekit.store import Store

T = TypeVar("T")


def _not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty")
    return value


def _user_option(required: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--user",
        required=required,
        callback=_not_empty,
        help="A user id, as the platform gives it.",
    )


_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group()
def history() -> None:
    """Past results and what musekit keeps about users (docs/storage.md)."""


@history.command("list")
@_user_option(required=False)
@click.option("--channel", callback=_not_empty, help="Only this channel.")
@click.option("--command", callback=_not_empty, help="Only this command (write, poem...).")
@click.option("--platform", callback=_not_empty, help="Only this platform (cli, slack, discord).")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="At most this many.",
)
@_JSON
@click.pass_context
def list_(
    ctx: click.Context,
    user: str | None,
    channel: str | None,
    command: str | None,
    platform: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List past invocations, newest first."""
    from musekit.cli import history_view

    records = _run(
        ctx,
        lambda store, _: store.history(
            user=user, channel=channel, command=command, platform=platform, limit=limit
        ),
        as_json=as_json,
    )
    history_view.show_list(records, as_json=as_json)


@history.command()
@click.argument("invocation_id", metavar="ID")
@_JSON
@click.pass_context
def show(ctx: click.Context, invocation_id: str, as_json: bool) -> None:
    """Show one invocation: who, where, status, tokens, timings, and its whole result."""
    from musekit.cli import history_view

    record = _run(ctx, lambda store, _: history_view.get(store, invocation_id), as_json=as_json)
    history_view.show_record(record, as_json=as_json)


@history.command()
@_user_option(required=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the JSON to this file instead of standard output.",
)
@click.pass_context
def export(ctx: click.Context, user: str, output: Path | None) -> None:
    """Export everything kept about a user, as JSON."""
    from musekit.cli import history_view

    data = _run(ctx, lambda store, _: store.export_user(user))
    history_view.write_export(data, output)


@history.command()
@_user_option(required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def forget(ctx: click.Context, user: str, yes: bool) -> None:
    """Delete everything kept about a user (asks first, unless --yes)."""
    from musekit.cli import history_view

    _run(ctx, lambda store, _: history_view.forget(store, user, confirmed=yes))


@history.command()
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Remove what is older than this many days (default: store.retention_days).",
)
@click.pass_context
def prune(ctx: click.Context, days: int | None) -> None:
    """Apply retention now: remove invocations older than store.retention_days."""
    from musekit.cli import history_view

    _run(ctx, lambda store, settings: history_view.prune(store, settings, days))


def _run(
    ctx: click.Context,
    action: Callable[[Store, Settings], Awaitable[T]],
    *,
    as_json: bool = False,
) -> T:
    """Open the store from the settings, run ``action`` on it, close it; errors in plain words."""
    import asyncio

    from musekit.cli.session import guarded, load_settings_or_exit

    debug = bool(ctx.find_root().obj and ctx.find_root().obj.get("debug"))
    settings = load_settings_or_exit(debug=debug)

    async def run() -> T:
        from musekit.store import open_store

        async with await open_store(settings.store) as store:
            return await action(store, settings)

    with guarded(debug=debug, as_json=as_json):
        return asyncio.run(run())
    raise AssertionError("unreachable")  # pragma: no cover
