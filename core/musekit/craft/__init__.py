"""Craft: syllables, stress, rhyme, meter and poetic forms, checked by code.

The public API of :mod:`musekit.craft` (docs/craft.md). Pronunciations come from
the CMU Pronouncing Dictionary shipped with musekit, loaded once on first use.
"""

from __future__ import annotations

from musekit.craft.checker import check
from musekit.craft.dictionary import Pronunciations
from musekit.craft.forms import FORMS, Form, get_form
from musekit.craft.phonetics import (
    LineSyllables,
    WordSyllables,
    line_syllables,
    stresses,
    syllables,
)
from musekit.craft.report import FormReport, LineReport
from musekit.craft.rhymes import end_rhyme, rhyme_key, rhyme_scheme, rhyme_strength

__all__ = [
    "FORMS",
    "Form",
    "FormReport",
    "LineReport",
    "LineSyllables",
    "Pronunciations",
    "WordSyllables",
    "check",
    "end_rhyme",
    "get_form",
    "line_syllables",
    "rhyme_key",
    "rhyme_scheme",
    "rhyme_strength",
    "stresses",
    "syllables",
]
