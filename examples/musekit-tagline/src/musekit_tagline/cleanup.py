"""Turning raw model samples into clean, distinct taglines."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# A list marker or label a small model may put before the tagline: "1.", "-", "Tagline:".
_PREFIX = re.compile(r"^\s*(?:[-*•]|\d+[.)]|tagline\s*\d*\s*:|slogan\s*:)\s*", re.IGNORECASE)
_QUOTES = "\"'\u201c\u201d\u2018\u2019*`"  # straight and curly quotes, markdown
_WORD = re.compile(r"[\w']+")
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)")


@dataclass(frozen=True)
class Picked:
    """The taglines kept, in sample order, and why any sample was changed or dropped."""

    taglines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def clean(sample: str) -> str:
    """The first non-empty line of a sample, without list markers, labels or quotes."""
    for line in sample.splitlines():
        text = _PREFIX.sub("", line).strip().strip(_QUOTES).strip()
        if text:
            return text
    return ""


def shorten(text: str, max_words: int) -> str:
    """``text`` if it fits in ``max_words``; else its first sentence if that fits; else
    its first ``max_words`` words."""
    words = text.split()
    if len(words) <= max_words:
        return text
    sentence = _FIRST_SENTENCE.match(text)
    if sentence and len(sentence.group(1).split()) <= max_words:
        return sentence.group(1)
    return " ".join(words[:max_words]).rstrip(",;:-\u2013\u2014 ")


def pick_taglines(
    samples: Iterable[str], *, max_words: int, banned_words: Iterable[str] = ()
) -> Picked:
    """Clean and shorten each sample; drop empty ones, banned ones and repeats."""
    banned = {word.lower() for word in banned_words}
    kept: list[str] = []
    seen: set[tuple[str, ...]] = set()
    cut = empty = repeated = dropped = 0
    for sample in samples:
        text = clean(sample)
        short = shorten(text, max_words)
        if short != text:
            text, cut = short, cut + 1
        key = tuple(_WORD.findall(text.lower()))
        if not key:
            empty += 1
        elif banned.intersection(key):
            dropped += 1
        elif key in seen:
            repeated += 1
        else:
            seen.add(key)
            kept.append(text)
    warnings = [
        message
        for count, message in (
            (cut, f"{cut} tagline(s) ran past {max_words} words and were shortened."),
            (dropped, f"{dropped} tagline(s) used a banned word and were dropped."),
            (repeated, f"{repeated} repeated tagline(s) were dropped."),
            (empty, f"{empty} sample(s) had no text."),
        )
        if count
    ]
    return Picked(kept, warnings)
