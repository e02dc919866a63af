"""The built-in ``poem`` command: drafts, checks, repairs and ranks poems in a form.

The pipeline runs on the fake engine, scripted with drafts whose form report is
known (real ``musekit.craft.check``), through the real host and runner; the CLI
runs through click; one test runs the installed console script on the real model.
"""

from __future__ import annotations

import importlib
import json
import sys
import typing
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Invoke, Script

from musekit import ChatRequest, Invocation, Message, Runner
from musekit.context import Turn
from musekit.craft import FORMS, check
from musekit.errors import EngineUnavailable, InvalidParameters
from musekit.testing import FakeEngine, assert_conforms, make_kit
from musekit.testing.kit import run_sync
from musekit_plugins import poem
from musekit_plugins.poem import MAX_VARIATIONS, system_prompt
from musekit_plugins.poem_forms import FORM_PROMPTS, FormName
from musekit_plugins.poem_repair import (
    LINE_TOKENS,
    Repairs,
    Span,
    line_needs,
    line_system_prompt,
    rewrite_system_prompt,
    target,
)
from musekit_plugins.poem_text import answer_lines, clean_poem, poem_lines, put_line

BENCH = Path(__file__).parents[1] / "bench"

HAIKU = "Cold rain on the roof\nthe old dog sleeps by the stove\nwe listen and wait"
ONE_OFF = "Cold rain on the tin roof\nthe old dog sleeps by the stove\nwe listen and wait"
TWO_LINES = "Cold rain on the roof\nthe old dog sleeps"
RAIN = "Rain\nrain"  # two lines of one syllable: the worst draft
SHORT = "Rain falls."


def test_the_installed_poem_command_passes_the_conformance_check() -> None:
    kit = make_kit()  # every installed plugin, found by entry point
    assert "poem" in kit.commands
    assert kit.host.plugins["poem"].status == "loaded"
    assert_conforms(kit, "poem")


def test_the_faulty_line_of_the_best_failures_is_rewritten_and_the_best_poem_returned() -> None:
    engine = FakeEngine([RAIN, TWO_LINES, ONE_OFF, SHORT])
    # Four tries at line 1 of ONE_OFF (one fits), then four at line 2 of TWO_LINES.
    engine.script("Line 1: Cold rain on the roof", "cold rain falls on the tin roof", "", "rain")
    engine.script("the dog", "the old dog sleeps and sleeps and sleeps", "x", "y")
    outcome = make_kit(poem, engine=engine).invoke("poem", "rain at night", form="haiku")

    drafts, *repairs = outcome.requests
    assert drafts.n == 4  # all the drafts in one request
    assert drafts.messages[0].content == system_prompt("haiku")
    assert drafts.messages[-1].content == "Topic: rain at night"
    # The two most promising failures (one syllable off, then a short line 2) get their
    # first faulty line rewritten: four short samples each, the checker's problem quoted.
    assert len(repairs) == 2
    assert [r.messages[0].content for r in repairs] == [line_system_prompt("haiku")] * 2
    assert [r.messages[-1].content for r in repairs] == [
        "Topic: rain at night\n"
        "Problem: line 1 has 6 syllables, expected 5\n"
        "Write line 1, in 5 syllables.",
        "Topic: rain at night\n"
        "Line 1: Cold rain on the roof\n"
        "Problem: line 2 has 4 syllables, expected 7\n"
        "Write line 2, in 7 syllables.",
    ]
    assert all(r.n == 4 and r.sampling.max_tokens == LINE_TOKENS for r in repairs)

    result = outcome.result
    assert result.text == HAIKU  # ONE_OFF with its first line rewritten
    assert result.sections[0].style == "verse"
    assert ("form", "haiku 5-7-5 ok") in [(f.name, f.value) for f in result.fields]
    assert result.data["form_report"] == check(HAIKU, "haiku").to_json()
    assert result.data["repair_round"] == 1
    assert result.warnings == []
    # The best other drafts are kept as variations, best first, each with its own report.
    assert len(result.variations) == MAX_VARIATIONS
    assert result.variations[0].text == ONE_OFF
    scores = [check(v.text, "haiku").score for v in result.variations]
    assert scores == sorted(scores, reverse=True)
    for variation in result.variations:
        assert variation.data["form_report"] == check(variation.text, "haiku").to_json()


