"""Property tests of parameter parsing and validation, directly and through the CLI.

Valid values are accepted unchanged; invalid ones raise InvalidParameters (exit 2 on the
CLI) naming the field (or option) and the constraint; nothing else ever escapes, and on
the CLI nothing runs: the engine sees no request.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    InvalidParameters,
    Message,
    Params,
    Result,
    ResultField,
    hookimpl,
)
from musekit.plugins import PluginHost
from musekit.testing import FakeEngine

examples = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class ProbeParams(Params):
    text: str = Field(min_length=1, max_length=30, description="Free text.")
    count: int = Field(3, ge=1, le=10, description="A bounded number.")
    form: Literal["haiku", "sonnet", "free"] = Field("free", description="A choice.")
    size: Literal[3, 5, 7] = Field(5, description="A choice of numbers.")
    note: str | None = Field(None, max_length=12, description="An optional note.")
    ratio: float = Field(0.5, ge=0.0, le=1.0, description="A bounded fraction.")
    loud: bool = Field(False, description="A flag.")


DEFAULTS = ProbeParams(text="x").model_dump(exclude={"text"})


async def run_probe(ctx: Context, params: ProbeParams) -> Result:
    dumped = params.model_dump_json()
    await ctx.engine.complete(ChatRequest(messages=(Message(role="user", content=dumped),)))
    return Result(title="probe", fields=[ResultField(name="params", value=dumped)])


SPEC = CommandSpec(
    name="probe", description="Echo parameters.", params=ProbeParams, text_param="text"
)


class ProbePlugin:
    MUSEKIT_API = (1,)

    @hookimpl
    def register_commands(self, register: Any) -> None:
        register(SPEC, run_probe)


# Strategies --------------------------------------------------------------------------------

short_text = st.text(max_size=40)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "count": st.integers(1, 10),
    "form": st.sampled_from(["haiku", "sonnet", "free"]),
    "size": st.sampled_from([3, 5, 7]),
    "note": st.none() | st.text(max_size=12),
    "ratio": st.floats(0.0, 1.0),
    "loud": st.booleans(),
}


@st.composite
def valid_params(draw: st.DrawFn) -> dict[str, Any]:
    raw = {"text": draw(st.text(min_size=1, max_size=30))}
    for name in draw(st.sets(st.sampled_from(sorted(VALID)))):
        raw[name] = draw(VALID[name])
    return raw


# field -> (strategy of invalid values, words the problem must contain)
INVALID: dict[str, list[tuple[st.SearchStrategy[Any], str]]] = {
    "text": [
        (st.just(""), "at least 1 character"),
        (st.text(min_size=31, max_size=60), "at most 30 characters"),
        (st.integers() | st.lists(st.integers(), max_size=2), "valid string"),
    ],
    "count": [
        (st.integers(max_value=0), "greater than or equal to 1"),
        (st.integers(min_value=11), "less than or equal to 10"),
        (st.floats(1.01, 9.99).filter(lambda f: not f.is_integer()), "fractional part"),
        (st.text(alphabet="abcxyz", min_size=1), "valid integer"),
    ],
    "form": [
        (
            short_text.filter(lambda s: s not in ("haiku", "sonnet", "free")),
            "'haiku', 'sonnet' or 'free'",
        )
    ],
    # (Beyond 64 bits pydantic says "exceeded maximum size" instead of listing the choices.)
    "size": [(st.integers(-(2**63), 2**63 - 1).filter(lambda i: i not in (3, 5, 7)), "3, 5 or 7")],
    "note": [(st.text(min_size=13, max_size=40), "at most 12 characters")],
    "ratio": [
        (
            st.floats(min_value=1.0, exclude_min=True, allow_infinity=False),
            "less than or equal to 1",
        ),
        (
            st.floats(max_value=0.0, exclude_max=True, allow_infinity=False),
            "greater than or equal to 0",
        ),
    ],
}


@st.composite
def one_invalid_field(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    raw = draw(valid_params())
    field = draw(st.sampled_from(sorted(INVALID)))
    strategy, constraint = draw(st.sampled_from(INVALID[field]))
    raw[field] = draw(strategy)
    return raw, field, constraint


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


# Validation ----------------------------------------------------------------------------------


@examples
@given(valid_params())
def test_valid_params_are_accepted_unchanged(raw: dict[str, Any]) -> None:
    params = SPEC.validate_params(raw)
    assert params.model_dump() == {**DEFAULTS, **raw}


@examples
@given(one_invalid_field())
def test_an_invalid_field_is_named_with_its_constraint(
    case: tuple[dict[str, Any], str, str],
) -> None:
    raw, field, constraint = case
    with pytest.raises(InvalidParameters) as caught:
        SPEC.validate_params(raw)
    problems = {p.field: p.problem for p in caught.value.problems}
    assert list(problems) == [field]
    assert constraint in problems[field]
    assert caught.value.exit_code == 2


arbitrary_params = st.dictionaries(
    st.sampled_from([*ProbeParams.model_fields, "extra"]) | st.text(max_size=8), json_values
)


def validate(raw: dict[str, Any]) -> Params | InvalidParameters:
    try:
        return SPEC.validate_params(raw)
    except InvalidParameters as exc:
        return exc


@examples
@given(arbitrary_params)
def test_arbitrary_input_is_accepted_or_refused_field_by_field(raw: dict[str, Any]) -> None:
    outcome = validate(raw)  # anything but InvalidParameters escapes and fails the test
    if isinstance(outcome, Params):
        assert isinstance(outcome, ProbeParams)
        assert set(raw) <= set(ProbeParams.model_fields)
        return
    assert outcome.problems
    for problem in outcome.problems:
        assert problem.problem
        known = problem.field.split(".")[0] in ProbeParams.model_fields
        assert known or (problem.field in raw and problem.problem == "unknown parameter")


@examples
@given(arbitrary_params)
def test_refusals_never_echo_the_values(raw: dict[str, Any]) -> None:
    marker = "zq-SECRET-zq"
    outcome = validate({**raw, "text": marker * 3, "note": marker * 2, "form": marker})
    assert isinstance(outcome, InvalidParameters)
    assert {"text", "note", "form"} <= {p.field for p in outcome.problems}
    assert marker not in outcome.message


# Through the CLI -----------------------------------------------------------------------------


def option_args(raw: dict[str, Any]) -> list[str]:
    """The command line a user would type for these parameters (the text goes last)."""
    args = []
    for name, value in raw.items():
        if name == "text" or value is None:
            continue
        if name == "loud":
            args.append("--loud" if value else "--no-loud")
        else:
            args.append(f"--{name}={value!r}" if isinstance(value, float) else f"--{name}={value}")
    return [*args, "--", str(raw["text"])]


def run_cli(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> tuple[Any, FakeEngine]:
    """``musekit run probe --json ARGS`` in process, with the probe plugin and a fresh engine."""
    from musekit.cli.main import cli

    engine = FakeEngine()
    host = PluginHost()
    host.add(ProbePlugin(), name="probe")
    with monkeypatch.context() as patch:
        patch.setattr("musekit.app.load_host", lambda settings: host)
        patch.setattr("musekit.app.create_engine", lambda settings: engine)
        result = CliRunner().invoke(cli, ["run", "probe", "--json", *args], prog_name="musekit")
    return result, engine


@examples
@given(valid_params())
def test_valid_values_on_the_command_line_reach_the_command_unchanged(
    monkeypatch: pytest.MonkeyPatch, raw: dict[str, Any]
) -> None:
    result, engine = run_cli(monkeypatch, option_args(raw))

    assert result.exit_code == 0, result.output
    received = json.loads(json.loads(result.stdout)["fields"][0]["value"])
    expected = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    assert received == expected
    assert len(engine.requests) == 1


# field -> (strategy of bad command-line values, option named in the message, constraint words)
CLI_INVALID: list[tuple[str, st.SearchStrategy[str], str, str]] = [
    ("count", st.integers(max_value=0).map(str), "--count", "greater than or equal to 1"),
    ("count", st.integers(min_value=11).map(str), "--count", "less than or equal to 10"),
    ("count", st.text(alphabet="abc.xyz", min_size=1), "'--count'", "is not a valid integer"),
    ("form", st.sampled_from(["ode", "Haiku", "", "haiku "]), "'--form'", "is not one of"),
    (
        "size",
        st.integers().filter(lambda i: i not in (3, 5, 7)).map(str),
        "'--size'",
        "is not one of",
    ),
    (
        "note",
        st.text(min_size=13, max_size=30).filter(lambda s: "\x00" not in s),
        "--note",
        "at most 12 characters",
    ),
    (
        "ratio",
        st.floats(1.0, 1e6, exclude_min=True).map(repr),
        "--ratio",
        "less than or equal to 1",
    ),
    ("ratio", st.text(alphabet="xyz", min_size=1), "'--ratio'", "is not a valid float"),
    ("text", st.just(""), "TEXT", "at least 1 character"),
    (
        "text",
        st.text(min_size=31, max_size=50).filter(lambda s: "\x00" not in s),
        "TEXT",
        "at most 30 characters",
    ),
]


@st.composite
def cli_invalid(draw: st.DrawFn) -> tuple[list[str], str, str]:
    raw = draw(valid_params())
    field, strategy, option, constraint = draw(st.sampled_from(CLI_INVALID))
    if field != "text":
        raw.pop(field, None)
    bad = draw(strategy)
    args = option_args({**raw, "text": bad} if field == "text" else raw)
    if field != "text":
        args.insert(0, f"--{field}={bad}")
    return args, option, constraint


@examples
@given(cli_invalid())
def test_bad_values_on_the_command_line_exit_2_and_nothing_runs(
    monkeypatch: pytest.MonkeyPatch, case: tuple[list[str], str, str]
) -> None:
    args, option, constraint = case
    result, engine = run_cli(monkeypatch, args)

    assert result.exit_code == 2, result.output
    message = json.loads(result.stdout)["error"]["message"]
    assert option in message
    assert constraint in message
    assert engine.requests == []
