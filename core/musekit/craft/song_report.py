"""The result of checking lyrics against a song form: per section and overall."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from musekit.craft.report import LineReport
from musekit.craft.song_form import SectionKind


class SectionReport(BaseModel):
    """One section as checked: its lines, found rhyme scheme, chords and what is off."""

    model_config = ConfigDict(frozen=True)

    label: str
    kind: SectionKind | None
    lines: list[LineReport]
    rhyme_scheme: str
    """Letters per lyric line, starting at A in each section."""
    chords: list[str]
    problems: list[str]


class SongReport(BaseModel):
    """How well lyrics follow a :class:`SongForm`; ``problems`` are written to be quoted
    in a repair prompt ("[Verse 1] line 2 has 11 syllables, expected 8")."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    score: float
    """Adherence from 0 to 1, with partial credit."""
    structure: str
    """The sections found, e.g. ``"verse-chorus-verse-chorus"`` (unknown tags as written)."""
    expected_structure: str
    """The structure asked for; ``""`` if none was."""
    structure_ok: bool
    """The tags are known, come before every lyric line and follow the structure asked for."""
    chorus_identical: bool | None
    """Whether every chorus repeats the first; ``None`` with fewer than two choruses."""
    key: str
    """The key chords were checked against, e.g. ``"G major"``; ``""`` if none."""
    sections: list[SectionReport]
    rhyme_scheme: str
    """Each section's rhyme scheme, separated by spaces."""
    problems: list[str]

    def summary(self) -> str:
        """A short verdict such as ``"structure ok, chorus identical, 2 problems"``."""
        parts = ["structure ok" if self.structure_ok else "structure off"]
        if self.chorus_identical is not None:
            parts.append("chorus identical" if self.chorus_identical else "choruses differ")
        count = len(self.problems)
        parts.append(f"{count} problem{'s' if count != 1 else ''}" if count else "no problems")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape (docs/lyrics.md): craft's report fields plus sections."""
        return {
            "form": "song",
            "passed": self.passed,
            "score": self.score,
            "structure": self.structure,
            "expected_structure": self.expected_structure,
            "chorus_identical": self.chorus_identical,
            "key": self.key,
            "rhyme_scheme": self.rhyme_scheme,
            "sections": [
                {
                    "label": section.label,
                    "kind": section.kind,
                    "rhyme_scheme": section.rhyme_scheme,
                    "chords": list(section.chords),
                    "lines": [
                        {"text": line.text, "syllables": line.syllables, "rhyme": line.rhyme}
                        for line in section.lines
                    ],
                    "problems": list(section.problems),
                }
                for section in self.sections
            ],
            "problems": list(self.problems),
        }
