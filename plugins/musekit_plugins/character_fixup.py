"""The fix-up by rule: any model reply made into a sheet that passes the checks.

Used when repairs did not give a valid reply: what parses is kept, over-long texts
are cut at a word, missing fields are written from the request, and a stock name is
replaced by a fresh one everywhere it appears.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from musekit_plugins.character_names import fresh_name, is_stock
from musekit_plugins.character_sheet import (
    LENGTHS,
    MES_EXAMPLE_START,
    TAG_COUNT,
    TAG_LENGTH,
    Brief,
    SheetField,
    SheetRules,
    content_problems,
)


@dataclass(frozen=True)
class FixedUp:
    """A sheet made valid by rule, and a line for each change made."""

    sheet: dict[str, Any]
    changes: tuple[str, ...]


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
