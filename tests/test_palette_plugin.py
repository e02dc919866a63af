"""The built-in ``palette`` command: named colour palettes, checked, repaired, mended, exported.

Drafts are scripted on the fake engine as the JSON the schema asks for, through the real
host and runner; contrast and colour difference are ColorAide's; the PNG swatch is read
back with Pillow; the CLI runs through click; one test runs the installed console script
on the real model.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import Invoke, Script
from PIL import Image

from musekit.context import Turn
from musekit.engine.types import ChatRequest
from musekit.errors import EngineUnavailable, InvalidParameters
from musekit.testing import FakeEngine, assert_conforms, make_kit
from musekit_plugins import palette
from musekit_plugins.palette import (
    EXAMPLE_FAINT,
    EXAMPLE_PALETTE,
    REPAIR_SYSTEM_PROMPT,
    SYSTEM_PROMPT,
    palette_json,
)
from musekit_plugins.palette_check import ROLES, Brief, Palette, response_schema
from musekit_plugins.palette_colour import (
    MIN_CONTRAST,
    MIN_DIFFERENCE,
    STEP,
    contrast,
    difference,
    lightness,
    with_lightness,
)
from musekit_plugins.palette_export import SWATCH_HEIGHT, SWATCH_WIDTH

FIVE = Brief(5)

GOOD = Palette(
    "Night Reading",
    (
        ("background", "#14181F"),
        ("surface", "#262D38"),
        ("text", "#E8E2D6"),
        ("primary", "#6FA3D8"),
        ("accent", "#E0A458"),
    ),
)
FAINT = GOOD.replaced("text", "#5A6270")  # grey text on a dark background
CLOSE = GOOD.replaced("surface", "#171B22")  # a surface hard to tell from the background


def answer(palette: Palette) -> str:
    return palette_json(palette)


def passed(report: object) -> object:
    """The pass flag of a report in ``Result.data``."""
    assert isinstance(report, dict)
    return report["passed"]


def test_the_installed_palette_command_passes_the_conformance_check() -> None:
    kit = make_kit()  # every installed plugin, found by entry point
    assert "palette" in kit.commands
    assert kit.host.plugins["palette"].status == "loaded"
    assert_conforms(kit, "palette", reply=answer(GOOD))


def test_the_worked_example_passes_and_its_faint_copy_fails() -> None:
    assert FIVE.check(EXAMPLE_PALETTE.text()).passed
    problems = FIVE.check(EXAMPLE_FAINT.text()).problems
    assert problems[0].startswith("text #9AA3AD on background #F4EFE6 has contrast 2.")


def test_roles_follow_the_count_and_always_include_background_and_text() -> None:
    assert ROLES[4] == ("background", "text", "primary", "accent")
    assert ROLES[8] == (
        "background",
        "surface",
        "text",
        "muted-text",
        "primary",
        "secondary",
        "accent",
        "highlight",
    )
    schema = response_schema(6)
    assert schema["required"] == ["name", *ROLES[6]]
    assert schema["additionalProperties"] is False


def test_a_legible_distinct_palette_passes_with_its_measurements() -> None:
    report = FIVE.check(FIVE.clean(answer(GOOD)))
    assert report.passed
    assert report.contrasts == {
        "text on background": round(contrast("#E8E2D6", "#14181F"), 2),
        "text on surface": round(contrast("#E8E2D6", "#262D38"), 2),
    }
    assert report.summary().startswith("5 colours, text contrast ")


def test_the_json_answer_is_shown_as_a_name_and_a_line_a_colour() -> None:
    assert FIVE.clean(answer(GOOD)) == (
        "Night Reading\nbackground: #14181F\nsurface: #262D38\ntext: #E8E2D6\n"
        "primary: #6FA3D8\naccent: #E0A458"
    )
    assert FIVE.clean(FIVE.clean(answer(GOOD))) == FIVE.clean(answer(GOOD))


def test_wcag_contrast_and_ciede2000_are_the_published_values() -> None:
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)  # famously just under
    # Sharma, Wu and Dalal's CIEDE2000 test data (CIELAB, D65 white), pair 1.
    pair_1 = ("color(--lab-d65 50 2.6772 -79.7751)", "color(--lab-d65 50 0 -82.7485)")
    assert difference(*pair_1) == pytest.approx(2.0425, abs=1e-4)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a nice palette", "the palette has no colour for background, surface, text"),
        ('{"name": "X", "background": 3}', "the answer is not a JSON object of names and colours"),
        (answer(GOOD).replace('"Night Reading"', '"  "'), "the palette has no name"),
        (
            json.dumps({"name": "X", **dict(GOOD.colours), "accent": "orange"}),
            "'orange' for accent is not a colour written #RRGGBB",
        ),
        (
            json.dumps({"name": "X", "background": "#000000"}),
            "the palette has no colour for surface, text, primary, accent",
        ),
    ],
)
def test_an_answer_that_is_not_a_valid_palette_fails_with_the_reason(
    text: str, problem: str
) -> None:
    report = FIVE.check(FIVE.clean(text))
    assert not report.passed
    assert report.score == 0.0
    assert report.problems[0].startswith(problem)


def test_faint_text_fails_the_contrast_check_on_each_background() -> None:
    problems = FIVE.check(FAINT.text()).problems
    on_background = contrast("#5A6270", "#14181F")
    on_surface = contrast("#5A6270", "#262D38")
    assert on_background < MIN_CONTRAST
    assert on_surface < MIN_CONTRAST
    assert problems == [
        f"text #5A6270 on background #14181F has contrast {on_background:.2f}:1, below 4.5:1",
        f"text #5A6270 on surface #262D38 has contrast {on_surface:.2f}:1, below 4.5:1",
    ]


def test_colours_too_alike_fail_the_distinctness_check() -> None:
    close = difference("#14181F", "#171B22")
    assert close < MIN_DIFFERENCE
    assert FIVE.check(CLOSE.text()).problems == [
        f"background #14181F and surface #171B22 are hard to tell apart (ΔE00 {close:.1f}, below 5)"
    ]


def test_mending_fixes_faint_text_with_the_least_change_of_lightness() -> None:
    mended, changes = FIVE.mend(FAINT.text())
    fixed = FIVE.parse(mended)
    assert isinstance(fixed, Palette)
    text = fixed.colour("text")
    assert text is not None
    assert changes == [f"text #5A6270 -> {text} (contrast 4.5:1 and apart from the colours before)"]
    assert FIVE.check(mended).passed
    # Only the text moved, lighter, and one step less would not have been enough.
    assert fixed.replaced("text", "#5A6270") == FAINT
    assert lightness(text) > lightness("#5A6270")
    short = with_lightness("#5A6270", lightness(text) - STEP)
    assert min(contrast(short, "#14181F"), contrast(short, "#262D38")) < MIN_CONTRAST


def test_mending_moves_a_colour_too_close_to_an_earlier_one() -> None:
    mended, changes = FIVE.mend(CLOSE.text())
    assert len(changes) == 1
    assert changes[0].startswith("surface #171B22 -> ")
    assert FIVE.check(mended).passed


def test_a_legible_palette_is_left_as_it_is() -> None:
    assert FIVE.mend(GOOD.text()) == (GOOD.text(), [])
    assert FIVE.mend("not a palette") == ("not a palette", [])


def test_failures_are_revised_with_problems_quoted_then_mended_and_exported() -> None:
    engine = FakeEngine(["{", answer(FAINT), answer(CLOSE), "nope"])
    engine.script(answer(FAINT), "{")  # the revision of FAINT is still faint: code mends it
    outcome = make_kit(palette, engine=engine).invoke("palette", "a calm reading app at night")

    drafts, *repairs = outcome.requests
    assert drafts.n == 4
    assert drafts.json_schema == response_schema(5)
    assert drafts.messages[0].content == SYSTEM_PROMPT
    assert drafts.messages[-1].content == (
        "Brief: a calm reading app at night\nColours: background, surface, text, primary, accent"
    )
    assert len(repairs) == 2
    assert [r.messages[0].content for r in repairs] == [REPAIR_SYSTEM_PROMPT] * 2
    assert f"Draft:\n{CLOSE.text()}\n" in repairs[0].messages[-1].content  # the best failure
    assert "are hard to tell apart" in repairs[0].messages[-1].content
    assert all(r.json_schema == response_schema(5) for r in repairs)

    result = outcome.result
    best = FIVE.parse(result.text)
    assert isinstance(best, Palette)
    assert result.title == "Night Reading"
    assert result.data["palette_report"] == FIVE.check(result.text).to_json()
    assert passed(result.data["palette_report"]) is True
    assert result.data["palette"] == {"name": "Night Reading", "colours": dict(best.colours)}
    mended = result.data["mended"]
    assert isinstance(mended, list)
    assert len(mended) == 1
    assert {"name": "mended", "value": mended[0]} in [f.model_dump() for f in result.fields]
    assert result.warnings == []

    png, css = result.attachments
    assert (png.filename, png.media_type) == ("palette.png", "image/png")
    image = Image.open(io.BytesIO(png.data))
    assert image.size == (5 * SWATCH_WIDTH, SWATCH_HEIGHT)
    for index, (_, colour) in enumerate(best.colours):
        pixel = image.getpixel((index * SWATCH_WIDTH + SWATCH_WIDTH // 2, 10))
        assert isinstance(pixel, tuple)
        assert "#{:02X}{:02X}{:02X}".format(*pixel) == colour
    assert (css.filename, css.media_type) == ("palette.css", "text/css")
    sheet = css.data.decode()
    assert sheet.startswith("/* Night Reading */\n:root {\n")
    for role, colour in best.colours:
        assert f"  --color-{role}: {colour};\n" in sheet


def test_when_the_model_fails_during_repairs_code_still_mends_the_drafts() -> None:
    engine = FakeEngine()
    drafts = ["{", answer(FAINT), "{", "{"]

    def draft(request: ChatRequest, index: int) -> str:
        if index == 0:  # the repair requests that follow the drafts fail
            engine.fail_next(EngineUnavailable("The model server could not be reached."), 2)
        return drafts[index]

    engine.default = draft
    result = make_kit(palette, engine=engine).invoke("palette", "night reading").result
    assert len(engine.requests) == 3  # the drafts, then repairs of FAINT and "{" that failed
    assert passed(result.data["palette_report"]) is True
    assert result.text == FIVE.mend(FAINT.text())[0]
    assert result.data["mended"] == FIVE.mend(FAINT.text())[1]
    assert result.warnings == []


def test_single_shot_returns_the_palette_as_written_with_its_problems() -> None:
    engine = FakeEngine([answer(FAINT)])
    kit = make_kit(
        palette, engine=engine, settings={"palette": {"candidates": 1, "repair_rounds": 0}}
    )
    result = kit.invoke("palette", "a calm reading app").result
    assert len(engine.requests) == 1
    assert result.text == FAINT.text()
    assert result.data["mended"] == []
    assert result.warnings[0].startswith(
        "No draft fully follows the contrast and distinctness rules, so the closest is shown: "
        "text #5A6270 on background #14181F has contrast"
    )
    assert [a.filename for a in result.attachments] == ["palette.png", "palette.css"]


def test_an_answer_that_is_never_a_palette_comes_back_with_its_problem_and_no_files() -> None:
    result = make_kit(palette, engine=FakeEngine(default="{")).invoke("palette", "rain").result
    assert passed(result.data["palette_report"]) is False
    assert result.attachments == []
    assert "palette" not in result.data


def test_a_thread_reply_revises_the_earlier_palette() -> None:
    engine = FakeEngine(default=answer(GOOD))
    kit = make_kit(palette, engine=engine)
    earlier = Turn(command="palette", params={"brief": "night reading"}, text=GOOD.text())
    kit.run(kit.invocation("palette", "warmer", colours=5), history=[earlier])
    request: ChatRequest = engine.requests[0]
    roles = [m.role for m in request.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert request.messages[3].content == "brief: night reading"
    assert request.messages[4].content == GOOD.text()
    assert request.messages[-1].content.startswith("Brief: warmer\n")


@pytest.mark.parametrize("colours", [3, 9])
def test_a_colour_count_outside_4_to_8_is_refused_before_the_engine(colours: int) -> None:
    engine = FakeEngine()
    with pytest.raises(InvalidParameters) as caught:
        make_kit(palette, engine=engine).invoke("palette", "rain", colours=colours)
    assert [p.field for p in caught.value.problems] == ["colours"]
    assert engine.requests == []


def test_the_cli_writes_the_swatch_and_the_css(
    cli: Invoke, cli_engine: FakeEngine, tmp_path: Path
) -> None:
    four = Palette("Night Reading", tuple((r, c) for r, c in GOOD.colours if r in ROLES[4]))
    cli_engine.default = answer(four)
    out = tmp_path / "out"
    shown = cli("run", "palette", "calm", "night", "--colours", "4", "--output-dir", str(out))
    assert shown.exit_code == 0, shown.output
    assert "text: #E8E2D6" in shown.output
    assert Image.open(out / "palette.png").size == (4 * SWATCH_WIDTH, SWATCH_HEIGHT)
    assert "--color-accent: #E0A458;" in (out / "palette.css").read_text()


@pytest.mark.model
def test_on_the_embedded_model_the_report_matches_the_palette(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One thread, two drafts and one repair round keep this quick; the schema holds the
    # model to JSON, and the report must tell the truth about the palette.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__PALETTE__CANDIDATES", "2")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__PALETTE__REPAIR_ROUNDS", "1")
    args = ["a seaside cafe", "--colours", "4", "--seed", "3", "--json"]
    done = musekit_script("run", "palette", *args, timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "palette"
    text = result["sections"][0]["body"]
    four = Brief(4)
    assert result["data"]["palette_report"] == four.check(text).to_json()
    for variation in result["variations"]:
        body = variation["sections"][0]["body"]
        assert variation["data"]["palette_report"] == four.check(body).to_json()
    if four.usable(text):
        assert [a["filename"] for a in result["attachments"]] == ["palette.png", "palette.css"]
