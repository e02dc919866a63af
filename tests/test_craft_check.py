"""check(text, form): public-domain poems pass their forms; broken copies say what broke."""

from __future__ import annotations

from pathlib import Path

import pytest

from musekit.craft import FORMS, Form, FormReport, check, get_form, rhyme_scheme

POEMS = Path(__file__).parent / "fixtures" / "poems"

GOLDEN = [
    ("shakespeare-sonnet-18.txt", "shakespearean-sonnet"),
    ("shakespeare-sonnet-130.txt", "shakespearean-sonnet"),
    ("shakespeare-sonnet-116.txt", "shakespearean-sonnet"),
    ("milton-when-i-consider.txt", "petrarchan-sonnet"),
    ("wordsworth-the-world-is-too-much-with-us.txt", "petrarchan-sonnet"),
    ("robinson-the-house-on-the-hill.txt", "villanelle"),
    ("lear-old-man-with-a-beard.txt", "limerick"),
    ("lear-young-lady-whose-chin.txt", "limerick"),
    ("haiku-cold-rain.txt", "haiku"),
    ("tanka-harbor-fog.txt", "tanka"),
    ("pope-essay-on-criticism.txt", "couplets"),
    ("whitman-a-noiseless-patient-spider.txt", "free-verse"),
]


def poem(name: str) -> str:
    return (POEMS / name).read_text("utf-8")


def lines_of(name: str) -> list[str]:
    return poem(name).splitlines()


def replaced(name: str, number: int, line: str) -> str:
    lines = lines_of(name)
    lines[number - 1] = line
    return "\n".join(lines)


def test_every_form_has_a_golden_poem() -> None:
    assert {form for _, form in GOLDEN} == set(FORMS)


@pytest.mark.parametrize(("name", "form"), GOLDEN)
def test_real_poems_pass_their_form(name: str, form: str) -> None:
    report = check(poem(name), form)
    assert report.problems == []
    assert report.passed
    assert report.score > 0.9
    assert [line.text for line in report.lines] == [
        line.strip() for line in lines_of(name) if line.strip()
    ]


def test_a_haiku_a_syllable_long_names_the_line_and_both_counts() -> None:
    text = replaced("haiku-cold-rain.txt", 2, "the old kettle starts its soft song")
    report = check(text, "haiku")
    assert report.problems == ["line 2 has 8 syllables, expected 7"]
    assert report.lines[1].problems == ["line 2 has 8 syllables, expected 7"]
    assert [line.syllables for line in report.lines] == [5, 8, 5]
    assert not report.passed
    assert 0.5 < report.score < check(poem("haiku-cold-rain.txt"), "haiku").score
    assert report.summary() == "haiku: 1 problem"


def test_a_sonnet_line_too_long_even_with_a_feminine_ending() -> None:
    text = replaced(
        "shakespeare-sonnet-18.txt", 3, "Rough winds do shake the darling little buds of May,"
    )
    report = check(text, "sonnet")
    assert "line 3 has 12 syllables, expected 10 or 11" in report.problems


def test_a_swapped_rhyme_word_is_named_with_the_line_it_should_rhyme_with() -> None:
    text = replaced(
        "shakespeare-sonnet-18.txt", 3, "Rough winds do shake the darling buds of June,"
    )
    report = check(text, "shakespearean-sonnet")
    assert report.problems == ["line 3 ('june') should rhyme with line 1 ('day')"]
    assert report.rhyme_scheme == "ABCBDEDEFGFGHH"


def test_swapped_lines_break_a_limerick_rhyme_and_its_syllables() -> None:
    lines = lines_of("lear-old-man-with-a-beard.txt")
    lines[1], lines[2] = lines[2], lines[1]
    report = check("\n".join(lines), "limerick")
    assert report.problems == [
        "line 2 has 5 syllables, expected 7 to 11",
        "line 2 ('hen') should rhyme with line 1 ('beard')",
        "line 4 ('wren') should rhyme with line 3 ('feared')",
        # Line 5 now ends like line 1 only: 'beard' repeated, which is no rhyme.
        "line 5 ('beard') should rhyme with line 2 ('hen')",
    ]


