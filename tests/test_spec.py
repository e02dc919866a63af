"""Command specs: declaration rules, parameter validation, JSON Schema export."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import Field, ValidationError

from musekit import CommandSpec, Example, InvalidParameters, Limits, Params


class PoemParams(Params):
    topic: str = Field(min_length=1, max_length=50, description="What the poem is about.")
    form: Literal["haiku", "sonnet", "free"] = Field("free", description="The form.")
    lines: int = Field(8, ge=1, le=40, description="How many lines.")
    mood: str | None = Field(None, max_length=20, description="A mood.")


def poem_spec(**changes: object) -> CommandSpec:
    fields: dict[str, object] = {
        "name": "poem",
        "description": "Write a poem.",
        "params": PoemParams,
        "text_param": "topic",
    }
    return CommandSpec(**(fields | changes))


# Declaration -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "poem", "word-count", "x2", "a" + "b" * 31])
def test_good_command_names_are_accepted(name: str) -> None:
    assert poem_spec(name=name).name == name


@pytest.mark.parametrize(
    "name",
    ["", "Poem", "1poem", "-poem", "poem_x", "po em", "poëm", "a" + "b" * 32, "poem/", "poem\n"],
)
def test_bad_command_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ValidationError, match="must be 1-32 characters of a-z, 0-9 and '-'"):
        poem_spec(name=name)


@pytest.mark.parametrize("description", ["", "x" * 101])
def test_description_must_fit_a_chat_command(description: str) -> None:
    with pytest.raises(ValidationError, match="description"):
        poem_spec(description=description)


def test_text_param_must_be_a_field_of_the_params() -> None:
    with pytest.raises(ValidationError, match="text_param 'subject' is not a field of PoemParams"):
        poem_spec(text_param="subject")


def test_params_must_be_a_params_model() -> None:
    with pytest.raises(ValidationError, match="params"):
        poem_spec(params=dict)


def test_examples_are_validated_when_the_command_is_declared() -> None:
    good = Example(params={"topic": "rain", "form": "haiku"})
    bad = Example(params={"topic": "rain", "lines": 0})

    assert poem_spec(examples=(good,)).examples == (good,)
    with pytest.raises(ValidationError) as caught:
        poem_spec(examples=(good, bad))
    message = str(caught.value)
    assert "example 2" in message
    assert "lines: Input should be greater than or equal to 1" in message


@pytest.mark.parametrize(
    ("limit", "value"), [("max_output_tokens", 0), ("max_samples", 0), ("max_seconds", 0)]
)
def test_limits_must_be_positive(limit: str, value: int) -> None:
    with pytest.raises(ValidationError, match=limit):
        Limits(**{limit: value})


def test_specs_and_params_are_immutable() -> None:
    spec = poem_spec()
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]
    params = spec.validate_params({"topic": "rain"})
    with pytest.raises(ValidationError):
        params.topic = "sun"  # type: ignore[misc]


# Validation --------------------------------------------------------------------------------


def test_valid_params_get_defaults_and_keep_given_values() -> None:
    params = poem_spec().validate_params({"topic": "rain", "lines": 3})
    assert isinstance(params, PoemParams)
    assert params.model_dump() == {"topic": "rain", "form": "free", "lines": 3, "mood": None}


@pytest.mark.parametrize(
    ("raw", "field", "constraint"),
    [
        ({}, "topic", "Field required"),
        ({"topic": ""}, "topic", "at least 1 character"),
        ({"topic": "x" * 51}, "topic", "at most 50 characters"),
        ({"topic": "rain", "form": "limerick"}, "form", "'haiku', 'sonnet' or 'free'"),
        ({"topic": "rain", "lines": 41}, "lines", "less than or equal to 40"),
        ({"topic": "rain", "lines": "many"}, "lines", "valid integer"),
        ({"topic": "rain", "lines": 2.5}, "lines", "fractional part"),
        ({"topic": "rain", "mood": "m" * 21}, "mood", "at most 20 characters"),
        ({"topic": "rain", "rhyme": True}, "rhyme", "unknown parameter"),
    ],
)
def test_invalid_params_name_the_field_and_the_constraint(
    raw: dict[str, object], field: str, constraint: str
) -> None:
    with pytest.raises(InvalidParameters) as caught:
        poem_spec().validate_params(raw)
    error = caught.value
    assert error.exit_code == 2
    assert error.command == "poem"
    assert [p.field for p in error.problems] == [field]
    assert constraint in error.problems[0].problem
    assert f"  - {field}: " in error.message


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidParameters) as caught:
        poem_spec().validate_params({"topic": "", "lines": 0, "form": "ode"})
    assert sorted(p.field for p in caught.value.problems) == ["form", "lines", "topic"]


def test_validation_errors_do_not_echo_the_input() -> None:
    secret = "sk-live-" + "9" * 60
    with pytest.raises(InvalidParameters) as caught:
        poem_spec().validate_params({"topic": secret, "mood": secret, "lines": secret})
    assert len(caught.value.problems) == 3
    assert "sk-live" not in caught.value.message
    assert "sk-live" not in str(caught.value)


# JSON Schema -------------------------------------------------------------------------------


def test_json_schema_describes_the_command_and_its_parameters() -> None:
    spec = poem_spec(
        examples=(Example(params={"topic": "rain"}, description="The simplest call."),),
        limits=Limits(max_output_tokens=300, max_samples=2, max_seconds=30),
    )
    schema = spec.json_schema()
    json.dumps(schema)  # plain JSON data

    assert schema["title"] == "poem"
    assert schema["description"] == "Write a poem."
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["topic"]
    props = schema["properties"]
    assert props["topic"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 50,
        "description": "What the poem is about.",
        "title": "Topic",
    }
    assert props["form"]["enum"] == ["haiku", "sonnet", "free"]
    assert props["form"]["default"] == "free"
    assert (props["lines"]["minimum"], props["lines"]["maximum"]) == (1, 40)
    assert {"type": "null"} in props["mood"]["anyOf"]
    assert schema["x-musekit"] == {
        "text_param": "topic",
        "limits": {"max_output_tokens": 300, "max_samples": 2, "max_seconds": 30.0},
        "examples": [{"params": {"topic": "rain"}, "description": "The simplest call."}],
    }
