"""musekit.diversity: near-duplicates, a varied subset, and the figures, on fixed idea sets."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from musekit.diversity import (
    DUPLICATE_THRESHOLD,
    IdeaSpace,
    content_words,
    distinct_n,
    mean_pairwise_similarity,
    ngram_similarity,
)

# Three ideas, each said twice in other words (the second of each pair repeats the first),
# and two that stand alone.
IDEAS = [
    "Build protected bike lanes across the city centre",  # 0
    "Give every employee a free bike on their first day",  # 1
    "Build more protected bike-lanes across the city centre!",  # 2: repeats 0
    "Put showers and lockers in every office",  # 3
    "GIVE EVERY EMPLOYEE A FREE BIKE ON THE FIRST DAY",  # 4: repeats 1
    "Pay people a small bonus for each day they cycle",  # 5
    "Put lockers and showers in every office building",  # 6: repeats 3
    "Close one street each Sunday for families on bicycles",  # 7
]
REPEATS = {2: 0, 4: 1, 6: 3}


def test_rewordings_of_one_idea_are_close_and_different_ideas_are_not() -> None:
    matrix = ngram_similarity(IDEAS)
    for copy, original in REPEATS.items():
        assert matrix[copy][original] >= DUPLICATE_THRESHOLD
    distinct = [i for i in range(len(IDEAS)) if i not in REPEATS]
    for n, a in enumerate(distinct):
        for b in distinct[n + 1 :]:
            assert matrix[a][b] < DUPLICATE_THRESHOLD, (IDEAS[a], IDEAS[b])
    assert all(matrix[i][i] == 1.0 for i in range(len(IDEAS)))
    assert all(matrix[a][b] == matrix[b][a] for a in range(8) for b in range(8))


def test_function_words_and_punctuation_do_not_count() -> None:
    assert content_words("A way to build the bike-lanes, for the city!") == [
        "way",
        "build",
        "bike",
        "lanes",
        "city",
    ]
    assert ngram_similarity(["the bike", "a bike!"])[0][1] == 1.0


def test_deduplicate_keeps_the_first_of_each_idea_and_says_what_each_copy_repeats() -> None:
    space = IdeaSpace(IDEAS)
    found = space.deduplicate(range(len(IDEAS)))
    assert found.kept == (0, 1, 3, 5, 7)
    assert dict(found.duplicates) == REPEATS
    assert found.repeats == ()
    assert found.removed == 3


def test_ideas_already_seen_are_repeats_not_kept() -> None:
    seen = ["Give each employee a free bike on the first day"]
    space = IdeaSpace([*seen, *IDEAS])
    found = space.deduplicate(range(1, len(IDEAS) + 1), seen=[0])
    # Idea 1 and its copy 4 (indices 2 and 5 here) both repeat the seen idea.
    assert found.repeats == ((2, 0), (5, 0))
    assert found.kept == (1, 4, 6, 8)
    assert dict(found.duplicates) == {3: 1, 7: 4}


def test_a_higher_threshold_keeps_looser_rewordings() -> None:
    space = IdeaSpace(IDEAS)
    strict = space.deduplicate(range(len(IDEAS)), threshold=0.99)
    # Only the copies with the same content words (2: "more", punctuation; 4: capitals) go.
    assert strict.kept == (0, 1, 3, 5, 6, 7)
    # A very low threshold merges different ideas that share any word fragment.
    loose = space.deduplicate(range(len(IDEAS)), threshold=0.01)
    assert set(loose.kept) < {0, 1, 3, 5, 7}


def test_select_spreads_over_ideas_before_taking_a_reworded_one() -> None:
    space = IdeaSpace(IDEAS)
    chosen = space.select(range(len(IDEAS)), 5, trade_off=0.5)
    assert sorted(chosen) == [0, 1, 3, 5, 7]
    assert chosen[0] == 0  # equal relevance: the first candidate wins the tie


def test_select_prefers_relevant_ideas_and_keeps_away_from_avoided_ones() -> None:
    space = IdeaSpace(IDEAS)
    relevance = [0.2, 1.0, 0.2, 0.2, 1.0, 0.2, 0.2, 1.0]
    assert space.select(range(len(IDEAS)), 1, relevance=relevance) == [1]
    # With idea 1 to avoid, its rewording 4 loses to idea 7 despite equal relevance.
    assert space.select([4, 7], 1, relevance=relevance, avoid=[1], trade_off=0.5) == [7]
    assert space.select(range(3), 10) == [0, 1, 2]  # fewer candidates than asked: all


def test_select_rejects_a_trade_off_outside_0_to_1() -> None:
    with pytest.raises(ValueError, match="trade_off"):
        IdeaSpace(IDEAS).select(range(8), 3, trade_off=1.5)


def test_distinct_2_counts_repeated_word_pairs() -> None:
    assert distinct_n(["a b c", "d e f"], 2) == 1.0
    assert distinct_n(["a b c", "a b c"], 2) == 0.5
    assert distinct_n(["one"], 2) == 0.0  # no pairs at all
    assert distinct_n(["A, b", "a B"], 1) == 0.5
    with pytest.raises(ValueError, match="at least 1"):
        distinct_n(["a b"], 0)


def test_mean_pairwise_similarity_is_lower_for_a_varied_set() -> None:
    varied = [IDEAS[i] for i in (0, 1, 3, 5, 7)]
    repetitive = [IDEAS[i] for i in (0, 2, 1, 4, 3)]
    assert mean_pairwise_similarity(varied) < mean_pairwise_similarity(repetitive)
    assert mean_pairwise_similarity(["only one"]) == 0.0
    assert mean_pairwise_similarity(["same words", "same words"]) == 1.0


def test_another_similarity_plugs_in() -> None:
    """An embedding model is a function from texts to their matrix, like this one."""

    def by_first_word(texts: Sequence[str]) -> list[list[float]]:
        firsts = [text.split()[0].lower() for text in texts]
        return [[1.0 if a == b else 0.0 for b in firsts] for a in firsts]

    space = IdeaSpace(IDEAS, by_first_word)
    assert space.deduplicate(range(len(IDEAS))).kept == (0, 1, 3, 5, 7)  # Build, Give, Put...
    assert mean_pairwise_similarity(["Go now", "go later"], by_first_word) == 1.0


def test_a_similarity_returning_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="one row per text"):
        IdeaSpace(["a", "b"], lambda texts: [[1.0]])
