"""Stock names: the fantasy names models overuse (a list of our own), and fresh ones.

A name is stock when any of its words is on the list in ``data/stock_names.txt``.
:func:`fresh_name` builds a replacement from syllables, the same for the same seed
text, never stock itself.
"""

from __future__ import annotations

import hashlib
import random
import re
from functools import cache
from importlib import resources

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")

#: Syllable parts for fresh names: plain, pronounceable English spellings.
_ONSETS = ("b", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w")
_CLUSTERS = ("br", "dr", "gr", "st", "th", "sh", "tr", "pr", "cl", "fl")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o")
_CODAS = ("", "", "n", "r", "l", "m", "s", "th", "nd")
_SURNAME_ENDS = ("ford", "well", "by", "more", "ley", "ton", "wick", "son", "field", "gate")


@cache
def stock_names() -> frozenset[str]:
    """The stock words, case-folded."""
    text = resources.files("musekit_plugins").joinpath("data/stock_names.txt").read_text("utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(line.casefold() for line in lines if line)


def stock_words(name: str) -> list[str]:
    """The words of ``name`` that are stock names, as written in ``name``."""
    return [word for word in _WORD.findall(name) if word.casefold() in stock_names()]


def is_stock(name: str) -> bool:
    """True when any word of ``name`` is a stock name."""
    return bool(stock_words(name))


def fresh_name(seed_text: str) -> str:
    """A first name and surname built from syllables, drawn from ``seed_text``: the same
    text gives the same name; no word of it is stock."""
    digest = hashlib.sha256(seed_text.casefold().encode()).digest()
    rng = random.Random(digest)
    while True:
        first = _word(rng, rng.choice((2, 2, 3)))
        surname = _word(rng, 1) + rng.choice(_SURNAME_ENDS)
        name = f"{first.capitalize()} {surname.capitalize()}"
        if not is_stock(name):
            return name


def _word(rng: random.Random, syllables: int) -> str:
    parts = []
    for index in range(syllables):
        onset = rng.choice(_CLUSTERS if index == 0 and rng.random() < 0.25 else _ONSETS)
        coda = rng.choice(_CODAS) if index == syllables - 1 else ""
        parts.append(onset + rng.choice(_VOWELS) + coda)
    return "".join(parts)
