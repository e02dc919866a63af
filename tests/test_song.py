"""musekit.craft.song: lyrics checked against a song form, on well-formed and broken songs.

The fixtures are "Harbor Lights", written for this project to fit its form exactly,
and two verses and the chorus of Stephen Foster's "Oh! Susanna" (1848, public domain).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musekit.craft.song import (
    SECTION_KINDS,
    Chord,
    Key,
    SongForm,
    check_song,
    parse_song,
    parse_structure,
    parse_syllables,
    repeat_choruses,
    section_tags,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "lyrics.md").read_text("utf-8")
SONGS = ROOT / "tests" / "fixtures" / "songs"
HARBOR = (SONGS / "harbor-lights.txt").read_text()
SUSANNA = (SONGS / "oh-susanna.txt").read_text()

HARBOR_FORM_STRUCTURE = "verse-chorus-verse-bridge-chorus"
HARBOR_FORM = SongForm.parse(
    HARBOR_FORM_STRUCTURE,
    rhyme="verse=ABAB; chorus=AABB; bridge=AA",
    syllables=8,
    key="G",
)
SUSANNA_FORM = SongForm.parse(
    "verse-chorus-verse-chorus",
    rhyme="verse=AABB, chorus=AA",
    syllables="verse=13-15; chorus=10 15",
    key="C major",
)


def sections(text: str) -> list[str]:
    return text.strip().split("\n\n")


def test_the_fixtures_pass_their_forms() -> None:
    for text, form in ((HARBOR, HARBOR_FORM), (SUSANNA, SUSANNA_FORM)):
        report = check_song(text, form)
        assert report.problems == []
        assert report.passed
        assert report.score == 1.0
        assert report.summary() == "structure ok, chorus identical, no problems"


def test_the_report_describes_each_section() -> None:
    report = check_song(HARBOR, HARBOR_FORM)
    assert [s.label for s in report.sections] == [
        "Verse 1",
        "Chorus 1",
        "Verse 2",
        "Bridge",
        "Chorus 2",
    ]
    assert report.structure == "verse-chorus-verse-bridge-chorus"
    assert report.rhyme_scheme == "ABAB AABB ABAB AA AABB"
    assert report.key == "G major"
    verse = report.sections[0]
    assert verse.chords == ["G", "Em", "C", "D"]
    assert [line.syllables for line in verse.lines] == [8, 8, 8, 8]
    assert [line.rhyme for line in verse.lines] == ["A", "B", "A", "B"]
    assert verse.lines[0].text == "The morning light is on the bay,"


def test_to_json_has_the_report_fields_and_sections() -> None:
    data = check_song(SUSANNA, SUSANNA_FORM).to_json()
    assert set(data) == {
        "form",
        "passed",
        "score",
        "structure",
        "expected_structure",
        "chorus_identical",
        "key",
        "rhyme_scheme",
        "sections",
        "problems",
    }
    assert data["form"] == "song"
    assert data["chorus_identical"] is True
    chorus = data["sections"][1]
    assert chorus["label"] == "Chorus 1"
    assert chorus["kind"] == "chorus"
    assert chorus["chords"] == ["F", "C", "G7", "C"]
    assert chorus["lines"][0] == {
        "text": "Oh! Susanna, oh don't you cry for me,",
        "syllables": 10,
        "rhyme": "A",
    }
    assert chorus["problems"] == []


def test_a_missing_section_is_named_with_where_it_belongs() -> None:
    parts = sections(HARBOR)
    report = check_song("\n\n".join(parts[:3] + parts[4:]), HARBOR_FORM)
    assert report.problems == [
        "missing [Bridge] after [Verse 2] (structure verse-chorus-verse-bridge-chorus)"
    ]
    assert not report.structure_ok
    assert report.summary() == "structure off, chorus identical, 1 problem"
    assert 0 < report.score < 1


def test_sections_out_of_order() -> None:
    verse1, chorus, verse2, bridge, last = sections(HARBOR)
    report = check_song("\n\n".join([verse1, verse2, chorus, bridge, last]), HARBOR_FORM)
    assert report.problems == [
        "the sections run verse-verse-chorus-bridge-chorus, "
        "expected verse-chorus-verse-bridge-chorus"
    ]


def test_an_extra_or_a_wrong_section() -> None:
    extra = check_song(
        HARBOR + "\n[Outro]\nChords: G\nand so the boats come home to me\n", HARBOR_FORM
    )
    assert extra.problems == [
        "extra [Outro] after [Chorus 2]; the structure is verse-chorus-verse-bridge-chorus"
    ]
    wrong = check_song(HARBOR.replace("[Bridge]", "[Outro]"), HARBOR_FORM)
    assert wrong.problems == [
        "found [Outro] where the structure verse-chorus-verse-bridge-chorus has [Bridge]"
    ]


def test_a_chorus_that_differs_is_reported_line_by_line() -> None:
    head, tail = HARBOR.rsplit("the lantern will burn in the rain", 1)
    report = check_song(head + "the lantern is lit in the rain" + tail, HARBOR_FORM)
    assert report.chorus_identical is False
    assert report.problems == [
        "[Chorus 2] differs from [Chorus 1] in line 3: "
        "'the lantern is lit in the rain' instead of 'the lantern will burn in the rain'"
    ]
    assert report.sections[4].problems == report.problems
    assert report.summary() == "structure ok, choruses differ, 1 problem"


def test_a_chorus_missing_a_line() -> None:
    head, tail = HARBOR.rsplit("until I come homeward again.", 1)
    report = check_song(head.rstrip() + tail, HARBOR_FORM)
    assert report.problems == [
        "[Chorus 2] is missing line 4 of [Chorus 1]: 'until I come homeward again.'",
        "[Chorus 2] has 3 lines, expected 4 (rhyme scheme AABB)",
    ]


def test_an_empty_first_chorus_is_not_what_the_second_repeats() -> None:
    song = "[Chorus]\n\n[Verse]\nla la\n\n[Chorus]\nthe lantern will burn in the rain"
    report = check_song(song)
    assert report.chorus_identical is False
    assert report.problems == [
        "[Chorus 2] has an extra line 1: 'the lantern will burn in the rain'",
        "[Chorus 1] has no lines",
    ]


def test_choruses_may_differ_in_case_punctuation_and_backing_vocals() -> None:
    head, tail = HARBOR.rsplit("with stars and the sea at my side;", 1)
    report = check_song(head + "With stars and the sea at my side (at my side)" + tail, HARBOR_FORM)
    assert report.passed, report.problems


def test_a_swapped_rhyme_names_the_lines_and_words() -> None:
    swapped = HARBOR.replace(
        "I watch them slowly sail away\nand turn my face into the sun.",
        "and turn my face into the sun.\nI watch them slowly sail away",
        1,
    )
    report = check_song(swapped, HARBOR_FORM)
    assert report.problems == [
        "[Verse 1] line 3 ('sun') should rhyme with line 1 ('bay')",
        "[Verse 1] line 4 ('away') should rhyme with line 2 ('one')",
    ]
    assert report.sections[0].rhyme_scheme == "ABBA"
    assert report.sections[0].lines[2].problems == [report.problems[0]]


def test_x_marks_a_line_free_of_rhyme() -> None:
    form = SongForm.parse("verse-chorus-verse-bridge-chorus", rhyme="verse=XAXA; chorus=AABB")
    # Lines 1 and 3 ('bay', 'disappear') need not rhyme under XAXA.
    swapped = HARBOR.replace("I watch them slowly sail away", "I watch them slowly disappear")
    assert check_song(swapped, form).passed
    # Lines 2 and 4 must, and a word repeated is no rhyme.
    repeated = HARBOR.replace("the boats are leaving one by one;", "the boats go out into the sun;")
    assert check_song(repeated, form).problems == [
        "[Verse 1] line 4 ends with 'sun', like line 2; it should end with another word "
        "that rhymes with 'sun'"
    ]
    unrhymed = HARBOR.replace(
        "and turn my face into the sun.", "and turn to face the morning wind."
    )
    assert check_song(unrhymed, form).problems == [
        "[Verse 1] line 4 ('wind') should rhyme with line 2 ('one')"
    ]


def test_a_scheme_repeats_over_a_longer_section() -> None:
    long_verse = "[Verse]\n" + "\n".join(sections(HARBOR)[0].splitlines()[2:]) + "\n"
    long_verse += "\n".join(sections(HARBOR)[2].splitlines()[2:])
    assert check_song(long_verse, SongForm.parse(rhyme="ABAB")).passed
    # ABAB over eight lines is ABAB CDCD: line 5 need not rhyme with line 1.
    report = check_song(long_verse, SongForm.parse(rhyme="ABAB"))
    assert report.sections[0].rhyme_scheme == "ABABCDCD"


def test_syllables_off_target() -> None:
    longer = HARBOR.replace(
        "the boats are leaving one by one;", "the little boats are leaving one by one;"
    )
    report = check_song(longer, HARBOR_FORM)
    assert report.problems == ["[Verse 1] line 2 has 10 syllables, expected 8"]
    assert report.sections[0].lines[1].syllables == 10


def test_a_syllable_template_per_line() -> None:
    form = SongForm.parse("verse-chorus-verse-chorus", syllables="verse=13-15; chorus=15 10")
    report = check_song(SUSANNA, form)
    assert report.problems == [
        "[Chorus 1] line 1 has 10 syllables, expected 15",
        "[Chorus 1] line 2 has 15 syllables, expected 10",
        "[Chorus 2] line 1 has 10 syllables, expected 15",
        "[Chorus 2] line 2 has 15 syllables, expected 10",
    ]


def test_a_template_sets_the_line_count() -> None:
    form = SongForm.parse(syllables="8 8 8")
    report = check_song(HARBOR, form)
    assert "[Verse 1] has 4 lines, expected 3 (syllables 8 8 8)" in report.problems


def test_lines_per_section() -> None:
    form = SongForm.parse(HARBOR_FORM_STRUCTURE, lines="4; bridge=2")
    assert check_song(HARBOR, form).passed
    extra = HARBOR.replace(
        "and turn my face into the sun.", "and turn my face into the sun,\nand wave"
    )
    assert check_song(extra, form).problems == ["[Verse 1] has 5 lines, expected 4"]
    with pytest.raises(ValueError, match=r"^6 lines do not fit the verse's rhyme scheme ABAB: "):
        SongForm.parse("verse", rhyme="ABAB", lines=6)
    with pytest.raises(ValueError, match=r"^6 lines do not fit the verse's syllables 8 8 5-6 5-6"):
        SongForm.parse("verse", syllables="8 8 5-6 5-6", lines=6)


def test_a_looping_draft_scores_below_a_whole_song_with_a_line_off() -> None:
    form = SongForm.parse(
        HARBOR_FORM_STRUCTURE, rhyme="verse=XAXA; chorus=AABB", lines="4; bridge=2"
    )
    looping = "[Verse 1]\n" + "the stars that are forever,\n" * 40
    head, tail = HARBOR.rsplit("the lantern will burn in the rain", 1)
    one_off = head + "the lamp is burning in the rain" + tail
    assert check_song(looping, form).score < 0.5 < check_song(one_off, form).score


def test_backing_vocals_are_not_counted() -> None:
    backed = HARBOR.replace(
        "the boats are leaving one by one;", "the boats are leaving one by one; (one by one)"
    )
    report = check_song(backed, HARBOR_FORM)
    assert report.passed
    assert report.sections[0].lines[1].text == "the boats are leaving one by one; (one by one)"
    only_backing = HARBOR.replace("[Bridge]\n", "[Bridge]\n(ooh, ooh)\n")
    assert check_song(only_backing, HARBOR_FORM).passed


def test_chords_outside_the_key() -> None:
    report = check_song(HARBOR.replace("Chords: Em C Am D7", "Chords: Em C Fm D7 Bb"), HARBOR_FORM)
    assert report.problems == [
        "[Bridge] chord Fm is not in G major",
        "[Bridge] chord Bb is not in G major (it is borrowed from G minor)",
    ]
    lenient = SongForm.parse(HARBOR_FORM_STRUCTURE, key="G", borrowed=True)
    assert check_song(HARBOR.replace("Chords: Em C Am D7", "Chords: Em C Cm Bb"), lenient).passed


def test_unreadable_and_missing_chords() -> None:
    no_chords = HARBOR.replace("Chords: Em C Am D7\n", "")
    assert check_song(no_chords, HARBOR_FORM).problems == [
        "[Bridge] has no chord line ('Chords: ...' in G major)"
    ]
    unreadable = HARBOR.replace("Chords: Em C Am D7", "Chords: Em | C - H7 | D7")
    assert check_song(unreadable, HARBOR_FORM).problems == [
        "[Bridge] has 'H7', which is not a chord symbol such as C, Am or G7"
    ]


def test_a_later_section_may_repeat_the_chords_of_its_kind() -> None:
    first_chorus_chords = HARBOR.index("Chords: C G D G\n")
    second_left_out = HARBOR[: first_chorus_chords + 1] + HARBOR[first_chorus_chords + 1 :].replace(
        "Chords: C G D G\n", ""
    )
    assert second_left_out.count("Chords: C G D G") == 1
    assert check_song(second_left_out, HARBOR_FORM).passed
    first_left_out = HARBOR.replace("Chords: C G D G\n", "", 1)
    assert check_song(first_left_out, HARBOR_FORM).problems == [
        "[Chorus 1] has no chord line ('Chords: ...' in G major)"
    ]


def test_without_a_key_chords_are_not_checked() -> None:
    form = SongForm.parse(HARBOR_FORM_STRUCTURE)
    assert check_song(HARBOR.replace("Chords: Em C Am D7", "Chords: F# Bb"), form).passed


def test_lines_before_the_first_tag_and_unknown_tags() -> None:
    report = check_song("hello there\n[Hook]\nla la la\n" + HARBOR, HARBOR_FORM)
    assert report.problems[:3] == [
        "the first line comes before any section tag; start with a tag such as [Verse 1]",
        "[Hook] is not a section tag; use [Intro], [Verse], [Pre-Chorus], [Chorus], "
        "[Bridge] or [Outro]",
        "extra [Hook] at the start; the structure is verse-chorus-verse-bridge-chorus",
    ]
    untagged = check_song("a line\nanother line", SongForm.parse("verse"))
    assert untagged.problems == [
        "the lyrics have no section tags: put a tag such as [Verse 1] or [Chorus] on its own "
        "line before each section"
    ]
    assert untagged.score == 0.0


def test_empty_lyrics_fail_without_an_error() -> None:
    report = check_song(" \n", HARBOR_FORM)
    assert not report.passed
    assert report.problems == ["the lyrics are empty"]
    assert report.score == 0.0


def test_an_empty_sung_section_but_not_an_instrumental_intro() -> None:
    song = "[Intro]\nChords: G D\n\n" + HARBOR.replace(
        "[Bridge]\nChords: Em C Am D7\nAnd if the night is long and cold,\n"
        "I'll keep the words your letters told.\n",
        "[Bridge]\nChords: Em C Am D7\n",
    )
    form = SongForm.parse("intro-verse-chorus-verse-bridge-chorus", key="G")
    assert check_song(song, form).problems == ["[Bridge] has no lines"]


def test_an_empty_chorus_repeats_the_first() -> None:
    head = HARBOR[: HARBOR.rindex("[Chorus]")]
    first = (
        "Oh, carry me home on the tide,\n"
        "with stars and the sea at my side;\n"
        "the lantern will burn in the rain\n"
        "until I come homeward again.\n"
    )
    assert repeat_choruses(head + "[Chorus]\n") == head + "[Chorus]\n" + first
    chords = "[Chorus]\nChords: C G D G\n"
    assert repeat_choruses(head + chords + "\n") == head + chords + first + "\n"
    assert check_song(repeat_choruses(head + "[Chorus]"), HARBOR_FORM).passed
    # A chorus with words of its own, and any other section, is left as written.
    assert repeat_choruses(HARBOR) == HARBOR
    assert repeat_choruses("[Verse]\n\n[Chorus]\n\n[Verse]\n") == "[Verse]\n\n[Chorus]\n\n[Verse]\n"


def test_without_a_form_only_tags_and_choruses_are_checked() -> None:
    assert check_song(HARBOR).passed
    assert check_song(SUSANNA).expected_structure == ""


def test_tags_are_read_loosely() -> None:
    song = parse_song(
        "[verse 1: Ana]\nsome words here\n[PRE CHORUS]\nmore words\n"
        "[Chorus x2]\nla la\n[Chorus]\nla la"
    )
    assert [s.kind for s in song.sections] == ["verse", "pre-chorus", None, "chorus"]
    assert [s.label for s in song.sections] == ["Verse 1", "Pre-Chorus", "Chorus x2", "Chorus"]


def test_structures() -> None:
    assert parse_structure("verse-chorus-verse-chorus-bridge-chorus") == (
        "verse",
        "chorus",
        "verse",
        "chorus",
        "bridge",
        "chorus",
    )
    assert parse_structure("Intro, Verse, Pre-Chorus, Chorus, Outro") == (
        "intro",
        "verse",
        "pre-chorus",
        "chorus",
        "outro",
    )
    assert parse_structure(["verse", "prechorus"]) == ("verse", "pre-chorus")
    with pytest.raises(ValueError, match=r"^section 2 of the structure is not one of intro, verse"):
        parse_structure("verse-hook-chorus")
    with pytest.raises(ValueError, match="names no sections"):
        parse_structure(" - ")
    assert section_tags(parse_structure("verse-chorus-verse-chorus-bridge-chorus")) == [
        "Verse 1",
        "Chorus",
        "Verse 2",
        "Chorus",
        "Bridge",
        "Chorus",
    ]
    assert section_tags(("intro", "verse", "chorus")) == ["Intro", "Verse", "Chorus"]


def test_rules_per_section() -> None:
    form = SongForm.parse("verse-chorus-bridge", rhyme="ABAB; chorus=aabb", syllables={"verse": 8})
    assert dict(form.rhyme) == {"verse": "ABAB", "chorus": "AABB", "bridge": "ABAB"}
    assert dict(form.syllables) == {"verse": ((8, 8),)}
    assert parse_syllables("8, 8, 5 - 6") == ((8, 8), (8, 8), (5, 6))
    assert parse_syllables(7) == ((7, 7),)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"rhyme": "hook=AABB"}, "the rhyme names a section that is not one of intro, verse"),
        ({"rhyme": "bridge=AABB"}, "the rhyme names bridge, which the structure does not have"),
        ({"rhyme": "A"}, "a rhyme scheme is 2 to 16 letters"),
        ({"rhyme": "AB1B"}, "a rhyme scheme is 2 to 16 letters"),
        ({"syllables": "eight"}, "syllables are a count"),
        ({"syllables": "9-6"}, "a syllable range goes from low to high"),
        ({"syllables": "0"}, "a syllable range goes from low to high"),
        ({"key": "H minor"}, "a key is a note A to G"),
        ({"lines": "0"}, "lines per section are a whole number from 1 to 32"),
        ({"lines": "verse=four"}, "lines per section are a whole number from 1 to 32"),
    ],
)
def test_bad_rules_raise_clear_errors(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        SongForm.parse("verse-chorus", **arguments)


def chord(symbol: str) -> Chord:
    parsed = Chord.parse(symbol)
    assert parsed is not None, symbol
    return parsed


def test_keys_and_enharmonics() -> None:
    assert str(Key.parse("f# minor")) == "F# minor"
    assert str(Key.parse("E♭m")) == "Eb minor"
    assert str(Key.parse("CM")) == "C major"
    assert Key.parse("Db").scale == Key.parse("C#").scale
    assert Key.parse("C").triads() == ("C", "Dm", "Em", "F", "G", "Am", "Bdim")
    assert Key.parse("Am").triads() == ("Am", "Bdim", "C", "Dm", "Em", "E", "F", "G")
    assert Key.parse("Bb").triads()[3] == "Eb"
    f_major = Key.parse("F")
    for symbol in ("Bb", "A#", "Gm7", "C7", "Edim", "F/A", "Dm7", "Csus4"):
        assert chord(symbol).fits(f_major), symbol
    for symbol in ("B", "E", "Bbm", "C/B"):
        assert not chord(symbol).fits(f_major), symbol


def test_minor_keys_take_the_major_five() -> None:
    a_minor = Key.parse("A minor")
    for symbol in ("E", "E7", "G#dim7", "Am", "Dm", "F", "G", "Bm7b5"):
        assert chord(symbol).fits(a_minor), symbol
    assert not chord("D").fits(a_minor)
    assert chord("D").fits(a_minor.parallel)


def test_unreadable_chords() -> None:
    for symbol in ("H", "Cmaj13#11", "c", "C-G", "Am/X"):
        assert Chord.parse(symbol) is None, symbol


def doc_block(kind: str, name: str) -> str:
    found = re.search(rf"<!-- {kind}: {re.escape(name)} -->\s*```\w*\n(.*?)\n```", DOC, re.DOTALL)
    assert found, f"docs/lyrics.md has no block marked <!-- {kind}: {name} -->"
    return found[1] + "\n"


def test_the_docs_example_prints_what_the_doc_shows(tmp_path: Path) -> None:
    script = tmp_path / "lyrics_example.py"
    script.write_text(doc_block("file", "lyrics_example.py"), "utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == doc_block("output", "lyrics_example.py")


def test_the_documented_json_is_what_check_song_returns() -> None:
    form = SongForm.parse("verse-chorus", rhyme="AA", syllables="verse=8; chorus=4", key="C")
    assert (
        'SongForm.parse("verse-chorus", rhyme="AA", syllables="verse=8; chorus=4", key="C")' in DOC
    )
    report = check_song(doc_block("file", "small_song.txt"), form)
    assert json.loads(doc_block("output", "small_song.json")) == report.to_json()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(SECTION_KINDS), min_size=1, max_size=8))
def test_any_structure_reads_back_and_tagged_lyrics_follow_it(kinds: list[str]) -> None:
    structure = parse_structure("-".join(kinds))
    assert list(structure) == kinds
    song = "\n\n".join(
        f"[{tag}]\nthe boats are leaving one by one" for tag in section_tags(structure)
    )
    report = check_song(song, SongForm.parse(structure))
    assert report.structure_ok, report.problems
    assert report.structure == "-".join(kinds)


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.sampled_from("[]()ab Chords:Verse1-\n"), max_size=120))
def test_any_text_gives_a_report_and_never_an_error(text: str) -> None:
    report = check_song(text, HARBOR_FORM)
    assert report.passed == (report.problems == [])
    assert 0.0 <= report.score <= 1.0
