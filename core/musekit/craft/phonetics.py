"""Words, syllables and stress: from the dictionary, or estimated from spelling."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import islice, product
from typing import NamedTuple

from musekit.craft.dictionary import Pronunciations

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|'[^\W\d_]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_VOWEL_GROUP = re.compile(r"[aeiouy]+")
_TWO_VOWELS = re.compile(r"(?<![cgst])i[ao]|u[ao]|iu|ii")  # "via", "duo": one group, two sounds
_SYNCOPE = re.compile(r"(V|AW1|AY1) (AH0|IH0|ER0)((?: N)?(?: [ZD])?)$")
"""The unstressed vowel poets drop: "heav'n", "giv'n", "pow'r", "fi'r", "ev'r"."""
_ENDS_IN_VER = re.compile(r"V ER0(?: [ZD])?$")
_SYNCOPE_ER = frozenset(
    ("ever", "never", "over", "forever", "however", "whatever", "whenever", "wherever")
)
"""Words in -ver that poets shorten ("e'er", "ne'er", "o'er"); "river" stays two syllables."""
MAX_STRESS_PATTERNS = 64

_FUNCTION_WORDS = """
a an the and but or nor for so yet as at by in of on to up with from into onto upon than
that this these those there then thus if is am are was were be been being do does did
have has had shall should will would can could may might must i me my mine we us our you
your thou thee thy thine he him his she her it its they them their who whom whose which
what when where while not no o oh all each such too
"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
"""One-syllable words that may fall on an unstressed beat, whatever the dictionary says."""


class WordSyllables(NamedTuple):
    """A word's possible syllable counts (sorted, unique); ``uncertain`` if estimated."""

    counts: tuple[int, ...]
    uncertain: bool


class LineSyllables(NamedTuple):
    """A line's syllable counts over every pronunciation of its words."""

    low: int
    high: int
    uncertain: bool
    possible: frozenset[int]


def words(line: str) -> list[str]:
    """The words of a line, lower-cased, with typographic apostrophes made plain."""
    return [w.lower() for w in _WORD.findall(line.translate(_APOSTROPHES))]


def _vowel_count(phones: str) -> int:
    return sum(phone[-1].isdigit() for phone in phones.split())


@lru_cache(maxsize=65536)
def _stress_options(word: str) -> tuple[tuple[str, ...], bool]:
    """A word's stress strings (0 unstressed, 1 stressed) and whether they are estimated."""
    pronunciations = lookup(word)
    if not pronunciations:
        return (_guessed_stresses(_estimate(word)), True)
    options: list[str] = []
    for phones in pronunciations:
        digits = "".join(p[-1] for p in phones.split() if p[-1].isdigit())
        for pattern in _readings(digits, word):
            if pattern not in options:
                options.append(pattern)
    return (tuple(options), False)


def _readings(digits: str, word: str) -> list[str]:
    """Stress readings of one pronunciation: secondary stress may go either way."""
    if len(digits) == 1:
        return ["0", "1"] if word in FUNCTION_WORDS or digits == "0" else ["1"]
    readings = [digits.replace("2", "1")]
    if "2" in digits:
        readings.append(digits.replace("2", "0"))
    return readings


def lookup(word: str) -> tuple[str, ...]:
    """A word's pronunciations, with elisions ("lov'd", "heav'n") and possessives resolved."""
    pronunciations = _dictionary_lookup(word)
    syncopated = (
        _SYNCOPE.sub(_drop_vowel, p)
        for p in pronunciations
        if _vowel_count(p) > 1 and (word in _SYNCOPE_ER or not _ENDS_IN_VER.search(p))
    )
    return tuple(dict.fromkeys((*pronunciations, *syncopated)))


def _drop_vowel(match: re.Match[str]) -> str:
    return match[1] + (" R" if match[2] == "ER0" else "") + match[3]


