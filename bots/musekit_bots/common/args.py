"""A chat command's text as a command spec's parameters, and the spec's help as chat text.

``/poem first snow form=haiku tone="quiet, cold"``: the words that are not
``key=value`` options make the spec's free-text parameter (``text_param``);
quoting follows the shell (``shlex``), with curly quotes read as straight ones
and a lone apostrophe ("a keeper's night") left as it is. ``/poem help`` asks
for the help text. Parameters are checked against the spec before anything
runs; every error names the option it is about and never echoes a value.
"""

from __future__ import annotations

import contextlib
import enum
import json
import re
import shlex
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

# The CLI's reading of a field's type (its choices), shared rather than copied.
from musekit.errors import FieldProblem, InvalidParameters, UsageError
from musekit.spec import CommandSpec, choices_of, unwrap_optional

#: What a user types to get a command's help instead of running it.
HELP_WORDS = frozenset({"help", "--help", "-h", "?"})

_OPTION = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)=(.*)$", re.DOTALL)
_CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


class ArgumentError(UsageError):
    """A chat command's text could not be read as the command's parameters."""


def wants_help(text: str) -> bool:
    """Whether the command's text asks for its help (``help``, ``--help``, ``-h``, ``?``)."""
    return text.strip().lower() in HELP_WORDS


def parse_args(spec: CommandSpec, text: str, *, invoked_as: str) -> dict[str, Any]:
    """The parameters ``text`` gives ``spec``, checked against it (see :func:`checked_params`).

    ``invoked_as`` is how the user called the command (``/poem``), for messages.
    Raises :class:`ArgumentError` naming the bad option: unknown, given twice,
    free text for a command that takes none, an unclosed quote, or a value the
    spec refuses.
    """
    params: dict[str, Any] = {}
    words: list[str] = []
    for token in _tokens(text, invoked_as):
        option = _OPTION.match(token)
        if option is None:
            words.append(token)
            continue
        key, value = option.group(1).replace("-", "_"), option.group(2)
        if key not in spec.params.model_fields:
            raise ArgumentError(_unknown(spec, option.group(1), invoked_as))
        if key in params:
            raise ArgumentError(f"{invoked_as}: option '{option.group(1)}' is given twice.")
        params[key] = read_value(spec.params.model_fields[key], value)
    if words:
        if spec.text_param is None:
            raise ArgumentError(
                f"{invoked_as} takes no free text; give its options as key=value "
                f"({_option_list(spec)})."
            )
        if spec.text_param in params:
            raise ArgumentError(
                f"{invoked_as}: '{spec.text_param}' is given both as text and as an option."
            )
        params[spec.text_param] = " ".join(words)
    try:
        return checked_params(spec, params)
    except InvalidParameters as exc:
        raise ArgumentError(describe_invalid(spec, exc.problems, invoked_as)) from None


def checked_params(spec: CommandSpec, raw: dict[str, Any]) -> dict[str, Any]:
    """The parameters given in ``raw``, validated by the spec and typed as it types them
    (``"14"`` -> ``14``), as JSON values; raises :class:`InvalidParameters`."""
    return spec.validate_params(raw).model_dump(mode="json", include=set(raw))


def describe_invalid(spec: CommandSpec, problems: tuple[FieldProblem, ...], invoked_as: str) -> str:
    """One line per problem, naming each parameter as the user writes it in chat."""
    lines = [f"{invoked_as}: invalid options."]
    for problem in problems:
        name = problem.field.split(".")[0]
        shown = f"the text ({name})" if name == spec.text_param else f"{name}="
        lines.append(f"• {shown}: {problem.problem}")
    return "\n".join(lines)


def help_text(spec: CommandSpec, *, invoked_as: str) -> str:
    """The command's help for a chat: what it does, its options, its examples.

    Plain text with `code` spans, which both Slack and Discord render.
    """
    usage = f"`{invoked_as}"
    if spec.text_param:
        usage += f" <{spec.text_param}>"
    usage += " [option=value ...]`"
    lines = [f"{invoked_as}: {spec.description}", f"Usage: {usage}"]
    options = [
        f"• `{name}=`{_describe(info)}"
        for name, info in spec.params.model_fields.items()
        if name != spec.text_param
    ]
    if options:
        lines += ["Options:", *options]
    if spec.examples:
        lines.append("Examples:")
        lines += [f"• `{example_line(spec, e.params, invoked_as)}`" for e in spec.examples]
    lines.append('Quote values with spaces: tone="quiet, cold".')
    return "\n".join(lines)


def example_line(spec: CommandSpec, params: dict[str, Any], invoked_as: str) -> str:
    """How a user types ``params`` in chat: ``/poem first snow form=haiku``."""
    words = [invoked_as]
    if spec.text_param and spec.text_param in params:
        words.append(str(params[spec.text_param]))
    for name, value in params.items():
        if name != spec.text_param:
            words.append(f"{name}={_quoted(_shown(value))}")
    return " ".join(words)


def _tokens(text: str, invoked_as: str) -> list[str]:
    text = text.translate(_CURLY_QUOTES)
    try:
        return shlex.split(text)
    except ValueError:
        pass
    # An apostrophe inside a word ("a keeper's night") is not a quote: retry with "..." only.
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        raise ArgumentError(f'{invoked_as}: a quote (") is not closed.') from None


def read_value(info: FieldInfo, raw: str) -> Any:
    """``raw`` as the field's type takes it: as written, as JSON (3, true, [..]), or a
    comma-separated list; as written if none fits, so the spec names the problem."""
    adapter: TypeAdapter[Any] = TypeAdapter(info.annotation or Any)
    for candidate in _readings(raw):
        try:
            adapter.validate_python(candidate)
        except ValidationError:
            continue
        return candidate
    return raw


def _readings(raw: str) -> list[Any]:
    readings: list[Any] = [raw]
    with contextlib.suppress(ValueError):
        readings.append(json.loads(raw))
    readings.append([part.strip() for part in raw.split(",") if part.strip()])
    return readings


def _unknown(spec: CommandSpec, given: str, invoked_as: str) -> str:
    return f"{invoked_as}: unknown option '{given}'. Options: {_option_list(spec)}."


def _option_list(spec: CommandSpec) -> str:
    names = [name for name in spec.params.model_fields if name != spec.text_param]
    return ", ".join(names) or "none"


def _describe(info: FieldInfo) -> str:
    parts = [f" {info.description}" if info.description else ""]
    choices = choices_of(unwrap_optional(info.annotation)) or []
    if choices:
        parts.append(f" One of: {', '.join(str(c) for c in choices)}.")
    if not info.is_required() and info.default is not None:
        parts.append(f" Default: {_shown(info.default)}.")
    if info.is_required():
        parts.append(" Required.")
    return "".join(parts)


def _shown(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_shown(v) for v in value)
    return str(value)


def _quoted(value: str) -> str:
    if value and not re.search(r"[\s\"']", value):
        return value
    return '"' + value.replace('"', '\\"') + '"'
