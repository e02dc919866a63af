"""The built-in ``melody`` command: ABC melodies for a lyric, checked, repaired, mended, exported.

Drafts are scripted on the fake engine and read by the real music21, through the real
host and runner; the MIDI attachment is read back with music21; the CLI runs through
click; one test runs the installed console script on the real model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import Invoke, Script
from music21 import midi

from musekit.context import Turn
from musekit.craft.chords import Key
from musekit.engine.types import ChatRequest
from musekit.errors import EngineUnavailable, InvalidParameters, MusekitError, UsageError
from musekit.testing import FakeEngine, assert_conforms, make_kit
from musekit_plugins import melody
from musekit_plugins.melody import (
    EXAMPLE_BROKEN,
    EXAMPLE_NOTES,
    MAX_SYLLABLES,
    REPAIR_SYSTEM_PROMPT,
    SYSTEM_PROMPT,
    example_frame,
)
from musekit_plugins.melody_abc import Header, salvage, tune_body
from musekit_plugins.melody_check import MISSING_MUSIC21, Frame, read_tune

LYRIC = "Walking home alone through the rain"  # eight syllables
D_MAJOR = Frame(Header(LYRIC, "4/4", 96, Key.parse("D")), LYRIC)

GOOD = "D E F G | A2 F E | D4 |]"  # eight notes of D major (F is F#), D4 to A4
OUT_OF_KEY = "D E =F G | A2 F E | D4 |]"  # F natural is not in D major
TOO_HIGH = "D E F G | a2 F E | D4 |]"  # a is A5
TOO_FEW = "D E F G | A4 |]"
CHORDS = "[DFA] E F G | A2 F E | D4 |]"
NOT_ABC = "Here is a nice melody for you"


def check(notes: str, frame: Frame = D_MAJOR) -> list[str]:
    return frame.check(frame.clean(notes)).problems


def passed(report: object) -> object:
    """The pass flag of a report in ``Result.data``."""
    assert isinstance(report, dict)
    return report["passed"]


def test_the_installed_melody_command_passes_the_conformance_check() -> None:
    kit = make_kit()  # every installed plugin, found by entry point
    assert "melody" in kit.commands
    assert kit.host.plugins["melody"].status == "loaded"
    assert_conforms(kit, "melody", reply=GOOD)


def test_the_worked_example_passes_and_its_broken_copy_fails() -> None:
    example = example_frame()
    assert example.check(example.clean(EXAMPLE_NOTES)).passed
    assert check(EXAMPLE_BROKEN, example) == [
        "1 of 6 notes is not in G major (C#5): use only the notes of the key",
        "the tune has 6 notes for 8 syllables: write one note per syllable",
    ]


def test_a_tune_in_key_in_range_with_a_note_per_syllable_passes() -> None:
    text = D_MAJOR.clean(GOOD)
    report = D_MAJOR.check(text)
    assert report.passed
    assert report.score == 1.0
    assert (report.notes, report.syllables, report.lowest, report.highest) == (8, 8, "D4", "A4")
    assert report.summary() == "8 notes for 8 syllables, in D major, D4 to A4"
    # The header comes from the request and the lyric sits under the notes.
    assert text.splitlines()[:6] == ["X:1", f"T:{LYRIC}", "M:4/4", "L:1/4", "Q:1/4=96", "K:D"]
    assert text.splitlines()[-1] == "w: walking _ home alone _ through the rain"


@pytest.mark.parametrize(
    ("notes", "problems"),
    [
        (OUT_OF_KEY, ["1 of 8 notes is not in D major (F4): use only the notes of the key"]),
        (
            TOO_HIGH,
            ["1 note outside the singable range C4 to E5 (lowest D4, highest A5)"],
        ),
        (TOO_FEW, ["the tune has 5 notes for 8 syllables: write one note per syllable"]),
        (CHORDS, ["'[DFA]' is not ABC this command reads (notes, rests and bar lines only)"]),
        (NOT_ABC, ["'Here' is not ABC this command reads (notes, rests and bar lines only)"]),
        ("", ["the tune has no notes"]),
    ],
)
def test_each_check_fails_a_bad_tune_with_a_specific_problem(
    notes: str, problems: list[str]
) -> None:
    assert check(notes) == problems


def test_a_minor_key_allows_its_raised_seventh() -> None:
    a_minor = Frame(Header("Hold on", "3/4", 90, Key.parse("A minor")), "Hold on to the night")
    assert check("A B c | ^G2 A |]", a_minor) == []  # G# leads to A
    assert check("A B ^c | G2 A |]", a_minor)[0].startswith("1 of 5 notes is not in A minor")


def test_model_chatter_headers_and_chord_symbols_are_cleaned_off() -> None:
    answer = f'Sure! Here is the melody:\n```\nX:1\nK:C\n"D"{GOOD} % the end\n```\nEnjoy!'
    assert tune_body(D_MAJOR.clean(answer)) == GOOD
    assert D_MAJOR.clean(D_MAJOR.clean(answer)) == D_MAJOR.clean(answer)


def test_mending_moves_notes_into_key_and_range_and_matches_the_syllables() -> None:
    text, changes = D_MAJOR.mend(D_MAJOR.clean("D E =F G | a2 F E | D4 E F A |]"))
    assert changes == [
        "1 note moved into D major",
        "1 note moved into the singable range",
        "3 notes removed from the end to match the syllables",
    ]
    assert tune_body(text) == "D E E G | A2 F E | D4 |]"  # F natural -> E, A5 -> A4
    assert D_MAJOR.check(text).passed

    text, changes = D_MAJOR.mend(D_MAJOR.clean(TOO_FEW))
    assert changes == ["3 notes added at the end to give every syllable a note"]
    assert tune_body(text) == "D E F G | A4 B c d |]"  # stepping up to the nearest tonic, D5
    assert D_MAJOR.check(text).passed


def test_mending_drops_what_is_not_abc_and_keeps_the_notes() -> None:
    assert salvage("D E F# G | [A2 F E | D4 L") == ("D E F G | A2 F E | D4", ["#", "[", "L"])
    text, changes = D_MAJOR.mend(D_MAJOR.clean("D E F G | [A2 F E | D4 |]"))
    assert changes == ["1 mark that is not ABC notes dropped ('[')"]
    assert D_MAJOR.check(text).passed
    no_notes = D_MAJOR.clean("hmm, not now!")
    assert D_MAJOR.mend(no_notes) == (no_notes, [])


def test_mended_notes_are_spelled_against_accidentals_earlier_in_the_bar() -> None:
    # In A minor, ^G raises every later G of its bar; the natural G after it must be
    # written =G when the tune is rewritten (here, to add two notes).
    a_minor = Frame(Header("Hold on", "4/4", 96, Key.parse("A minor")), "Hold on to the night")
    text, changes = a_minor.mend(a_minor.clean("^G A =G |]"))
    assert changes == ["2 notes added at the end to give every syllable a note"]
    assert tune_body(text) == "^G A =G A A |]"
    reading = read_tune(text)
    assert not isinstance(reading, str)
    assert reading.pitches == (68, 69, 67, 69, 69)
    assert a_minor.check(text).passed


def midi_events(data: bytes) -> list[midi.MidiEvent]:
    song = midi.MidiFile()
    song.readstr(data)
    return [event for track in song.tracks for event in track.events]


def midi_pitches(data: bytes) -> list[int]:
    """The note-on pitches of a MIDI file, in order."""
    return [
        int(event.pitch or 0)
        for event in midi_events(data)
        if event.type == midi.ChannelVoiceMessages.NOTE_ON and event.velocity
    ]


def midi_tempo(data: bytes) -> float:
    """The beats a minute of a MIDI file's first tempo event."""
    event = next(e for e in midi_events(data) if e.type == midi.MetaEvents.SET_TEMPO)
    assert isinstance(event.data, bytes)
    return 60_000_000 / int.from_bytes(event.data, "big")


