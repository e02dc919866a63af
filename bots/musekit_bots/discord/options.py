"""Discord application commands generated from musekit command specs.

Each field of a command's :class:`~musekit.spec.Params` becomes an option: its
type from the field's annotation (str, int, float, bool), its range from the
field's constraints (``ge``/``le``, ``min_length``/``max_length``), fixed
choices from a ``Literal`` or an ``Enum`` of up to 25 values, and autocomplete
for longer lists. Descriptions are cut to Discord's 100 characters. The options
discord.py then sends are built by discord.py itself from the callback's
signature, exactly as for a hand-written command.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import annotated_types
import discord
from discord import app_commands
from pydantic.fields import FieldInfo

from musekit.spec import CommandSpec, choices_of, unwrap_optional

#: Discord's limits on one command.
MAX_OPTIONS = 25
MAX_NAME = 32
MAX_CHOICES = 25
MAX_DESCRIPTION = 100
MAX_STRING_LENGTH = 6000

#: Runs a command: the interaction, the spec, and the options the user gave (unset ones left out).
Invoke = Callable[[discord.Interaction, CommandSpec, dict[str, Any]], Awaitable[None]]

_Choice = str | int | float


def build_command(
    spec: CommandSpec, invoke: Invoke, *, default_permissions: int
) -> app_commands.Command[Any, ..., None]:
    """The application command for ``spec``; running it calls ``invoke``."""

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        given = {name: value for name, value in options.items() if value is not None}
        await invoke(interaction, spec, given)

    parameters = [
        inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ]
    descriptions: dict[str, str] = {}
    autocompletes: dict[str, Callable[..., Any]] = {}
    renames: dict[str, str] = {}
    fields = sorted(spec.params.model_fields.items(), key=lambda item: not item[1].is_required())
    for name, field in fields:
        option = _option(field)
        if option is None:
            continue  # a type Discord has no option for: the field keeps its default
        if len(parameters) > MAX_OPTIONS:
            break  # Discord's limit: the rest keep their defaults
        annotation, many_choices = option
        default = inspect.Parameter.empty if field.is_required() else None
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
            )
        )
        descriptions[name] = cut(field.description or name, MAX_DESCRIPTION)
        if many_choices:
            autocompletes[name] = _autocomplete(many_choices)
        shown = name.lower()[:MAX_NAME]  # Discord's option names are lower case, 32 at most
        if shown != name:
            renames[name] = shown
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = descriptions  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_autocomplete__ = autocompletes  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_rename__ = renames  # type: ignore[attr-defined]
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=spec.name, description=cut(spec.description, MAX_DESCRIPTION), callback=callback
    )
    command.default_permissions = discord.Permissions(default_permissions)
    return command


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at a word and marked with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head + "…"


def _option(field: FieldInfo) -> tuple[Any, list[_Choice]] | None:
    """The option annotation for a field, with its choices when there are too many to list."""
    kind = unwrap_optional(field.annotation)
    choices = _choices(kind)
    if choices is not None:
        if len(choices) <= MAX_CHOICES and len({type(c) for c in choices}) == 1:
            return Literal[tuple(choices)], []
        return str, choices
    if kind is bool:
        return bool, []
    if kind in (int, float):
        low, high = _bounds(field, integer=kind is int)
        if low is None and high is None:
            return kind, []
        return app_commands.Range[kind, low, high], []
    if kind is str:
        shortest, longest = _lengths(field)
        if shortest is None and longest is None:
            return str, []
        return app_commands.Range[str, shortest, longest], []
    if field.is_required():
        return str, []  # validated by the spec when the command runs
    return None


def _choices(kind: Any) -> list[_Choice] | None:
    values = choices_of(kind)
    if values is None:
        return None
    if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values):
        return values
    return None


def _bounds(field: FieldInfo, *, integer: bool) -> tuple[float | None, float | None]:
    low: float | None = None
    high: float | None = None
    step = 1 if integer else math.ulp(1.0)
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            low = float(rule.ge)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Gt):
            low = float(rule.gt) + step  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Le):
            high = float(rule.le)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Lt):
            high = float(rule.lt) - step  # type: ignore[arg-type]
    if integer:
        return (
            None if low is None else math.ceil(low),
            None if high is None else math.floor(high),
        )
    return low, high


def _lengths(field: FieldInfo) -> tuple[int | None, int | None]:
    shortest: int | None = None
    longest: int | None = None
    for rule in field.metadata:
        if isinstance(rule, annotated_types.MinLen):
            shortest = min(rule.min_length, MAX_STRING_LENGTH)
        elif isinstance(rule, annotated_types.MaxLen):
            longest = min(rule.max_length, MAX_STRING_LENGTH)
    return shortest, longest


def _autocomplete(
    choices: list[_Choice],
) -> Callable[[discord.Interaction, str], Awaitable[list[app_commands.Choice[str]]]]:
    """Suggests the choices containing what the user has typed, at most 25."""

    async def suggest(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.casefold()
        matches = [str(c) for c in choices if typed in str(c).casefold()]
        return [app_commands.Choice(name=m[:100], value=m) for m in matches[:MAX_CHOICES]]

    return suggest