def test_a_missing_line_is_written_and_added() -> None:
    five_seven = "Cold rain on the roof\nthe old dog sleeps by the stove"
    engine = FakeEngine([five_seven], default="we listen and wait")
    kit = make_kit(poem, engine=engine, settings={"poem": {"candidates": 1}})
    outcome = kit.invoke("poem", "rain at night", form="haiku")
    assert outcome.requests[1].messages[-1].content == (
        "Topic: rain at night\n"
        "Line 1: Cold rain on the roof\n"
        "Line 2: the old dog sleeps by the stove\n"
        "Problem: the poem has 2 lines, expected 3\n"
        "Write line 3, in 5 syllables."
    )
    assert outcome.text == HAIKU


def test_missing_lines_are_written_together_and_repeats_are_left_out() -> None:
    first = "A cook who was known by the sea"
    engine = FakeEngine([first])
    engine.script(
        f"Line 2: {first}\nLine 3: sold fish to the town\nLine 4: with a frown",
        "made soup that was salty as tea,\nthe town came to dine\nand said it was fine,\n"
        "then asked for the recipe free.",
    )
    settings = {"poem": {"candidates": 1, "repair_samples": 2, "repair_rounds": 1}}
    outcome = make_kit(poem, engine=engine, settings=settings).invoke(
        "poem", "a cook", form="limerick"
    )
    ask = outcome.requests[1]
    assert ask.messages[-1].content == (
        "Topic: a cook\n"
        f"Line 1: {first}\n"
        "Problem: the poem has 1 line, expected 5\n"
        "Write lines 2 to 5: line 2 in 7 to 11 syllables, ending with a word that rhymes with "
        "'sea'; line 3 in 4 to 8 syllables; line 4 in 4 to 8 syllables; "
        "line 5 in 7 to 11 syllables, ending with a word that rhymes with 'sea'."
    )
    assert ask.sampling.max_tokens == 4 * LINE_TOKENS
    texts = [outcome.text, *(v.text for v in outcome.result.variations)]
    # The first answer starts by repeating line 1: nothing of it is put in (so it adds no
    # draft); the second completes the limerick.
    assert outcome.text == (
        f"{first}\nmade soup that was salty as tea,\nthe town came to dine\n"
        "and said it was fine,\nthen asked for the recipe free."
    )
    assert texts == [outcome.text, first]


def test_when_no_line_is_to_blame_the_whole_poem_is_rewritten() -> None:
    four_lines = f"{HAIKU}\nand one more line"
    engine = FakeEngine([four_lines], default=f"Here is the haiku:\n{HAIKU}")
    settings = {"poem": {"candidates": 1, "repair_samples": 1}}
    kit = make_kit(poem, engine=engine, settings=settings)
    outcome = kit.invoke("poem", "rain at night", form="haiku")
    drafts, rewrite = outcome.requests
    assert rewrite.messages[0].content == rewrite_system_prompt("haiku")
    assert rewrite.messages[-1].content == (
        f"Topic: rain at night\n\nDraft:\n{four_lines}\n\n"
        "Problems:\n- the poem has 4 lines, expected 3"
    )
    assert rewrite.sampling == drafts.sampling  # a whole poem's allowance
    assert outcome.text == HAIKU


def test_when_no_draft_passes_the_closest_is_returned_with_its_problems() -> None:
    engine = FakeEngine([TWO_LINES, ONE_OFF, RAIN])
    settings = {"poem": {"candidates": 3, "repair_rounds": 0}}
    result = (
        make_kit(poem, engine=engine, settings=settings).invoke("poem", "x", form="haiku").result
    )
    assert result.text == ONE_OFF
    assert ("form", "haiku: 1 problem") in [(f.name, f.value) for f in result.fields]
    assert result.warnings == [
        "No draft fully follows the haiku form, so the closest is shown: "
        "line 1 has 6 syllables, expected 5."
    ]
    assert [v.text for v in result.variations] == [TWO_LINES, RAIN]


