"""The built-in ``story`` command: drafts, checks, repairs and ranks continuations.

The pipeline runs on the fake engine, scripted with continuations that pass or break
one check each, through the real host and runner; a conversation runs through the real
command service and store; the CLI runs through click; one test runs the installed
console script on the real model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Invoke, Script
from test_story_check import FIRST_PERSON, GOOD, OPENING, PRESENT

from musekit import Invocation
from musekit.observability.metrics import ServiceMetrics
from musekit.plugins import PluginHost
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.store import open_store
from musekit.testing import FakeEngine, assert_conforms, make_kit
from musekit_plugins import story
from musekit_plugins.story import max_tokens
from musekit_plugins.story_check import check_story
from musekit_plugins.story_prompts import EXAMPLES, repair_system_prompt, system_prompt

LOOPING = GOOD + " She looked at the sea. She looked at the sea. She looked at the sea."


def test_the_installed_story_command_passes_the_conformance_check() -> None:
    kit = make_kit()  # every installed plugin, found by entry point
    assert kit.host.plugins["story"].status == "loaded"
    assert_conforms(kit, "story")


def test_drafts_are_checked_and_the_one_that_keeps_the_story_is_returned() -> None:
    engine = FakeEngine([FIRST_PERSON, LOOPING, GOOD])
    outcome = make_kit(story, engine=engine).invoke("story", OPENING, genre="mystery")

    assert len(outcome.requests) == 1  # a draft passed: no repair
    request = outcome.request
    assert request.n == 3
    assert request.sampling.max_tokens == max_tokens("short")
    assert request.messages[0].content == system_prompt("short")
    assert request.messages[2].content == EXAMPLES[0].continuation  # third person, past
    # The opening's point of view and tense, told by the checks' heuristics, are asked for.
    assert request.messages[-1].content == (
        f"Story so far:\n{OPENING}\n\nGenre: mystery\nPoint of view: third person\n"
        "Tense: past\nLength: about 100 words"
    )
    result = outcome.result
    assert result.text == GOOD
    assert result.sections[0].style == "prose"
    assert result.data["story_report"] == check_story(GOOD, OPENING).to_json()
    assert ("story", check_story(GOOD, OPENING).summary()) in [
        (f.name, f.value) for f in result.fields
    ]
    assert ("part", "2 (the opening is part 1)") in [(f.name, f.value) for f in result.fields]
    assert result.warnings == []
    # The failing drafts are variations, each with its own report.
    assert [v.text for v in result.variations] == [FIRST_PERSON, LOOPING]
    for variation in result.variations:
        report = variation.data["story_report"]
        assert isinstance(report, dict)
        assert report["passed"] is False


def test_a_failing_draft_is_rewritten_with_its_problems_quoted() -> None:
    engine = FakeEngine([PRESENT], default=GOOD)
    kit = make_kit(story, engine=engine, settings={"story": {"candidates": 1}})
    outcome = kit.invoke("story", OPENING)

    drafts, repair = outcome.requests
    assert repair.messages[0].content == repair_system_prompt("short")
    assert repair.messages[-1].content == (
        f"Story so far:\n{OPENING}\n\nPoint of view: third person\nTense: past\n"
        f"Length: about 100 words\n\nDraft:\n{PRESENT}\n\n"
        "Problems:\n- it is in the present tense; keep the past tense"
    )
    assert repair.sampling == drafts.sampling
    assert outcome.text == GOOD
    assert outcome.result.data["repair_round"] == 1


def test_when_nothing_passes_the_closest_draft_comes_with_a_warning() -> None:
    engine = FakeEngine([LOOPING, PRESENT])
    settings = {"story": {"candidates": 2, "repair_rounds": 0}}
    result = make_kit(story, engine=engine, settings=settings).invoke("story", OPENING).result
    assert result.text == PRESENT  # one problem (its tense) ranks above a loop and its length
    assert result.warnings == [
        "No draft fully follows the story's point of view, tense and length, so the closest "
        "is shown: it is in the present tense; keep the past tense."
    ]


def test_the_point_of_view_asked_for_picks_the_matching_example_and_is_checked() -> None:
    engine = FakeEngine([GOOD, FIRST_PERSON])
    kit = make_kit(story, engine=engine, settings={"story": {"repair_rounds": 0}})
    outcome = kit.invoke("story", OPENING, pov="first", tense="past", length="short")
    assert outcome.request.messages[2].content == EXAMPLES[1].continuation  # first person
    assert "Point of view: first person\nTense: past\n" in outcome.request.messages[-1].content
    assert outcome.text == FIRST_PERSON


def test_an_opening_told_in_the_first_person_present_gets_the_matching_example() -> None:
    opening = "I wake before dawn. The house is cold and I hear the sea below my window."
    kit = make_kit(story, engine=FakeEngine(), settings={"story": {"repair_rounds": 0}})
    request = kit.invoke("story", opening).request
    assert request.messages[2].content == EXAMPLES[1].continuation
    assert "Point of view: first person\nTense: present\n" in request.messages[-1].content


async def test_in_a_conversation_each_reply_continues_the_whole_story(tmp_path: Path) -> None:
    second = (
        "Mara did not light it. She sat on the cold floor beside the lamp and waited for "
        "whoever had written the note to come back. The sea grew loud below the tower. Near "
        "midnight a light moved on the water, small and yellow, rowing towards the rocks. She "
        "watched it come closer until she could hear the oars, and then a voice she had not "
        "heard in eleven years called her name from the landing. It was her brother, who had "
        "drowned."
    )
    engine = FakeEngine([GOOD, second, GOOD])
    host = PluginHost(plugin_config={"story": {"candidates": 1, "repair_rounds": 0}})
    host.add(story, name="story")
    async with await open_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as store:
        service = CommandService(Runner(host, engine), store, metrics=ServiceMetrics())
        first = await service.submit(
            Invocation(command="story", params={"opening": OPENING}, conversation="t-1")
        )
        reply = await service.submit(
            Invocation(
                command="story",
                params={"opening": "someone comes by boat"},
                conversation="t-1",
            )
        )
        more = await service.submit(
            Invocation(command="story", params={"opening": "continue"}, conversation="t-1")
        )

    assert first.result is not None
    assert reply.result is not None
    assert more.result is not None
    assert reply.result.text == second
    asked = engine.requests[1].messages[-1].content
    assert asked.startswith(f"Story so far:\n{OPENING}\n\n{GOOD}\n\n")
    assert asked.endswith("What happens next: someone comes by boat")
    assert ("part", "3 (the opening is part 1)") in [(f.name, f.value) for f in reply.result.fields]
    # "continue" goes on with no direction, from the whole story, which the third draft
    # (the first continuation again) restates.
    last = engine.requests[2].messages[-1].content
    assert last.startswith(f"Story so far:\n{OPENING}\n\n{GOOD}\n\n{second}\n\n")
    assert "What happens next" not in last
    report = more.result.data["story_report"]
    assert isinstance(report, dict)
    assert report["passed"] is False
    assert report["copied_share"] == 1.0


def test_the_cli_runs_story_with_its_options(cli: Invoke, cli_engine: FakeEngine) -> None:
    cli_engine.script(GOOD, PRESENT, FIRST_PERSON)
    shown = cli("run", "story", OPENING, "--length", "short", "--tense", "past", "--json")
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    assert document["sections"][0]["body"] == GOOD
    assert document["data"]["story_report"]["passed"] is True
    asked = cli_engine.requests[0].messages[-1].content
    assert asked.endswith("Tense: past\nLength: about 100 words")


def test_the_cli_names_a_bad_option_and_runs_nothing(cli: Invoke, cli_engine: FakeEngine) -> None:
    shown = cli("run", "story", OPENING, "--length", "epic")
    assert shown.exit_code == 2
    assert "'--length': 'epic' is not one of 'short', 'medium', 'long'" in shown.output
    assert "Traceback" not in shown.output
    assert cli_engine.requests == []


@pytest.mark.model
def test_on_the_embedded_model_the_report_matches_the_text(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One thread, one short draft and no repair keep this quick; whether the tiny model
    # writes a good story is not the point: the report must tell the truth about it.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__STORY__CANDIDATES", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__STORY__REPAIR_ROUNDS", "0")
    done = musekit_script("run", "story", OPENING, "--seed", "3", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "story"
    text = result["sections"][0]["body"]
    assert result["data"]["story_report"] == check_story(text, OPENING).to_json()
    assert 0 < result["metrics"]["completion_tokens"] <= max_tokens("short")
