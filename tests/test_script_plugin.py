"""The built-in ``script`` command: Fountain drafts checked, repaired, ranked and exported.

The checks run on scripts written to pass or to break one rule each; the pipeline runs
on the fake engine through the real host and runner; the files are the real
screenplain exports; the CLI runs through click and saves the files; one test runs the
installed console script on the real model.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import Invoke, Script
from screenplain.parsers import fountain
from screenplain.types import Dialog, Slug

from musekit import ChatRequest
from musekit.testing import FakeEngine, assert_conforms, make_kit
from musekit_plugins import script
from musekit_plugins.script import (
    EXAMPLE_PARAMS,
    EXAMPLE_SCRIPT,
    REPAIR_SYSTEM_PROMPT,
    SYSTEM_PROMPT,
    max_tokens,
)
from musekit_plugins.script_build import PART_TOKENS, layout
from musekit_plugins.script_fountain import check_script, clean_script

GOOD = """INT. LIBRARY - EVENING

Warm lamps over empty tables. PRIYA, a librarian, stacks the last returns.

NARRATOR (V.O.)
Some stories are too good to put down at six o'clock. So from Monday, neither are we.

A tired father, DEV, steps in with two children in pyjamas.

DEV
(whispering)
Are you really open? The kids would not sleep without a new book tonight.

PRIYA
We are open until nine every weekday now. Take as many as you can carry.

EXT. LIBRARY STEPS - NIGHT

Dev and the children walk out, arms full of books, under the lit windows.

NARRATOR (V.O.)
Riverside Library. Late opening, every weekday until nine."""

UNINTRODUCED = GOOD.replace(
    "A tired father, DEV, steps in with two children in pyjamas.",
    "A tired father steps in with two children in pyjamas.",
)
NO_NARRATION = GOOD.replace("NARRATOR (V.O.)\n", "")
SHORT = """INT. LIBRARY - EVENING

PRIYA stacks books.

NARRATOR (V.O.)
Open late.

