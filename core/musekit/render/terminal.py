"""A result on a terminal, with rich."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from musekit.result import Result, Section


def render_result(result: Result, console: Console) -> None:
    """Print a result: title, sections, fields, warnings, then a dim metrics line."""
    console.print(Panel(Group(*_body(result)), title=escape(result.title), title_align="left"))
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    metrics = result.metrics
    console.print(
        f"[dim]{metrics.completion_tokens} tokens from {escape(metrics.model or metrics.engine)} "
        f"in {metrics.seconds:.1f}s[/]",
        highlight=False,
    )


def _body(result: Result) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for section in result.sections:
        if section.heading:
            parts.append(Text(section.heading, style="bold"))
        parts.append(_section_text(section))
    if result.fields:
        table = Table.grid(padding=(0, 2))
        for field in result.fields:
            table.add_row(Text(field.name, style="bold"), Text(field.value))
        parts.append(table)
    for attachment in result.attachments:
        parts.append(Text(f"📎 {attachment.filename} ({attachment.media_type})", style="dim"))
    return parts


def _section_text(section: Section) -> Text:
    style = {"quote": "italic", "code": "cyan"}.get(section.style, "")
    return Text(section.body, style=style)
