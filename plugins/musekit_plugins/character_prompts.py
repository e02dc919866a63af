"""The character command's prompts: a fixed system prompt and worked example (a cacheable
prefix), the user's request last; evolving a card shows the card itself instead."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from musekit import Message
from musekit_plugins.character_sheet import Brief, SheetField, SheetReport

SYSTEM_PROMPT = (
    "You create characters for role-play and fiction. Answer with one JSON object holding "
    "the fields asked for, in plain vivid English. {{user}} is the person who will talk "
    "with the character; {{char}} is the character."
)

#: What each field is for, as the model is told.
FIELD_HINTS: dict[SheetField, str] = {
    "nickname": "nickname (what friends call them)",
    "description": "description (looks, background, what they want)",
    "personality": "personality (a few traits)",
    "scenario": "scenario (where and how {{user}} meets them)",
    "first_mes": "first_mes (their opening words to {{user}})",
    "mes_example": "mes_example (a short exchange, starting with <START>)",
    "tags": "tags (a few keywords)",
}

EXAMPLE_BRIEF = Brief(
    concept="a retired ship's cook who hears the sea talk",
    setting="a 1920s fishing village",
    role="mentor",
    tone="warm, eerie",
)
EXAMPLE_SHEET: dict[str, Any] = {
    "name": "Hollis Marrow",
    "nickname": "Hol",
    "description": (
        "A retired ship's cook with a limp and flour on his sleeves. After forty years at "
        "sea he runs a soup kitchen by the harbour, and swears the tide talks to him at night."
    ),
    "personality": "Warm, stubborn, superstitious; laughs at his own jokes, goes quiet in fog.",
    "scenario": "{{user}} reaches the village in a storm; the only open door is Hollis's kitchen.",
    "first_mes": (
        "*Hollis ladles soup without looking up.* Shut the door, the sea's listening. Sit down."
    ),
    "mes_example": (
        "<START>\n{{user}}: Does the sea really talk?\n{{char}}: Only when you stop talking first."
    ),
    "tags": ["sailor", "cook", "folk horror"],
}


def request_text(brief: Brief, fields: Sequence[SheetField], name: str | None) -> str:
    """The user's request: concept, setting, role, tone and name when given, the fields."""
    parts = [f"Concept: {brief.concept}"]
    for label, value in (
        ("Setting", brief.setting),
        ("Role", brief.role),
        ("Tone", brief.tone),
        ("Name", name),
    ):
        if value:
            parts.append(f"{label}: {value}")
    parts.append("Fields: name, " + ", ".join(FIELD_HINTS[f] for f in fields))
    return "\n".join(parts)


def new_messages(
    brief: Brief, fields: Sequence[SheetField], name: str | None
) -> tuple[Message, ...]:
    """System prompt, the worked example with the same fields, then the request."""
    example = {key: EXAMPLE_SHEET[key] for key in ("name", *fields)}
    return (
        Message(role="system", content=SYSTEM_PROMPT),
        Message(role="user", content=request_text(EXAMPLE_BRIEF, fields, None)),
        Message(role="assistant", content=_json(example)),
        Message(role="user", content=request_text(brief, fields, name)),
    )


def evolve_messages(
    current: Mapping[str, Any], change: str, brief: Brief, fields: Sequence[SheetField]
) -> tuple[Message, ...]:
    """System prompt, then the character as it is and the change to make."""
    shown = {key: current[key] for key in ("name", *fields) if key in current}
    context = [
        f"{label}: {value}"
        for label, value in (("Setting", brief.setting), ("Role", brief.role), ("Tone", brief.tone))
        if value
    ]
    lines = [
        "Here is a character:",
        _json(shown),
        "",
        f"Change: {change}",
        *context,
        "Write the whole character again as JSON with the fields "
        + ", ".join(("name", *fields))
        + ": make the change, keep the rest.",
    ]
    return (
        Message(role="system", content=SYSTEM_PROMPT),
        Message(role="user", content="\n".join(lines)),
    )


def repair_messages(
    messages: Sequence[Message], reply: str, report: SheetReport
) -> tuple[Message, ...]:
    """The same fixed prefix, then one message: the request, the flawed reply and its
    problems to fix (the user's text stays in the last message)."""
    problems = "\n".join(f"- {problem}" for problem in report.problems)
    *prefix, request = messages
    return (
        *prefix,
        Message(
            role="user",
            content=f"{request.content}\n\nThis reply has problems:\n{reply}\n\nProblems:\n"
            f"{problems}\nWrite the whole JSON object again with them fixed.",
        ),
    )


def _json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False)