def test_an_engine_failure_while_repairing_returns_the_best_draft_with_a_warning() -> None:
    engine = FakeEngine([TWO_LINES, ONE_OFF], default=fail_with(EngineUnavailable("down")))
    kit = make_kit(poem, engine=engine, settings={"poem": {"candidates": 2}})
    result = kit.invoke("poem", "rain at night", form="haiku").result
    assert result.text == ONE_OFF
    assert "Stopped repairing: the model failed, so this is the best draft so far." in (
        result.warnings
    )


def test_a_passing_draft_ends_the_loop_after_one_request() -> None:
    engine = FakeEngine([RAIN, HAIKU, SHORT, TWO_LINES])
    outcome = make_kit(poem, engine=engine).invoke("poem", "rain at night", form="haiku")
    assert len(outcome.requests) == 1
    assert outcome.text == HAIKU


def test_model_chatter_is_cleaned_off_before_checking() -> None:
    chatty = f"Here is a haiku about rain:\n\n**Night Rain**\n\n{HAIKU}\n\nThis haiku shows calm."
    engine = FakeEngine([chatty])
    kit = make_kit(poem, engine=engine, settings={"poem": {"candidates": 1}})
    result = kit.invoke("poem", "rain at night", form="haiku").result
    assert result.text == HAIKU
    assert result.data["form_report"] == check(HAIKU, "haiku").to_json()


@pytest.mark.parametrize(
    "raw",
    [
        f"Here is a haiku about autumn rain:\n\n{HAIKU}",
        f"Sure! Here's a haiku for you:\n{HAIKU}",
        f"**Autumn Rain**\n\n{HAIKU}",
        f"# Autumn Rain\n{HAIKU}",
        f"Title: Autumn Rain\n\n{HAIKU}",
        f"```\n{HAIKU}\n```",
        f"{HAIKU}\n\nThis haiku captures the stillness of a rainy night.",
        f"{HAIKU}\n\nI hope you enjoy it!",
        f'"{HAIKU}"',
        "\n".join(f'"{line}"' for line in HAIKU.splitlines()),
        "\n".join(f"*{line}*" for line in HAIKU.splitlines()),
        f"  {HAIKU}  \n\n\n",
    ],
)
def test_clean_poem_leaves_only_the_poem(raw: str) -> None:
    assert clean_poem(raw) == HAIKU


def test_clean_poem_keeps_what_belongs_to_the_poem() -> None:
    assert clean_poem("Listen:\nthe rain\n\n\n\nis back") == "Listen:\nthe rain\n\nis back"
    assert clean_poem('"Stay," she said,\nand the rain stayed') == (
        '"Stay," she said,\nand the rain stayed'
    )
    assert clean_poem("") == ""


def test_what_to_write_is_the_first_faulty_line_else_the_missing_ones() -> None:
    assert target(check(ONE_OFF, "haiku"), 3) == Span(0)
    assert target(check(TWO_LINES, "haiku"), 3) == Span(1)
    assert target(check("Cold rain on the roof\nthe old dog sleeps by the stove", "haiku"), 3) == (
        Span(2)
    )
    assert target(check("A baker who lived by the sea", "limerick"), 5) == Span(1, 4)
    assert target(check(f"{HAIKU}\nand one more", "haiku"), 3) is None


def test_a_line_needs_its_syllables_its_rhyme_and_its_refrain() -> None:
    limerick = FORM_PROMPTS["limerick"].poem.splitlines()
    assert line_needs("limerick", 1, limerick) == (
        "in 7 to 11 syllables, ending with a word that rhymes with 'sea'"
    )
    assert line_needs("limerick", 3, limerick) == (
        "in 4 to 8 syllables, ending with a word that rhymes with 'came'"
    )
    assert line_needs("haiku", 1, []) == "in 7 syllables"
    couplets = FORM_PROMPTS["couplets"].poem.splitlines()
    assert line_needs("couplets", 3, couplets) == ("ending with a word that rhymes with 'seats'")
    assert line_needs("couplets", 2, couplets) == ""
    villanelle = [line for line in FORM_PROMPTS["villanelle"].poem.splitlines() if line]
    assert line_needs("villanelle", 5, villanelle) == (
        'repeating line 1 word for word: "The tide goes out, and still the tide comes in;"'
    )
    assert line_needs("free-verse", 4, []) == ""


