"""The conformance check: what every musekit command should get right, checked on a fake engine.

* **spec**: the spec exports as JSON Schema, every parameter has a description,
  examples validate, and the ``text_param`` takes plain free text.
* **examples**: every example runs and returns a result.
* **prefix**: run with two different inputs, every message but the last of each
  engine request is byte-identical (a stable, cacheable prompt prefix) and holds
  none of the user's text (user text is never spliced into system prompts); the
  last message, which carries it, has the ``user`` role.
* **errors**: when the engine fails with text holding a secret (a chained engine
  error, a raw exception), neither the error the user sees, nor the result, nor
  any log line at INFO or above contains it.
"""

from __future__ import annotations

import json
import logging
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic.fields import FieldInfo

from musekit.engine.types import ChatRequest
from musekit.errors import EngineUnavailable, InvalidParameters, MusekitError, PluginFailure
from musekit.spec import CommandSpec
from musekit.testing.fake_engine import FakeEngine, Reply
from musekit.testing.kit import Kit, Outcome, run_sync

#: A marker planted in injected engine failures; it must never reach a user or a log line.
SECRET = "sk-conformance-7f3a9c"

Check = Literal["spec", "examples", "prefix", "errors"]

_SAMPLE_TEXT = "a plain sentence of free text"


@dataclass(frozen=True)
class Problem:
    """One way a command falls short: which command, which check, and what is wrong."""

    command: str
    check: Check
    detail: str

    def __str__(self) -> str:
        return f"{self.command} [{self.check}]: {self.detail}"


async def acheck_conformance(kit: Kit, *commands: str, reply: Reply = "ok") -> list[Problem]:
    """Check ``commands`` (default: all of the kit's commands); return the problems found.

    The commands run on fresh fake engines answering ``reply``; pass a reply the
    command can parse if "ok" is not one. The kit's own engine is left untouched.
    """
    problems: list[Problem] = []
    for name in commands or kit.commands:
        spec = kit.host.command(name).spec
        problems += _spec_problems(spec)
        problems += await _example_problems(kit, spec, reply)
        inputs = _marked_inputs(spec)
        if inputs is None:
            detail = "no valid input to test with: add an example setting every required parameter"
            problems.append(Problem(name, "spec", detail))
            continue
        problems += await _prefix_problems(kit, spec, inputs, reply)
        problems += await _error_problems(kit, spec, inputs.first)
    return problems


def check_conformance(kit: Kit, *commands: str, reply: Reply = "ok") -> list[Problem]:
    """:func:`acheck_conformance` for sync tests."""
    return run_sync(acheck_conformance(kit, *commands, reply=reply))


def assert_conforms(kit: Kit, *commands: str, reply: Reply = "ok") -> None:
    """Fail with every problem listed if any command does not conform."""
    problems = check_conformance(kit, *commands, reply=reply)
    if problems:
        raise AssertionError(
            "musekit conformance problems:\n" + "\n".join(f"  - {p}" for p in problems)
        )


# spec ------------------------------------------------------------------------


def _spec_problems(spec: CommandSpec) -> list[Problem]:
    found: list[str] = []
    try:
        json.dumps(spec.json_schema())
    except Exception as exc:
        found.append(f"json_schema() does not export as JSON ({type(exc).__name__}: {exc})")
    for name, info in spec.params.model_fields.items():
        if not (info.description or "").strip():
            found.append(f"parameter '{name}' has no description")
    for index, example in enumerate(spec.examples):
        try:
            spec.validate_params(example.params)
        except InvalidParameters as exc:
            found.append(f"example {index} is invalid: {exc.message}")
    if spec.text_param is not None:
        base = _base_params(spec)
        try:
            spec.validate_params({**base, spec.text_param: _SAMPLE_TEXT})
        except InvalidParameters as exc:
            found.append(f"text_param '{spec.text_param}' does not take free text: {exc.message}")
    return [Problem(spec.name, "spec", detail) for detail in found]


# examples --------------------------------------------------------------------


async def _example_problems(kit: Kit, spec: CommandSpec, reply: Reply) -> list[Problem]:
    problems = []
    probe = kit.with_engine(FakeEngine(default=reply))
    for index, example in enumerate(spec.examples):
        failure = await _failure(probe, spec.name, example.params)
        if failure is not None:
            problems.append(Problem(spec.name, "examples", f"example {index} failed: {failure}"))
    return problems


async def _failure(kit: Kit, command: str, params: dict[str, Any]) -> str | None:
    """Run a command; None if it succeeds, else the error, with the plugin's traceback."""
    with _captured_logs() as records:
        try:
            await kit.ainvoke(command, **params)
        except PluginFailure as exc:
            tracebacks = [_exception_text(r) for r in records if r.exc_info]
            return "\n".join([exc.message, *tracebacks])
        except MusekitError as exc:
            return exc.message
    return None


# prefix ----------------------------------------------------------------------


def _free_text_fields(spec: CommandSpec) -> list[str]:
    """Parameters that take free text from the user: the text param, then other str fields."""
    fields = [spec.text_param] if spec.text_param else []
    fields += [
        name
        for name, info in spec.params.model_fields.items()
        if name not in fields and _takes_str(info)
    ]
    return fields


