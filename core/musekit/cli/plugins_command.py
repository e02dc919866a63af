"""``musekit plugins`` and ``musekit schema``."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from musekit.app import load_host
from musekit.cli.session import guarded, load_settings_or_exit, print_json, stdout


def show_plugins(*, as_json: bool, debug: bool) -> None:
    """Print each plugin with its version, status, commands and error, if any."""
    settings = load_settings_or_exit(debug=debug)
    with guarded(debug=debug, as_json=as_json):
        host = load_host(settings)
        infos = sorted(host.plugins.values(), key=lambda info: info.name)
        if as_json:
            print_json(
                [
                    {
                        "name": info.name,
                        "version": info.version,
                        "status": info.status,
                        "commands": info.commands,
                        "error": info.error,
                        "problems": info.problems,
                    }
                    for info in infos
                ]
            )
            return
        table = Table("plugin", "version", "status", "commands", "notes")
        for info in infos:
            status_style = {"loaded": "green", "disabled": "dim"}.get(info.status, "red")
            notes = "; ".join(escape(n) for n in [info.error, *info.problems] if n)
            table.add_row(
                info.name,
                info.version,
                f"[{status_style}]{info.status}[/]",
                ", ".join(info.commands),
                notes,
            )
        stdout.print(table)
        if debug:
            for info in infos:
                if info.traceback:
                    stdout.print(f"\n[bold]{info.name}[/]:\n{escape(info.traceback)}")


def show_schema(command: str, *, debug: bool) -> None:
    """Print one command's JSON Schema."""
    settings = load_settings_or_exit(debug=debug)
    with guarded(debug=debug):
        print_json(load_host(settings).command(command).spec.json_schema())
