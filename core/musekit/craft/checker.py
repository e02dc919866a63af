"""``check(text, form)``: a poem measured against a form, line by line, with a score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from string import ascii_uppercase

from musekit.craft.forms import Form, Range, get_form
from musekit.craft.meter import beats, iambic_fit
from musekit.craft.phonetics import LineSyllables, line_syllables, stresses, words
from musekit.craft.report import FormReport, LineReport
from musekit.craft.rhymes import (
    RHYME_THRESHOLD,
    end_rhyme,
    join_scheme,
    rhyme_letters,
    rhyme_problem,
    split_stanzas,
)

METER_TOLERANCE = 1.25
"""How far off iambic stress (:attr:`IambicFit.off`) a line may be and not be flagged."""
REFRAIN_SIMILARITY = 0.8
"""How close (word sequence ratio) a refrain must be to the line it repeats."""
_WEIGHTS = {"lines": 1.0, "stanzas": 0.5, "syllables": 2.0, "rhyme": 2.0, "meter": 1.0}
_WEIGHTS |= {"beats": 1.0, "refrains": 2.0}
_METERS = {3: "trimeter", 4: "tetrameter", 5: "pentameter", 6: "hexameter"}


@dataclass
class _Tally:
    """Scores per component and problems, overall and per line, gathered while checking."""

    lines: int
    scores: dict[str, list[float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    line_problems: dict[int, list[str]] = field(default_factory=dict)

    def add(self, component: str, score: float, problem: str | None = None, line: int = 0) -> None:
        self.scores.setdefault(component, []).append(score)
        if problem is not None:
            self.problems.append(problem)
            if line:
                self.line_problems.setdefault(line, []).append(problem)

    def score(self) -> float:
        total = sum(_WEIGHTS[c] * sum(s) / len(s) for c, s in self.scores.items())
        weight = sum(_WEIGHTS[c] for c in self.scores)
        return round(total / weight, 3) if weight else 1.0


def check(
    text: str,
    form: str | Form,
    *,
    lines: int | None = None,
    stanzas: int | None = None,
    rhymed: bool | None = None,
) -> FormReport:
    """Check ``text`` against ``form`` ("haiku", "shakespearean-sonnet", a :class:`Form`...).

    ``lines`` and ``stanzas`` ask for counts (free verse, couplets); ``rhymed``
    asks for rhyme (True), none (False) or the form's default (None). Raises
    ``ValueError`` for an unknown form or options the form cannot take; an empty
    poem is a failed report, not an error.
    """
    spec = get_form(form)
    expected_lines = _expected_lines(spec, lines)
    if stanzas is not None and stanzas < 1:
        raise ValueError("stanzas must be at least 1")
    blocks = split_stanzas(text.splitlines())
    poem = [line for block in blocks for line in block]
    if not poem:
        return FormReport(
            form=spec.name,
            passed=False,
            score=0.0,
            lines=[],
            rhyme_scheme="",
            problems=["the poem is empty"],
        )
    tally = _Tally(len(poem))
    _check_counts(tally, spec, blocks, expected_lines, stanzas)
    letters = rhyme_letters(poem)
    found = [line_syllables(line) for line in poem]
    counts = _check_syllables(tally, spec, poem, found)
    fits = _check_meter(tally, spec, poem, counts)
    _check_rhyme(tally, spec, poem, letters, rhymed)
    _check_refrains(tally, spec, poem)
    _score_missing(tally, spec, len(poem), expected_lines)
    partnered = {letter for letter in letters if letters.count(letter) > 1}
    reports = [
        LineReport(
            text=line,
            syllables=counts[i],
            possible_syllables=sorted(found[i].possible),
            uncertain=found[i].uncertain,
            stress=fits[i],
            rhyme=letters[i] if letters[i] in partnered else "",
            problems=tally.line_problems.get(i + 1, []),
        )
        for i, line in enumerate(poem)
    ]
    return FormReport(
        form=spec.name,
        passed=not tally.problems,
        score=tally.score(),
        lines=reports,
        rhyme_scheme=join_scheme(blocks, letters),
        problems=tally.problems,
    )


def _expected_lines(spec: Form, lines: int | None) -> int | None:
    if lines is None:
        return spec.lines
    if lines < 1:
        raise ValueError("lines must be at least 1")
    if spec.lines is not None and lines != spec.lines:
        raise ValueError(f"a {spec.name} has {spec.lines} lines, not {lines}")
    if spec.repeat_rhyme and lines % len(_letters_of(spec.rhyme[0])):
        raise ValueError(f"{spec.name} need a multiple of {len(_letters_of(spec.rhyme[0]))} lines")
    return lines


def _check_counts(
    tally: _Tally,
    spec: Form,
    blocks: list[list[str]],
    expected_lines: int | None,
    expected_stanzas: int | None,
) -> None:
    found = tally.lines
    if expected_lines is not None:
        off = abs(found - expected_lines)
        problem = f"the poem has {_lines(found)}, expected {expected_lines}" if off else None
        tally.add("lines", max(0.0, 1 - off / expected_lines), problem)
    if expected_stanzas is not None:
        off = abs(len(blocks) - expected_stanzas)
        problem = (
            f"the poem has {len(blocks)} stanza{'' if len(blocks) == 1 else 's'}, "
            f"expected {expected_stanzas}"
            if off
            else None
        )
        tally.add("stanzas", max(0.0, 1 - off / expected_stanzas), problem)
    layout = tuple(len(block) for block in blocks)
    if spec.stanzas and len(blocks) > 1 and layout not in spec.stanzas:
        wanted = " or ".join(", ".join(map(str, option)) for option in spec.stanzas)
        shown = ", ".join(map(str, layout))
        tally.add(
            "stanzas",
            0.0,
            f"the stanzas have {shown} lines, expected {wanted} (or no stanza breaks)",
        )


def _score_missing(tally: _Tally, spec: Form, found: int, expected: int | None) -> None:
    """Score each missing line 0 on everything it would have been checked for (its
    syllables, meter, beats, rhyme, refrain), so a poem cut short scores as poorly as its
    missing lines make it."""
    if expected is None or found >= expected:
        return
    missing = range(found, expected)
    if spec.syllables:
        tally.scores.setdefault("syllables", []).extend(0.0 for _ in missing)
    if spec.iambic_feet:
        tally.scores.setdefault("meter", []).extend(0.0 for _ in missing)
    if spec.beats:
        tally.scores.setdefault("beats", []).extend(0.0 for i in missing if i < len(spec.beats))
    if spec.rhyme:
        scheme = _expand(spec, spec.rhyme[0], expected)
        partnered = [j for j in missing if scheme[j] in scheme[:j]]
        tally.scores.setdefault("rhyme", []).extend(0.0 for _ in partnered)
    refrains = [line for _, repeats in spec.refrains for line in repeats if line > found]
    if refrains:
        tally.scores.setdefault("refrains", []).extend(0.0 for _ in refrains)


def _lines(count: int) -> str:
    return f"{count} line{'' if count == 1 else 's'}"


def closest_count(possible: frozenset[int], target: Range | None, usual: int) -> int:
    """The syllable count to report for a line: the possible count nearest ``target``."""
    if target is None:
        return usual
    low, high = target
    return min(possible, key=lambda n: (max(low - n, n - high, 0), n != usual, n))


def describe_range(target: Range) -> str:
    """A syllable target as a problem quotes it: "7", "10 or 11", "8 to 10"."""
    low, high = target
    if low == high:
        return str(low)
    return f"{low} or {high}" if high == low + 1 else f"{low} to {high}"


def _check_syllables(
    tally: _Tally, spec: Form, poem: list[str], syllables: list[LineSyllables]
) -> list[int]:
    counts: list[int] = []
    for i, (line, found) in enumerate(zip(poem, syllables, strict=True)):
        readings = stresses(line)
        usual = len(readings[0]) if readings else 0
        target = spec.syllables[i] if spec.syllables and i < len(spec.syllables) else None
        count = closest_count(found.possible, target, usual)
        if spec.iambic_feet and target is not None:
            fitting = [n for n in found.possible if target[0] <= n <= target[1]]
            if len(fitting) > 1:  # the reading that scans best
                count = min(fitting, key=lambda n: (iambic_fit(line, n, spec.iambic_feet).off, n))
        counts.append(count)
        if target is None:
            continue
        off = max(target[0] - count, count - target[1], 0)
        about = "about " if found.uncertain else ""
        problem = (
            f"line {i + 1} has {about}{count} syllables, expected {describe_range(target)}"
            if off
            else None
        )
        tally.add("syllables", max(0.0, 1 - off / target[1]), problem, i + 1)
    return counts


def _check_meter(tally: _Tally, spec: Form, poem: list[str], counts: list[int]) -> list[str]:
    """Iambic fit and beats per line; returns the stress reading shown for each line."""
    readings = []
    for i, line in enumerate(poem):
        readings.append(_check_iambs(tally, spec.iambic_feet, i + 1, line, counts[i]))
        if spec.beats and i < len(spec.beats):
            _check_beats(tally, spec.beats[i], i + 1, line)
    return readings


def _check_iambs(tally: _Tally, feet: int | None, number: int, line: str, count: int) -> str:
    if not feet or count > 2 * feet + 3:  # far too long: the syllable problem says so
        if feet:
            tally.add("meter", 0.0)
        return next((s for s in stresses(line) if len(s) == count), "")
    fit = iambic_fit(line, count, feet)
    problem = None
    if fit.off > METER_TOLERANCE:
        problem = (
            f"line {number} is not iambic {_METERS.get(feet, 'verse')}: "
            f"its stresses fall {fit.stress}, expected {'01' * feet}"
        )
    tally.add("meter", fit.score, problem, number)
    return fit.stress


def _check_beats(tally: _Tally, target: Range, number: int, line: str) -> None:
    (low, high), (want_low, want_high) = beats(line), target
    if high < want_low or low > want_high + 1:
        found = high if high < want_low else low
        tally.add(
            "beats",
            0.0,
            f"line {number} has {found} beats, expected {describe_range(target)}",
            number,
        )
    else:
        tally.add("beats", 1.0)


def _letters_of(scheme: str) -> str:
    return scheme.replace(" ", "")


def _expand(spec: Form, scheme: str, count: int) -> str:
    letters = _letters_of(scheme)
    if not spec.repeat_rhyme:
        return letters
    unit, size = len(set(letters)), len(letters)
    return "".join(
        ascii_uppercase[(ord(letter) - 65 + unit * (i // size)) % 26]
        for i, letter in enumerate(letters * (count // size + 1))
    )[:count]


def _scheme_pairs(expected: str, poem: list[str]) -> list[tuple[int, int, float]]:
    """(earlier line, line, strength) for each line that must rhyme with an earlier one."""
    pairs = []
    for j in range(min(len(expected), len(poem))):
        earlier = [i for i in range(j) if expected[i] == expected[j]]
        if earlier:
            best = max(earlier, key=lambda i: (end_rhyme(poem[i], poem[j]), i))
            pairs.append((best, j, end_rhyme(poem[best], poem[j])))
    return pairs


def _check_rhyme(
    tally: _Tally, spec: Form, poem: list[str], letters: list[str], rhymed: bool | None
) -> None:
    if rhymed is False:
        partnered = sum(letters.count(letter) > 1 for letter in letters)
        if len(poem) > 1 and partnered * 2 >= len(poem):
            tally.add("rhyme", 0.5, "the poem rhymes, but unrhymed verse was asked")
        return
    if spec.rhyme:
        options = [_scheme_pairs(_expand(spec, s, len(poem)), poem) for s in spec.rhyme]
        pairs = max(options, key=lambda p: sum(min(s / RHYME_THRESHOLD, 1) for *_, s in p))
        for i, j, strength in pairs:
            problem = None
            if strength < RHYME_THRESHOLD:
                problem = rhyme_problem(poem[i], i + 1, poem[j], j + 1)
            tally.add("rhyme", strength, problem, j + 1)
    elif rhymed:
        for j, letter in enumerate(letters):
            alone = letters.count(letter) == 1
            problem = f"line {j + 1} ('{_end(poem[j])}') rhymes with no other line"
            tally.add("rhyme", 0.0 if alone else 1.0, problem if alone else None, j + 1)


def _end(line: str) -> str:
    found = words(line)
    return found[-1] if found else ""


def _refrain_similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, words(a), words(b)).ratio()


def _check_refrains(tally: _Tally, spec: Form, poem: Sequence[str]) -> None:
    for source, repeats in spec.refrains:
        for line in repeats:
            if line > len(poem) or source > len(poem):
                continue
            similarity = _refrain_similarity(poem[source - 1], poem[line - 1])
            problem = None
            if similarity < REFRAIN_SIMILARITY:
                problem = f"line {line} should repeat line {source}: '{poem[source - 1]}'"
            tally.add("refrains", similarity, problem, line)
