"""End to end: the installed ``musekit`` console script on the real embedded model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import MUSEKIT_SCRIPT, Script

pytestmark = pytest.mark.model

PROMPT = "a lighthouse keeper's last night"


def test_write_prints_a_piece_and_a_seed_repeats_it(musekit_script: Script) -> None:
    runs = [musekit_script("run", "write", PROMPT, "--seed", "3", "--json") for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    first, second = (json.loads(r.stdout) for r in runs)
    assert first["command"] == "write"
    assert first["title"] == PROMPT
    body = first["sections"][0]["body"]
    assert len(body.split()) >= 10
    metrics = first["metrics"]
    assert metrics["engine"] == "embedded"
    assert metrics["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert metrics["prompt_tokens"] > 20
    assert 0 < metrics["completion_tokens"] <= 120  # --length short allows 120 tokens
    assert second["sections"] == first["sections"]

    shown = musekit_script("run", "write", PROMPT, "--seed", "3")
    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr
    assert PROMPT in shown.stdout  # the title
    assert all(word in shown.stdout for word in body.split())  # wrapped in a panel
    assert f"{metrics['completion_tokens']} tokens from SmolLM2-135M-Instruct" in shown.stdout


def test_without_a_seed_two_runs_differ(musekit_script: Script) -> None:
    runs = [musekit_script("run", "write", PROMPT, "--length", "short", "--json") for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    bodies = [json.loads(r.stdout)["sections"][0]["body"] for r in runs]
    assert bodies[0] != bodies[1]


def test_doctor_passes_on_the_installed_model(musekit_script: Script) -> None:
    done = musekit_script("doctor")
    assert done.returncode == 0, done.stdout
    for check in ("Python", "Settings", "Plugins", "Engine", "Model"):
        assert f"✓ {check}:" in done.stdout
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in done.stdout


def test_ctrl_c_while_generating_cancels_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Debug logs say when generation starts; one thread keeps token timing steady.
    monkeypatch.setenv("MUSEKIT_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    process = subprocess.Popen(
        [str(MUSEKIT_SCRIPT), "run", "write", "--length", "long", PROMPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "generating sample" in line:
            break
    else:
        pytest.fail("generation never started:\n" + "".join(seen))
    time.sleep(0.3)  # a few tokens in; --length long would run for several seconds more
    process.send_signal(signal.SIGINT)
    sent = time.perf_counter()
    stdout, stderr = process.communicate(timeout=30)
    stopped = time.perf_counter() - sent

    assert process.returncode == 130
    assert "Cancelled." in stderr
    assert "Traceback" not in stderr
    assert stdout == ""
    assert stopped < 2.0, f"took {stopped:.1f}s to stop"


def test_a_prompt_too_long_for_the_context_fails_clearly(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_ENGINE__CONTEXT_LENGTH", "256")
    done = musekit_script("run", "write", "the sea at night " * 50)
    assert done.returncode == 1
    assert "context window of 256 tokens" in done.stderr
    assert "MUSEKIT_ENGINE__CONTEXT_LENGTH" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
