"""What ``musekit history`` prints: a table of invocations, one invocation in full, exports."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from musekit.cli.session import print_json, stderr, stdout
from musekit.settings import Settings
from musekit.store import InvocationRecord, NotFound, Store
from musekit.store.retention import retention_cutoff

_STATUS_STYLE = {
    "ok": "green",
    "running": "cyan",
    "error": "red",
    "timeout": "red",
    "denied": "yellow",
    "cancelled": "dim",
}


async def get(store: Store, invocation_id: str) -> InvocationRecord:
    """The invocation, or a clear error naming the id."""
    record = await store.get(invocation_id)
    if record is None:
        raise NotFound(
            f"No invocation '{invocation_id}' in the store; `musekit history list` shows the ids."
        )
    return record


def show_list(records: list[InvocationRecord], *, as_json: bool) -> None:
    """A table, newest first (or a JSON list)."""
    if as_json:
        print_json([record.model_dump(mode="json") for record in records])
        return
    if not records:
        stderr.print("No invocations match.", highlight=False)
        return
    rows = [
        (
            record.id,
            _when(record.started_at, seconds=False),
            record.command,
            _status(record),
            str(record.tokens),
            record.display_name or record.user_id,
            _where(record),
            record.result.title if record.result else (record.error or ""),
        )
        for record in records
    ]
    table = Table(box=None, header_style="bold", pad_edge=False)
    fixed = ("id", "started (UTC)", "command", "status", "tokens")  # never shortened
    for i, name in enumerate(fixed):
        width = max(len(name), *(len(str(row[i])) for row in rows))
        table.add_column(name, no_wrap=True, min_width=width, justify="right" if i == 4 else "left")
    for name in ("user", "where", "result"):  # shortened with … on a narrow terminal
        table.add_column(name, no_wrap=True, overflow="ellipsis")
    for row in rows:
        table.add_row(*row)
    stdout.print(table)


def show_record(record: InvocationRecord, *, as_json: bool) -> None:
    """Every detail of one invocation, then its result as the terminal renders results."""
    if as_json:
        print_json(record.model_dump(mode="json"))
        return
    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold", no_wrap=True)
    details.add_column()
    who = record.display_name or record.user_id
    if record.display_name and record.display_name != record.user_id:
        who += f" ({record.user_id})"
    if record.roles:
        who += f"; roles: {', '.join(record.roles)}"
    rows: list[tuple[str, str | Text]] = [
        ("id", record.id),
        ("command", record.command),
        ("status", _status(record)),
        ("who", who),
        ("where", _where(record)),
    ]
    if record.conversation:
        rows.append(("conversation", record.conversation))
    rows.append(("started", _when(record.started_at)))
    if record.finished_at is not None:
        rows.append(("finished", _when(record.finished_at)))
    rows.append(
        ("tokens", f"{record.prompt_tokens} prompt + {record.completion_tokens} completion")
    )
    if record.timings:
        rows.append(("timings", ", ".join(f"{k} {v:.2f}s" for k, v in record.timings.items())))
    rows.append(("params", json.dumps(record.params, ensure_ascii=False)))
    if record.delivery is not None:
        state = "delivered" if record.delivered else f"not delivered ({record.delivery.reason})"
        rows.append(
            ("delivery", f"{state} to {record.delivery.platform} {record.delivery.destination}")
        )
    for name, value in rows:
        details.add_row(name, value if isinstance(value, Text) else Text(value))
    stdout.print(details)
    if record.error:
        stdout.print(f"[bold red]error:[/] {escape(record.error)}", highlight=False)
    if record.result is not None:
        from musekit.render.terminal import render_result

        render_result(record.result, stdout)


def write_export(data: dict[str, Any], output: Path | None) -> None:
    """The export as JSON: to ``output``, or to standard output."""
    if output is None:
        print_json(data)
        return
    output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    stderr.print(
        f"Wrote {_counts(data)} of user '{escape(data['user_id'])}' to {escape(str(output))}.",
        highlight=False,
    )


async def forget(store: Store, user: str, *, confirmed: bool) -> None:
    """Delete a user's data, after saying what will go and asking (unless confirmed)."""
    kept = await store.export_user(user)
    if not kept["invocations"] and not kept["votes"]:
        stdout.print(f"Nothing is kept about user '{escape(user)}'.", highlight=False)
        return
    what = _counts(kept)
    if not confirmed:
        question = f"Delete {what} of user '{user}' from {store.where}?"
        try:
            agreed = click.confirm(question, default=False, err=True)
        except click.Abort:  # no answer (end of input)
            agreed = False
        if not agreed:
            stderr.print("Nothing removed.", highlight=False)
            raise SystemExit(1)
    removed = await store.delete_user(user)
    stdout.print(
        f"Forgot user '{escape(user)}': removed {what} ({removed} rows in all, with the votes "
        "others cast on their ideas).",
        highlight=False,
    )


async def prune(store: Store, settings: Settings, days: int | None) -> None:
    """Remove what is older than ``days`` (default: the retention setting)."""
    cutoff = retention_cutoff(days or settings.store.retention_days)
    if cutoff is None:
        stdout.print(
            "Retention is off (store.retention_days is not set) and no --days was given: "
            "nothing removed.",
            highlight=False,
        )
        return
    removed = await store.prune(older_than=cutoff)
    stdout.print(
        f"Removed {removed} rows: invocations started before {_when(cutoff)}, with their ideas "
        "and votes.",
        highlight=False,
    )


def _counts(export: dict[str, Any]) -> str:
    parts = [(len(export["invocations"]), "invocation"), (len(export["ideas"]), "idea")]
    parts.append((len(export["votes"]), "vote"))
    return ", ".join(f"{n} {noun}{'' if n == 1 else 's'}" for n, noun in parts)


def _when(moment: datetime, *, seconds: bool = True) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M")


def _where(record: InvocationRecord) -> str:
    return f"{record.platform} #{record.channel}" if record.channel else record.platform


def _status(record: InvocationRecord) -> Text:
    return Text(record.status, style=_STATUS_STYLE[record.status])


def _seconds(record: InvocationRecord) -> str:
    total = record.timings.get("total")
    if total is None and record.finished_at is not None:
        total = (record.finished_at - record.started_at).total_seconds()
    return "" if total is None else f"{total:.1f}s"
