"""split_text: chunks fit the limit, break at the strongest boundary, and lose nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musekit_bots.common.split import split_text

_TEXT = st.text(alphabet=st.sampled_from(["a", "b", " ", "\n", "é", "🎵"]), max_size=400)


@given(text=_TEXT, limit=st.integers(min_value=1, max_value=60))
def test_chunks_fit_the_limit_and_join_back_to_the_text(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert "".join(chunks) == text
    assert all(0 < len(chunk) <= limit for chunk in chunks)


def test_a_text_within_the_limit_is_one_chunk() -> None:
    assert split_text("first snow on the roofs", 2000) == ["first snow on the roofs"]
    assert split_text("", 2000) == []


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    text = "one two three\nfour five\n\nsix seven eight"
    assert split_text(text, 30) == ["one two three\nfour five\n\n", "six seven eight"]


def test_a_long_paragraph_breaks_at_a_line_then_a_word() -> None:
    assert split_text("alpha beta\ngamma delta", 15) == ["alpha beta\n", "gamma delta"]
    assert split_text("alpha beta gamma delta", 15) == ["alpha beta ", "gamma delta"]


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split_text("text", 0)
