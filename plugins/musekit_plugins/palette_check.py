"""A palette as the model writes it (JSON) and as people read it (a name, then a line a
colour), its check, and what code mends.

The roles follow from the number of colours (:data:`ROLES`), so every palette has a
background and a text colour. The check: the answer is a palette (a name and a
``#RRGGBB`` colour for each role), each text colour reads on its backgrounds at WCAG
contrast 4.5:1 or more (:data:`CONTRAST_PAIRS`), and no two colours are closer than
ΔE00 5 (:mod:`musekit_plugins.palette_colour`). Mending moves lightness only: first
colours too close to an earlier one, then text colours too faint, each by the least
that fixes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from pydantic import BaseModel

from musekit_plugins.palette_colour import (
    MIN_CONTRAST,
    MIN_DIFFERENCE,
    all_of,
    apart_from,
    contrast,
    difference,
    is_hex,
    nearest_lightness,
    readable_on,
)

#: Every role, in the order a palette lists them.
ORDER = (
    "background",
    "surface",
    "text",
    "muted-text",
    "primary",
    "secondary",
    "accent",
    "highlight",
)
_CORE = ("background", "text", "primary", "accent")
_ADDED = ("surface", "secondary", "muted-text", "highlight")

#: The roles of a palette of 4 to 8 colours: the core four, then one more a colour.
ROLES: dict[int, tuple[str, ...]] = {
    count: tuple(role for role in ORDER if role in _CORE + _ADDED[: count - 4])
    for count in range(4, 9)
}

#: Text colours and the backgrounds they must read on, when the palette has both.
CONTRAST_PAIRS = (
    ("text", "background"),
    ("text", "surface"),
    ("muted-text", "background"),
    ("muted-text", "surface"),
)

NAME_LENGTH = 40


def response_schema(count: int) -> dict[str, Any]:
    """The JSON schema of a palette of ``count`` colours: a name, and ``#RRGGBB`` per role."""
    colour = {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"}
    properties: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH}
    }
    properties.update(dict.fromkeys(ROLES[count], colour))
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class Palette:
    """A named palette: ``(role, colour)`` pairs in role order."""

    name: str
    colours: tuple[tuple[str, str], ...]

    def colour(self, role: str) -> str | None:
        return dict(self.colours).get(role)

    def text(self) -> str:
        """The palette as people read it: the name, then ``role: #RRGGBB`` a line."""
        return "\n".join([self.name, *(f"{role}: {colour}" for role, colour in self.colours)])

    def replaced(self, role: str, colour: str) -> Palette:
        return Palette(self.name, tuple((r, colour if r == role else c) for r, c in self.colours))