def _takes_str(info: FieldInfo) -> bool:
    annotation = info.annotation
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and str in typing.get_args(annotation)


def _base_params(spec: CommandSpec) -> dict[str, Any]:
    return dict(spec.examples[0].params) if spec.examples else {}


@dataclass(frozen=True)
class _Inputs:
    """Two valid inputs that differ in each free-text field named in ``markers``, which
    maps the field to the distinctive word put in it for each input."""

    first: dict[str, Any]
    second: dict[str, Any]
    markers: dict[str, tuple[str, str]]


def _marked_inputs(spec: CommandSpec) -> _Inputs | None:
    """Inputs built from the first example; None if that does not validate."""
    first, second = _base_params(spec), _base_params(spec)
    markers: dict[str, tuple[str, str]] = {}
    for number, name in enumerate(_free_text_fields(spec)):
        marks = (f"qz{number}a7x", f"qz{number}b7x")
        for template in ("{} and a lighthouse at dawn", "{}"):
            values = [template.format(mark) for mark in marks]
            try:
                spec.validate_params({**first, name: values[0]})
                spec.validate_params({**second, name: values[1]})
            except InvalidParameters:
                continue
            first[name], second[name] = values
            markers[name] = marks
            break
    try:
        spec.validate_params(first)
    except InvalidParameters:
        return None
    if not markers and len(spec.examples) >= 2:
        second = dict(spec.examples[1].params)
    return _Inputs(first, second, markers)


async def _prefix_problems(
    kit: Kit, spec: CommandSpec, inputs: _Inputs, reply: Reply
) -> list[Problem]:
    if inputs.first == inputs.second:
        return []  # no input varies, so there is no prefix to compare
    outcomes: list[Outcome] = []
    for params in (inputs.first, inputs.second):
        try:
            outcomes.append(
                await kit.with_engine(FakeEngine(default=reply)).ainvoke(spec.name, **params)
            )
        except MusekitError as exc:
            detail = f"could not run with test input {params!r}: {exc.message}"
            return [Problem(spec.name, "prefix", detail)]
    found: list[str] = []
    for index, (one, other) in enumerate(
        zip(outcomes[0].requests, outcomes[1].requests, strict=False)
    ):
        spliced = _spliced(one, inputs.markers) + _spliced(other, inputs.markers)
        found += [f"request {index}: {s}" for s in dict.fromkeys(spliced)]
        if not spliced and one.messages[:-1] != other.messages[:-1]:
            found.append(
                f"request {index}: the messages before the last differ between two inputs; "
                "keep everything that varies in the last message so the prefix is stable"
            )
    return [Problem(spec.name, "prefix", detail) for detail in found]


def _spliced(request: ChatRequest, markers: dict[str, tuple[str, str]]) -> list[str]:
    found = []
    last = len(request.messages) - 1
    for position, message in enumerate(request.messages):
        content = message.content.lower()
        for name, marks in markers.items():
            if not any(mark in content for mark in marks):
                continue
            if position < last:
                found.append(
                    f"user text from '{name}' is spliced into message {position} "
                    f"({message.role}); user text belongs in the last message only"
                )
            elif message.role != "user":
                found.append(
                    f"user text from '{name}' is sent as {message.role} content; "
                    "user text belongs in a user message"
                )
    return found


# errors ----------------------------------------------------------------------


def _engine_failures() -> list[tuple[str, Exception]]:
    chained = EngineUnavailable("The model server could not be reached.")
    chained.__cause__ = ConnectionError(f"connect to https://llm.internal/?key={SECRET} refused")
    return [
        ("an engine error caused by a connection error", chained),
        ("a raw RuntimeError", RuntimeError(f"socket closed while sending token {SECRET}")),
    ]


async def _error_problems(kit: Kit, spec: CommandSpec, params: dict[str, Any]) -> list[Problem]:
    problems = []
    for what, error in _engine_failures():

        def fail(_request: ChatRequest, _index: int, error: Exception = error) -> str:
            raise error

        probe = kit.with_engine(FakeEngine(default=fail))
        with _captured_logs() as records:
            try:
                outcome = await probe.ainvoke(spec.name, **params)
            except MusekitError as exc:
                shown = [exc.message, str(exc)]
            else:
                result = outcome.result
                shown = [result.model_dump_json(exclude={"attachments"})]
                shown += [a.data.decode("utf-8", "replace") for a in result.attachments]
        leaks = []
        if any(SECRET in text for text in shown):
            leaks.append("the user")
        leaks += [
            f"a {r.levelname} log line from '{r.name}'"
            for r in records
            if r.levelno >= logging.INFO
            and (SECRET in r.getMessage() or (r.exc_info and SECRET in _exception_text(r)))
        ]
        problems += [
            Problem(spec.name, "errors", f"when the engine raised {what}, {leak} saw its text")
            for leak in dict.fromkeys(leaks)
        ]
    return problems


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Every log record (DEBUG and up) emitted while the block runs."""
    root = logging.getLogger()
    handler, level = _ListHandler(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _exception_text(record: logging.LogRecord) -> str:
    return logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