def test_failures_are_revised_with_problems_quoted_then_mended_and_exported() -> None:
    # Four drafts that all fail; the two best are sent for revision; the first revision
    # is still out of key, so code mends it.
    engine = FakeEngine([NOT_ABC, OUT_OF_KEY, TOO_FEW, CHORDS])
    engine.script("D E =F G | A2 F E | D4 |]", NOT_ABC)
    outcome = make_kit(melody, engine=engine).invoke("melody", LYRIC, key="D")

    drafts, *repairs = outcome.requests
    assert drafts.n == 4
    assert drafts.messages[0].content == SYSTEM_PROMPT
    assert drafts.messages[-1].content == (
        f"Lyric: {LYRIC}\nSyllables: 8\nKey: D major\nMetre: 4/4"
    )
    assert len(repairs) == 2
    assert [r.messages[0].content for r in repairs] == [REPAIR_SYSTEM_PROMPT] * 2
    first = repairs[0].messages[-1].content
    assert f"Draft:\n{OUT_OF_KEY}\n" in first
    assert "- 1 of 8 notes is not in D major (F4): use only the notes of the key" in first

    result = outcome.result
    assert tune_body(result.text) == "D E E G | A2 F E | D4 |]"
    assert result.sections[0].style == "code"
    fields = dict((f.name, f.value) for f in result.fields)
    assert fields["setting"] == "D major, 4/4, 96 bpm"
    assert fields["melody"] == "8 notes for 8 syllables, in D major, D4 to A4"
    assert fields["mended"] == "1 note moved into D major"
    assert result.data["mended"] == ["1 note moved into D major"]
    assert result.data["melody_report"] == D_MAJOR.check(result.text).to_json()
    assert result.data["repair_round"] == 1
    assert result.warnings == []

    abc, mid = result.attachments
    assert (abc.filename, abc.media_type, abc.data.decode()) == (
        "melody.abc",
        "text/vnd.abc",
        result.text,
    )
    assert (mid.filename, mid.media_type) == ("melody.mid", "audio/midi")
    reading = read_tune(result.text)
    assert not isinstance(reading, str)
    assert midi_pitches(mid.data) == list(reading.pitches)
    # Every other draft is a variation, with its own report.
    for variation in result.variations:
        text = variation.sections[0].body
        assert variation.data["melody_report"] == D_MAJOR.check(text).to_json()


