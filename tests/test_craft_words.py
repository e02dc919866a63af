"""musekit.craft's words: the shipped dictionary, syllable counts and stress patterns."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from musekit.craft import Pronunciations, line_syllables, stresses, syllables
from musekit.craft import dictionary as dictionary_module

SMALL_DICT = """\
fire F AY1 ER0
fire(2) F AY1 R
aalborg AO1 L B AO0 R G # place, danish
"""


def test_the_shipped_dictionary_has_the_cmu_words_and_their_variants() -> None:
    words = Pronunciations.shared()
    assert len(words) > 120_000
    assert words.phones("Fire") == ("F AY1 ER0", "F AY1 R")
    assert "every" in words
    assert "moppsikon" not in words


def test_a_dictionary_loads_on_first_lookup_not_before(tmp_path: Path) -> None:
    path = tmp_path / "words.dict"
    path.write_text(SMALL_DICT, "utf-8")
    words = Pronunciations(path)
    assert not words.loaded
    assert words.phones("aalborg") == ("AO1 L B AO0 R G",)  # comment dropped
    assert words.loaded
    assert words.load_seconds is not None


def test_concurrent_first_lookups_load_the_data_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "words.dict"
    path.write_text(SMALL_DICT, "utf-8")
    parses: list[int] = []
    real_parse = dictionary_module._parse

    def counting_parse(text: str) -> dict[str, str]:
        parses.append(1)
        return real_parse(text)

    monkeypatch.setattr(dictionary_module, "_parse", counting_parse)
    words = Pronunciations(path)
    start = threading.Barrier(8)
    results: list[tuple[str, ...]] = []

    def look_up() -> None:
        start.wait()
        results.append(words.phones("fire"))

    threads = [threading.Thread(target=look_up) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert parses == [1]
    assert results == [("F AY1 ER0", "F AY1 R")] * 8


def test_the_licence_of_the_dictionary_ships_next_to_it() -> None:
    data = Path(dictionary_module.__file__).parent / "data"
    assert "Carnegie Mellon University" in (data / "LICENSE").read_text("utf-8")
    assert (data / "cmudict.dict.gz").is_file()


@pytest.mark.parametrize(
    ("word", "counts"),
    [
        ("fire", (1, 2)),
        ("every", (2, 3)),
        ("cat", (1,)),
        ("temperature", (3, 4)),
        ("heaven", (1, 2)),  # poets' "heav'n"
        ("lov'd", (1,)),
        ("grow'st", (1,)),
        ("wreathèd", (2,)),
        ("Summer's", (2,)),
    ],
)
def test_syllable_counts_cover_every_pronunciation(word: str, counts: tuple[int, ...]) -> None:
    found = syllables(word)
    assert found.counts == counts
    assert not found.uncertain


@pytest.mark.parametrize(
    ("word", "count"),
    [("Moppsikon", 3), ("glorbed", 1), ("snuckled", 2), ("blinters", 2), ("zanthe", 1)],
)
def test_words_missing_from_the_dictionary_are_estimated_and_flagged(word: str, count: int) -> None:
    found = syllables(word)
    assert found.counts == (count,)
    assert found.uncertain


def test_a_line_counts_every_combination_of_pronunciations() -> None:
    found = line_syllables("The fire of every hour")
    # the(1) fire(1|2) of(1) every(2|3) hour(1|2)
    assert found.possible == frozenset({6, 7, 8, 9})
    assert (found.low, found.high, found.uncertain) == (6, 9, False)


def test_a_line_with_an_unknown_word_is_uncertain() -> None:
    found = line_syllables("The Moppsikon flew to the moon")
    assert found.possible == frozenset({8})
    assert found.uncertain


def test_stresses_put_lexical_stress_where_the_dictionary_does() -> None:
    patterns = stresses("Shall I compare thee to a summer's day?")
    assert "0101010101" in patterns
    assert all(p[2:4] == "01" and p[7:9] == "10" for p in patterns)  # comPARE, SUMmer


def test_one_syllable_function_words_may_go_unstressed() -> None:
    assert set(stresses("the cat")) == {"01", "11"}
    assert stresses("cat dog") == ["11"]
