"""Diversity of a set of short texts (ideas, names, titles): near-duplicates, a varied
subset, and the figures that say how varied a set is.

The default similarity needs no model: the Jaccard overlap of character 4-grams of
each text's content words (lower case, punctuation and common function words
dropped), so "Build more bike lanes" and "build bike-lanes!" come out close while
two ideas on the same topic in different words do not. An embedding model plugs in
as another :data:`Similarity`: any function from texts to their similarity matrix.

:class:`IdeaSpace` computes the matrix once; on it, :meth:`IdeaSpace.deduplicate`
drops near-duplicates (of each other, or of texts already seen) and
:meth:`IdeaSpace.select` chooses a varied subset by maximal marginal relevance.
:func:`distinct_n` and :meth:`IdeaSpace.mean_similarity` are the figures to report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Texts -> their pairwise similarity matrix (values 0..1, 1 on the diagonal).
Similarity = Callable[[Sequence[str]], list[list[float]]]

#: Two texts at least this similar (default similarity) count as the same idea.
DUPLICATE_THRESHOLD = 0.45

_WORD = re.compile(r"[a-z0-9]+")

# Function words carry no idea; without them "a way to X" and "X" are the same text.
_FUNCTION_WORDS = """
    a an the and or but if of to in on at by for with from into onto as is are was were be
    been being it its this that these those there their they them you your we our us i me my
    he she his her so than then too very can could should would will may might must do does
    did done not no yes just also more most some any each every all such which who whom what
    when where why how up out about over under again further once only own same both few"""
_STOPWORDS = frozenset(_FUNCTION_WORDS.split())

_GRAM = 4


def content_words(text: str) -> list[str]:
    """The text's words in lower case, without punctuation or common function words."""
    return [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


def shingles(text: str, size: int = _GRAM) -> frozenset[str]:
    """Character ``size``-grams of the text's content words, each word padded by spaces."""
    grams: set[str] = set()
    for word in content_words(text):
        padded = f" {word} "
        if len(padded) <= size:
            grams.add(padded)
        grams.update(padded[i : i + size] for i in range(len(padded) - size + 1))
    return frozenset(grams)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared items over all items; two empty sets are identical (1.0)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def ngram_similarity(texts: Sequence[str]) -> list[list[float]]:
    """The default :data:`Similarity`: Jaccard overlap of :func:`shingles`."""
    grams = [shingles(text) for text in texts]
    matrix = [[1.0] * len(texts) for _ in texts]
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            matrix[i][j] = matrix[j][i] = jaccard(grams[i], grams[j])
    return matrix


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct word ``n``-grams over all word ``n``-grams of the texts (0 when there are none).

    1.0 means no ``n``-gram is used twice anywhere in the set; a set that keeps saying
    the same thing scores low.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    grams = [
        tuple(words[i : i + n])
        for words in (_WORD.findall(text.lower()) for text in texts)
        for i in range(len(words) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else 0.0


def mean_pairwise_similarity(
    texts: Sequence[str], similarity: Similarity = ngram_similarity
) -> float:
    """The mean similarity of every pair of texts (0 with fewer than two)."""
    space = IdeaSpace(texts, similarity)
    return space.mean_similarity(range(len(texts)))


@dataclass(frozen=True)
class Deduplicated:
    """What :meth:`IdeaSpace.deduplicate` kept and dropped, as indices into the space.

    ``duplicates`` pairs each dropped text with the kept one it repeats; ``repeats``
    are the texts dropped for repeating one of those given as already seen.
    """

    kept: tuple[int, ...]
    duplicates: tuple[tuple[int, int], ...]
    repeats: tuple[tuple[int, int], ...]

    @property
    def removed(self) -> int:
        """How many texts were dropped, for either reason."""
        return len(self.duplicates) + len(self.repeats)


class IdeaSpace:
    """Texts with their pairwise similarities, computed once by ``similarity``."""

    def __init__(self, texts: Sequence[str], similarity: Similarity = ngram_similarity) -> None:
        self.texts = tuple(texts)
        self._matrix = similarity(self.texts) if self.texts else []
        if len(self._matrix) != len(self.texts):
            raise ValueError("the similarity function must return one row per text")

    def similarity(self, i: int, j: int) -> float:
        """How similar texts ``i`` and ``j`` are, 0..1."""
        return self._matrix[i][j]

    def deduplicate(
        self,
        candidates: Sequence[int],
        *,
        seen: Sequence[int] = (),
        threshold: float = DUPLICATE_THRESHOLD,
    ) -> Deduplicated:
        """Keep each candidate, in order, unless it is at least ``threshold`` similar to a
        text in ``seen`` (a repeat) or to a candidate kept before it (a duplicate)."""
        kept: list[int] = []
        duplicates: list[tuple[int, int]] = []
        repeats: list[tuple[int, int]] = []
        for index in candidates:
            earlier = self._closest(index, seen)
            if earlier is not None and self.similarity(index, earlier) >= threshold:
                repeats.append((index, earlier))
                continue
            twin = self._closest(index, kept)
            if twin is not None and self.similarity(index, twin) >= threshold:
                duplicates.append((index, twin))
                continue
            kept.append(index)
        return Deduplicated(tuple(kept), tuple(duplicates), tuple(repeats))

    def select(
        self,
        candidates: Sequence[int],
        k: int,
        *,
        relevance: Sequence[float] | None = None,
        avoid: Sequence[int] = (),
        trade_off: float = 0.7,
    ) -> list[int]:
        """Up to ``k`` candidates by maximal marginal relevance, in the order chosen.

        Each step takes the candidate with the highest ``trade_off * relevance -
        (1 - trade_off) * (its similarity to the closest text chosen so far or in
        avoid)``; ``relevance`` (one value 0..1 per text of the space, all 1 if not
        given) says how good each text is on its own. Ties go to the earlier candidate.
        """
        if not 0.0 <= trade_off <= 1.0:
            raise ValueError(f"trade_off must be between 0 and 1, not {trade_off}")
        scores = relevance if relevance is not None else [1.0] * len(self.texts)
        chosen: list[int] = []
        left = list(candidates)
        while left and len(chosen) < k:
            near = [*avoid, *chosen]

            def gain(index: int, near: list[int] = near) -> float:
                closest = self._closest(index, near)
                overlap = 0.0 if closest is None else self.similarity(index, closest)
                return trade_off * scores[index] - (1.0 - trade_off) * overlap

            best = max(left, key=gain)
            chosen.append(best)
            left.remove(best)
        return chosen

    def mean_similarity(self, indices: Sequence[int] | range) -> float:
        """The mean similarity of every pair among ``indices`` (0 with fewer than two)."""
        chosen = list(indices)
        pairs = [self.similarity(a, b) for n, a in enumerate(chosen) for b in chosen[n + 1 :]]
        return sum(pairs) / len(pairs) if pairs else 0.0

    def _closest(self, index: int, others: Sequence[int]) -> int | None:
        """The text among ``others`` most similar to ``index`` (``None`` if there are none)."""
        return max(others, key=lambda other: self.similarity(index, other), default=None)
