"""Long forms written a line at a time: the ``poem`` pipeline on the fake engine.

The fake engine answers each line request from a script keyed by the line asked for,
so the tests see which sample was kept, what each line was asked to end on, and when
a line is asked for again.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from conftest import Script

from musekit import ChatRequest, Message, Sampling
from musekit.craft import check, get_form
from musekit.testing import FakeEngine, make_kit
from musekit_plugins import poem
from musekit_plugins.line_options import LINE_TOKENS, line_cuts, line_options, line_tokens
from musekit_plugins.piecewise import Fit, write_parts
from musekit_plugins.poem import system_prompt
from musekit_plugins.poem_build import PoemPlan
from musekit_plugins.poem_repair import line_system_prompt
from musekit_plugins.poem_rhyme import nouns_in, rhyme_swaps, rhyme_targets

LIMERICK = [
    "There once was a man with a hat",
    "who sat in the sun with a cat;",
    "he sang to the sky",
    "as birds flew by,",
    "and the two of them dozed on the mat.",
]
#: Too short for any line of a limerick, and nothing code can mend.
TOO_SHORT = "oh well"
LINE_ASKED = re.compile(r"Write line (\d+)")


def by_line(lines: list[str], bad_first: bool = True) -> object:
    """A reply function: sample 0 a line too short for any limerick line (when
    ``bad_first``), sample 1 the script's line for the line asked."""

    def reply(request: ChatRequest, index: int) -> str:
        found = LINE_ASKED.search(request.messages[-1].content)
        assert found is not None
        if bad_first and index == 0:
            return TOO_SHORT
        return lines[int(found[1]) - 1]

    return reply


def test_a_limerick_is_written_line_by_line_and_the_sample_that_fits_kept() -> None:
    engine = FakeEngine(default=by_line(LIMERICK))  # type: ignore[arg-type]
    kit = make_kit(poem, engine=engine, settings={"poem": {"line_samples": 2}})
    outcome = kit.invoke("poem", "a man with a hat", form="limerick")

    assert outcome.result.text == "\n".join(LIMERICK)
    assert outcome.result.data["form_report"]["passed"] is True
    # One request a line (the second sample fits each time), no repairs.
    assert len(outcome.requests) == 5
    for request, syllables in zip(outcome.requests, get_form("limerick").syllables, strict=True):
        assert request.n == 2
        assert request.sampling.max_tokens == line_tokens(syllables) < LINE_TOKENS
        assert request.sampling.stop == ("\n",)
        assert request.messages[0].content == line_system_prompt("limerick")
    # The fixed prefix is the same for every line; the request and the lines come last.
    assert len({r.messages[:-1] for r in outcome.requests}) == 1
    asks = [r.messages[-1].content.splitlines()[-1] for r in outcome.requests]
    assert asks == [
        "Write line 1, in 7 to 11 syllables.",
        # A line that must rhyme is asked to end on a word that does.
        "Write line 2, in 7 to 11 syllables, ending with the word 'cat'.",
        "Write line 3, in 4 to 8 syllables.",
        "Write line 4, in 4 to 8 syllables, ending with the word 'high'.",
        "Write line 5, in 7 to 11 syllables, ending with the word 'mat'.",
    ]
    assert (
        outcome.requests[1]
        .messages[-1]
        .content.startswith(f"Topic: a man with a hat\nLine 1: {LIMERICK[0]}\n")
    )


def test_a_line_no_sample_fits_is_asked_again_and_the_best_kept() -> None:
    engine = FakeEngine(default=TOO_SHORT)
    settings = {"poem": {"line_samples": 2, "line_tries": 3, "repair_rounds": 0}}
    outcome = make_kit(poem, engine=engine, settings=settings).invoke(
        "poem", "a walk", form="limerick"
    )
    # Line 1: three requests, none fits; the lines after copy it and are dropped as
    # echoes, so each is asked three times too and left out.
    assert len(outcome.requests) == 15
    assert outcome.result.text == TOO_SHORT
    report = outcome.result.data["form_report"]
    assert report["passed"] is False
    assert "the poem has 1 line, expected 5" in report["problems"]


