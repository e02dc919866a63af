"""Meter scoring: how well a line fits iambic stress, and how many beats it carries."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

from musekit.craft.phonetics import word_stress_options, words

CLASH_COST = 1.0
"""A stressed syllable of a longer word off the beat ("and EV-ery" read "and-EV"):
English meter's one firm rule, the one that makes a line stop sounding iambic."""
SOFT_COST = 0.25
"""A stressed one-syllable word off the beat ("more")."""
PROMOTION_COST = 0.5
"""An unstressed syllable of a longer word on the beat ("tem-per-ATE")."""
EXTRA_COST = 0.5
"""An extra unstressed syllable before a beat (an anapest: "we have GIV'N")."""
SHIFT_COST = 0.5
"""A two-syllable word stressed on its first syllable when the dictionary has only the second
("PER-fumes" where today's dictionary says "per-FUMES"): older and poetic stress."""

_IAMB = "01"
_INVERTED = "10"

# (syllables so far, metrical position, last syllable was an extra) -> (cost, stresses)
_State = tuple[int, int, bool]


class IambicFit(NamedTuple):
    """The reading of a line closest to iambic stress (``0101...``) and how far it is off.

    ``off`` adds :data:`CLASH_COST` for each stressed syllable of a longer word off
    the beat, and smaller costs for milder variations (:data:`SOFT_COST`,
    :data:`PROMOTION_COST`, :data:`EXTRA_COST`, :data:`SHIFT_COST`).
    """

    stress: str
    off: float

    @property
    def score(self) -> float:
        """1.0 when every syllable falls where iambic meter wants it."""
        return max(0.0, 1.0 - self.off / len(self.stress)) if self.stress else 0.0


def _expected(position: int, first_foot: str) -> str:
    return first_foot[position] if position < 2 else _IAMB[position % 2]


def _placements(
    syllables: str, poly: bool, position: int, extra: bool, first_foot: str
) -> Iterator[tuple[int, bool, float]]:
    """Ways to lay a word's syllables on the meter: (end position, ends on an extra, cost)."""
    if not syllables:
        yield position, extra, 0.0
        return
    stress, rest = syllables[0], syllables[1:]
    expected = _expected(position, first_foot)
    cost = 0.0
    if stress != expected:
        cost = CLASH_COST if stress == "1" and poly else PROMOTION_COST if poly else SOFT_COST
    for end, ends_extra, more in _placements(rest, poly, position + 1, False, first_foot):
        yield end, ends_extra, cost + more
    if stress == "0" and expected == "1" and position > 0 and not extra:
        for end, ends_extra, more in _placements(rest, poly, position, True, first_foot):
            yield end, ends_extra, EXTRA_COST + more


def _meter_options(word: str) -> list[tuple[str, float]]:
    """A word's stress readings with what each costs: shifted "01" words cost a little."""
    options = [(option, 0.0) for option in word_stress_options(word)]
    if any(option == "01" for option, _ in options) and all(o != "10" for o, _ in options):
        options.append(("10", SHIFT_COST))
    return options


def _best_readings(line: str, first_foot: str) -> dict[_State, tuple[float, str]]:
    best: dict[_State, tuple[float, str]] = {(0, 0, False): (0.0, "")}
    for word in words(line):
        step: dict[_State, tuple[float, str]] = {}
        for (count, position, extra), (cost, stress) in best.items():
            for option, shift in _meter_options(word):
                for end, ends_extra, more in _placements(
                    option, len(option) > 1, position, extra, first_foot
                ):
                    key = (count + len(option), end, ends_extra)
                    candidate = (cost + shift + more, stress + option)
                    if key not in step or candidate < step[key]:
                        step[key] = candidate
        best = step
    return best


@lru_cache(maxsize=4096)
def iambic_fit(line: str, syllables: int | None = None, feet: int | None = None) -> IambicFit:
    """The best iambic reading of ``line`` (with ``syllables`` syllables, if given).

    Every pronunciation is tried; one-syllable function words and secondary
    stresses may go either way; an inverted first foot ("Rough winds do shake")
    costs nothing, being the commonest variation in English verse. With ``feet``
    (5 for pentameter) the reading must fill that many feet, plus at most one
    unstressed syllable (a feminine ending); each half foot short or over costs
    :data:`CLASH_COST`.
    """
    fits = [
        (cost + _length_cost(position, stress, feet), stress)
        for first_foot in (_IAMB, _INVERTED)
        for (count, position, _), (cost, stress) in _best_readings(line, first_foot).items()
        if syllables is None or count == syllables
    ]
    if not fits:
        return IambicFit("", 0.0)
    cost, stress = min(fits)
    return IambicFit(stress, cost)


def _length_cost(position: int, stress: str, feet: int | None) -> float:
    if feet is None:
        return 0.0
    feminine = position == 2 * feet + 1 and stress.endswith("0")
    return 0.0 if feminine else CLASH_COST * abs(position - 2 * feet)


def beats(line: str) -> tuple[int, int]:
    """The fewest and most stressed syllables a line can be read with."""
    low = high = 0
    for word in words(line):
        counts = [option.count("1") for option in word_stress_options(word)]
        low += min(counts)
        high += max(counts)
    return low, high