def test_a_word_repeated_at_the_end_of_two_lines_is_not_a_rhyme() -> None:
    text = "\n".join(
        [
            "The rain comes down upon the town tonight",
            "and every roof is shining in the rain;",
            "the lamps along the street are burning bright,",
            "and water runs along the window rain.",
        ]
    )
    form = Form(name="quatrain", description="ABAB", lines=4, rhyme=("ABAB",))
    report = check(text, form)
    assert report.problems == [
        "line 4 ends with 'rain', like line 2; it should end with another word that "
        "rhymes with 'rain'"
    ]
    assert report.lines[1].rhyme == report.lines[3].rhyme == ""
    assert rhyme_scheme(text) == "ABAC"


def test_a_missing_line_is_reported() -> None:
    report = check("\n".join(lines_of("tanka-harbor-fog.txt")[:4]), "tanka")
    assert report.problems == ["the poem has 4 lines, expected 5"]
    assert report.score < 1.0


def test_missing_lines_score_zero_on_what_they_would_be_checked_for() -> None:
    sonnet = lines_of("shakespeare-sonnet-18.txt")
    whole = check("\n".join(sonnet), "shakespearean-sonnet").score
    half = check("\n".join(sonnet[:7]), "shakespearean-sonnet").score
    quarter = check("\n".join(sonnet[:4]), "shakespearean-sonnet").score
    # Seven good lines of fourteen lack half the syllables, meter and rhymes: the score
    # falls with them, not just by the line-count share.
    assert whole > half > quarter
    assert half <= 0.55
    assert quarter <= 0.35


def test_a_line_that_is_not_iambic_is_flagged_with_its_stresses() -> None:
    text = replaced("shakespeare-sonnet-130.txt", 5, "Lovely roses, softly glowing red and white")
    report = check(text, "shakespearean-sonnet")
    assert len(report.problems) == 1
    assert report.problems[0].startswith("line 5 is not iambic pentameter: its stresses fall ")
    assert report.problems[0].endswith("expected 0101010101")


def test_a_broken_villanelle_refrain_quotes_the_line_to_repeat() -> None:
    text = poem("robinson-the-house-on-the-hill.txt").replace(
        "They are all gone away.", "The rooms are dark and gray."
    )
    report = check(text, "villanelle")
    assert report.problems == ["line 6 should repeat line 1: 'They are all gone away,'"]


def test_stanza_layouts_are_checked_when_the_poem_has_stanza_breaks() -> None:
    lines = lines_of("shakespeare-sonnet-18.txt")
    text = "\n".join([*lines[:4], "", *lines[4:10], "", *lines[10:]])
    report = check(text, "shakespearean-sonnet")
    assert report.problems == [
        "the stanzas have 4, 6, 4 lines, expected 4, 4, 4, 2 or 12, 2 (or no stanza breaks)"
    ]
    quatrains = "\n".join([*lines[:4], "", *lines[4:8], "", *lines[8:12], "", *lines[12:]])
    assert check(quatrains, "shakespearean-sonnet").passed


def test_a_shakespearean_sonnet_is_not_a_petrarchan_one() -> None:
    report = check(poem("shakespeare-sonnet-18.txt"), "petrarchan-sonnet")
    assert "line 3 ('may') should rhyme with line 2 ('temperate')" in report.problems
    assert not report.passed


def test_free_verse_counts_lines_and_stanzas_only_when_asked() -> None:
    text = poem("whitman-a-noiseless-patient-spider.txt")
    assert check(text, "free-verse").passed
    report = check(text, "free-verse", lines=12, stanzas=3)
    assert report.problems == [
        "the poem has 10 lines, expected 12",
        "the poem has 2 stanzas, expected 3",
    ]
    assert check(text, "free-verse", lines=10, stanzas=2).passed


def test_rhymed_asks_for_rhyme_or_for_none() -> None:
    couplets = poem("pope-essay-on-criticism.txt")
    assert check(couplets, "free-verse", rhymed=True).passed
    assert check(couplets, "free-verse", rhymed=False).problems == [
        "the poem rhymes, but unrhymed verse was asked"
    ]
    whitman = check(poem("whitman-a-noiseless-patient-spider.txt"), "free-verse", rhymed=True)
    assert "line 1 ('spider') rhymes with no other line" in whitman.problems