def test_a_rewritten_line_goes_back_in_its_place() -> None:
    poem_text = "one\ntwo\n\nthree"
    assert put_line(poem_text, 2, "THREE") == "one\ntwo\n\nTHREE"
    assert put_line(poem_text, 0, "ONE") == "ONE\ntwo\n\nthree"
    assert put_line(poem_text, 3, "four") == "one\ntwo\n\nthree\nfour"
    with pytest.raises(ValueError, match="line 6 cannot be added"):
        put_line(poem_text, 5, "six")
    assert answer_lines('Line 2: "the old dog sleeps by the stove"\nline 3: more') == [
        "the old dog sleeps by the stove",
        "more",
    ]
    assert answer_lines("Sure! Here is line 2:\n\n*a frog leaps*") == ["a frog leaps"]
    assert answer_lines("   ") == []


def test_a_repaired_line_that_runs_long_is_cut_to_fit() -> None:
    drafting = ChatRequest(messages=(Message(role="user", content="Topic: rain"),))
    repairs = Repairs("haiku", "Topic: rain", drafting)
    report = check(ONE_OFF, "haiku")
    # The rewrite of line 1 runs on; its opening of five syllables goes in.
    mended = repairs.apply(ONE_OFF, report, "Cold rain on the roof and all along the lane")
    assert mended == HAIKU


def test_the_form_names_are_exactly_the_forms_craft_checks() -> None:
    assert set(typing.get_args(FormName)) == set(FORMS)
    assert set(FORM_PROMPTS) == set(FORMS)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_forms_worked_example_passes_the_check(form: str) -> None:
    report = check(FORM_PROMPTS[typing.cast(FormName, form)].poem, form)
    assert report.passed, report.problems


def test_the_prompt_prefix_is_fixed_per_form_and_user_text_comes_last() -> None:
    engine = FakeEngine(default=HAIKU)
    kit = make_kit(poem, engine=engine)
    one = kit.invoke("poem", "the sea", form="tanka", tone="silly", title="Salt").request
    other = kit.invoke("poem", "a fox", form="tanka").request
    assert one.messages[:-1] == other.messages[:-1]
    assert one.messages[0].content == system_prompt("tanka")
    assert one.messages[-1].content == "Topic: the sea\nTone: silly\nTitle: Salt"
    haiku = kit.invoke("poem", "the sea", form="haiku").request
    assert haiku.messages[0] != one.messages[0]
    free = kit.invoke("poem", "the sea", lines=6, rhymed=False).request
    assert free.messages[-1].content == "Topic: the sea\nLines: 6\nRhyme: unrhymed"
    # A long form is written a line at a time: the same fixed prefix for every line.
    requests = kit.invoke("poem", "the sea", form="limerick", tone="silly").requests
    limerick = [r for r in requests if r.sampling.stop == ("\n",)]  # the lines, not repairs
    assert len(limerick) >= 5
    assert len({r.messages[:-1] for r in limerick}) == 1
    assert limerick[0].messages[0].content == line_system_prompt("limerick")
    assert limerick[0].messages[-1].content == (
        "Topic: the sea\nTone: silly\nWrite line 1, in 7 to 11 syllables."
    )


def test_sampling_defaults_and_the_token_allowance_follow_the_form() -> None:
    kit = make_kit(poem, engine=FakeEngine(default=HAIKU), settings={"poem": {"candidates": 1}})
    haiku = kit.invoke("poem", "the sea", form="haiku", seed=5).request
    assert haiku.sampling.temperature == 0.9
    assert haiku.sampling.min_p == 0.08
    assert haiku.sampling.top_p == 1.0
    assert haiku.sampling.repetition_penalty == 1.1
    assert haiku.sampling.seed == 5
    sonnet = kit.invoke("poem", "the sea", form="shakespearean-sonnet").request
    assert (
        haiku.sampling.max_tokens < sonnet.sampling.max_tokens <= poem.SPEC.limits.max_output_tokens
    )
    long_free = kit.invoke("poem", "the sea", lines=30).request
    assert long_free.sampling.max_tokens <= poem.SPEC.limits.max_output_tokens
    villanelle = kit.invoke("poem", "the sea", form="villanelle").request
    assert villanelle.sampling.repetition_penalty == 1.0  # its refrains must repeat


