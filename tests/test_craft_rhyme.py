"""musekit.craft's rhyme: keys, scored strength (perfect, slant, eye) and scheme detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from musekit.craft import rhyme_key, rhyme_scheme, rhyme_strength

POEMS = Path(__file__).parent / "fixtures" / "poems"


def test_rhyme_keys_run_from_the_last_stressed_vowel() -> None:
    assert rhyme_key("away") == "EY"
    assert rhyme_key("nation") == "EY SH AH N"
    assert rhyme_key("The curfew tolls the knell of parting day") == "EY"
    assert rhyme_key("Moppsikon") is None
    assert rhyme_key("...") is None


@pytest.mark.parametrize(
    ("a", "b"), [("day", "away"), ("nation", "station"), ("fire", "higher"), ("ow'st", "grow'st")]
)
def test_perfect_rhymes_score_one(a: str, b: str) -> None:
    assert rhyme_strength(a, b) == 1.0


def test_slant_and_eye_rhymes_score_between_none_and_perfect() -> None:
    slant = rhyme_strength("time", "mine")  # same vowel, kindred nasals
    eye = rhyme_strength("love", "remove")  # rhymes to the eye only
    none = rhyme_strength("cat", "dog")
    assert 0.5 <= eye < slant < 1.0
    assert none == 0.0


def test_rhyme_strength_reads_the_last_word_of_a_line() -> None:
    assert rhyme_strength("Shall I compare thee to a summer's day?", "buds of May,") == 1.0


@pytest.mark.parametrize(
    ("poem", "scheme"),
    [
        ("shakespeare-sonnet-18.txt", "ABABCDCDEFEFGG"),
        ("shakespeare-sonnet-130.txt", "ABABCDCDEFEFGG"),
        ("wordsworth-the-world-is-too-much-with-us.txt", "ABBAABBACDCDCD"),
        ("robinson-the-house-on-the-hill.txt", "ABA ABA ABA ABA ABA ABAA"),
        ("lear-old-man-with-a-beard.txt", "AABBA"),
        ("pope-essay-on-criticism.txt", "AABB"),
    ],
)
def test_rhyme_schemes_of_real_poems(poem: str, scheme: str) -> None:
    assert rhyme_scheme((POEMS / poem).read_text("utf-8").splitlines()) == scheme


def test_a_slant_rhyme_does_not_steal_a_line_from_a_later_perfect_pair() -> None:
    # "date" is a slant rhyme of "fade" but pairs with "temperate" (an eye rhyme);
    # "fade" rhymes perfectly with "shade" further on.
    lines = ["a summer's day", "more temperate", "the buds of May", "a date", "not fade", "shade"]
    assert rhyme_scheme(lines) == "ABABCC"


def test_blank_lines_separate_stanzas_and_unrhymed_lines_get_their_own_letter() -> None:
    assert rhyme_scheme("the cat\nthe hat\n\nthe dog\nthe sun\n") == "AA BC"