def test_a_refrain_is_copied_not_asked_for() -> None:
    # Every line new: words of one letter repeated, a different letter each time.
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    engine = FakeEngine(default=lambda request, index: f"{(c := next(letters)) * 3} {c * 5}")
    settings = {"poem": {"line_samples": 1, "line_tries": 1, "repair_rounds": 0}}
    outcome = make_kit(poem, engine=engine, settings=settings).invoke(
        "poem", "the tide", form="villanelle"
    )
    # 19 lines, 6 of them refrains (lines 6, 9, 12, 15, 18, 19).
    assert len(outcome.requests) == 13
    lines = [line for line in outcome.result.text.splitlines() if line]
    assert len(lines) == 19
    assert lines[5] == lines[11] == lines[17] == lines[0]
    assert lines[8] == lines[14] == lines[18] == lines[2]
    assert check(outcome.result.text, "villanelle").rhyme_scheme.count(" ") == 5  # stanzas


def test_one_candidate_is_a_single_whole_draft_even_for_a_sonnet() -> None:
    engine = FakeEngine(default="A line")
    settings = {"poem": {"candidates": 1, "repair_rounds": 0}}
    outcome = make_kit(poem, engine=engine, settings=settings).invoke(
        "poem", "the sea", form="shakespearean-sonnet"
    )
    (request,) = outcome.requests
    assert request.n == 1
    assert request.messages[0].content == system_prompt("shakespearean-sonnet")


def test_writing_stops_at_the_time_limit_with_the_lines_so_far() -> None:
    plan = PoemPlan(
        "shakespearean-sonnet",
        "Topic: the sea",
        ChatRequest(messages=(Message(role="user", content="x"),), sampling=Sampling()),
    )
    engine = FakeEngine(
        default=lambda request, index: f"the sea is {len(request.messages[-1].content)} wide",
        latency=0.05,
    )
    written = asyncio.run(write_parts(engine, plan, samples=1, tries=1, time_limit=0.12))
    assert 1 <= len(written.parts) < 14
    # The request running when the limit came is cancelled, its line not kept.
    assert written.requests in (len(written.parts), len(written.parts) + 1)
    slow = FakeEngine(default="the sea is wide and deep and grey", latency=5.0)
    cut = asyncio.run(write_parts(slow, plan, samples=1, tries=1, time_limit=0.1))
    assert cut.parts == ()
    assert cut.requests == 1


def test_a_sample_too_long_is_cut_to_the_line_it_opens_with() -> None:
    # Line 3 is asked for; its sample runs on. Its opening, whole words up to a word a
    # line can end on, is a line of the right length.
    long_third = "he sang to the sky in the morning and then all night long"

    def reply(request: ChatRequest, index: int) -> str:
        found = LINE_ASKED.search(request.messages[-1].content)
        assert found is not None
        number = int(found[1])
        return long_third if number == 3 else LIMERICK[number - 1]

    engine = FakeEngine(default=reply)  # type: ignore[arg-type]
    kit = make_kit(poem, engine=engine, settings={"poem": {"line_samples": 1}})
    outcome = kit.invoke("poem", "a man with a hat", form="limerick")

    lines = outcome.result.text.splitlines()
    assert lines[2] == "he sang to the sky"
    assert outcome.result.data["form_report"]["passed"] is True
    assert len(outcome.requests) == 5  # no line asked twice, no repair


def test_line_cuts_end_on_whole_words_a_line_can_end_on() -> None:
    line = "the sun shines down upon the horizon, as the sea laps at the shore"
    assert line_cuts(line, (10, 11)) == ["the sun shines down upon the horizon,"]
    # Never on "the", "as", "at", "upon", nor where a word after a determiner may be an
    # adjective ("the sea | laps"); never the line itself; longest first.
    assert line_cuts(line, (4, 13)) == [
        "the sun shines down upon the horizon,",
        "the sun shines down",
    ]
    # Not between an adjective and its noun ("in a great | dark night").
    assert line_cuts("we walked in a great dark night of gold", (5, 6)) == []
    assert line_cuts("oh well", (1, 2)) == ["oh"]


