"""`musekit craft check` and `musekit craft forms`, run through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Invoke, Script

from musekit.craft import FORMS

POEMS = Path(__file__).parent / "fixtures" / "poems"
HAIKU = POEMS / "haiku-cold-rain.txt"
SONNET = POEMS / "shakespeare-sonnet-18.txt"


def test_check_prints_a_readable_report_and_exits_0_when_the_poem_fits(cli: Invoke) -> None:
    result = cli("craft", "check", "--form", "sonnet", str(SONNET))
    assert result.exit_code == 0
    assert "shakespearean-sonnet ok" in result.stdout
    assert "rhyme ABABCDCDEFEFGG" in result.stdout
    assert "Shall I compare thee to a summer's day?" in result.stdout
    assert "0101010101" in result.stdout


def test_check_lists_problems_and_exits_1_when_the_poem_does_not_fit(cli: Invoke) -> None:
    text = "An old silent pond\nA frog jumps into the cold pond\nSplash! Silence\n"
    result = cli("craft", "check", "--form", "haiku", "-", input=text)
    assert result.exit_code == 1
    assert "haiku problems" in result.stdout
    assert "line 2 has 8 syllables, expected 7" in result.stdout
    assert "line 3 has 3 syllables, expected 5" in result.stdout


def test_json_is_the_public_contract(cli: Invoke) -> None:
    result = cli("craft", "check", "--form", "haiku", "--json", str(HAIKU))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
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


def test_json_from_standard_input_with_options(cli: Invoke) -> None:
    text = (POEMS / "whitman-a-noiseless-patient-spider.txt").read_text("utf-8")
    result = cli(
        "craft", "check", "--form", "free verse", "--lines", "12", "--unrhymed", "--json",
        input=text,
    )  # fmt: skip
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["form"] == "free-verse"
    assert report["problems"] == ["the poem has 10 lines, expected 12"]


def test_an_unknown_form_is_a_usage_error_listing_the_forms(cli: Invoke) -> None:
    result = cli("craft", "check", "--form", "sonet", str(HAIKU))
    assert result.exit_code == 2
    assert "Unknown form 'sonet'" in result.stderr
    assert all(name in result.stderr for name in FORMS)
    assert result.stdout == ""


def test_an_unknown_form_with_json_prints_a_json_error(cli: Invoke) -> None:
    result = cli("craft", "check", "--form", "ode", "--json", str(HAIKU))
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "UsageError"
    assert error["message"].startswith("Unknown form 'ode'. Known forms: haiku,")


def test_empty_input_is_a_usage_error(cli: Invoke, tmp_path: Path) -> None:
    result = cli("craft", "check", "--form", "haiku", input="  \n\n")
    assert result.exit_code == 2
    assert "The poem is empty: standard input has no text." in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("", "utf-8")
    result = cli("craft", "check", "--form", "haiku", str(empty))
    assert result.exit_code == 2
    assert f"The poem is empty: {empty} has no text." in result.stderr


def test_text_that_is_not_utf8_is_a_usage_error(cli: Invoke, tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café au lait\n".encode("latin-1"))
    result = cli("craft", "check", "--form", "haiku", str(latin))
    assert result.exit_code == 2
    assert f"{latin} is not UTF-8 text." in result.stderr
    assert "Traceback" not in result.output


def test_options_the_form_cannot_take_are_usage_errors(cli: Invoke) -> None:
    result = cli("craft", "check", "--form", "haiku", "--lines", "4", str(HAIKU))
    assert result.exit_code == 2
    assert "a haiku has 3 lines, not 4" in result.stderr


def test_forms_lists_every_form(cli: Invoke) -> None:
    result = cli("craft", "forms", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [form["name"] for form in listed] == list(FORMS)
    assert listed[0]["description"] == "3 lines of 5, 7 and 5 syllables"
    text = cli("craft", "forms")
    assert text.exit_code == 0
    assert all(name in text.stdout for name in FORMS)


def test_the_installed_script_checks_a_file(musekit_script: Script) -> None:
    done = musekit_script("craft", "check", "--form", "haiku", "--json", str(HAIKU))
    assert done.returncode == 0
    assert json.loads(done.stdout)["passed"] is True
