"""Turning a :class:`CommandSpec` into a click command: options, argument, help."""

from __future__ import annotations

import base64
import typing
from pathlib import Path
from typing import Any

import click
from pydantic.fields import FieldInfo

from musekit.errors import InvalidParameters
from musekit.spec import CommandSpec, choices_of, unwrap_optional

#: Options every generated command has; a spec field of the same name gets ``--param-NAME``.
COMMON_OPTIONS = ("json", "output_dir")

#: A string parameter whose ``json_schema_extra`` sets this key to true takes ``@PATH`` on
#: the command line: the file's content (UTF-8 text as it is, anything else as base64).
FILE_PARAM_KEY = "x-musekit-file"


def build_command(spec: CommandSpec) -> click.Command:
    """A click command whose options mirror the spec's parameters."""
    params: list[click.Parameter] = []
    for name, info in spec.params.model_fields.items():
        if name == spec.text_param:
            params.append(click.Argument([name], nargs=-1, required=info.is_required()))
        else:
            params.append(_option(name, info))
    params += [
        click.Option(["--json", "as_json"], is_flag=True, help="Print the result as JSON."),
        click.Option(
            ["--output-dir", "save_dir"],
            type=click.Path(file_okay=False, path_type=Path),
            help="Save the result's attachments in this folder.",
        ),
    ]

    @click.pass_context
    def callback(
        ctx: click.Context, /, as_json: bool, save_dir: Path | None, **values: Any
    ) -> None:
        from musekit.cli.run_group import HOST_KEY
        from musekit.cli.session import execute, fail

        raw = _collect(spec, values)
        try:
            spec.validate_params(raw)
        except InvalidParameters as exc:
            fail(
                _invalid_message(spec, exc),
                exc.exit_code,
                as_json=as_json,
                kind="InvalidParameters",
            )
        debug = bool(ctx.find_root().obj and ctx.find_root().obj.get("debug"))
        host = ctx.meta.get(HOST_KEY)
        execute(spec.name, raw, as_json=as_json, output_dir=save_dir, debug=debug, host=host)

    return _SpecCommand(
        spec.name,
        params=params,
        callback=callback,
        help=_help(spec),
        short_help=spec.description,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


class _SpecCommand(click.Command):
    """A generated command; with ``--json``, even bad usage is reported as JSON."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        as_json = "--json" in args  # before parsing: click consumes ``args``
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if not as_json:
                raise
            from musekit.cli.session import fail

            fail(exc.format_message(), exc.exit_code, as_json=True, kind="UsageError")


def option_name(field: str) -> str:
    """The CLI spelling of a parameter: ``max_lines`` -> ``--max-lines``."""
    if field in COMMON_OPTIONS:
        return f"--param-{field.replace('_', '-')}"
    return "--" + field.replace("_", "-")


def cli_name(spec: CommandSpec, field: str) -> str:
    """What the user typed for a parameter: its option, or the text argument (``PROMPT``)."""
    name = field.split(".")[0]
    return name.upper() if name == spec.text_param else option_name(name)


def _invalid_message(spec: CommandSpec, exc: InvalidParameters) -> str:
    lines = [f"Invalid parameters for '{spec.name}':"]
    lines += [f"  - {cli_name(spec, p.field)}: {p.problem}" for p in exc.problems]
    return "\n".join(lines)


def _option(name: str, info: FieldInfo) -> click.Option:
    annotation = unwrap_optional(info.annotation)
    flag = option_name(name)
    help_text = _field_help(info)
    if annotation is bool:
        return click.Option([f"{flag}/--no-{flag[2:]}", name], default=None, help=help_text)
    multiple = typing.get_origin(annotation) in (list, tuple, set, frozenset)
    if multiple and typing.get_args(annotation):
        annotation = typing.get_args(annotation)[0]
    extra = info.json_schema_extra
    takes_file = isinstance(extra, dict) and extra.get(FILE_PARAM_KEY) is True
    kind = _FileText() if takes_file else _click_type(annotation)
    return click.Option([flag, name], type=kind, multiple=multiple, default=None, help=help_text)


class _FileText(click.ParamType[Any]):
    """Text, or ``@PATH``: the file's content (UTF-8 text, else base64 of its bytes)."""

    name = "text|@file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str) or not value.startswith("@"):
            return value
        path = Path(value[1:]).expanduser()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.fail(f"cannot read '{path}': {exc.strerror or 'unreadable'}", param, ctx)
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")


def _click_type(annotation: Any) -> click.ParamType[Any]:
    """Choices for literals and enums, numbers for int and float; the spec checks the rest."""
    choices = choices_of(annotation)
    if choices is not None:
        return _Choice(choices)
    numbers: dict[Any, click.ParamType[Any]] = {int: click.INT, float: click.FLOAT}
    return numbers.get(annotation, click.STRING)


class _Choice(click.Choice):  # type: ignore[type-arg]
    """A choice shown and typed as text that gives the spec its real value (``3``, not ``"3"``)."""

    def __init__(self, values: list[Any]) -> None:
        self.values = {str(value): value for value in values}
        super().__init__(list(self.values))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return self.values[super().convert(value, param, ctx)]


def _field_help(info: FieldInfo) -> str:
    parts = [info.description or ""]
    bounds = []
    for meta in info.metadata:
        for attr, label in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds.append(f"{label} {value}")
        for attr, label in (("min_length", "min length"), ("max_length", "max length")):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds.append(f"{label} {value}")
    if bounds:
        parts.append(f"[{', '.join(bounds)}]")
    if not info.is_required() and info.default is not None:
        parts.append(f"[default: {info.default}]")
    if info.is_required():
        parts.append("[required]")
    return " ".join(p for p in parts if p)


def _help(spec: CommandSpec) -> str:
    lines = [spec.description]
    if spec.text_param:
        lines.append(f"\nThe text after the options is the {spec.text_param.upper()}.")
    if spec.examples:
        examples = [f"  {_example_line(spec, example.params)}" for example in spec.examples]
        lines.append("\nExamples:\n\n\b\n" + "\n".join(examples))
    return "\n".join(lines)


def _example_line(spec: CommandSpec, params: dict[str, Any]) -> str:
    words = ["musekit", "run", spec.name]
    for name, value in params.items():
        if name == spec.text_param:
            continue
        for item in value if isinstance(value, list) else [value]:
            words += [option_name(name), _quote(str(item))]
    if spec.text_param and spec.text_param in params:
        words.append(_quote(str(params[spec.text_param])))
    return " ".join(words)


def _quote(value: str) -> str:
    """Shell quoting that reads naturally: "a keeper's night" rather than shlex's '"'"'."""
    import shlex

    if shlex.quote(value) == value:
        return value
    if not any(char in value for char in '"$`\\!'):
        return f'"{value}"'
    return shlex.quote(value)


def _collect(spec: CommandSpec, values: dict[str, Any]) -> dict[str, Any]:
    """The parameters the user actually gave, so the spec's defaults apply to the rest."""
    raw: dict[str, Any] = {}
    for name, value in values.items():
        if name == spec.text_param:
            if value:
                raw[name] = " ".join(value)
        elif value is not None and value != ():
            raw[name] = list(value) if isinstance(value, tuple) else value
    return raw
