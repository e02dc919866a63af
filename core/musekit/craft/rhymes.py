"""Rhyme keys, rhyme strength (perfect, slant, eye) and rhyme-scheme detection."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from string import ascii_uppercase

from musekit.craft.phonetics import lookup, words

RHYME_THRESHOLD = 0.5
"""Lines whose end words score at least this much are taken to rhyme."""

_CLASSES = (
    frozenset(["P", "T", "K"]),
    frozenset(["B", "D", "G"]),
    frozenset(["F", "TH", "S", "SH", "HH"]),
    frozenset(["V", "DH", "Z", "ZH"]),
    frozenset(["CH", "JH"]),
    frozenset(["M", "N", "NG"]),
    frozenset(["L", "R"]),
    frozenset(["W", "Y"]),
)
_MANNER = {"P": "stop", "T": "stop", "K": "stop", "B": "stop", "D": "stop", "G": "stop"}
_MANNER |= dict.fromkeys(["F", "TH", "S", "SH", "HH", "V", "DH", "Z", "ZH"], "fricative")
_EYE_ENDING = re.compile(r"[aeiouy]+[^aeiouy]*e?$")


def _phones(pronunciation: str) -> list[str]:
    return pronunciation.split()


def _tail(phones: list[str]) -> list[str]:
    """Phones from the last stressed vowel (or the last vowel) to the end, stress digits kept."""
    vowels = [i for i, p in enumerate(phones) if p[-1].isdigit()]
    if not vowels:
        return []
    stressed = [i for i in vowels if phones[i][-1] != "0"]
    return phones[(stressed or vowels)[-1] :]


def _plain(phones: Sequence[str]) -> tuple[str, ...]:
    return tuple(p.rstrip("012") for p in phones)


def _last_word(text: str) -> str | None:
    found = words(text)
    return found[-1] if found else None


def rhyme_key(word: str) -> str | None:
    """The sounds that must match for a perfect rhyme: phones from the last stressed vowel.

    ``rhyme_key("away") == "EY"``, ``rhyme_key("nation") == "EY SH AH N"``. Given a
    line, its last word is used. ``None`` for a word the dictionary lacks.
    """
    last = _last_word(word)
    if last is None:
        return None
    pronunciations = lookup(last)
    if not pronunciations:
        return None
    return " ".join(_plain(_tail(_phones(pronunciations[0])))) or None


def _phone_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if a[-1].isdigit() or b[-1].isdigit():
        return 0.0
    if any(a in c and b in c for c in _CLASSES):
        return 0.7
    if _MANNER.get(a) is not None and _MANNER.get(a) == _MANNER.get(b):
        return 0.6
    return 0.2


def _after_vowel_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """How alike the sounds after the stressed vowel are, compared from the end."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.2
    pairs = zip(reversed(a), reversed(b), strict=False)
    return sum(_phone_similarity(x, y) for x, y in pairs) / max(len(a), len(b))


def _sound_strength(a: str, b: str) -> float:
    tail_a, tail_b = _plain(_tail(_phones(a))), _plain(_tail(_phones(b)))
    if not tail_a or not tail_b:
        return 0.0
    if tail_a == tail_b:
        return 1.0
    after = _after_vowel_similarity(tail_a[1:], tail_b[1:])
    if tail_a[0] == tail_b[0]:
        return 0.4 + 0.4 * after  # assonance, with partial credit for the consonants
    last_a, last_b = _plain(_last_syllable(_phones(a))), _plain(_last_syllable(_phones(b)))
    if last_a == last_b:
        return 0.6  # unstressed end rhyme: "memory" / "see"
    if tail_a[1:] and tail_a[1:] == tail_b[1:]:
        return 0.5  # consonance, a half rhyme: "come" / "doom"
    return 0.0


def _last_syllable(phones: list[str]) -> list[str]:
    vowels = [i for i, p in enumerate(phones) if p[-1].isdigit()]
    return phones[vowels[-1] :] if vowels else []


@lru_cache(maxsize=65536)
def _word_strength(a: str, b: str) -> float:
    if a == b:
        return 1.0
    best = max(
        (_sound_strength(x, y) for x in lookup(a) for y in lookup(b)),
        default=0.0,
    )
    if best < 1.0:
        ending_a, ending_b = _EYE_ENDING.search(a), _EYE_ENDING.search(b)
        if ending_a and ending_b and ending_a[0] == ending_b[0] and len(ending_a[0]) >= 2:
            best = max(best, 0.5)  # eye rhyme, or our best guess for unknown words
    return best