def test_when_the_model_fails_during_repairs_code_still_mends_the_drafts() -> None:
    engine = FakeEngine()
    drafts = [NOT_ABC, OUT_OF_KEY, TOO_FEW, CHORDS]

    def draft(request: ChatRequest, index: int) -> str:
        if index == 0:  # the repair requests that follow the drafts fail
            engine.fail_next(EngineUnavailable("The model server could not be reached."), 2)
        return drafts[index]

    engine.default = draft
    result = make_kit(melody, engine=engine).invoke("melody", LYRIC, key="D").result
    assert len(engine.requests) == 3  # the drafts, then two repairs that failed
    assert passed(result.data["melody_report"]) is True
    # OUT_OF_KEY and TOO_FEW both pass once mended; TOO_FEW's has more distinct pitches.
    assert tune_body(result.text) == "D E F G | A4 B c d |]"
    assert result.data["mended"] == ["3 notes added at the end to give every syllable a note"]
    assert tune_body(result.variations[0].sections[0].body) == "D E E G | A2 F E | D4 |]"
    assert result.warnings == []


def test_single_shot_returns_the_draft_as_written_with_its_problems() -> None:
    engine = FakeEngine([OUT_OF_KEY])
    settings = {"melody": {"candidates": 1, "repair_rounds": 0}}
    kit = make_kit(melody, engine=engine, settings=settings)
    result = kit.invoke("melody", LYRIC, key="D").result
    assert len(engine.requests) == 1
    assert tune_body(result.text) == OUT_OF_KEY
    assert passed(result.data["melody_report"]) is False
    assert result.data["mended"] == []
    assert result.warnings == [
        "No draft fully follows the key, the singable range and the syllables, so the "
        "closest is shown: 1 of 8 notes is not in D major (F4): use only the notes of the key."
    ]
    assert [a.filename for a in result.attachments] == ["melody.abc", "melody.mid"]


def test_a_tune_that_never_reads_comes_back_with_its_problem_and_no_files() -> None:
    engine = FakeEngine(default="ok")
    result = make_kit(melody, engine=engine).invoke("melody", LYRIC).result
    assert passed(result.data["melody_report"]) is False
    assert result.attachments == []
    assert "'ok' is not ABC this command reads" in result.warnings[0]


SONG = """[Verse 1]
Chords: G Em C D
The kettle sings upon the stove,
the window holds a winter light;

[Chorus]
So leave a lamp on in the hall"""


def test_in_a_lyrics_thread_the_songs_first_section_is_set() -> None:
    engine = FakeEngine(default=GOOD)
    kit = make_kit(melody, engine=engine)
    history = [Turn(command="lyrics", params={"theme": "winter"}, text=SONG)]
    result = kit.run(kit.invocation("melody", key="G"), history=history).result
    assert (
        engine.requests[0]
        .messages[-1]
        .content.startswith(
            "Lyric: The kettle sings upon the stove, / the window holds a winter light;\n"
            "Syllables: 16\n"
        )
    )
    assert result.warnings[0] == "Set [Verse 1] of the song in this conversation."
    assert "w: the kettle _ sings upon _ the stove the window _ holds a winter _ light" in (
        result.text
    )