def test_couplets_take_a_line_count() -> None:
    text = poem("pope-essay-on-criticism.txt")
    assert check(text, "couplets", lines=6).problems == ["the poem has 4 lines, expected 6"]
    broken = replaced("pope-essay-on-criticism.txt", 4, "And drinking largely sobers us today.")
    assert check(broken, "couplets").problems == [
        "line 4 ('today') should rhyme with line 3 ('brain')"
    ]
    with pytest.raises(ValueError, match="multiple of 2"):
        check(text, "couplets", lines=5)


def test_estimated_counts_say_about() -> None:
    report = check("The Moppsikon\nflew over the wide blue sea\nand into the sky", "haiku")
    assert report.lines[0].uncertain
    assert not report.lines[1].uncertain
    assert report.problems == ["line 1 has about 4 syllables, expected 5"]


def test_an_empty_poem_fails_without_raising() -> None:
    report = check(" \n\n  ", "haiku")
    assert report.problems == ["the poem is empty"]
    assert (report.passed, report.score, report.lines) == (False, 0.0, [])


def test_the_json_contract() -> None:
    report = check(poem("haiku-cold-rain.txt"), "haiku")
    assert report.to_json() == {
        "form": "haiku",
        "passed": True,
        "score": 1.0,
        "lines": [
            {"text": "Cold rain on the roof", "syllables": 5, "rhyme": ""},
            {"text": "the kettle starts its soft song", "syllables": 7, "rhyme": ""},
            {"text": "nobody comes home", "syllables": 5, "rhyme": ""},
        ],
        "rhyme_scheme": "ABC",
        "problems": [],
    }
    assert FormReport.model_validate_json(report.model_dump_json()) == report


@pytest.mark.parametrize(
    ("name", "form", "summary"),
    [
        ("haiku-cold-rain.txt", "haiku", "haiku 5-7-5 ok"),
        ("lear-old-man-with-a-beard.txt", "limerick", "limerick AABBA ok"),
        ("shakespeare-sonnet-18.txt", "sonnet", "shakespearean-sonnet ABABCDCDEFEFGG ok"),
        ("whitman-a-noiseless-patient-spider.txt", "free-verse", "free-verse 10 lines ok"),
    ],
)
def test_summaries(name: str, form: str, summary: str) -> None:
    assert check(poem(name), form).summary() == summary


def test_forms_are_found_by_name_or_alias_and_unknown_ones_list_the_known() -> None:
    assert get_form("Shakespearean Sonnet") is FORMS["shakespearean-sonnet"]
    assert get_form("sonnet") is FORMS["shakespearean-sonnet"]
    assert get_form("free_verse") is FORMS["free-verse"]
    with pytest.raises(ValueError, match=r"Unknown form 'sonet'\. Known forms: haiku, tanka"):
        get_form("sonet")


def test_options_a_form_cannot_take_are_refused() -> None:
    with pytest.raises(ValueError, match="a haiku has 3 lines, not 4"):
        check("a\nb\nc", "haiku", lines=4)
    with pytest.raises(ValueError, match="lines must be at least 1"):
        check("a", "free-verse", lines=0)
    with pytest.raises(ValueError, match="stanzas must be at least 1"):
        check("a", "free-verse", stanzas=0)


def test_a_form_of_ones_own_is_plain_data() -> None:
    cinquain = Form(
        name="cinquain",
        description="5 lines of 2, 4, 6, 8 and 2 syllables",
        lines=5,
        syllables=((2, 2), (4, 4), (6, 6), (8, 8), (2, 2)),
    )
    # Adelaide Crapsey, "November Night" (1915)
    text = (
        "Listen...\nWith faint dry sound,\nLike steps of passing ghosts,\n"
        "The leaves, frost-crisp'd, break from the trees\nAnd fall."
    )
    report = check(text, cinquain)
    assert report.form == "cinquain"
    assert report.problems == []
    assert report.summary() == "cinquain 5 lines ok"  # the shape is shown for built-in forms