def test_a_line_is_allowed_the_tokens_its_syllables_need() -> None:
    # About a token a syllable on verse: half as many again and two for punctuation.
    assert line_tokens((10, 11)) == 19
    assert line_tokens((5, 5)) == 10
    assert line_tokens(None) == LINE_TOKENS
    assert line_tokens((30, 40)) == LINE_TOKENS


def test_line_options_mend_a_missing_rhyme_by_a_cut_or_a_noun_swap() -> None:
    # An opening that ends on a rhyme is offered (with no syllable target, at least
    # five syllables of it).
    options = line_options("we sailed across the sea and far away", rhyme_with="tree")
    assert options[0] == "we sailed across the sea and far away"
    assert "we sailed across the sea" in options
    # A line ending on a noun after a determiner gets rhyming nouns of the poem.
    options = line_options("I sat beside the fire", rhyme_with="sea", nouns=["tree", "key"])
    assert options == ["I sat beside the fire", "I sat beside the tree", "I sat beside the key"]
    # With a syllable target, its cuts come first, then the rhyme mends of each option.
    options = line_options(
        "the moon came up above the hill and shone on all the town",
        syllables=(8, 8),
        rhyme_with="still",
        nouns=["mill"],
    )
    assert options == [
        "the moon came up above the hill and shone on all the town",
        "the moon came up above the hill",
        "the moon came up above the hill and shone on all the mill",
    ]


def test_fits_compare_by_problems_then_score() -> None:
    assert Fit(0, 0.5).better_than(Fit(1, 0.9))
    assert Fit(1, 0.9).better_than(Fit(1, 0.5))
    assert not Fit(1, 0.5).better_than(Fit(1, 0.5))
    assert Fit(0).fits
    assert not Fit(2).fits


def test_rhyme_targets_come_from_the_poems_nouns_then_plain_end_words() -> None:
    assert rhyme_targets("sea", ["tea", "garden"], taken=["free"])[:3] == ["tea", "tree", "me"]
    assert "sea" not in rhyme_targets("sea", ["sea"])
    assert rhyme_targets("orange", ["door"]) == []


def test_a_rhyme_swap_replaces_only_a_noun_after_a_determiner() -> None:
    nouns = nouns_in(["the lamp of night", "a garden, wide", "the old chair"])
    assert nouns == ["lamp", "garden"]  # "old" is followed by a noun: not one itself
    assert rhyme_swaps("I sat beside the fire.", "sea", ["tree", "garden"]) == [
        "I sat beside the tree."
    ]
    # After a determiner and an adjective, only a known noun is swapped.
    assert rhyme_swaps("we walked in the moonlit garden", "hat", ["cat"]) == []
    assert rhyme_swaps("we walked in the moonlit lamp", "damp", ["lamp", "camp"]) == [
        "we walked in the moonlit camp"
    ]
    # A line ending on a verb or an adjective is left alone.
    assert rhyme_swaps("and the lamp was shining", "tree", ["sea"]) == []
    # The word to rhyme with, and the poem's end words, are not used.
    assert rhyme_swaps("beside the fire", "sea", ["sea", "tree"], taken=["tree"]) == []


@pytest.mark.model
def test_on_the_embedded_model_a_limerick_written_line_by_line_is_reported_truly(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two short samples a line, one request each, no repairs: quick, and enough to run
    # the line-by-line path on the real model. The report must tell the truth.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    for setting, value in (
        ("CANDIDATES", "2"),
        ("LINE_SAMPLES", "2"),
        ("LINE_TRIES", "1"),
        ("REPAIR_ROUNDS", "0"),
    ):
        monkeypatch.setenv(f"MUSEKIT_PLUGIN_CONFIG__POEM__{setting}", value)
    done = musekit_script(
        "run", "poem", "a cat on a mat", "--form", "limerick", "--json", timeout=240
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # On a loaded machine the time limit may cut the lines short: the report must still
    # be the text's.
    text = result["sections"][0]["body"]
    report = check(text, "limerick")
    assert result["data"]["form_report"] == report.to_json()
    assert {"name": "form", "value": report.summary()} in result["fields"]
    # Five line requests of two samples of at most LINE_TOKENS tokens each.
    assert result["metrics"]["completion_tokens"] <= 5 * 2 * LINE_TOKENS
