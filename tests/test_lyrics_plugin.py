"""The built-in ``lyrics`` command: drafts, checks, repairs and ranks tagged song lyrics.

The pipeline runs on the fake engine, scripted with drafts whose song report is
known (real ``musekit.craft.song.check_song``), through the real host and runner;
the CLI runs through click; one test runs the installed console script on the
real model.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import Invoke, Script

from musekit import ChatRequest, Invocation
from musekit.context import Turn
from musekit.craft.song import SongForm, check_song, repeat_choruses
from musekit.errors import InvalidParameters
from musekit.testing import FakeEngine, assert_conforms, make_kit
from musekit_plugins import lyrics
from musekit_plugins.lyrics import (
    REPAIR_SYSTEM_PROMPT,
    SYSTEM_PROMPT,
    check_lyrics,
    clean_lyrics,
    example_params,
    example_song,
    song_form,
)

VERSE_1 = """[Verse 1]
The kettle sings upon the stove,
the window holds a winter light;
I wear the sweater that you wove
and count the hours until night."""
CHORUS = """[Chorus]
So leave a lamp on in the hall,
and I will come home after all;
the road is long, the snow is deep,
but I have promises to keep."""
VERSE_2 = """[Verse 2]
The radio is playing low,
the dog is sleeping by the door;
outside the yard is full of snow
that was not there an hour before."""
SONG = "\n\n".join([VERSE_1, CHORUS, VERSE_2, CHORUS])
CHORUS_OFF = SONG[: SONG.rindex("the road is long")] + "the road is long and cold and deep,\n"
CHORUS_OFF += "but I have promises to keep."
NO_SECOND_HALF = "\n\n".join([VERSE_1, CHORUS])
UNTAGGED = "The kettle sings\nthe window holds a light"
SHORT = "[Verse 1]\nsnow"

#: Whole drafts (the loop before line-by-line writing): what most of these tests script.
WHOLE = {"lyrics": {"line_by_line": False}}

DEFAULT_FORM = SongForm.parse("verse-chorus-verse-chorus", rhyme="verse=XAXA; chorus=AABB", lines=4)


def test_the_installed_lyrics_command_passes_the_conformance_check() -> None:
    kit = make_kit()  # every installed plugin, found by entry point
    assert "lyrics" in kit.commands
    assert kit.host.plugins["lyrics"].status == "loaded"
    assert_conforms(kit, "lyrics")


def test_the_fixture_song_passes_and_the_broken_ones_fail_the_default_form() -> None:
    assert check_song(SONG, DEFAULT_FORM).passed
    assert check_song(CHORUS_OFF, DEFAULT_FORM).problems == [
        "[Chorus 2] differs from [Chorus 1] in line 3: 'the road is long and cold and deep,' "
        "instead of 'the road is long, the snow is deep,'"
    ]
    assert not check_song(NO_SECOND_HALF, DEFAULT_FORM).passed


def test_failing_drafts_are_repaired_with_their_problems_and_the_best_is_returned() -> None:
    engine = FakeEngine([UNTAGGED, NO_SECOND_HALF, CHORUS_OFF])
    engine.script(SONG, SHORT)  # the repairs of CHORUS_OFF, then of NO_SECOND_HALF
    outcome = make_kit(lyrics, engine=engine, settings=WHOLE).invoke(
        "lyrics", "coming home in winter"
    )

    drafts, *repairs = outcome.requests
    assert drafts.n == 3  # all the drafts in one request
    assert drafts.messages[0].content == SYSTEM_PROMPT
    assert drafts.messages[-1].content.startswith("Theme: coming home in winter\n")
    # The two most promising failures (a chorus line off, then half the song missing) are
    # repaired, each quoting the checker's problems.
    assert len(repairs) == 2
    assert [r.messages[0].content for r in repairs] == [REPAIR_SYSTEM_PROMPT] * 2
    first, second = (r.messages[-1].content for r in repairs)
    assert f"Draft:\n{CHORUS_OFF}\n" in first
    assert "- [Chorus 2] differs from [Chorus 1] in line 3: " in first
    assert f"Draft:\n{NO_SECOND_HALF}\n" in second
    for problem in check_song(NO_SECOND_HALF, DEFAULT_FORM).problems:
        assert f"- {problem}" in second

    result = outcome.result
    assert result.text == SONG
    assert result.sections[0].style == "verse"
    fields = [(f.name, f.value) for f in result.fields]
    assert ("song", "structure ok, chorus identical, no problems") in fields
    assert ("drafts", "5 checked, 1 repair round") in fields
    assert result.data["song_report"] == check_song(SONG, DEFAULT_FORM).to_json()
    assert result.data["repair_round"] == 1
    assert result.warnings == []
    # Every other distinct draft is kept as a variation, best first, with its own report.
    variations = [v.text for v in result.variations]
    assert variations[0] == CHORUS_OFF
    assert sorted(variations) == sorted([UNTAGGED, NO_SECOND_HALF, CHORUS_OFF, SHORT])
    for variation in result.variations:
        assert variation.data["song_report"] == check_song(variation.text, DEFAULT_FORM).to_json()
    scores = [check_song(text, DEFAULT_FORM).score for text in variations[1:]]
    assert scores == sorted(scores, reverse=True)


def test_when_no_draft_passes_the_closest_is_returned_with_its_problems() -> None:
    engine = FakeEngine([UNTAGGED, CHORUS_OFF], default=SHORT)
    kit = make_kit(
        lyrics, engine=engine, settings={"lyrics": {"candidates": 2, "line_by_line": False}}
    )
    result = kit.invoke("lyrics", "coming home in winter").result
    assert result.text == CHORUS_OFF
    assert ("song", "structure ok, choruses differ, 1 problem") in [
        (f.name, f.value) for f in result.fields
    ]
    assert result.warnings == [
        "No draft fully follows the song's form, so the closest is shown: [Chorus 2] differs "
        "from [Chorus 1] in line 3: 'the road is long and cold and deep,' instead of "
        "'the road is long, the snow is deep,'."
    ]


def test_lines_copied_from_the_worked_example_are_a_problem() -> None:
    example_chorus = "[Chorus]\n" + example_song(False).split("[Chorus]\n")[1].split("\n\n")[0]
    copying = "\n\n".join([VERSE_1, example_chorus, VERSE_2, example_chorus])
    assert check_song(copying, DEFAULT_FORM).passed  # the form alone cannot tell
    report = check_lyrics(copying, DEFAULT_FORM)
    assert not report.passed
    assert report.problems == [
        "8 lines are copied from the example song, such as 'Oh, carry me home on the tide,': "
        "write new lines about the theme"
    ]
    assert report.score == 0.5  # half the lines are the example's

    engine = FakeEngine([copying, CHORUS_OFF], default=SONG)
    kit = make_kit(
        lyrics, engine=engine, settings={"lyrics": {"candidates": 2, "line_by_line": False}}
    )
    outcome = kit.invoke("lyrics", "coming home in winter")
    assert outcome.text == SONG  # a repair, the copy was not taken as a pass
    assert [v.text for v in outcome.result.variations] == [CHORUS_OFF, copying]
    assert outcome.result.variations[1].data["song_report"] == report.to_json()
    assert check_lyrics(SONG, DEFAULT_FORM) == check_song(SONG, DEFAULT_FORM)


def test_model_chatter_and_headings_are_cleaned_into_tagged_lyrics() -> None:
    chatty = (
        "Sure! Here are the lyrics:\n\n**Winter Lamp**\n\n"
        + SONG.replace("[Verse 1]", "**Verse 1:**").replace("[Verse 2]", "### Verse 2")
        + "\n\nThis song is about coming home."
    )
    kit = make_kit(lyrics, engine=FakeEngine([chatty]), settings={"lyrics": {"candidates": 1}})
    result = kit.invoke("lyrics", "coming home in winter").result
    assert result.text == SONG
    assert result.data["song_report"] == check_song(SONG, DEFAULT_FORM).to_json()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (f"```\n{SONG}\n```", SONG),
        (SONG.replace("[Chorus]", "Chorus:"), SONG),
        (SONG.replace("[Chorus]", "(Chorus)"), SONG),
        (SONG.replace("[Chorus]", "**[CHORUS]**"), SONG.replace("[Chorus]", "[CHORUS]")),
        (SONG.replace("\n\n", "\n\n\n\n"), SONG),
        (f"{SONG}\n\nI hope you like it!", SONG),
        ("", ""),
    ],
)
def test_clean_lyrics(raw: str, clean: str) -> None:
    assert clean_lyrics(raw) == clean


def test_a_chorus_written_as_its_tag_alone_is_repeated_in_full() -> None:
    short = SONG[: SONG.rindex("[Chorus]")] + "[Chorus]"
    kit = make_kit(lyrics, engine=FakeEngine([short]), settings={"lyrics": {"candidates": 1}})
    result = kit.invoke("lyrics", "coming home in winter").result
    assert result.text == SONG
    assert result.data["song_report"]["passed"] is True  # type: ignore[index]


def test_clean_lyrics_keeps_backing_vocals_and_chords() -> None:
    text = "[Chorus]\nChords: C G\nSo leave a lamp (leave a lamp)\n(ooh)"
    assert clean_lyrics(text) == text


def test_the_worked_example_passes_its_own_check() -> None:
    for chords in (False, True):
        report = check_song(
            repeat_choruses(example_song(chords)), song_form(example_params(chords))
        )
        assert report.passed, report.problems
    assert example_song(False).endswith("[Chorus]")  # it shows a repeated chorus as its tag
    assert "Chords:" not in example_song(False)


def test_the_prompt_prefix_is_fixed_and_the_request_comes_last() -> None:
    kit = make_kit(lyrics, engine=FakeEngine(default=SONG), settings=WHOLE)
    one = kit.invoke(
        "lyrics",
        "a red kite",
        genre="folk",
        structure="intro-verse-pre-chorus-chorus-bridge-chorus",
        rhyme="AABB; bridge=XAXA",
        syllables="verse=8; chorus=8 8 6 6",
    ).request
    other = kit.invoke("lyrics", "a fox").request
    assert one.messages[:-1] == other.messages[:-1]
    assert one.messages[-1].content == (
        "Theme: a red kite\n"
        "Genre: folk\n"
        "Sections: [Intro] [Verse] [Pre-Chorus] [Chorus] [Bridge] [Chorus]\n"
        "Lines: intro 4, verse 4, pre-chorus 4, chorus 4, bridge 4\n"
        "Rhyme: intro AABB, verse AABB, pre-chorus AABB, chorus AABB, bridge XAXA\n"
        "Syllables per line: verse 8, chorus 8 8 6 6"
    )
    assert other.messages[-1].content == (
        "Theme: a fox\n"
        "Sections: [Verse 1] [Chorus] [Verse 2] [Chorus]\n"
        "Lines: verse 4, chorus 4\n"
        "Rhyme: verse XAXA, chorus AABB"
    )
    # With a key the example shows chord lines, the same for every request with a key.
    keyed = kit.invoke("lyrics", "a red kite", key="A minor").request
    assert keyed.messages[:-1] == kit.invoke("lyrics", "a fox", key="Eb").request.messages[:-1]
    assert keyed.messages[:-1] != one.messages[:-1]
    assert "Chords: G Em C D" in keyed.messages[2].content
    assert keyed.messages[-1].content.endswith("Key: A minor (chords: Am Bdim C Dm Em E F G)")
    for request in (one, other, keyed):
        assert all(
            "a red kite" not in m.content and "a fox" not in m.content
            for m in request.messages[:-1]
        )


def test_lines_per_section_are_asked_for_and_checked() -> None:
    kit = make_kit(lyrics, engine=FakeEngine([SONG]), settings={"lyrics": {"candidates": 1}})
    outcome = kit.invoke("lyrics", "coming home", lines="verse=8")
    assert "\nLines: verse 8, chorus 4\n" in outcome.request.messages[-1].content
    assert outcome.result.data["song_report"]["problems"] == [  # type: ignore[index]
        "[Verse 1] has 4 lines, expected 8",
        "[Verse 2] has 4 lines, expected 8",
    ]


def test_rhyme_none_asks_for_no_scheme() -> None:
    kit = make_kit(lyrics, engine=FakeEngine(default=SONG), settings=WHOLE)
    request = kit.invoke("lyrics", "the sea", rhyme="none", structure="verse-outro").request
    assert request.messages[-1].content == (
        "Theme: the sea\nSections: [Verse] [Outro]\nLines: verse 4, outro 2"
    )


def test_sampling_defaults_and_the_token_allowance_follow_the_song() -> None:
    kit = make_kit(lyrics, engine=FakeEngine(default=SONG), settings=WHOLE)
    short = kit.invoke("lyrics", "the sea", structure="verse-chorus", seed=5).request
    assert short.sampling.temperature == 0.9
    assert short.sampling.min_p == 0.08
    assert short.sampling.top_p == 1.0
    assert short.sampling.repetition_penalty == 1.0  # choruses must repeat
    assert short.sampling.seed == 5
    default = kit.invoke("lyrics", "the sea").request
    keyed = kit.invoke("lyrics", "the sea", key="G").request
    longest = kit.invoke(
        "lyrics", "the sea", structure="-".join(["verse"] * 12), rhyme="AABBCCDD", key="G"
    ).request
    assert short.sampling.max_tokens < default.sampling.max_tokens < keyed.sampling.max_tokens
    assert longest.sampling.max_tokens == lyrics.SPEC.limits.max_output_tokens


def test_settings_size_the_loop() -> None:
    engine = FakeEngine(default=UNTAGGED)
    settings = {
        "lyrics": {"candidates": 2, "repair_rounds": 0, "temperature": 0.5, "line_by_line": False}
    }
    outcome = make_kit(lyrics, engine=engine, settings=settings).invoke("lyrics", "x")
    assert [r.n for r in outcome.requests] == [2]
    assert outcome.request.sampling.temperature == 0.5


def test_a_key_checks_the_chords() -> None:
    in_g = (
        SONG.replace("[Chorus]", "[Chorus]\nChords: C G D G")
        .replace("[Verse 1]", "[Verse 1]\nChords: G Em C D")
        .replace("[Verse 2]", "[Verse 2]\nChords: G Em Bb D")
    )
    kit = make_kit(lyrics, engine=FakeEngine([in_g]), settings={"lyrics": {"candidates": 1}})
    result = kit.invoke("lyrics", "coming home", key="G").result
    assert result.data["song_report"]["problems"] == [  # type: ignore[index]
        "[Verse 2] chord Bb is not in G major (it is borrowed from G minor)"
    ]


@pytest.mark.parametrize(
    ("params", "field", "problem"),
    [
        (
            {"structure": "verse-hook-chorus"},
            "structure",
            "section 2 of the structure is not one of intro, verse, pre-chorus, chorus, bridge "
            "or outro",
        ),
        ({"structure": "-".join(["verse"] * 13)}, "structure", "at most 12 sections"),
        (
            {"rhyme": "bridge=AABB"},
            "rhyme",
            "the rhyme names bridge, which the structure does not have",
        ),
        ({"rhyme": "A1"}, "rhyme", "a rhyme scheme is 2 to 16 letters"),
        ({"syllables": "many"}, "syllables", "syllables are a count (8), a range (6-8)"),
        ({"syllables": "verse=9-3"}, "syllables", "a syllable range goes from low to high"),
        ({"key": "H"}, "key", "a key is a note A to G"),
        (
            {"lines": "verse=6"},
            "lines",
            "6 lines do not fit the verse's rhyme scheme XAXA: use a multiple of 4",
        ),
        ({"lines": "40"}, "lines", "lines per section are a whole number from 1 to 32"),
        ({"theme": ""}, "theme", "String should have at least 1 character"),
    ],
)
def test_bad_parameters_are_refused_clearly_before_the_engine(
    params: dict[str, object], field: str, problem: str
) -> None:
    engine = FakeEngine()
    kit = make_kit(lyrics, engine=engine, settings=WHOLE)
    with pytest.raises(InvalidParameters) as caught:
        kit.invoke("lyrics", **{"theme": "the sea", **params})
    assert [p.field for p in caught.value.problems] == [field]
    assert caught.value.problems[0].problem.startswith(problem)
    assert engine.requests == []


def test_the_cli_runs_lyrics_with_a_structure(
    cli: Invoke, cli_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__LYRICS__LINE_BY_LINE", "false")
    song = "\n\n".join([VERSE_1.replace(" 1]", "]"), CHORUS])
    cli_engine.script(UNTAGGED, song, SHORT)
    shown = cli("run", "lyrics", "coming", "home", "--structure", "verse-chorus")
    assert shown.exit_code == 0, shown.output
    for line in song.splitlines():
        assert line in shown.output
    assert "structure ok, no problems" in shown.output
    assert (
        cli_engine.requests[0]
        .messages[-1]
        .content.startswith("Theme: coming home\nSections: [Verse] [Chorus]\n")
    )

    cli_engine.script(UNTAGGED, song, SHORT)
    as_json = cli("run", "lyrics", "coming home", "--structure", "verse-chorus", "--json")
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert document["data"]["song_report"]["passed"] is True
    assert document["data"]["song_report"]["structure"] == "verse-chorus"
    assert [v["sections"][0]["body"] for v in document["variations"]] == [SHORT, UNTAGGED]


def test_the_cli_names_a_bad_option_and_runs_nothing(cli: Invoke, cli_engine: FakeEngine) -> None:
    shown = cli("run", "lyrics", "rain", "--structure", "verse-solo")
    assert shown.exit_code == 2
    assert "--structure: section 2 of the structure is not one of intro, verse" in shown.output
    assert "Traceback" not in shown.output
    assert cli_engine.requests == []


@pytest.mark.model
def test_on_the_embedded_model_the_report_matches_the_text(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One thread, two short sections, one draft and one repair keep this quick; whether the
    # tiny model writes good lyrics is not the point: the report must tell the truth.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__LYRICS__CANDIDATES", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__LYRICS__REPAIR_ROUNDS", "1")
    args = ["--structure", "verse-chorus", "--syllables", "6-10", "--key", "G", "--seed", "4"]
    done = musekit_script("run", "lyrics", "an old guitar", *args, "--json", timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "lyrics"
    text = result["sections"][0]["body"]
    assert text
    form = SongForm.parse(
        "verse-chorus", rhyme="verse=XAXA; chorus=AABB", syllables="6-10", lines=4, key="G"
    )
    report = check_lyrics(text, form)
    assert result["data"]["song_report"] == report.to_json()
    assert {"name": "song", "value": report.summary()} in result["fields"]
    assert set(check_song(text, form).problems) <= set(report.problems)
    for variation in result["variations"]:
        body = variation["sections"][0]["body"]
        assert variation["data"]["song_report"] == check_lyrics(body, form).to_json()
    max_tokens = 2 * (8 + 12 + 4 * 16) + 24  # two sections, each a tag, chords and four lines
    assert 0 < result["metrics"]["completion_tokens"] <= 2 * max_tokens  # the token budget


def test_a_reply_in_a_thread_revises_the_earlier_lyrics() -> None:
    engine = FakeEngine([SONG])
    kit = make_kit(
        lyrics, engine=engine, settings={"lyrics": {"candidates": 1, "repair_rounds": 0}}
    )
    earlier = Turn(command="lyrics", params={"theme": "a winter night"}, text=CHORUS_OFF)
    reply = Invocation(command="lyrics", params={"theme": "make the chorus sadder"})
    outcome = kit.run(reply, history=[earlier])

    (request,) = outcome.requests
    assert [m.role for m in request.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert request.messages[3].content == "theme: a winter night"
    assert request.messages[4].content == CHORUS_OFF
    assert request.messages[-1].content.startswith("Theme: make the chorus sadder\n")


LINE_ASKED = re.compile(r"Write (?:line (\d+)|the chord line) of \[([^\]]+)\]")


def test_a_song_is_written_line_by_line_and_the_sample_that_fits_kept() -> None:
    sections = {"Verse 1": VERSE_1, "Chorus": CHORUS, "Verse 2": VERSE_2}

    def reply(request: ChatRequest, index: int) -> str:
        asked = LINE_ASKED.search(request.messages[-1].content.splitlines()[-1])
        assert asked is not None
        if index == 0:
            return "[Chorus]"  # a tag is no lyric line: dropped
        lines = sections[asked[2]].splitlines()[1:]
        return lines[int(asked[1]) - 1]

    engine = FakeEngine(default=reply)
    kit = make_kit(lyrics, engine=engine, settings={"lyrics": {"line_samples": 2}})
    outcome = kit.invoke("lyrics", "coming home in winter")

    assert outcome.result.text == SONG
    assert outcome.result.data["song_report"]["passed"] is True
    # Twelve lines (the second chorus is its tag alone), one request each, no repairs.
    assert len(outcome.requests) == 12
    assert all(r.n == 2 and r.sampling.stop == ("\n",) for r in outcome.requests)
    assert len({r.messages[:-1] for r in outcome.requests}) == 1
    asks = [r.messages[-1].content.splitlines()[-1] for r in outcome.requests]
    # Verse line 4 rhymes with line 2 ('light'), chorus lines 2 and 4 with 1 and 3.
    assert asks[3] == "Write line 4 of [Verse 1], ending with the word 'night'."
    assert asks[5] == "Write line 2 of [Chorus], ending with the word 'fall'."
    assert outcome.requests[5].messages[-1].content.startswith("Theme: coming home in winter\n")
    assert (
        f"{VERSE_1}\n\n[Chorus]\n{CHORUS.splitlines()[1]}\n"
        in outcome.requests[5].messages[-1].content
    )


def test_a_line_that_runs_past_its_rhyme_is_cut_there() -> None:
    sections = {"Verse 1": VERSE_1, "Chorus": CHORUS, "Verse 2": VERSE_2}

    def reply(request: ChatRequest, index: int) -> str:
        asked = LINE_ASKED.search(request.messages[-1].content.splitlines()[-1])
        assert asked is not None
        line = sections[asked[2]].splitlines()[int(asked[1])]
        if asked[2] == "Verse 1" and asked[1] == "4":
            return f"{line} and then the morning comes again"  # runs past 'night'
        return line

    engine = FakeEngine(default=reply)
    kit = make_kit(lyrics, engine=engine, settings={"lyrics": {"line_samples": 1}})
    outcome = kit.invoke("lyrics", "coming home in winter")

    assert outcome.result.text == SONG
    assert outcome.result.data["song_report"]["passed"] is True
    assert len(outcome.requests) == 12  # the cut fits: no line asked twice, no repair


def test_a_chord_line_keeps_only_its_chords_in_the_key() -> None:
    sections = {"Verse 1": VERSE_1, "Chorus": CHORUS, "Verse 2": VERSE_2}

    def reply(request: ChatRequest, index: int) -> str:
        asked = request.messages[-1].content.splitlines()[-1]
        if asked.startswith("Write the chord line"):
            # Eb is in neither G major nor G minor; the "Chords:" label may be left off.
            return "Chords: G Eb C, D" if "[Chorus]" in asked else "G Eb C D"
        found = LINE_ASKED.search(asked)
        assert found is not None
        return sections[found[2]].splitlines()[int(found[1])]

    engine = FakeEngine(default=reply)
    kit = make_kit(lyrics, engine=engine, settings={"lyrics": {"line_samples": 1}})
    outcome = kit.invoke("lyrics", "coming home in winter", key="G")

    chord_lines = [line for line in outcome.result.text.splitlines() if "Chords" in line]
    assert chord_lines == ["Chords: G C D"] * 3
    # A chord line is asked for after a worked example of one (a lyric line's otherwise).
    asks = [r for r in outcome.requests if "Write the chord line" in r.messages[-1].content]
    assert len(asks) == 3
    assert all(r.messages[2].content.startswith("Chords: ") for r in asks)
    assert "Write the chord line of [Verse 1]" in asks[0].messages[1].content
    assert outcome.result.data["song_report"]["passed"] is True
    assert len(outcome.requests) == 15  # 12 lines and 3 chord lines, each asked once