def test_settings_size_the_loop() -> None:
    engine = FakeEngine(default=RAIN)
    settings = {"poem": {"candidates": 3, "repair_rounds": 0, "temperature": 0.5}}
    outcome = make_kit(poem, engine=engine, settings=settings).invoke("poem", "x", form="haiku")
    assert [r.n for r in outcome.requests] == [3]
    assert outcome.request.sampling.temperature == 0.5


@pytest.mark.parametrize(
    ("params", "field", "problem"),
    [
        (
            {"form": "haiku", "lines": 5},
            "lines",
            "only free verse and couplets take a line count; a haiku has 3 lines",
        ),
        ({"form": "couplets", "lines": 5}, "lines", "couplets need an even number of lines"),
        (
            {"form": "limerick", "rhymed": True},
            "rhymed",
            "only free verse takes it; a limerick's rhymes are set by its form",
        ),
        ({"form": "ode"}, "form", "Input should be 'haiku', 'tanka', 'limerick'"),
        ({"lines": 0}, "lines", "greater than or equal to 1"),
        ({"topic": ""}, "topic", "at least 1 character"),
    ],
)
def test_bad_parameters_are_refused_clearly_before_the_engine(
    params: dict[str, object], field: str, problem: str
) -> None:
    engine = FakeEngine()
    kit = make_kit(poem, engine=engine)
    with pytest.raises(InvalidParameters) as caught:
        kit.invoke("poem", **{"topic": "the sea", **params})
    assert [p.field for p in caught.value.problems] == [field]
    assert problem in caught.value.problems[0].problem
    assert engine.requests == []


def test_the_cli_runs_poem_with_a_form(cli: Invoke, cli_engine: FakeEngine) -> None:
    cli_engine.script(RAIN, HAIKU, TWO_LINES, ONE_OFF)
    shown = cli("run", "poem", "rain", "at", "night", "--form", "haiku")
    assert shown.exit_code == 0, shown.output
    for line in HAIKU.splitlines():
        assert line in shown.output
    assert "haiku 5-7-5 ok" in shown.output
    assert cli_engine.requests[0].messages[-1].content == "Topic: rain at night"

    cli_engine.script(RAIN, HAIKU, TWO_LINES, ONE_OFF)
    as_json = cli("run", "poem", "rain at night", "--form", "haiku", "--json")
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert document["data"]["form_report"]["passed"] is True
    assert [v["sections"][0]["body"] for v in document["variations"]] == [ONE_OFF, TWO_LINES, RAIN]


def test_the_cli_names_a_bad_option_and_runs_nothing(cli: Invoke, cli_engine: FakeEngine) -> None:
    shown = cli("run", "poem", "rain", "--form", "haiku", "--lines", "4")
    assert shown.exit_code == 2
    assert "--lines: only free verse and couplets take a line count; a haiku has 3 lines" in (
        shown.output
    )
    assert "Traceback" not in shown.output
    assert cli_engine.requests == []


