"""The character sheet: the card fields a model writes, their JSON schema, the checks,
and the sheet as text (the fix-up by rule is :mod:`musekit_plugins.character_fixup`).

The schema (built from a pydantic model, so the engine's constraint and the
validation agree) bounds every string, so even a small model closes each field.
:func:`check_sheet` validates a reply and adds what a schema cannot say: a stock
fantasy name, a field that copies another or the worked example. ``fix_up`` makes
any reply valid by rule when repairs did not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, create_model

from musekit.spec import field_problems
from musekit_plugins.character_names import is_stock, stock_words

SheetField = Literal[
    "nickname", "description", "personality", "scenario", "first_mes", "mes_example", "tags"
]
#: Every field a sheet can fill, in the order they are written.
SHEET_FIELDS: tuple[SheetField, ...] = get_args(SheetField)
DEFAULT_FIELDS: tuple[SheetField, ...] = (
    "description",
    "personality",
    "scenario",
    "first_mes",
    "tags",
)

#: Characters each text field may hold: (fewest, most).
LENGTHS: dict[str, tuple[int, int]] = {
    "name": (2, 40),
    "nickname": (2, 30),
    "description": (20, 360),
    "personality": (10, 240),
    "scenario": (20, 300),
    "first_mes": (10, 300),
    "mes_example": (20, 400),
}
TAG_LENGTH = (2, 24)
TAG_COUNT = (1, 6)

#: How a sheet's fields are labelled in its text form, in order.
LABELS: dict[str, str] = {
    "name": "Name",
    "nickname": "Nickname",
    "description": "Description",
    "personality": "Personality",
    "scenario": "Scenario",
    "first_mes": "First message",
    "mes_example": "Example dialogue",
    "tags": "Tags",
}

MES_EXAMPLE_START = "<START>"


def _text(field_name: str) -> Any:
    low, high = LENGTHS[field_name]
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=low, max_length=high)]


def sheet_model(fields: Sequence[SheetField], name: str | None = None) -> type[BaseModel]:
    """The pydantic model of a sheet with ``fields`` (all required), ``name`` first: fixed
    to ``name`` when one is given, else free within its length."""
    tag = Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=TAG_LENGTH[0], max_length=TAG_LENGTH[1]
        ),
    ]
    name_type: Any = Literal[name] if name is not None else _text("name")
    definitions: dict[str, Any] = {"name": (name_type, ...)}
    for field_name in SHEET_FIELDS:
        if field_name not in fields:
            continue
        if field_name == "tags":
            definitions["tags"] = (
                list[tag],
                Field(..., min_length=TAG_COUNT[0], max_length=TAG_COUNT[1]),
            )
        else:
            definitions[field_name] = (_text(field_name), ...)
    model: type[BaseModel] = create_model(
        "CharacterSheet", __config__=ConfigDict(extra="forbid"), **definitions
    )
    return model


def sheet_schema(fields: Sequence[SheetField], name: str | None = None) -> dict[str, Any]:
    """The JSON schema a reply is constrained to: an object with exactly these fields."""
    return sheet_model(fields, name).model_json_schema()


@dataclass(frozen=True)
class SheetReport:
    """A reply checked: ``sheet`` when it validated, the problems otherwise.

    ``passed``, ``score`` and ``problems`` make it a :mod:`musekit.refine` check report.
    """

    problems: tuple[str, ...]
    score: float
    sheet: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "score": round(self.score, 3),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class SheetRules:
    """What a sheet must be: its fields, a name fixed by the user (stock or not), texts it
    must not copy (the worked example's)."""

    fields: tuple[SheetField, ...]
    name: str | None = None
    copied: Mapping[str, Any] = field(default_factory=dict)

    def model(self) -> type[BaseModel]:
        return sheet_model(self.fields, self.name)


@dataclass(frozen=True)
class Brief:
    """What the user asked for, for the fix-up's fallback texts."""

    concept: str
    setting: str | None = None
    role: str | None = None
    tone: str | None = None


def check_sheet(text: str, rules: SheetRules) -> SheetReport:
    """Parse and validate a model's reply against ``rules``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return SheetReport((f"The reply is not complete JSON (it breaks at {where}).",), 0.0)
    try:
        sheet = rules.model().model_validate(document).model_dump()
    except ValidationError as exc:
        problems = tuple(
            f"{p.field}: {p.problem}" for p in field_problems(exc, unknown="not a field to write")
        )
        return SheetReport(problems, _score(len(problems), rules))
    problems = tuple(content_problems(sheet, rules))
    return SheetReport(problems, _score(len(problems), rules), sheet)


def content_problems(sheet: Mapping[str, Any], rules: SheetRules) -> list[str]:
    """What a valid sheet still gets wrong: a stock name, copied or repeated fields, an
    example dialogue without its ``<START>`` line."""
    problems = []
    if rules.name is None and is_stock(sheet["name"]):
        words = ", ".join(stock_words(sheet["name"]))
        problems.append(
            f"name: '{sheet['name']}' uses a stock fantasy name ({words}); choose a rarer "
            "name that fits the setting"
        )
    seen: dict[str, str] = {}
    for field_name in rules.fields:
        value = sheet[field_name]
        key = json.dumps(value).casefold()
        if field_name in rules.copied and value == rules.copied[field_name]:
            problems.append(f"{field_name}: copies the worked example; write this character's own")
        elif key in seen:
            problems.append(f"{field_name}: repeats {seen[key]} word for word")
        seen.setdefault(key, field_name)
    if "mes_example" in rules.fields and not sheet["mes_example"].startswith(MES_EXAMPLE_START):
        problems.append(f"mes_example: must start with a {MES_EXAMPLE_START} line")
    return problems


def _score(problems: int, rules: SheetRules) -> float:
    return max(0.0, 1.0 - problems / (len(rules.fields) + 2))


def sheet_text(sheet: Mapping[str, Any]) -> str:
    """The sheet as labelled lines ("Name: ..."), in field order: readable in chat, and
    read back by :func:`parse_sheet_text`."""
    lines = []
    for key, label in LABELS.items():
        if key not in sheet:
            continue
        value = sheet[key]
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        lines.append(f"{label}: {shown}")
    return "\n".join(lines)


_LABEL_LINE = re.compile(
    r"^(" + "|".join(re.escape(label) for label in LABELS.values()) + r"): ?(.*)$"
)


def parse_sheet_text(text: str) -> dict[str, Any]:
    """The fields of a sheet's text form (as :func:`sheet_text` writes it); lines after a
    label belong to it until the next label. Empty when ``text`` holds no ``Name:`` line."""
    keys = {label: key for key, label in LABELS.items()}
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _LABEL_LINE.match(line)
        if match and keys[match.group(1)] not in found:
            current = found[keys[match.group(1)]] = [match.group(2)]
        elif current is not None:
            current.append(line)
    if "name" not in found:
        return {}
    sheet: dict[str, Any] = {}
    for key, lines in found.items():
        value = "\n".join(lines).strip()
        sheet[key] = [t.strip() for t in value.split(",") if t.strip()] if key == "tags" else value
    return sheet