PRIYA
Come in."""


#: Whole drafts (the loop before part-by-part writing): what most of these tests script.
WHOLE = {"script": {"part_by_part": False}}


def report_for(text: str, seconds: int = 30) -> list[str]:
    return check_script(text, seconds).problems


def test_the_worked_example_and_a_good_script_pass() -> None:
    example = check_script(EXAMPLE_SCRIPT, EXAMPLE_PARAMS.seconds)
    assert example.passed, example.problems
    report = check_script(GOOD, 20)
    assert report.passed, report.problems
    assert report.scenes == 2
    assert report.characters == ["NARRATOR", "DEV", "PRIYA"]
    # 17 + 14 + 15 + 8 spoken words, the parenthetical left out, at 150 a minute.
    assert report.spoken_words == 54
    assert report.seconds == 22
    assert report.summary() == "2 scenes, about 22 s of 20 s ok"


def test_the_running_time_must_fit_the_seconds_asked_for() -> None:
    assert report_for(GOOD, 40) == [
        "the dialogue and narration run about 22 seconds (54 words at 150 a minute); write "
        "75 to 125 spoken words for 30 to 50 seconds"
    ]
    assert report_for(GOOD, 20) == []
    assert report_for(GOOD, 15)[0].startswith("the dialogue and narration run about 22 seconds")


def test_a_character_who_speaks_before_being_introduced_fails() -> None:
    assert report_for(UNINTRODUCED, 20) == [
        "DEV speaks before being introduced: name DEV in an action line before their first line"
    ]
    report = check_script(UNINTRODUCED, 20)
    assert report.score < check_script(GOOD, 20).score


def test_introductions_ignore_case_and_cue_extensions_but_not_order() -> None:
    later = GOOD.replace("PRIYA\nWe are", "PRIYA (O.S.)\nWe are").replace(
        "PRIYA, a librarian", "Priya, a librarian"
    )
    assert report_for(later, 20) == []
    after = GOOD.replace(
        "Warm lamps over empty tables. PRIYA, a librarian, stacks the last returns.",
        "Warm lamps over empty tables.",
    ).replace("under the lit windows.", "under the lit windows. Priya waves.")
    assert report_for(after, 20) == [
        "PRIYA speaks before being introduced: name PRIYA in an action line before their first line"
    ]


def test_a_script_without_its_parts_fails_for_each_missing_part() -> None:
    # The narration's lines are left as action: only the dialogue is spoken.
    assert report_for(NO_NARRATION, 20) == [
        "there is no voice-over narration: add a cue such as NARRATOR (V.O.)",
        "the dialogue and narration run about 12 seconds (29 words at 150 a minute); write "
        "38 to 62 spoken words for 15 to 25 seconds",
    ]
    prose = "A librarian welcomes a family at night. She smiles and they borrow books."
    problems = report_for(prose, 20)
    assert problems[:3] == [
        "there is no scene heading: start each scene with a line such as 'INT. KITCHEN - DAY'",
        "no character speaks on screen: put a name in capitals on its own line above their "
        "dialogue",
        "there is no voice-over narration: add a cue such as NARRATOR (V.O.)",
    ]
    late_heading = "Open on a library.\n\n" + GOOD
    assert report_for(late_heading, 20) == [
        "the script does not start with a scene heading such as 'EXT. STREET - NIGHT'"
    ]
    empty = GOOD.replace("EXT. LIBRARY STEPS - NIGHT", "INT. DESK - NIGHT\n\nEXT. STEPS - NIGHT")
    assert report_for(empty, 20) == ["scene 2 (INT. DESK - NIGHT) is empty"]
    no_action = "INT. LIBRARY - NIGHT\n\nNARRATOR (V.O.)\nOpen late.\n\nPRIYA\nCome in."
    assert "there are no action lines describing what we see" in report_for(no_action, 20)


def test_cleaning_makes_colon_dialogue_and_markdown_into_fountain() -> None:
    chatty = (
        "Here is your script:\n\n```\n**INT. LIBRARY - EVENING**\n\nPRIYA waits at the desk.\n\n"
        "PRIYA: We are open late now.\nNARRATOR (V.O.): Riverside Library.\n```\n\n"
        "Note: this script is 10 seconds long."
    )
    cleaned = clean_script(chatty)
    assert cleaned == (
        "INT. LIBRARY - EVENING\n\nPRIYA waits at the desk.\n\nPRIYA\nWe are open late now.\n\n"
        "NARRATOR (V.O.)\nRiverside Library."
    )
    glued = "EXT. PARK - DAY\nJO jogs past.\n\nJO\nMorning!"
    assert clean_script(glued) == "EXT. PARK - DAY\n\nJO jogs past.\n\nJO\nMorning!"
    parsed = list(fountain.parse(io.StringIO(cleaned)))
    assert isinstance(parsed[0], Slug)
    assert [str(p.character) for p in parsed if isinstance(p, Dialog)] == [
        "PRIYA",
        "NARRATOR (V.O.)",
    ]


def test_the_installed_script_command_passes_the_conformance_check() -> None:
    kit = make_kit()
    assert kit.host.plugins["script"].status == "loaded"
    assert_conforms(kit, "script")


def test_the_script_that_passes_is_returned_with_its_files() -> None:
    engine = FakeEngine([SHORT, UNINTRODUCED, GOOD])
    outcome = make_kit(script, engine=engine, settings=WHOLE).invoke(
        "script", "announce the library's late opening", audience="families", seconds=20
    )
    assert len(outcome.requests) == 1
    request = outcome.request
    assert request.n == 3
    assert request.sampling.max_tokens == max_tokens(20)
    assert request.messages[0].content == SYSTEM_PROMPT
    assert request.messages[2].content == EXAMPLE_SCRIPT
    assert request.messages[-1].content == (
        "Brief: announce the library's late opening\nAudience: families\n"
        "Running time: 20 seconds (about 50 spoken words at 150 a minute)"
    )
    result = outcome.result
    assert result.text == GOOD
    assert result.data["script_report"] == check_script(GOOD, 20).to_json()
    assert ("script", "2 scenes, about 22 s of 20 s ok") in [
        (f.name, f.value) for f in result.fields
    ]
    assert [v.text for v in result.variations] == [UNINTRODUCED, SHORT]
    files = {a.filename: a for a in result.attachments}
    stem = "announce-the-library-s-late-opening"
    assert list(files) == [f"{stem}.fountain", f"{stem}.html", f"{stem}.pdf"]
    document = files[f"{stem}.fountain"].data.decode()
    assert document == f"Title: announce the library's late opening\n\n{GOOD}\n"
    html = files[f"{stem}.html"].data.decode()
    assert html.startswith("<!DOCTYPE html>")
    assert "<h6>INT. LIBRARY - EVENING</h6>" in html
    assert '<p class="character">NARRATOR (V.O.)</p>' in html
    assert '<p class="parenthetical">(whispering)</p>' in html
    pdf = files[f"{stem}.pdf"]
    assert pdf.media_type == "application/pdf"
    assert pdf.data.startswith(b"%PDF-")
    assert pdf.data.rstrip().endswith(b"%%EOF")
    assert b"/Title (announce the library's late opening)" in pdf.data


def test_a_failing_script_is_rewritten_with_its_problems_quoted() -> None:
    engine = FakeEngine([UNINTRODUCED], default=GOOD)
    kit = make_kit(script, engine=engine, settings={"script": {"candidates": 1}})
    outcome = kit.invoke("script", "late opening", seconds=20, title="Open Late")
    drafts, repair = outcome.requests
    assert repair.messages[0].content == REPAIR_SYSTEM_PROMPT
    assert repair.messages[-1].content == (
        "Brief: late opening\nRunning time: 20 seconds (about 50 spoken words at 150 a minute)"
        f"\n\nDraft:\n{UNINTRODUCED}\n\nProblems:\n- DEV speaks before being introduced: name "
        "DEV in an action line before their first line"
    )
    assert repair.sampling == drafts.sampling
    assert outcome.text == GOOD
    assert outcome.result.data["repair_round"] == 1
    assert outcome.result.attachments[0].data.decode().startswith("Title: Open Late\n\nINT.")


def test_when_nothing_passes_the_closest_script_comes_with_a_warning_and_its_files() -> None:
    engine = FakeEngine([SHORT, NO_NARRATION])
    settings = {"script": {"candidates": 2, "repair_rounds": 0, "part_by_part": False}}
    result = make_kit(script, engine=engine, settings=settings).invoke("script", "x").result
    assert result.text == NO_NARRATION
    assert result.warnings[0].startswith(
        "No draft fully follows the script checks, so the closest is shown: there is no "
        "voice-over narration"
    )
    assert len(result.attachments) == 3


def test_the_cli_saves_the_script_files(
    cli: Invoke, cli_engine: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__SCRIPT__PART_BY_PART", "false")
    cli_engine.script(GOOD, SHORT, SHORT)
    out = tmp_path / "files"
    shown = cli("run", "script", "late", "opening", "--seconds", "20", "--output-dir", str(out))
    assert shown.exit_code == 0, shown.output
    assert sorted(p.name for p in out.iterdir()) == [
        "late-opening.fountain",
        "late-opening.html",
        "late-opening.pdf",
    ]
    assert (out / "late-opening.fountain").read_text() == f"Title: late opening\n\n{GOOD}\n"


#: What the fake model writes for each part asked for, by the part's request.
PARTS = {
    "heading of scene 1": "Scene 1: the library at night",  # a place alone: made a heading
    "action of scene 1": "Warm lamps over empty tables. PRIYA (40s), the librarian, smiles.",
    "heading of scene 2": "EXT. LIBRARY STEPS - NIGHT",
    "action of scene 2": "Families walk out under the lit windows, arms full of books.",
    "what PRIYA says": "PRIYA: We are open until nine every weekday now, so take as many "
    "books as you can carry home.",
}
#: The narrator's lines, in turn: the first runs long.
NARRATION = (
    "Some stories are too good to put down at six o'clock, so from Monday the library "
    "stays open late for everyone. Bring the whole family and stay.",
    "Homework, bedtime stories and quiet reading all fit in the evening now, with a "
    "librarian on hand to help.",
    "Riverside Library is open until nine on every weekday, starting this Monday, so come along.",
)


def parts_reply(request: ChatRequest, index: int) -> str:
    ask = request.messages[-1].content
    if "narrator's" in ask.splitlines()[-1]:
        return NARRATION[ask.count("NARRATOR (V.O.)")]
    return next(text for key, text in PARTS.items() if key in ask.splitlines()[-1])


def test_a_script_is_written_part_by_part_with_cues_and_word_shares_by_code() -> None:
    engine = FakeEngine(default=parts_reply)  # type: ignore[arg-type]
    kit = make_kit(script, engine=engine, settings={"script": {"part_samples": 2}})
    outcome = kit.invoke("script", "the library's late opening", seconds=30)

    paragraphs = outcome.text.split("\n\n")
    kinds = [p.splitlines()[0] if "\n" in p else p[:4] for p in paragraphs]
    # Two scenes: heading, action, then narration and dialogue in turn, narration last.
    assert kinds == [
        "INT.", "Warm", "NARRATOR (V.O.)", "PRIYA", "EXT.", "Fami", "NARRATOR (V.O.)",
        "NARRATOR (V.O.)",
    ]  # fmt: skip
    assert paragraphs[0] == "INT. THE LIBRARY - NIGHT"
    # The narration ran long: it is cut after the sentence that gives its share of words.
    assert paragraphs[2] == (
        "NARRATOR (V.O.)\nSome stories are too good to put down at six o'clock, so from "
        "Monday the library stays open late for everyone."
    )
    assert paragraphs[3].startswith("PRIYA\nWe are open until nine")  # the "PRIYA:" cue dropped
    report = outcome.result.data["script_report"]
    assert report["passed"] is True, report["problems"]
    assert report["characters"] == ["NARRATOR", "PRIYA"]
    # One request a part (one sample fits each), each with a part's allowance; no repair.
    assert len(outcome.requests) == 8
    assert all(r.n == 2 and r.sampling.max_tokens == PART_TOKENS for r in outcome.requests)
    narration = [r for r in outcome.requests if "narrator's" in r.messages[-1].content]
    assert (
        narration[0]
        .messages[-1]
        .content.endswith("Write the narrator's next voice-over line, in 15 to 22 words.")
    )
    assert len(outcome.result.attachments) == 3


def test_a_part_copied_from_the_worked_example_is_asked_for_again() -> None:
    headings_asked: list[int] = []

    def reply(request: ChatRequest, index: int) -> str:
        if "heading of scene 1" in request.messages[-1].content:
            headings_asked.append(index)
            if len(headings_asked) == 1:
                return "INT. HARDWARE SHOP - MORNING"  # the worked example's heading
        return parts_reply(request, index)

    engine = FakeEngine(default=reply)  # type: ignore[arg-type]
    kit = make_kit(script, engine=engine, settings={"script": {"part_samples": 1}})
    outcome = kit.invoke("script", "late opening", seconds=30)
    assert outcome.text.startswith("INT. THE LIBRARY - NIGHT\n\n")
    assert len(headings_asked) == 2


def test_the_layout_shares_the_running_time_among_spoken_parts() -> None:
    for seconds in (15, 30, 45, 60, 90):
        parts = layout(seconds)
        spoken = [p for p in parts if p.kind in ("narration", "dialogue")]
        assert parts[0].kind == "heading"
        assert parts[-1].kind == "narration"
        assert spoken[0].kind == "narration"
        assert {p.scene for p in parts} == set(range(1, (2 if seconds < 60 else 3) + 1))
        # Each scene opens with its heading and an action.
        for scene in {p.scene for p in parts}:
            own = [p.kind for p in parts if p.scene == scene]
            assert own[:2] == ["heading", "action"]
    assert sum(p.kind != "heading" and p.kind != "action" for p in layout(90)) == 11


def test_the_cli_refuses_a_running_time_out_of_range(cli: Invoke, cli_engine: FakeEngine) -> None:
    shown = cli("run", "script", "late opening", "--seconds", "600")
    assert shown.exit_code == 2
    assert "--seconds" in shown.output
    assert "90" in shown.output
    assert "Traceback" not in shown.output
    assert cli_engine.requests == []


@pytest.mark.model
def test_on_the_embedded_model_the_report_matches_the_script(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # One thread, one short draft and no repair keep this quick; the report and the files
    # must tell the truth about whatever the tiny model wrote.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__SCRIPT__CANDIDATES", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__SCRIPT__REPAIR_ROUNDS", "0")
    out = tmp_path / "files"
    args = ["--seconds", "15", "--seed", "5", "--json", "--output-dir", str(out)]
    done = musekit_script("run", "script", "a bakery's new bread", *args, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    text = result["sections"][0]["body"]
    assert result["data"]["script_report"] == check_script(text, 15).to_json()
    assert 0 < result["metrics"]["completion_tokens"] <= max_tokens(15)
    if text:
        fountain_file = out / "a-bakery-s-new-bread.fountain"
        assert fountain_file.read_text() == f"Title: a bakery's new bread\n\n{text}\n"
        assert (out / "a-bakery-s-new-bread.pdf").read_bytes().startswith(b"%PDF-")