@pytest.mark.model
def test_on_the_embedded_model_the_report_matches_the_text(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One thread and a small loop keep this quick; whether the tiny model manages a
    # haiku is not the point: the report must tell the truth about the text returned.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    for setting, value in (("CANDIDATES", "2"), ("REPAIR_ROUNDS", "1"), ("REPAIR_SAMPLES", "2")):
        monkeypatch.setenv(f"MUSEKIT_PLUGIN_CONFIG__POEM__{setting}", value)
    done = musekit_script("run", "poem", "autumn rain", "--form", "haiku", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "poem"
    text = result["sections"][0]["body"]
    assert text
    report = check(text, "haiku")
    assert result["data"]["form_report"] == report.to_json()
    assert {"name": "form", "value": report.summary()} in result["fields"]
    for variation in result["variations"]:
        body = variation["sections"][0]["body"]
        assert variation["data"]["form_report"] == check(body, "haiku").to_json()
    budget = poem.TOKEN_BUDGET_SHARE * 2 * poem.max_tokens(poem.PoemParams(topic="x", form="haiku"))
    assert 0 < result["metrics"]["completion_tokens"] <= budget


def fail_with(error: Exception) -> Callable[[ChatRequest, int], str]:
    """A fake-engine reply that fails its request mid-stream with ``error``."""

    def reply(_request: ChatRequest, _index: int) -> str:
        raise error

    return reply


def test_the_pass_rate_bench_runs_every_case_in_both_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    bench = importlib.import_module("form_pass_rate")
    try:
        commands = {case.command for case in bench.CASES.values()}
        plugins = {case.plugin_name for case in bench.CASES.values()}
        single_host = bench.host(commands, {p: dict(bench.SINGLE_SHOT) for p in plugins})
        pipeline_host = bench.host(commands, {})
        for case in bench.CASES.values():
            single_engine, pipeline_engine = FakeEngine(default=HAIKU), FakeEngine(default=HAIKU)
            one, full = run_sync(
                bench.run_case(
                    case,
                    ("rain", "snow"),
                    Runner(single_host, single_engine),
                    Runner(pipeline_host, pipeline_engine),
                    seed=7,
                )
            )
            assert len(one.scores) == len(full.scores) == 2, case.label
            assert one.errors == full.errors == 0, case.label
            # Single shot is one request of one draft; the seed pairs the two modes.
            assert [r.n for r in single_engine.requests] == [1, 1], case.label
            assert [r.sampling.seed for r in single_engine.requests] == [7, 8], case.label
            assert pipeline_engine.requests[0].n > 1, case.label
    finally:
        sys.modules.pop("form_pass_rate", None)


DARKER = "Cold rain on the grave\nthe old dog howls at the stove\nwe listen and wait"


def test_a_reply_in_a_thread_revises_the_earlier_poem() -> None:
    engine = FakeEngine([DARKER])
    kit = make_kit(poem, engine=engine, settings={"poem": {"candidates": 1, "repair_rounds": 0}})
    earlier = Turn(command="poem", params={"topic": "rain at night", "form": "haiku"}, text=HAIKU)
    reply = Invocation(
        command="poem", params={"topic": "make it darker", "form": "haiku"}, conversation="t1"
    )
    outcome = kit.run(reply, history=[earlier])

    (request,) = outcome.requests
    # The fixed prefix (system prompt, worked example), then the earlier turn as a user
    # request and the poem it got, then the reply.
    assert [m.role for m in request.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert request.messages[3].content == "topic: rain at night\nform: haiku"
    assert request.messages[4].content == HAIKU
    assert request.messages[-1].content == "Topic: make it darker"
    assert outcome.result.sections[0].body == DARKER


def test_a_long_form_written_line_by_line_sees_the_thread_too() -> None:
    sonnet = poem_lines(FORM_PROMPTS["shakespearean-sonnet"].poem)
    engine = FakeEngine(default="The keeper turns away from all the light")
    kit = make_kit(
        poem,
        engine=engine,
        settings={"poem": {"line_samples": 1, "line_tries": 1, "repair_rounds": 0}},
    )
    earlier = Turn(
        command="poem",
        params={"topic": "a lighthouse", "form": "shakespearean-sonnet"},
        text="\n".join(sonnet),
    )
    reply = Invocation(
        command="poem", params={"topic": "make it darker", "form": "shakespearean-sonnet"}
    )
    outcome = kit.run(reply, history=[earlier])
    assert outcome.requests
    for request in outcome.requests:
        assert request.messages[3].content == "topic: a lighthouse\nform: shakespearean-sonnet"
        assert request.messages[4].content == "\n".join(sonnet)
        assert request.messages[-1].content.startswith("Topic: make it darker\n")