def read_palette(text: str) -> dict[str, str] | str:
    """The fields of a palette written as JSON or as :meth:`Palette.text`, or why it is not
    one."""
    stripped = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```")
    try:
        found = json.loads(stripped)
    except ValueError:
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        pairs = [line.split(":", 1) for line in lines[1:]]
        if not lines or any(len(pair) != 2 for pair in pairs):
            return "the answer is not a palette in JSON"
        return {"name": lines[0], **{k.strip(): v.strip() for k, v in pairs}}
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        return "the answer is not a JSON object of names and colours"
    return found


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


class PaletteReport(BaseModel):
    """What the check found, and the measurements behind it."""

    passed: bool
    score: float
    problems: list[str]
    colours: int
    contrasts: dict[str, float] = {}
    closest: float | None = None

    def summary(self) -> str:
        """One line: ``5 colours, text contrast 7.1:1 and up, ΔE00 12 and up`` or the problems."""
        if not self.passed:
            return _plural(len(self.problems), "problem")
        parts = [_plural(self.colours, "colour")]
        if self.contrasts:
            parts.append(f"text contrast {min(self.contrasts.values()):.1f}:1 and up")
        if self.closest is not None:
            parts.append(f"ΔE00 {self.closest:.0f} and up")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (``Result.data["palette_report"]``)."""
        return self.model_dump()


@dataclass(frozen=True)
class Brief:
    """What a palette must be: ``count`` colours in the roles of :data:`ROLES`.

    ``clean`` turns an answer into a palette's text, ``check`` reports on it, and
    ``mend`` fixes contrast and closeness by moving lightness.
    """

    count: int

    @property
    def roles(self) -> tuple[str, ...]:
        return ROLES[self.count]

    def parse(self, text: str) -> Palette | str:
        """The palette in ``text``, or the first reason it is not a valid one."""
        fields = read_palette(text)
        if isinstance(fields, str):
            return fields
        name = " ".join(str(fields.get("name", "")).split())[:NAME_LENGTH]
        if not name:
            return "the palette has no name"
        missing = [role for role in self.roles if role not in fields]
        if missing:
            return f"the palette has no colour for {', '.join(missing)}"
        for role in self.roles:
            if not is_hex(fields[role]):
                return f"'{fields[role][:20]}' for {role} is not a colour written #RRGGBB"
        return Palette(name, tuple((role, fields[role].upper()) for role in self.roles))

    def clean(self, answer: str) -> str:
        """The palette's text when the answer is one; else the answer, stripped."""
        palette = self.parse(answer)
        return palette.text() if isinstance(palette, Palette) else answer.strip()

    def usable(self, text: str) -> bool:
        return isinstance(self.parse(text), Palette)

    def check(self, text: str) -> PaletteReport:
        """Whether ``text`` is a palette whose text reads and whose colours differ."""
        palette = self.parse(text)
        if isinstance(palette, str):
            return PaletteReport(passed=False, score=0.0, problems=[palette], colours=0)
        problems = []
        contrasts = {}
        for fore, back in _pairs(palette):
            ratio = contrast(palette.colour(fore) or "", palette.colour(back) or "")
            contrasts[f"{fore} on {back}"] = round(ratio, 2)
            if ratio < MIN_CONTRAST:
                problems.append(
                    f"{fore} {palette.colour(fore)} on {back} {palette.colour(back)} has "
                    f"contrast {ratio:.2f}:1, below {MIN_CONTRAST}:1"
                )
        differences = {
            (one, other): difference(a, b)
            for (one, a), (other, b) in combinations(palette.colours, 2)
        }
        close = [(pair, value) for pair, value in differences.items() if value < MIN_DIFFERENCE]
        for (one, other), value in close:
            problems.append(
                f"{one} {palette.colour(one)} and {other} {palette.colour(other)} are hard to "
                f"tell apart (ΔE00 {value:.1f}, below {MIN_DIFFERENCE:.0f})"
            )
        readable = sum(ratio >= MIN_CONTRAST for ratio in contrasts.values())
        shares = (
            readable / len(contrasts) if contrasts else 1.0,
            1 - len(close) / len(differences),
        )
        return PaletteReport(
            passed=not problems,
            score=round(sum(shares) / len(shares), 3),
            problems=problems,
            colours=len(palette.colours),
            contrasts=contrasts,
            closest=round(min(differences.values()), 1),
        )

    def mend(self, text: str) -> tuple[str, list[str]]:
        """The palette with colours moved in lightness, each by the least that makes it
        differ from the colours before it and, for a text colour, read on its backgrounds
        (contrast first when both cannot hold); and what was changed. Text that is not a
        palette is returned as it is."""
        palette = self.parse(text)
        if isinstance(palette, str):
            return text, []
        changes = []
        for index, (role, colour) in enumerate(palette.colours):
            apart = apart_from([c for _, c in palette.colours[:index]])
            backs = [palette.colour(back) or "" for fore, back in _pairs(palette) if fore == role]
            readable = readable_on(backs)
            moved = nearest_lightness(colour, all_of(apart, readable))
            if moved is None and backs:
                moved = nearest_lightness(colour, readable)
            if moved is not None and moved != colour:
                palette = palette.replaced(role, moved)
                reason = f"contrast {MIN_CONTRAST}:1 and " if backs else ""
                changes.append(
                    f"{role} {colour} -> {moved} ({reason}apart from the colours before)"
                )
        return palette.text(), changes


def _pairs(palette: Palette) -> list[tuple[str, str]]:
    roles = {role for role, _ in palette.colours}
    return [(fore, back) for fore, back in CONTRAST_PAIRS if fore in roles and back in roles]
