"""The ``story`` command's checks: point of view, tense, loops, restating and length, on
continuations written to pass or to break exactly one rule."""

from __future__ import annotations

import pytest

from musekit_plugins.story_check import check_story, point_of_view, tense
from musekit_plugins.story_prompts import EXAMPLES, clean_story

OPENING = (
    "The lighthouse had been dark for three nights when Mara rowed out to it. She tied the "
    "boat to the rusted ring and looked up at the tower."
)
GOOD = (
    "The door was open. Mara stepped inside and called out, but only the wind answered her. "
    "Sand had drifted across the floor of the keeper's room, and the kettle on the stove was "
    "cold. She climbed the spiral stairs slowly, counting them the way her father had taught "
    "her, one hundred and twelve. At the top the great lamp stood silent behind its glass. "
    "Someone had wrapped it in a grey blanket, as if it might catch a chill. Mara pulled the "
    "blanket away and found a note pinned to the brass: Do not light it. Not yet."
)
FIRST_PERSON = (
    "The door was open. I stepped inside and called out, but only the wind answered me. Sand "
    "had drifted across the floor of the keeper's room, and my hands were cold. I climbed the "
    "spiral stairs slowly, counting them the way my father had taught me, one hundred and "
    "twelve. At the top the great lamp stood silent behind its glass. Someone had wrapped it "
    "in a grey blanket, as if it might catch a chill. I pulled the blanket away and found a "
    "note pinned to the brass for me: Do not light it. Not yet."
)
PRESENT = (
    "The door is open. Mara steps inside and calls out, but only the wind answers her. Sand "
    "has drifted across the floor of the keeper's room, and the kettle on the stove is cold. "
    "She climbs the spiral stairs slowly, counting them the way her father taught her, one "
    "hundred and twelve. At the top the great lamp stands silent behind its glass. Someone "
    "has wrapped it in a grey blanket, as if it might catch a chill. Mara pulls the blanket "
    "away and finds a note pinned to the brass: Do not light it. Not yet."
)


def test_the_worked_examples_pass_their_own_checks() -> None:
    for example in EXAMPLES:
        report = check_story(
            example.continuation, example.opening, pov=example.pov, tense_asked=example.tense
        )
        assert report.passed, report.problems
        assert (report.pov, report.tense) == (example.pov, example.tense)


def test_a_continuation_that_keeps_the_opening_passes() -> None:
    report = check_story(GOOD, OPENING)
    assert report.problems == []
    assert report.passed
    assert report.score == 1.0
    assert (report.expected_pov, report.expected_tense) == ("third", "past")
    assert report.summary() == f"{report.words} words, third person, past tense ok"


def test_a_switch_to_the_first_person_fails_and_says_which_person_to_keep() -> None:
    report = check_story(FIRST_PERSON, OPENING)
    assert not report.passed
    assert report.pov == "first"
    assert report.problems == [
        "it is told in the first person; keep the third person (he, she, they)"
    ]
    assert report.score < 1.0


def test_a_switch_to_the_present_tense_fails() -> None:
    report = check_story(PRESENT, OPENING)
    assert report.tense == "present"
    assert report.problems == ["it is in the present tense; keep the past tense"]


def test_a_continuation_that_mixes_tenses_fails() -> None:
    half = PRESENT.split(". Mara pulls")[0] + ". " + GOOD
    report = check_story(half, OPENING, length="medium")
    assert report.tense == "mixed"
    assert report.problems == ["it mixes past and present tense; keep to the past tense"]


def test_the_point_of_view_and_tense_asked_for_override_the_opening_s() -> None:
    assert check_story(FIRST_PERSON, OPENING, pov="first").passed
    assert check_story(PRESENT, OPENING, tense_asked="present").passed
    asked = check_story(GOOD, OPENING, pov="first")
    assert asked.problems == ["it is told in the third person; keep the first person (I, we)"]


def test_dialogue_does_not_count_towards_the_point_of_view_or_tense() -> None:
    speech = GOOD.replace(
        "but only the wind answered her.",
        '"I am here," she said. "Are you up there? I can see your boat!"',
    )
    report = check_story(speech, OPENING)
    assert report.passed, report.problems


def test_an_opening_too_short_to_tell_checks_only_the_continuation_itself() -> None:
    assert point_of_view("Rain.") is None
    assert tense("Rain.") is None
    report = check_story(FIRST_PERSON, "Rain.")
    assert report.expected_pov is None
    assert report.passed


def test_a_repeated_sentence_is_a_loop() -> None:
    looping = GOOD + " Mara pulled the blanket away and found a note."
    looping += " Mara pulled the blanket away and found a note."
    report = check_story(looping, OPENING)
    assert report.problems == [
        "it repeats itself: the sentence 'mara pulled the blanket away and found a note' "
        "comes 2 times"
    ]


def test_a_phrase_that_comes_three_times_is_a_loop() -> None:
    looping = GOOD + " She looked at the sea and the sky, she looked at the sea and the sand, "
    looping += "she looked at the sea and the boat."
    report = check_story(looping, OPENING)
    assert report.loops == ["the phrase 'she looked at the sea and' comes 3 times"]
    assert not report.passed


def test_restating_the_opening_fails() -> None:
    restated = OPENING + " " + GOOD
    report = check_story(restated, OPENING)
    # The opening's 24 five-word phrases, of the continuation's 122.
    assert report.copied_share == round(24 / 122, 3)
    assert report.problems == [
        "it restates the story so far (the sentence 'the lighthouse had been dark for three "
        "nights when mara rowed out to it'; 20% of its phrases are copied); write what happens "
        "next"
    ]


@pytest.mark.parametrize(
    ("length", "problem"),
    [
        ("medium", "the continuation has 98 words, expected 140 to 300"),
        ("long", "the continuation has 98 words, expected 250 to 500"),
    ],
)
def test_the_length_must_fall_in_its_range(length: str, problem: str) -> None:
    assert len(GOOD.split()) == 98
    report = check_story(GOOD, OPENING, length=length)  # type: ignore[arg-type]
    assert report.problems == [problem]
    assert 0 < report.score < 1


def test_an_empty_continuation_scores_nothing() -> None:
    report = check_story("", OPENING)
    assert report.problems[0] == "the continuation is empty"
    assert report.score == 0.0


def test_cleaning_drops_chatter_notes_and_an_unfinished_last_sentence() -> None:
    chatty = (
        "Here is the continuation:\n\n" + GOOD + " She turned to the window and saw"
        "\n\nNote: I kept the past tense."
    )
    assert clean_story(chatty) == GOOD
    assert clean_story('She said, "Wait."') == 'She said, "Wait."'
