"""``musekit craft``: check a poem against a form, list the forms.

Only click loads with the CLI; the craft module and its dictionary load when a
craft command runs.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

import click

if TYPE_CHECKING:
    from musekit.craft import FormReport


@click.group()
def craft() -> None:
    """Check poems against poetic forms: syllables, rhyme, meter, refrains."""


@craft.command()
@click.option("--form", "form_name", required=True, help="The form: see `musekit craft forms`.")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--lines", type=int, help="Expected line count (free verse, couplets).")
@click.option("--stanzas", type=int, help="Expected stanza count.")
@click.option(
    "--rhymed/--unrhymed", default=None, help="Ask for rhyme, or for none (default: the form's)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (docs/craft.md).")
def check(
    form_name: str,
    source: IO[str],
    lines: int | None,
    stanzas: int | None,
    rhymed: bool | None,
    as_json: bool,
) -> None:
    """Check the poem in SOURCE (a file, or - for standard input) against a form.

    Exit code 0 when the poem fits the form, 1 when it has problems, 2 for bad input.
    """
    from musekit.cli.session import fail, print_json
    from musekit.craft import check as check_poem
    from musekit.craft import get_form

    where = "standard input" if source.name == "<stdin>" else source.name
    try:
        form = get_form(form_name)
    except ValueError as exc:  # the message lists the known forms
        fail(str(exc), 2, as_json=as_json, kind="UsageError")
    try:
        text = source.read()
    except UnicodeDecodeError:
        fail(f"{where} is not UTF-8 text.", 2, as_json=as_json, kind="UsageError")
    if not text.strip():
        fail(f"The poem is empty: {where} has no text.", 2, as_json=as_json, kind="UsageError")
    try:
        report = check_poem(text, form, lines=lines, stanzas=stanzas, rhymed=rhymed)
    except ValueError as exc:
        fail(str(exc), 2, as_json=as_json, kind="UsageError")
    if as_json:
        print_json(report.to_json())
    else:
        _render(report)
    raise SystemExit(0 if report.passed else 1)


@craft.command()
@click.option("--json", "as_json", is_flag=True, help="Print the forms as JSON.")
def forms(as_json: bool) -> None:
    """List the poetic forms `musekit craft check` knows."""
    from rich.table import Table

    from musekit.cli.session import print_json, stdout
    from musekit.craft import FORMS

    if as_json:
        print_json([{"name": f.name, "description": f.description} for f in FORMS.values()])
        return
    table = Table("form", "what it asks for", "also called")
    for form in FORMS.values():
        table.add_row(form.name, form.description, ", ".join(form.aliases))
    stdout.print(table)


def _render(report: FormReport) -> None:
    from rich.markup import escape
    from rich.table import Table

    from musekit.cli.session import stdout

    verdict = "[green]ok[/]" if report.passed else "[red]problems[/]"
    stdout.print(
        f"[bold]{report.form}[/] {verdict}  score {report.score:.2f}  "
        f"rhyme {escape(report.rhyme_scheme) or '-'}",
        highlight=False,
    )
    table = Table("#", "syllables", "stress", "rhyme", "line", box=None, pad_edge=False)
    for number, line in enumerate(report.lines, start=1):
        syllables = f"{line.syllables}{'?' if line.uncertain else ''}"
        style = "red" if line.problems else ""
        table.add_row(
            str(number), syllables, line.stress, line.rhyme, escape(line.text), style=style
        )
    stdout.print(table)
    for problem in report.problems:
        stdout.print(f"[red]-[/] {escape(problem)}", highlight=False)
    if any(line.uncertain for line in report.lines):
        stdout.print("[dim]? estimated: a word is not in the dictionary[/]", highlight=False)
