"""Ideas out of whatever a model wrote: JSON (whole, fenced, or cut off at the token
limit), or a numbered or bulleted list with preambles, markdown and notes around it.

:func:`parse_ideas` tries JSON first (``{"ideas": [...]}``, a bare list, items as
strings or as objects with ``idea``/``text``/``title`` and ``likelihood``), salvages
the complete items of cut-off JSON, and otherwise reads the text line by line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: Ideas shorter than this many words are fragments ("Eliminate"), not ideas.
MIN_WORDS = 3

#: Longer ideas are cut at a word boundary.
MAX_CHARS = 300

_TEXT_KEYS = ("idea", "text", "title", "name", "summary")
_DETAIL_KEYS = ("description", "details", "detail", "why")
_LIKELIHOOD_KEYS = ("likelihood", "probability", "p", "prob")

_FENCE = re.compile(r"^\s*```")
_MARKER = re.compile(
    r"^\s*(?:[-*•·\u2013\u2014+]|\(?\d{1,2}[.):\]]|#\d{1,2}[.):]?|idea\s*#?\d{1,2}\s*[:.)\-\u2013])\s+(?P<rest>.*)$",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(
    r"^(here('s| is| are)|sure\b|certainly|of course|okay|ok\b|these (are|ideas)|i hope"
    r"|hope (this|these)|let me know|note:|in summary|overall"
    r"|i (cannot|can't|can not)|i('m| am) (sorry|unable)|sorry\b|as an ai)",
    re.IGNORECASE,
)
_LIKELIHOOD = re.compile(
    r"[\s,;\u2013\u2014-]*[(\[]?\s*\b(?:likelihood|probability|prob|p)\b\s*[:=]?\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<percent>%)?\s*[)\]]?\s*\.?$",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
_JSON_STRING = r'"((?:[^"\\]|\\.)*)"'
_SALVAGE_OBJECT = re.compile(
    r'"(?:'
    + "|".join(_TEXT_KEYS)
    + r')"\s*:\s*'
    + _JSON_STRING
    + r'(?:\s*,\s*"(?:'
    + "|".join(_LIKELIHOOD_KEYS)
    + r')"\s*:\s*(-?\d+(?:\.\d+)?))?'
)
_SALVAGE_LIST = re.compile(r"\[\s*(" + _JSON_STRING + r"(?:\s*,\s*" + _JSON_STRING + r")*)")


@dataclass(frozen=True)
class ParsedIdea:
    """One idea as the model gave it, and its stated likelihood (0..1) if it gave one."""

    text: str
    likelihood: float | None = None


def parse_ideas(text: str) -> list[ParsedIdea]:
    """Every idea in a model's reply, in order; fragments and notes left out."""
    found = _from_json(text)
    if found is None:
        found = _from_lines(text)
    ideas = []
    for idea in found:
        cleaned = clean_idea(idea.text)
        if len(cleaned.split()) >= MIN_WORDS:
            ideas.append(ParsedIdea(cleaned, idea.likelihood))
    return ideas


def clean_idea(text: str) -> str:
    """One idea on one line: no markdown emphasis, wrapping quotes or excess space, at
    most :data:`MAX_CHARS` characters."""
    text = _EMPHASIS.sub("", " ".join(text.split()))
    text = re.sub(r"\s+:", ":", text).strip()
    if len(text) > 1 and text[0] in "\"'“" and text[-1] in "\"'”":
        text = text[1:-1].strip()
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


def likelihood(value: Any) -> float | None:
    """A stated likelihood as 0..1: a share as is, a percentage divided by 100; else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if 0 <= value <= 1:
        return float(value)
    if 1 < value <= 100:
        return value / 100
    return None


# JSON ------------------------------------------------------------------------------------


def _from_json(text: str) -> list[ParsedIdea] | None:
    """The ideas of the first JSON value in the text, or of its complete items when it is
    cut off; ``None`` when the text holds no JSON ideas."""
    start = min((i for i in (text.find("{"), text.find("[")) if i != -1), default=-1)
    if start == -1:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError:
        return _salvaged(text[start:])
    items = _items(value)
    if items is None:
        return None
    return [idea for idea in map(_idea, items) if idea is not None]


def _items(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in ("ideas", "items", "suggestions"):
            if isinstance(value.get(key), list):
                return list(value[key])
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
        if _idea(value) is not None:
            return [value]
    return None


def _idea(item: Any) -> ParsedIdea | None:
    if isinstance(item, str):
        return ParsedIdea(item)
    if not isinstance(item, dict):
        return None
    main = next((item[k] for k in _TEXT_KEYS if isinstance(item.get(k), str)), None)
    detail = next((item[k] for k in _DETAIL_KEYS if isinstance(item.get(k), str)), None)
    if main is None and detail is None:
        return None
    text = ": ".join(part.strip().rstrip(":") for part in (main, detail) if part)
    stated = next((item[k] for k in _LIKELIHOOD_KEYS if k in item), None)
    return ParsedIdea(text, likelihood(stated))


def _salvaged(text: str) -> list[ParsedIdea] | None:
    """The complete items of cut-off JSON: objects' idea strings, else a list's strings."""
    objects = [
        ParsedIdea(_unescape(match[1]), likelihood(_number(match[2])))
        for match in _SALVAGE_OBJECT.finditer(text)
    ]
    if objects:
        return objects
    listed = _SALVAGE_LIST.search(text)
    if listed is None:
        return None
    return [ParsedIdea(_unescape(s)) for s in re.findall(_JSON_STRING, listed[1])]


def _unescape(raw: str) -> str:
    try:
        return str(json.loads(f'"{raw}"'))
    except json.JSONDecodeError:
        return raw


def _number(raw: str | None) -> float | None:
    return None if raw is None else float(raw)


# Lines -----------------------------------------------------------------------------------


def _from_lines(text: str) -> list[ParsedIdea]:
    """Items of a numbered or bulleted list (with their continuation lines), or, in a
    reply with no list markers, each line that is not a preamble, heading or note."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if not _FENCE.match(line)]
    marked = any(_MARKER.match(line) for line in lines)
    items: list[list[str]] = []
    open_item = False
    for line in lines:
        stripped = line.strip()
        marker = _MARKER.match(line)
        if marker:
            items.append([marker["rest"]])
            open_item = True
        elif not stripped or _is_chatter(stripped):
            open_item = False
        elif marked and open_item:
            items[-1].append(stripped)  # the item goes on
        elif not marked:
            items.append([stripped])
    return [_with_likelihood(" ".join(parts)) for parts in items]


def _is_chatter(line: str) -> bool:
    """A preamble, sign-off, heading or a line introducing a list ("Ideas:")."""
    bare = _EMPHASIS.sub("", line).strip()
    return (
        bool(_PREAMBLE.match(bare))
        or line.startswith("#")
        or (bare.endswith(":") and len(bare.split()) <= 8)
        or (line.startswith(("**", "__")) and line.rstrip(":").endswith(("**", "__")))
    )


def _with_likelihood(text: str) -> ParsedIdea:
    """An item with a stated likelihood at its end ("(likelihood: 0.2)") taken off it."""
    match = _LIKELIHOOD.search(text)
    if match is None:
        return ParsedIdea(text)
    value = float(match["value"])
    stated = likelihood(value / 100 if match["percent"] else value)
    return ParsedIdea(text[: match.start()].rstrip(" ,;-\u2013\u2014"), stated)
