"""Command specs: a command declared once, for validation, CLI, help, JSON Schema and chat.

A :class:`CommandSpec` is plain data. Front ends read it to build their own
commands (CLI options, Discord options, Slack modals); the runner uses it to
validate parameters and to enforce the command's :class:`Limits`.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from musekit.errors import FieldProblem, InvalidParameters

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class Params(BaseModel):
    """Base class for a command's parameters: unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(BaseModel):
    """What one run of a command may use; the host enforces them whatever the plugin asks."""

    model_config = ConfigDict(frozen=True)

    max_output_tokens: int = Field(512, ge=1, description="Tokens per generated sample.")
    max_samples: int = Field(4, ge=1, description="Samples per engine request.")
    max_seconds: float = Field(120.0, gt=0, description="Wall time for the whole command.")


class Example(BaseModel):
    """A documented way to call a command."""

    model_config = ConfigDict(frozen=True)

    params: dict[str, Any]
    description: str = ""


class CommandSpec(BaseModel):
    """Everything a front end needs to know about a command, in one declaration."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(description="Lower-case name, 1-32 characters: letters, digits, '-'.")
    description: str = Field(min_length=1, max_length=100)
    params: type[Params]
    text_param: str | None = Field(
        None, description="The parameter that takes the command's free text, if any."
    )
    examples: tuple[Example, ...] = ()
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _check(self) -> CommandSpec:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"command name '{self.name}' must be 1-32 characters of a-z, 0-9 and '-', "
                "starting with a letter"
            )
        if self.text_param is not None and self.text_param not in self.params.model_fields:
            raise ValueError(
                f"text_param '{self.text_param}' is not a field of {self.params.__name__}"
            )
        for number, example in enumerate(self.examples, start=1):
            try:
                self.validate_params(example.params)
            except InvalidParameters as exc:
                problems = "; ".join(str(p) for p in exc.problems)
                raise ValueError(f"example {number} is invalid: {problems}") from None
        return self

    def validate_params(self, raw: dict[str, Any]) -> Params:
        """Validate raw parameters, raising :class:`InvalidParameters` naming each bad field."""
        try:
            return self.params.model_validate(raw)
        except ValidationError as exc:
            raise InvalidParameters(self.name, field_problems(exc)) from None

    def json_schema(self) -> dict[str, Any]:
        """The command as JSON Schema: its parameters, plus name, description and limits."""
        schema = self.params.model_json_schema()
        schema["title"] = self.name
        schema["description"] = self.description
        schema["x-musekit"] = {
            "text_param": self.text_param,
            "limits": self.limits.model_dump(),
            "examples": [e.model_dump() for e in self.examples],
        }
        return schema


def field_problems(exc: ValidationError, unknown: str = "unknown parameter") -> list[FieldProblem]:
    """Turn pydantic's errors into one line per field, without echoing the bad input.

    ``unknown`` is what a field the model does not have is called.
    """
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"]) if error["loc"] else "(parameters)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = unknown
        problems.append(FieldProblem(field=field, problem=message))
    return problems


def unwrap_optional(annotation: Any) -> Any:
    """A parameter's type without its ``None``: ``X | None`` -> ``X``; anything else unchanged.

    For front ends that build their own options (CLI, chat commands) from a spec's fields.
    """
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def choices_of(annotation: Any) -> list[Any] | None:
    """The values a ``Literal`` or ``Enum`` parameter type allows, in order; ``None`` for
    any other type."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    return None
