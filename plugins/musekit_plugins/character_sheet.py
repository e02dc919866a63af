"""The character sheet: the card fields a model writes, their JSON schema, the checks,
the deterministic fix-up, and the sheet as text.

The schema (built from a pydantic model, so the engine's constraint and the
validation agree) bounds every string, so even a small model closes each field.
:func:`check_sheet` validates a reply and adds what a schema cannot say: a stock
fantasy name, a field that copies another or the worked example. :func:`fix_up` makes
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
from musekit_plugins.character_names import fresh_name, is_stock, stock_words

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


@dataclass(frozen=True)
class FixedUp:
    """A sheet made valid by rule, and a line for each change made."""

    sheet: dict[str, Any]
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Brief:
    """What the user asked for, for the fix-up's fallback texts."""

    concept: str
    setting: str | None = None
    role: str | None = None
    tone: str | None = None


def fix_up(text: str, rules: SheetRules, brief: Brief) -> FixedUp:
    """Make any reply a valid sheet: keep what parses and fits, cut over-long texts at a
    word, fill what is missing from the request, replace a stock name (and its mentions)
    with a fresh one. The result always passes :func:`check_sheet`."""
    found = salvage(text)
    changes: list[str] = []
    name = rules.name or _clean_name(found.get("name"))
    if name is None:
        name = fresh_name(brief.concept)
        changes.append(f"name: none given, so '{name}' was made up")
    elif rules.name is None and is_stock(name):
        fresh = fresh_name(brief.concept)
        changes.append(f"name: the stock name '{name}' was replaced with '{fresh}'")
        found = _renamed(found, name, fresh)
        name = fresh
    sheet: dict[str, Any] = {"name": name}
    for field_name in rules.fields:
        value, change = _fixed_field(field_name, found.get(field_name), name, brief)
        sheet[field_name] = value
        if change:
            changes.append(f"{field_name}: {change}")
    for problem in content_problems(sheet, rules):
        key, _, what = problem.partition(": ")
        if key == "mes_example":
            sheet[key] = f"{MES_EXAMPLE_START}\n{sheet[key]}"[: LENGTHS[key][1]]
            changes.append(f"{key}: the {MES_EXAMPLE_START} line was added")
        else:
            sheet[key] = fallback(key, name, brief)
            changes.append(f"{key}: {what}, so it was written by rule")
    return FixedUp(sheet, tuple(changes))


def _fixed_field(
    field_name: SheetField, value: Any, name: str, brief: Brief
) -> tuple[Any, str | None]:
    if field_name == "tags":
        tags = [t.strip()[: TAG_LENGTH[1]].strip() for t in value or [] if isinstance(t, str)]
        tags = list(dict.fromkeys(t for t in tags if len(t) >= TAG_LENGTH[0]))[: TAG_COUNT[1]]
        if tags:
            return tags, None if tags == value else "cut to fit"
        return fallback("tags", name, brief), "missing, so written by rule"
    low, high = LENGTHS[field_name]
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > high:
        return _cut(text, high), f"longer than {high} characters, cut at a word"
    if len(text) < low:
        return fallback(field_name, name, brief), "missing or too short, so written by rule"
    return text, None


def fallback(field_name: str, name: str, brief: Brief) -> Any:
    """A plain text for a field the model did not manage, built from the request."""
    first = name.split()[0]
    where = f" in {brief.setting}" if brief.setting else ""
    texts: dict[str, Any] = {
        "nickname": first,
        "description": f"{name} is {brief.concept}{where}.",
        "personality": f"{(brief.tone or 'guarded').capitalize()}; slow to trust, quick to notice.",
        "scenario": f"{{{{user}}}} crosses paths with {name}{where}.",
        "first_mes": f"*{first} looks up.* You're not from around here, are you?",
        "mes_example": (
            f"{MES_EXAMPLE_START}\n{{{{user}}}}: Who are you?\n{{{{char}}}}: {first}. "
            "And you'd be the one asking questions."
        ),
        "tags": [t for t in (brief.role, brief.setting) if t] or ["original character"],
    }
    value = texts[field_name]
    if field_name == "tags":
        return [_cut(t, TAG_LENGTH[1]) for t in value if len(t) >= TAG_LENGTH[0]][
            : TAG_COUNT[1]
        ] or ["original character"]
    low, high = LENGTHS[field_name]
    value = _cut(value, high)
    return value if len(value) >= low else f"{value} {name} keeps the rest to themself."[:high]


_STRING_FIELD = re.compile(r'"(\w+)"\s*:\s*"((?:[^"\\]|\\.)*)')
_TAGS = re.compile(r'"tags"\s*:\s*\[([^\]]*)')
_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"')


def salvage(text: str) -> dict[str, Any]:
    """The fields of a reply that can be read: all of it when it is JSON, else each
    ``"key": "value`` pair as far as it goes (a reply cut off mid-string keeps its start)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        return document
    found: dict[str, Any] = {}
    for key, raw in _STRING_FIELD.findall(text):
        found.setdefault(key, _unescape(raw))
    tags = _TAGS.search(text)
    if tags:
        found["tags"] = [_unescape(t) for t in _TAG.findall(tags.group(1))]
    return found


def _unescape(raw: str) -> str:
    try:
        value = json.loads(f'"{raw}"')
    except json.JSONDecodeError:
        return raw.replace('\\"', '"')
    return value if isinstance(value, str) else raw


def _clean_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name = " ".join(value.split())
    low, high = LENGTHS["name"]
    name = _cut(name, high)
    return name if len(name) >= low else None


def _renamed(found: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``found`` with ``old`` (and its first word alone) replaced by ``new`` in every text."""
    old_first, new_first = old.split()[0], new.split()[0]
    pattern = re.compile(rf"\b{re.escape(old)}\b|\b{re.escape(old_first)}\b")

    def swap(match: re.Match[str]) -> str:
        return new if match.group(0) == old else new_first

    renamed: dict[str, Any] = {}
    for key, value in found.items():
        if isinstance(value, str):
            renamed[key] = pattern.sub(swap, value)
        elif isinstance(value, list):
            renamed[key] = [pattern.sub(swap, v) if isinstance(v, str) else v for v in value]
        else:
            renamed[key] = value
    return renamed


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at the last whole word."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:-")


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
