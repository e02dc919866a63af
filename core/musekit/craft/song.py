"""Song lyrics checked by code: section tags, structure, choruses, rhyme, syllables, chords.

Lyrics are tagged in square brackets, one tag on its own line: ``[Intro]``,
``[Verse 1]``, ``[Pre-Chorus]``, ``[Chorus]``, ``[Bridge]``, ``[Outro]``. Text in
parentheses is backing vocals: it is kept but left out of syllables, rhymes and
chorus comparison (a line that is all backing vocals is not a lyric line). A
section's chords go on a line of their own, ``Chords: C G Am F``, anywhere in it
(right under the tag by convention); a section without one plays the chords of the
last section of its kind before it. :func:`check_song` measures lyrics against a
:class:`SongForm` and returns a :class:`SongReport` (docs/lyrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher
from math import lcm

from musekit.craft.checker import closest_count, describe_range
from musekit.craft.chords import Chord, Key
from musekit.craft.forms import Range
from musekit.craft.phonetics import line_syllables, stresses, words
from musekit.craft.report import LineReport
from musekit.craft.rhymes import RHYME_THRESHOLD, end_rhyme, rhyme_letters, rhyme_problem
from musekit.craft.song_form import (
    FREE_LINE,
    SECTION_KINDS,
    SectionKind,
    SongForm,
    parse_lines,
    parse_rhyme,
    parse_structure,
    parse_syllables,
    section_kind,
    section_labels,
    section_tags,
    syllables_text,
)
from musekit.craft.song_report import SectionReport, SongReport
from musekit.craft.song_text import Song, SongLine, SongSection, parse_song, repeat_choruses

__all__ = [
    "FREE_LINE",
    "SECTION_KINDS",
    "Chord",
    "Key",
    "SectionKind",
    "SectionReport",
    "Song",
    "SongForm",
    "SongLine",
    "SongReport",
    "SongSection",
    "check_song",
    "parse_lines",
    "parse_rhyme",
    "parse_song",
    "parse_structure",
    "parse_syllables",
    "repeat_choruses",
    "section_kind",
    "section_labels",
    "section_tags",
    "syllables_text",
]

_WEIGHTS = {"tags": 1.0, "structure": 3.0, "chorus": 2.0, "lines": 1.0}
_WEIGHTS |= {"rhyme": 2.0, "syllables": 2.0, "chords": 1.0}
#: Sections that must have lyric lines (an intro or outro may be instrumental).
_SUNG: frozenset[SectionKind] = frozenset({"verse", "pre-chorus", "chorus", "bridge"})


@dataclass
class _Tally:
    """Scores per component and problems, overall, per section and per line."""

    scores: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    by_section: dict[int, list[str]] = field(default_factory=dict)
    by_line: dict[tuple[int, int], list[str]] = field(default_factory=dict)

    def add(
        self,
        component: str,
        score: float,
        problem: str | None = None,
        section: int | None = None,
        line: int | None = None,
    ) -> None:
        self.scores.setdefault(component, []).append(score)
        if problem is not None:
            self.note(problem, section, line)

    def note(self, problem: str, section: int | None = None, line: int | None = None) -> None:
        """A problem whose score is already counted."""
        self.problems.append(problem)
        if section is not None:
            self.by_section.setdefault(section, []).append(problem)
            if line is not None:
                self.by_line.setdefault((section, line), []).append(problem)

    def failed(self, component: str) -> bool:
        return any(score < 1.0 for score in self.scores.get(component, []))

    def score(self) -> float:
        total = sum(_WEIGHTS[c] * sum(s) / len(s) for c, s in self.scores.items())
        weight = sum(_WEIGHTS[c] for c in self.scores)
        return round(total / weight, 3) if weight else 1.0


def check_song(text: str, form: SongForm | None = None) -> SongReport:
    """Check lyrics against ``form`` (by default only their tags and choruses).

    Empty lyrics give a failed report, not an error.
    """
    form = form or SongForm()
    song = parse_song(text)
    tally = _Tally()
    if not song.sections and not song.untagged:
        tally.add("tags", 0.0, "the lyrics are empty")
    _check_tags(tally, song)
    _check_structure(tally, song, form.structure)
    _check_choruses(tally, song, form.structure)
    sections = [
        _check_section(tally, index, section, form, _chords_before(song, index))
        for index, section in enumerate(song.sections)
    ]
    choruses = [s for s in song.sections if s.kind == "chorus"]
    found = "-".join(section.kind or section.tag.lower() for section in song.sections)
    return SongReport(
        passed=not tally.problems,
        score=tally.score(),
        structure=found,
        expected_structure="-".join(form.structure),
        structure_ok=not (tally.failed("tags") or tally.failed("structure")),
        chorus_identical=None if len(choruses) < 2 else not tally.failed("chorus"),
        key=str(form.key) if form.key else "",
        sections=sections,
        rhyme_scheme=" ".join(section.rhyme_scheme for section in sections if section.rhyme_scheme),
        problems=tally.problems,
    )


def _tagged(section: SongSection) -> str:
    return f"[{section.label}]"


def _check_tags(tally: _Tally, song: Song) -> None:
    if song.untagged:
        count = len(song.untagged)
        problem = (
            "the lyrics have no section tags: put a tag such as [Verse 1] or [Chorus] on its "
            "own line before each section"
            if not song.sections
            else f"the first {f'{count} lines come' if count > 1 else 'line comes'} before any "
            "section tag; start with a tag such as [Verse 1]"
        )
        tally.add("tags", 0.0, problem)
    for index, section in enumerate(song.sections):
        if section.kind is None:
            problem = (
                f"[{section.tag}] is not a section tag; use [Intro], [Verse], [Pre-Chorus], "
                "[Chorus], [Bridge] or [Outro]"
            )
            tally.add("tags", 0.0, problem, index)


def _check_structure(tally: _Tally, song: Song, structure: tuple[SectionKind, ...]) -> None:
    if not structure or not song.sections:
        if structure:
            tally.add("structure", 0.0)
        return
    found = [section.kind or f"[{section.tag}]" for section in song.sections]
    matcher = SequenceMatcher(None, found, list(structure), autojunk=False)
    tally.add("structure", matcher.ratio())
    shape = "-".join(structure)
    if sorted(found) == sorted(structure) and found != list(structure):
        tally.note(f"the sections run {'-'.join(found)}, expected {shape}")
        return
    wanted = [f"[{label}]" for label in section_labels(structure)]
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        have = " and ".join(_tagged(s) for s in song.sections[i1:i2])
        where = f"after {_tagged(song.sections[i1 - 1])}" if i1 else "at the start"
        if op == "insert":
            tally.note(f"missing {' and '.join(wanted[j1:j2])} {where} (structure {shape})")
        elif op == "delete":
            tally.note(f"extra {have} {where}; the structure is {shape}", i1)
        elif op == "replace":
            need = " and ".join(wanted[j1:j2])
            tally.note(f"found {have} where the structure {shape} has {need}", i1)


def _plain(line: SongLine) -> str:
    return " ".join(words(line.sung))


def _check_choruses(tally: _Tally, song: Song, structure: tuple[SectionKind, ...]) -> None:
    indexed = [(i, s) for i, s in enumerate(song.sections) if s.kind == "chorus"]
    if len(indexed) < 2:
        if structure.count("chorus") > 1:
            tally.add("chorus", 0.0)  # no repeat to compare: the structure says what is missing
        return
    first = indexed[0][1]
    reference = [_plain(line) for line in first.lines]
    for index, other in indexed[1:]:
        lines = [_plain(line) for line in other.lines]
        matcher = SequenceMatcher(None, reference, lines, autojunk=False)
        tally.add("chorus", matcher.ratio())
        for problem in _differences(first, other, matcher):
            tally.note(problem, index)


def _differences(
    first: SongSection, other: SongSection, matcher: SequenceMatcher[str]
) -> list[str]:
    """What makes ``other`` differ from ``first``, line by line."""
    problems = []
    name, reference = _tagged(other), _tagged(first)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        for k in range(max(i2 - i1, j2 - j1)):
            mine = other.lines[j1 + k].sung if j1 + k < j2 else None
            theirs = first.lines[i1 + k].sung if i1 + k < i2 else None
            if mine is not None and theirs is not None:
                problems.append(
                    f"{name} differs from {reference} in line {j1 + k + 1}: "
                    f"'{mine}' instead of '{theirs}'"
                )
            elif theirs is not None:
                problems.append(f"{name} is missing line {i1 + k + 1} of {reference}: '{theirs}'")
            elif mine is not None:
                problems.append(f"{name} has an extra line {j1 + k + 1}: '{mine}'")
    return problems


def _chords_before(song: Song, index: int) -> bool:
    """Whether an earlier section of the same kind has chords (this one may repeat them)."""
    kind = song.sections[index].kind
    return any(other.kind == kind and other.chords for other in song.sections[:index])


def _check_section(
    tally: _Tally, index: int, section: SongSection, form: SongForm, chords_before: bool
) -> SectionReport:
    sung = [line.sung for line in section.lines]
    kind = section.kind
    scheme = form.rhyme.get(kind) if kind else None
    template = form.syllables.get(kind) if kind else None
    if not sung and kind in _SUNG:
        tally.add("lines", 0.0, f"{_tagged(section)} has no lines", index)
    elif sung:
        _check_line_count(tally, index, section, form)
    if scheme and sung:
        _check_rhyme(tally, index, section, scheme)
    counts = _syllable_counts(tally, index, section, template)
    if form.key is not None and (section.chords or not chords_before):
        _check_chords(tally, index, section, form.key, form.borrowed)
    letters = rhyme_letters(sung)
    partnered = {letter for letter in letters if letters.count(letter) > 1}
    lines = [
        LineReport(
            text=line.text,
            syllables=counts[i],
            possible_syllables=sorted(line_syllables(line.sung).possible),
            uncertain=line_syllables(line.sung).uncertain,
            stress=next((s for s in stresses(line.sung) if len(s) == counts[i]), ""),
            rhyme=letters[i] if letters[i] in partnered else "",
            problems=tally.by_line.get((index, i), []),
        )
        for i, line in enumerate(section.lines)
    ]
    return SectionReport(
        label=section.label,
        kind=kind,
        lines=lines,
        rhyme_scheme="".join(letters),
        chords=list(section.chords),
        problems=tally.by_section.get(index, []),
    )


def _check_line_count(tally: _Tally, index: int, section: SongSection, form: SongForm) -> None:
    if section.kind is None:
        return
    found = len(section.lines)
    expected = form.lines.get(section.kind)
    why = ""
    if expected is None:
        patterns = form.patterns(section.kind)
        if not patterns:
            return
        unit = lcm(*(size for size, _ in patterns))
        expected = found if found and found % unit == 0 else max(unit, round(found / unit) * unit)
        why = f" ({', '.join(what for _, what in patterns)})"
    off = abs(found - expected)
    has = f"{found} line{'s' if found != 1 else ''}"
    problem = f"{_tagged(section)} has {has}, expected {expected}{why}" if off else None
    tally.add("lines", max(0.0, 1 - off / expected), problem, index)


def _expand(scheme: str, count: int) -> list[str]:
    """The scheme over ``count`` lines, each repeat with letters of its own ("A0", "A1")."""
    return [
        letter if letter == FREE_LINE else f"{letter}{i // len(scheme)}"
        for i, letter in ((i, scheme[i % len(scheme)]) for i in range(count))
    ]


def _check_rhyme(tally: _Tally, index: int, section: SongSection, scheme: str) -> None:
    sung = [line.sung for line in section.lines]
    expected = _expand(scheme, len(sung))
    for j, letter in enumerate(expected):
        earlier = [i for i in range(j) if expected[i] == letter and letter != FREE_LINE]
        if not earlier:
            continue
        best = max(earlier, key=lambda i: (end_rhyme(sung[i], sung[j]), i))
        strength = end_rhyme(sung[best], sung[j])
        problem = None
        if strength < RHYME_THRESHOLD:
            problem = f"{_tagged(section)} " + rhyme_problem(sung[best], best + 1, sung[j], j + 1)
        tally.add("rhyme", strength, problem, index, j)


def _end(line: str) -> str:
    found = words(line)
    return found[-1] if found else ""


def _syllable_counts(
    tally: _Tally, index: int, section: SongSection, template: tuple[Range, ...] | None
) -> list[int]:
    counts = []
    for i, line in enumerate(section.lines):
        found = line_syllables(line.sung)
        readings = stresses(line.sung)
        usual = len(readings[0]) if readings else 0
        target = template[i % len(template)] if template else None
        count = closest_count(found.possible, target, usual)
        counts.append(count)
        if target is None:
            continue
        off = max(target[0] - count, count - target[1], 0)
        about = "about " if found.uncertain else ""
        problem = (
            f"{_tagged(section)} line {i + 1} has {about}{count} syllables, "
            f"expected {describe_range(target)}"
            if off
            else None
        )
        tally.add("syllables", max(0.0, 1 - off / target[1]), problem, index, i)
    return counts


def _check_chords(
    tally: _Tally, index: int, section: SongSection, key: Key, borrowed: bool
) -> None:
    name = _tagged(section)
    if not section.chords:
        tally.add("chords", 0.0, f"{name} has no chord line ('Chords: ...' in {key})", index)
        return
    for symbol in dict.fromkeys(section.chords):
        chord = Chord.parse(symbol)
        if chord is None:
            problem = f"{name} has '{symbol}', which is not a chord symbol such as C, Am or G7"
            tally.add("chords", 0.0, problem, index)
        elif chord.fits(key) or (borrowed and chord.fits(key.parallel)):
            tally.add("chords", 1.0)
        elif chord.fits(key.parallel):
            problem = f"{name} chord {symbol} is not in {key} (it is borrowed from {key.parallel})"
            tally.add("chords", 0.5, problem, index)
        else:
            tally.add("chords", 0.0, f"{name} chord {symbol} is not in {key}", index)
