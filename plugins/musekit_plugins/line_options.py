"""What code can make of one line a small model wrote: cut to length, its rhyme mended.

Asked for a line of ten syllables, SmolLM2 mostly writes fifteen or twenty: a good line
and then some ("the sun shines down upon the horizon, as the sea laps at the shore").
:func:`line_cuts` offers the line's openings, whole words up to where a line of verse
can end (a word that is not an article, preposition, conjunction, auxiliary or subject
pronoun), with a syllable count the line may have: "the sun shines down upon the
horizon,". :func:`line_options` adds, for a line that must rhyme, the openings that end
on a rhyme and each option's end noun swapped for a rhyming one
(:func:`musekit_plugins.poem_rhyme.rhyme_swaps`). The caller checks each option in the
text so far and keeps the one that fits best; the words stay the model's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence

from musekit.craft import line_syllables, rhyme_strength
from musekit_plugins.poem_rhyme import AFTER_NOUN, DETERMINERS, rhyme_swaps
from musekit_plugins.poem_text import last_word

_NO_END_WORDS = """
    a an the and but or nor for so yet as at by in of on to with from into onto upon than
    that this these those if is am are was were be been being do does did have has had shall
    should will would can could may might must my our your thy his her its their who whom
    whose which what when where while not no very i he she we they it it's there's"""
#: Words a line of verse does not end on: a cut there leaves the phrase hanging.
_NO_END = frozenset(_NO_END_WORDS.split())

#: Tokens one sampled line may take when it has no syllable target.
LINE_TOKENS = 32

#: SmolLM2 spends about a token a syllable on verse (1.25 at most on the worked examples).
#: A line is allowed half as many again, and two for its punctuation: past that, only
#: its openings could fit (:func:`line_cuts`), so the rest need not be generated.
TOKENS_PER_SYLLABLE = 1.5
TOKENS_SPARE = 2

#: A cut made only to reach a rhyme keeps at least this many syllables.
MIN_RHYMED_CUT = 5

#: Rhyme swaps tried for each option, at most (each is checked in the whole text).
MAX_SWAPS = 3

_TOKEN = re.compile(r"\S+")


def line_cuts(line: str, syllables: tuple[int, int]) -> list[str]:
    """``line``'s openings, longest first, that can have between ``syllables[0]`` and
    ``syllables[1]`` syllables (inclusive) and end where a line can; never ``line`` itself."""
    low, high = syllables
    tokens = list(_TOKEN.finditer(line))
    cuts = []
    for at in range(len(tokens) - 2, -1, -1):
        opening = line[: tokens[at].end()]
        word = last_word(opening).lower()
        if not word or word in _NO_END or opening.endswith(("-", "'", '"', "(")):
            continue
        if _adjective(tokens, at):
            continue
        counts = line_syllables(opening)
        if counts.high < low:
            break
        if any(low <= count <= high for count in counts.possible):
            cuts.append(opening)
    return cuts


def line_tokens(syllables: tuple[int, int] | None) -> int:
    """The tokens to allow one sampled line with ``syllables`` (low, high) as its target."""
    if syllables is None:
        return LINE_TOKENS
    return min(LINE_TOKENS, math.ceil(TOKENS_PER_SYLLABLE * syllables[1]) + TOKENS_SPARE)


def line_options(
    line: str,
    *,
    syllables: tuple[int, int] | None = None,
    rhyme_with: str | None = None,
    nouns: Sequence[str] = (),
    taken: Collection[str] = (),
) -> list[str]:
    """``line`` first, then what code can make of it: its cuts to ``syllables`` (when the
    line has a syllable target); for a line that must rhyme with the word ``rhyme_with``,
    its openings that end on a rhyme, and each option's end noun swapped for one of
    ``nouns`` that rhymes (not one of ``taken``, the end words used already)."""
    options = [line]
    if syllables is not None:
        options.extend(line_cuts(line, syllables))
    if not rhyme_with:
        return options
    if syllables is None:
        longest = (MIN_RHYMED_CUT, line_syllables(line).high)
        options.extend(cut for cut in line_cuts(line, longest) if _rhymes(cut, rhyme_with))
    for option in list(options):
        if not _rhymes(option, rhyme_with):
            options.extend(rhyme_swaps(option, rhyme_with, nouns, taken)[:MAX_SWAPS])
    return options


def _adjective(tokens: Sequence[re.Match[str]], at: int) -> bool:
    """Whether token ``at`` reads as an adjective before its noun ("in a great | dark
    night"): a determiner one or two words before it, no punctuation in between or after
    it, and a next word that does not follow a noun ("of", "and", "in"...)."""
    after = tokens[at + 1][0].lower().strip(",.;:!?")
    if after in AFTER_NOUN:
        return False
    for back in range(at, max(at - 3, -1), -1):
        text = tokens[back][0]
        if back < at and text.lower() in DETERMINERS:
            return True
        if not text[-1].isalpha():
            return False
    return False


def _rhymes(line: str, word: str) -> bool:
    end = last_word(line)
    return bool(end) and end.lower() != word.lower() and rhyme_strength(end, word) >= 0.5