def _dictionary_lookup(word: str) -> tuple[str, ...]:
    """The dictionary's pronunciations, or those of the word an old spelling stands for."""
    found = Pronunciations.shared().phones
    if pronunciations := found(word):
        return pronunciations
    if word.endswith("\u00e8d"):  # wreathèd, belovèd: the -ed is sounded
        stem = word[:-2]
        return tuple(f"{p} AH0 D" for p in found(stem) or found(stem + "e") or found(stem[:-1]))
    plain = "".join(c for c in unicodedata.normalize("NFKD", word) if c.isascii())
    if plain != word:
        return _dictionary_lookup(plain)
    if word.endswith("'d"):  # lov'd, belov'd: the -ed is not sounded
        full = found(word[:-2] + "ed")
        fewest = min((_vowel_count(p) for p in full), default=0)
        return tuple(p for p in full if _vowel_count(p) == fewest)
    if word.endswith("'st"):  # grow'st, wander'st, ow'st
        base = found(word[:-3] + "e") or found(word[:-3])
        return tuple(f"{p} S T" for p in base)
    if word.endswith("'s"):
        return found(word[:-2])
    return ()


def _guessed_stresses(count: int) -> tuple[str, ...]:
    """Stress for a word we can only spell: on its first syllable, or its second."""
    if count == 1:
        return ("1",)
    return ("1" + "0" * (count - 1), "01" + "0" * (count - 2))


def _estimate(word: str) -> int:
    """Syllables from spelling: vowel groups, with English corrections."""
    if word.isdigit():
        return len(word)
    w = word.replace("'", "")
    count = len(_VOWEL_GROUP.findall(w)) + len(_TWO_VOWELS.findall(w))
    if count > 1 and w.endswith("e") and not w.endswith(("ee", "ye")):
        if not (w.endswith("le") and len(w) > 2 and w[-3] not in "aeiouy"):
            count -= 1  # silent final e: "stone", but "table" keeps its "-ble"
    elif count > 1 and len(w) > 3 and w[-3] not in "aeiouy" and _silent_ending(w):
        count -= 1  # "hoped", "stones", but "wanted", "kisses"
    return max(count, 1)


def _silent_ending(w: str) -> bool:
    if w[-3] == "l" and w[-4] not in "aeiouy":
        return False  # "suckled", "tables"
    return (w.endswith("ed") and w[-3] not in "td") or (w.endswith("es") and w[-3] not in "sxzhc")


def syllables(word: str) -> WordSyllables:
    """Every syllable count ``word`` can have, e.g. ``syllables("fire").counts == (1, 2)``.

    Counts come from every pronunciation in the CMU dictionary; a word it lacks
    is estimated from its spelling and flagged ``uncertain``.
    """
    found = words(word)
    if not found:
        return WordSyllables((0,), False)
    options, uncertain = _stress_options(found[-1])
    counts = tuple(sorted({max(len(pattern), 1) for pattern in options}))  # "mm", "shh": one
    if len(found) == 1:
        return WordSyllables(counts, uncertain)
    line = line_syllables(word)
    return WordSyllables(tuple(sorted(line.possible)), line.uncertain)


def line_syllables(line: str) -> LineSyllables:
    """The syllable counts a line can have, over every pronunciation of each word."""
    possible = {0}
    uncertain = False
    for word in words(line):
        options, estimated = _stress_options(word)
        uncertain = uncertain or estimated
        counts = {len(pattern) for pattern in options}
        possible = {total + count for total in possible for count in counts}
    return LineSyllables(min(possible), max(possible), uncertain, frozenset(possible))


def stresses(line: str) -> list[str]:
    """Possible stress patterns of a line, most likely first, like ``"0101010101"``.

    ``1`` is a stressed syllable, ``0`` an unstressed one. Secondary stress may
    read either way, and one-syllable function words ("the", "of", "and") may be
    unstressed. At most :data:`MAX_STRESS_PATTERNS` patterns are listed.
    """
    options = [_stress_options(word)[0] for word in words(line)]
    patterns: list[str] = []
    for combo in islice(product(*options), MAX_STRESS_PATTERNS * 4):
        pattern = "".join(combo)
        if pattern not in patterns:
            patterns.append(pattern)
            if len(patterns) == MAX_STRESS_PATTERNS:
                break
    return patterns


def word_stress_options(word: str) -> tuple[str, ...]:
    """The stress strings one word can take (used by meter scoring)."""
    return _stress_options(word)[0]