def test_a_long_song_is_set_as_far_as_the_syllables_allow_and_says_so() -> None:
    line = "the river runs beneath the town"  # eight syllables
    song = "[Verse]\n" + "\n".join([line] * 8)
    kit = make_kit(melody, engine=FakeEngine(default=GOOD))
    history = [Turn(command="lyrics", params={}, text=song)]
    result = kit.run(kit.invocation("melody"), history=history).result
    kept = MAX_SYLLABLES // 8
    assert result.warnings[0] == (
        f"Set [Verse] of the song in this conversation ({kept} lines; {8 - kept} more would "
        f"pass {MAX_SYLLABLES} syllables)."
    )


def test_without_a_lyric_or_a_lyrics_thread_the_user_is_told_what_to_give() -> None:
    engine = FakeEngine()
    kit = make_kit(melody, engine=engine)
    history = [Turn(command="poem", params={"topic": "rain"}, text="rain on the roof")]
    with pytest.raises(UsageError) as caught:
        kit.run(kit.invocation("melody"), history=history)
    assert caught.value.message.startswith("Give a lyric to set")
    assert engine.requests == []


@pytest.mark.parametrize(
    ("params", "field", "problem"),
    [
        ({"key": "H"}, "key", "a key is a note A to G"),
        ({"tempo": 300}, "tempo", "Input should be less than or equal to 200"),
        ({"metre": "5/4"}, "metre", "Input should be"),
        ({"lyric": "la " * 60}, "lyric", "the lyric has 60 syllables; a melody sets at most"),
        ({"lyric": "!!!"}, "lyric", "the lyric has no words to sing"),
    ],
)
def test_bad_parameters_are_refused_clearly_before_the_engine(
    params: dict[str, object], field: str, problem: str
) -> None:
    engine = FakeEngine()
    with pytest.raises(InvalidParameters) as caught:
        make_kit(melody, engine=engine).invoke("melody", **{"lyric": LYRIC, **params})
    assert [p.field for p in caught.value.problems] == [field]
    assert caught.value.problems[0].problem.startswith(problem)
    assert engine.requests == []


def test_without_music21_the_user_is_told_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "music21", None)  # import music21 -> ImportError
    engine = FakeEngine(default=GOOD)
    with pytest.raises(MusekitError) as caught:
        make_kit(melody, engine=engine).invoke("melody", LYRIC)
    assert caught.value.message == MISSING_MUSIC21
    assert "pip install 'musekit[music]'" in MISSING_MUSIC21
    assert engine.requests == []


def test_the_cli_writes_the_abc_and_midi_files(
    cli: Invoke, cli_engine: FakeEngine, tmp_path: Path
) -> None:
    cli_engine.default = GOOD  # its last note, D4, fills a bar and a beat of the next in 3/4
    out = tmp_path / "out"
    shown = cli(
        "run",
        "melody",
        *LYRIC.split(),
        "--key",
        "D",
        "--metre",
        "3/4",
        "--tempo",
        "120",
        "--output-dir",
        str(out),
    )
    assert shown.exit_code == 0, shown.output
    assert "D E F G | A2 F E | D4 |]" in shown.output
    assert "D major, 3/4, 120 bpm" in shown.output
    abc = (out / "melody.abc").read_text()
    assert "M:3/4" in abc
    midi_file = (out / "melody.mid").read_bytes()
    assert midi_pitches(midi_file) == [62, 64, 66, 67, 69, 66, 64, 62]
    assert midi_tempo(midi_file) == 120


@pytest.mark.model
def test_on_the_embedded_model_the_report_matches_the_tune(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One thread, two drafts and one repair round keep this quick; whether the tiny model
    # writes a good tune is not the point: the report must tell the truth about the text.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__MELODY__CANDIDATES", "2")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__MELODY__REPAIR_ROUNDS", "1")
    done = musekit_script(
        "run",
        "melody",
        "Hold on to the night",
        "--key",
        "A minor",
        "--seed",
        "2",
        "--json",
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "melody"
    text = result["sections"][0]["body"]
    frame = Frame(
        Header("Hold on to the night", "4/4", 96, Key.parse("A minor")), "Hold on to the night"
    )
    assert result["data"]["melody_report"] == frame.check(text).to_json()
    for variation in result["variations"]:
        body = variation["sections"][0]["body"]
        assert variation["data"]["melody_report"] == frame.check(body).to_json()
    if frame.readable(text):
        assert [a["filename"] for a in result["attachments"]] == ["melody.abc", "melody.mid"]
