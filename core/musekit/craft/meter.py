"""Meter scoring: how well a line fits iambic stress, and how many beats it carries."""

from __future__ import annotations

from typing import NamedTuple

from musekit.craft.phonetics import word_stress_options, words


class IambicFit(NamedTuple):
    """The reading of a line closest to iambic stress (``0101...``), and its mismatches."""

    stress: str
    mismatches: int

    @property
    def score(self) -> float:
        """1.0 when every syllable falls where iambic meter wants it."""
        return 1.0 - self.mismatches / len(self.stress) if self.stress else 0.0


def iambic_fit(line: str, syllables: int | None = None) -> IambicFit:
    """The best iambic reading of ``line`` (of ``syllables`` syllables, if given).

    Every pronunciation is tried; one-syllable function words and secondary
    stresses may go either way. An inverted first foot ("Rough winds do shake")
    is the commonest variation in English verse and costs nothing.
    """
    # best[position] = (mismatches, stress) over readings of the words so far
    best: dict[int, tuple[int, str]] = {0: (0, "")}
    for word in words(line):
        step: dict[int, tuple[int, str]] = {}
        for position, (cost, stress) in best.items():
            for option in word_stress_options(word):
                extra = sum(s != "01"[(position + i) % 2] for i, s in enumerate(option))
                end = position + len(option)
                candidate = (cost + extra, stress + option)
                if end not in step or candidate < step[end]:
                    step[end] = candidate
        best = step
    if syllables is not None and syllables in best:
        cost, stress = best[syllables]
    else:
        cost, stress = min(best.values())
    if stress[:2] == "10":
        cost -= min(cost, 2)  # trochaic first foot
    return IambicFit(stress, cost)


def beats(line: str) -> tuple[int, int]:
    """The fewest and most stressed syllables a line can be read with."""
    low = high = 0
    for word in words(line):
        counts = [option.count("1") for option in word_stress_options(word)]
        low += min(counts)
        high += max(counts)
    return low, high
