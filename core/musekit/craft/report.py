"""The result of checking a poem against a form: per line and overall."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from musekit.craft.forms import FORMS


class LineReport(BaseModel):
    """One line as checked: syllables, stresses, rhyme letter and what is off."""

    model_config = ConfigDict(frozen=True)

    text: str
    syllables: int
    """The count closest to the form's target, over every pronunciation."""
    possible_syllables: list[int]
    uncertain: bool
    """Some word was not in the dictionary, so its syllables were estimated."""
    stress: str
    """The reading used, ``1`` stressed and ``0`` unstressed, e.g. ``"0101010101"``."""
    rhyme: str
    """The line's rhyme letter; ``""`` when it rhymes with no other line."""
    problems: list[str] = []


class FormReport(BaseModel):
    """How well a poem fits its form; ``problems`` are written to be quoted in a repair prompt."""

    model_config = ConfigDict(frozen=True)

    form: str
    passed: bool
    score: float
    """Adherence from 0 to 1, with partial credit (a slant rhyme, a syllable off)."""
    lines: list[LineReport]
    rhyme_scheme: str
    """Letters per line, stanzas separated by spaces, e.g. ``"ABAB CDCD EFEF GG"``."""
    problems: list[str]

    def summary(self) -> str:
        """A short verdict such as ``"haiku 5-7-5 ok"`` or ``"haiku: 2 problems"``."""
        if not self.passed:
            count = len(self.problems)
            return f"{self.form}: {count} problem{'s' if count != 1 else ''}"
        form = FORMS.get(self.form)
        if form is not None and form.syllables and not form.rhyme:
            shape = "-".join(str(line.syllables) for line in self.lines)
        elif form is not None and form.rhyme:
            shape = self.rhyme_scheme
        else:
            shape = f"{len(self.lines)} lines"
        return f"{self.form} {shape} ok"

    def to_json(self) -> dict[str, Any]:
        """The public JSON contract (docs/craft.md): form, passed, score, lines, problems..."""
        return {
            "form": self.form,
            "passed": self.passed,
            "score": self.score,
            "lines": [
                {"text": line.text, "syllables": line.syllables, "rhyme": line.rhyme}
                for line in self.lines
            ],
            "rhyme_scheme": self.rhyme_scheme,
            "problems": list(self.problems),
        }