def rhyme_strength(a: str, b: str) -> float:
    """How well two words (or the last words of two lines) rhyme.

    1.0 is a perfect rhyme (same sounds from the last stressed vowel, or the
    same word); about 0.5-0.8 a slant rhyme (same vowel with similar consonants,
    an unstressed end rhyme, an eye rhyme such as "love" / "remove"); 0 none.
    Every pronunciation of both words is tried.
    """
    last_a, last_b = _last_word(a), _last_word(b)
    if last_a is None or last_b is None:
        return 0.0
    return _word_strength(*sorted((last_a, last_b)))


def end_rhyme(a: str, b: str) -> float:
    """:func:`rhyme_strength` of two lines' last words, but 0 when they end with the same
    word: a word repeated is not a rhyme ("night" / "night")."""
    last_a, last_b = _last_word(a), _last_word(b)
    if last_a is None or last_b is None or last_a.lower() == last_b.lower():
        return 0.0
    return rhyme_strength(last_a, last_b)


def rhyme_problem(earlier: str, first: int, line: str, second: int) -> str:
    """The problem with line number ``second`` (text ``line``) not rhyming with line
    number ``first`` (text ``earlier``), as a repair prompt quotes it."""
    end, earlier_end = _last_word(line) or "", _last_word(earlier) or ""
    if end and end.lower() == earlier_end.lower():
        return (
            f"line {second} ends with '{end}', like line {first}; it should end with "
            f"another word that rhymes with '{earlier_end}'"
        )
    return f"line {second} ('{end}') should rhyme with line {first} ('{earlier_end}')"


def rhyme_letters(lines: Sequence[str]) -> list[str]:
    """A rhyme letter per line ("" for a line without words); lines that rhyme share one
    (by :func:`end_rhyme`: lines ending with the same word do not rhyme for it).

    Perfect rhymes are grouped first, then lines left alone pair up by slant
    rhyme, then any still alone join the group they rhyme with best: a slant
    rhyme does not pull a line into a group that a later perfect rhyme founds.
    """
    ends = {i: word for i, line in enumerate(lines) if (word := _last_word(line)) is not None}
    groups: list[list[int]] = []
    for i in ends:
        _place(i, groups, groups, ends, 1.0)
    for lone_first in (True, False):
        for group in [g for g in groups if len(g) == 1]:
            if len(group) == 1:  # still alone
                groups.remove(group)
                pool = [g for g in groups if len(g) == 1] if lone_first else groups
                _place(group[0], pool, groups, ends, RHYME_THRESHOLD)
    letter_of = {i: _letter(n) for n, group in enumerate(sorted(groups, key=min)) for i in group}
    return [letter_of.get(i, "") for i in range(len(lines))]


def _place(
    i: int, pool: list[list[int]], groups: list[list[int]], ends: dict[int, str], floor: float
) -> None:
    """Add line ``i`` to the group of ``pool`` it rhymes with best, if at ``floor``; else alone."""
    scores = [max(end_rhyme(ends[i], ends[j]) for j in group) for group in pool]
    best = max(range(len(pool)), key=lambda n: (scores[n], -n), default=None)
    if best is not None and scores[best] >= floor:
        pool[best].append(i)
    else:
        groups.append([i])


def _letter(index: int) -> str:
    letters = ascii_uppercase
    return (
        letters[index] if index < len(letters) else letters[index // 26 - 1] + letters[index % 26]
    )


def rhyme_scheme(lines: Sequence[str]) -> str:
    """The rhyme scheme of a poem, like ``"ABAB CDCD EFEF GG"``.

    ``lines`` is a poem's text or its lines; a blank line separates stanzas,
    shown as a space. Lines rhyme when :func:`end_rhyme` is at least
    :data:`RHYME_THRESHOLD` (a word repeated at the end of two lines is no rhyme).
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    stanzas = split_stanzas(lines)
    return join_scheme(stanzas, rhyme_letters([line for stanza in stanzas for line in stanza]))


def join_scheme(stanzas: Sequence[Sequence[str]], letters: Sequence[str]) -> str:
    """Rhyme letters written stanza by stanza, a space between stanzas."""
    flat = iter(letters)
    return " ".join("".join(next(flat) for _ in stanza) for stanza in stanzas)


def split_stanzas(lines: Sequence[str]) -> list[list[str]]:
    """Non-blank lines grouped into stanzas at blank lines."""
    stanzas: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            stanzas[-1].append(line.strip())
        elif stanzas[-1]:
            stanzas.append([])
    return [stanza for stanza in stanzas if stanza]
