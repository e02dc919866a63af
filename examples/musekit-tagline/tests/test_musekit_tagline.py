"""Tests for the tagline plugin, written the way any plugin author would write them:
only musekit's public API, ``musekit.testing`` and its pytest fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import musekit_tagline
import pytest

from musekit import EngineBusy, InvalidParameters
from musekit.testing import FakeEngine, Invoke, Kit, PluginLoadError, assert_conforms, make_kit


@pytest.fixture
def musekit_plugins() -> list[object]:
    """The kit fixtures load this plugin only (by default they load every installed one)."""
    return [musekit_tagline]


def test_the_command_conforms(musekit_kit: Kit) -> None:
    assert_conforms(musekit_kit, "tagline")


def test_the_prompt_is_a_fixed_system_prompt_then_the_request(invoke: Invoke) -> None:
    outcome = invoke("tagline", "a bicycle repair app", audience="commuters", style="playful")
    assert outcome.prompt == (
        "[system]\n"
        "You write taglines: short, memorable slogans for products and projects. "
        "Reply with exactly one tagline on one line: no quotes, no numbering, no explanation."
        "\n\n[user]\n"
        "Product: a bicycle repair app\n"
        "Audience: commuters\n"
        "Style: playful (light and witty; wordplay welcome)\n"
        "Length: at most 8 words"
    )


def test_all_taglines_come_from_one_request_with_n_samples(invoke: Invoke) -> None:
    outcome = invoke("tagline", "a bicycle repair app", count=4, max_words=5, seed=7)
    assert len(outcome.requests) == 1
    request = outcome.request
    assert request.n == 4
    assert request.sampling.seed == 7
    assert request.sampling.stop == ("\n",)
    assert request.sampling.max_tokens == 5 * 3 + 8


def test_samples_become_clean_distinct_taglines(invoke: Invoke, fake_engine: FakeEngine) -> None:
    fake_engine.script(
        '"Fix it. Ride on."',
        "1. Fix it, ride on!",
        "Tagline: Your bike, back on the road by lunch, every single day",
        "   ",
        "Pedal. Repair. Repeat. Then go and tell every friend you have.",
    )
    result = invoke("tagline", "a bicycle repair app", count=5).result
    assert [section.body for section in result.sections] == [
        "Fix it. Ride on.",
        "Your bike, back on the road by lunch",
        "Pedal.",
    ]
    assert result.warnings == [
        "2 tagline(s) ran past 8 words and were shortened.",
        "1 repeated tagline(s) were dropped.",
        "1 sample(s) had no text.",
    ]
    assert [(f.name, f.value) for f in result.fields] == [("style", "punchy")]
    assert result.title == "Taglines: a bicycle repair app"


def test_no_usable_tagline_is_a_warning_not_an_empty_success(
    invoke: Invoke, fake_engine: FakeEngine
) -> None:
    fake_engine.script("", '""')
    result = invoke("tagline", "a font", count=2).result
    assert result.sections == []
    assert "The model wrote no usable tagline; try again or try another style." in result.warnings


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"count": 9}, "count"),
        ({"style": "sad"}, "style"),
        ({"max_words": 2}, "max_words"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_name_the_field(
    invoke: Invoke, params: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidParameters) as caught:
        invoke("tagline", "a font", **params)
    assert [p.field for p in caught.value.problems] == [field]


def test_an_engine_failure_reaches_the_user_as_is(invoke: Invoke, fake_engine: FakeEngine) -> None:
    fake_engine.fail_next(EngineBusy("The model is busy. Try again in a moment."))
    with pytest.raises(EngineBusy, match="Try again in a moment"):
        invoke("tagline", "a font")


class TestSettings:
    @pytest.fixture
    def musekit_settings(self) -> dict[str, dict[str, object]]:
        return {"tagline": {"temperature": 0.3, "banned_words": ["cheap"]}}

    def test_settings_shape_the_request_and_the_result(
        self, invoke: Invoke, fake_engine: FakeEngine
    ) -> None:
        fake_engine.script("CHEAP fixes, fast", "Fixed by five")
        outcome = invoke("tagline", "a bicycle repair app", count=2)
        assert outcome.request.sampling.temperature == 0.3
        assert [s.body for s in outcome.result.sections] == ["Fixed by five"]
        assert outcome.result.warnings == ["1 tagline(s) used a banned word and were dropped."]


def test_a_bad_setting_is_named() -> None:
    with pytest.raises(PluginLoadError, match=r"plugin_config\.tagline\.temperature"):
        make_kit([musekit_tagline], settings={"tagline": {"temperature": 5}})


def test_musekit_finds_the_installed_plugin_through_its_entry_point() -> None:
    kit = make_kit()
    assert "tagline" in kit.commands
    assert kit.host.plugins["tagline"].version == musekit_tagline.__version__


@pytest.mark.model
def test_the_cli_writes_taglines_with_the_embedded_model(tmp_path: Path) -> None:
    musekit = Path(sys.executable).with_name("musekit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEKIT_")}
    run = subprocess.run(
        [
            str(musekit),
            "run",
            "tagline",
            "a bike repair app",
            "--count=2",
            "--max-words=5",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["command"] == "tagline"
    assert result["metrics"]["engine"] == "embedded"
    assert result["metrics"]["completion_tokens"] > 0
    taglines = [section["body"] for section in result["sections"]]
    assert 1 <= len(taglines) <= 2 or result["warnings"]
    assert all(0 < len(tagline.split()) <= 5 for tagline in taglines)
