"""Properties of musekit.craft that hold for any words and any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from musekit.craft import FORMS, check, line_syllables, rhyme_strength, syllables

KNOWN = ["day", "away", "fire", "every", "love", "remove", "nation", "time", "mine", "the"]
WORDS = st.one_of(st.sampled_from(KNOWN), st.from_regex(r"[a-z]{1,12}", fullmatch=True))
LINES = st.lists(WORDS, min_size=1, max_size=8).map(" ".join)


@given(WORDS)
def test_every_word_has_at_least_one_syllable(word: str) -> None:
    counts = syllables(word).counts
    assert counts
    assert list(counts) == sorted(set(counts))
    assert all(count >= 1 for count in counts)


@given(LINES, LINES)
def test_syllables_of_joined_lines_add_up(a: str, b: str) -> None:
    left, right, both = line_syllables(a), line_syllables(b), line_syllables(f"{a} {b}")
    assert both.possible == {x + y for x in left.possible for y in right.possible}
    assert both.uncertain == (left.uncertain or right.uncertain)


@given(WORDS, WORDS)
def test_rhyme_strength_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert rhyme_strength(a, b) == rhyme_strength(b, a)
    assert 0.0 <= rhyme_strength(a, b) <= 1.0
    assert rhyme_strength(a, a) == 1.0


TEXT = st.lists(st.one_of(LINES, st.just(""), st.text(max_size=40)), max_size=22).map("\n".join)


@settings(max_examples=60, deadline=None)
@given(TEXT, st.sampled_from(list(FORMS)))
def test_check_reports_on_any_text_without_raising(text: str, form: str) -> None:
    report = check(text, form)
    assert 0.0 <= report.score <= 1.0
    assert report.passed == (report.problems == [])
    assert [line.text for line in report.lines] == [
        line.strip() for line in text.splitlines() if line.strip()
    ]
    assert all(line.syllables in line.possible_syllables for line in report.lines)
    for number, line in enumerate(report.lines, start=1):
        assert all(p in report.problems for p in line.problems)
        assert all(p.startswith(f"line {number} ") for p in line.problems)
