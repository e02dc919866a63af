"""The ``musekit`` command line: exit codes, messages, JSON, files, help, start-up imports.

Runs that need an engine happen in process (click's CliRunner) with a FakeEngine put in
place of the embedded model; the rest run the installed console script in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FakeSite, Invoke, Script
from pydantic import ValidationError

from musekit import Attachment
from musekit.errors import EngineUnavailable
from musekit.plugins import PluginHost
from musekit.testing import FakeEngine

REPLY = "A fake reply from the engine."


def error_json(stdout: str) -> dict[str, str]:
    data = json.loads(stdout)
    assert set(data) == {"error"}
    assert set(data["error"]) == {"type", "message"}
    return dict(data["error"])


# Running commands on the fake engine (in process) ------------------------------------------


def test_run_write_prints_the_result_and_exits_0(cli: Invoke, cli_engine: FakeEngine) -> None:
    result = cli("run", "write", "first", "snow")

    assert result.exit_code == 0, result.output
    assert "first snow" in result.stdout  # the title
    assert REPLY in result.stdout
    assert "tokens from fake-model" in result.stdout
    assert len(cli_engine.requests) == 1
    assert cli_engine.requests[0].messages[-1].content.endswith("Request: first snow")


def test_json_output_has_the_result_fields(cli: Invoke, cli_engine: FakeEngine) -> None:
    result = cli("run", "write", "--json", "--length", "medium", "--tone", "wry", "first snow")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["title"] == "first snow"
    assert data["command"] == "write"
    assert len(data["invocation_id"]) == 12
    assert [s["body"] for s in data["sections"]] == [REPLY]
    assert data["warnings"] == []
    assert data["attachments"] == []
    assert data["metrics"]["engine"] == "fake"
    assert data["metrics"]["model"] == "fake-model"
    assert data["metrics"]["completion_tokens"] == len(REPLY.split())
    request = cli_engine.requests[0]
    assert request.sampling.max_tokens == 300  # "medium" asks for about 150 words
    assert "Tone: wry." in request.messages[-1].content


def test_plugin_settings_reach_the_command(
    cli: Invoke, cli_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__WRITE__TEMPERATURE", "0.25")
    assert cli("run", "write", "rain").exit_code == 0
    assert cli_engine.requests[0].sampling.temperature == 0.25


def test_a_command_whose_plugin_has_bad_settings_says_why(
    cli: Invoke, cli_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__WRITE__TEMPERATURE", "9")

    result = cli("run", "write", "rain")

    assert result.exit_code == 1
    assert "The 'write' command is unavailable: plugin 'write' has invalid settings" in (
        result.stderr
    )
    assert "plugin_config.write.temperature" in result.stderr
    assert cli_engine.requests == []


def test_output_dir_saves_the_attachments(
    cli: Invoke, cli_engine: FakeEngine, site: FakeSite, isolated: Path
) -> None:
    site.install("mkt_tidy")

    result = cli("run", "tidy", "--case", "upper", "--output-dir", "out/files", "Hello")

    assert result.exit_code == 0, result.output
    saved = isolated / "out" / "files" / "tidy.json"
    assert json.loads(saved.read_text(encoding="utf-8")) == {"text": "HELLO", "repeat": 1}
    assert "saved out/files/tidy.json" in result.stderr


@pytest.mark.parametrize(
    "filename", ["../escape.json", "sub/dir.json", "/etc/passwd", ".hidden", "a..b", "x.png\n", ""]
)
def test_attachment_filenames_cannot_leave_the_output_dir(filename: str) -> None:
    with pytest.raises(ValidationError, match="no path"):
        Attachment(filename=filename, media_type="text/plain", data=b"x")


def test_the_host_is_loaded_once_per_run(
    cli: Invoke, cli_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[PluginHost] = []
    original = PluginHost.load_entry_points

    def counting(self: PluginHost, *args: object) -> None:
        loads.append(self)
        original(self)

    monkeypatch.setattr(PluginHost, "load_entry_points", counting)
    assert cli("run", "write", "rain").exit_code == 0
    assert len(loads) == 1
    assert cli("run", "write", "snow").exit_code == 0  # a new run loads afresh
    assert len(loads) == 2


# Bad usage and bad parameters: exit 2, nothing runs ------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1", "x"], "--seed: Input should be greater than or equal to 0"),
        (["--tone", "", "x"], "--tone: String should have at least 1 character"),
        (["--tone", "t" * 41, "x"], "--tone: String should have at most 40 characters"),
        ([""], "PROMPT: String should have at least 1 character"),
        (["p" * 1001], "PROMPT: String should have at most 1000 characters"),
        (["--length", "huge", "x"], "Invalid value for '--length': 'huge' is not one of"),
        (["--seed", "soon", "x"], "Invalid value for '--seed': 'soon' is not a valid integer"),
        ([], "Missing argument 'PROMPT...'"),
        (["--colour", "red", "x"], "No such option '--colour'"),
    ],
)
def test_bad_parameters_exit_2_naming_the_option_and_nothing_runs(
    cli: Invoke, cli_engine: FakeEngine, args: list[str], message: str
) -> None:
    result = cli("run", "write", *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert cli_engine.requests == []


@pytest.mark.parametrize(
    ("args", "kind", "message"),
    [
        (["--seed", "-1", "x"], "InvalidParameters", "--seed: Input should be greater than"),
        (["--length", "huge", "x"], "UsageError", "'huge' is not one of 'short', 'medium'"),
    ],
)
def test_json_errors_are_json(
    cli: Invoke, cli_engine: FakeEngine, args: list[str], kind: str, message: str
) -> None:
    result = cli("run", "write", "--json", *args)
    assert result.exit_code == 2
    error = error_json(result.stdout)
    assert error["type"] == kind
    assert message in error["message"]
    assert cli_engine.requests == []


def test_an_unknown_command_exits_2(cli: Invoke) -> None:
    result = cli("run", "wrtie", "x")
    assert result.exit_code == 2
    assert "No such command 'wrtie'" in result.stderr


def test_a_wrong_setting_exits_2_naming_it(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSEKIT_ENGINE__CONTEXT_LENGTH", "huge")
    result = cli("run", "write", "x")
    assert result.exit_code == 2
    assert "engine.context_length (env MUSEKIT_ENGINE__CONTEXT_LENGTH)" in result.stderr
    assert "Traceback" not in result.output


def test_a_malformed_config_file_exits_2_naming_the_file(cli: Invoke, isolated: Path) -> None:
    (isolated / "team.toml").write_text("[engine\n", encoding="utf-8")
    result = cli("--config", "team.toml", "plugins")
    assert result.exit_code == 2
    assert "Settings file 'team.toml' is not valid TOML" in result.stderr
    assert "(at line 1, column 8)" in result.stderr
    assert "Traceback" not in result.output


# Runtime failures: exit 1, no traceback unless --debug ---------------------------------------


def test_an_engine_error_exits_1_with_its_message(cli: Invoke, cli_engine: FakeEngine) -> None:
    cli_engine.fail_next(EngineUnavailable("The model could not be loaded [model.gguf]."))
    result = cli("run", "write", "x")
    assert result.exit_code == 1
    assert "Error: The model could not be loaded [model.gguf]." in result.stderr
    assert "Traceback" not in result.output


def test_an_unexpected_error_exits_1_naming_the_plugin_without_details(
    cli: Invoke, cli_engine: FakeEngine
) -> None:
    cli_engine.fail_next(RuntimeError("secret-token-123"))
    result = cli("run", "write", "x")
    assert result.exit_code == 1
    assert "The 'write' command (plugin 'write') failed unexpectedly" in result.stderr
    assert "secret-token-123" not in result.output
    assert "Traceback" not in result.output


def test_runtime_errors_with_json_are_json(cli: Invoke, cli_engine: FakeEngine) -> None:
    cli_engine.fail_next(RuntimeError("secret-token-123"))
    result = cli("run", "write", "--json", "x")
    assert result.exit_code == 1
    error = error_json(result.stdout)
    assert error["type"] == "PluginFailure"
    assert "plugin 'write'" in error["message"]
    assert "secret-token-123" not in result.output


# plugins, schema, help -------------------------------------------------------------------------


def test_plugins_lists_version_commands_and_load_errors(cli: Invoke, site: FakeSite) -> None:
    site.install("mkt_tidy", version="2.0.1")
    site.install("mkt_broken_import")

    result = cli("plugins")

    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "2.0.1" in rows["tidy"]
    assert "tidy, ask" in rows["tidy"]
    assert "loaded" in rows["write"]
    assert "failed to import (RuntimeError)" in rows["broken-import"]
    assert "hunter2" not in result.output


def test_plugins_json(cli: Invoke, site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    site.install("mkt_tidy", version="2.0.1")
    site.install("mkt_old_api")
    monkeypatch.setenv("MUSEKIT_PLUGINS__DISABLED", '["write"]')

    result = cli("plugins", "--json")

    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["tidy"] == {
        "name": "tidy",
        "version": "2.0.1",
        "status": "loaded",
        "commands": ["tidy", "ask"],
        "error": None,
        "problems": [],
    }
    assert plugins["old-api"]["status"] == "incompatible"
    assert "supports musekit API 0" in plugins["old-api"]["error"]
    assert plugins["write"]["status"] == "disabled"
    assert plugins["write"]["commands"] == []


def test_schema_prints_the_commands_json_schema(cli: Invoke) -> None:
    from musekit_plugins.write import SPEC

    result = cli("schema", "write")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SPEC.json_schema()


def test_schema_of_an_unknown_command_exits_2(cli: Invoke) -> None:
    result = cli("schema", "nope")
    assert result.exit_code == 2
    assert "Error: Unknown command 'nope'. Available commands: " in result.stderr
    assert "write" in result.stderr.partition("Available commands: ")[2]


def test_run_write_help_shows_generated_options(cli: Invoke) -> None:
    result = cli("run", "write", "--help")

    assert result.exit_code == 0
    text = " ".join(result.stdout.split())  # click wraps help to the terminal width
    assert "Usage: musekit run write [OPTIONS] PROMPT..." in text
    assert "--length [short|medium|long] About 60, 150 or 300 words. [default: short]" in text
    assert "--seed INTEGER Fix the randomness to repeat a result. [>= 0]" in text
    assert "--tone TEXT A tone or style, e.g. 'wry'. [min length 1, max length 40]" in text
    assert 'musekit run write --tone wistful --length medium "first snow in the city"' in text
    assert 'musekit run write "a lighthouse keeper\'s last night"' in result.stdout


def test_run_help_lists_the_commands(cli: Invoke, site: FakeSite) -> None:
    site.install("mkt_tidy")
    result = cli("run", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "tidy Tidy a line of text (no model needed)." in text
    assert "write Write a short original piece from a prompt." in text


# The real console script, in a subprocess ------------------------------------------------------

HEAVY = ("discord", "slack_bolt", "llama_cpp")


@pytest.mark.parametrize("args", [["--help"], ["run", "write", "--help"]])
def test_help_does_not_import_chat_libraries_or_llama_cpp(args: list[str]) -> None:
    probe = (
        "import json, sys\n"
        "from musekit.cli.main import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "roots = sorted({m.split('.')[0] for m in sys.modules})\n"
        "print(json.dumps([code, roots]), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    assert code == 0
    assert "Usage: musekit" in done.stdout
    assert "musekit" in modules
    assert [m for m in HEAVY if m in modules] == []


def test_script_help_exits_0(musekit_script: Script) -> None:
    done = musekit_script("--help")
    assert done.returncode == 0
    for command in ("run", "plugins", "schema", "doctor"):
        assert f"  {command} " in done.stdout


def test_script_success_prints_json_and_exits_0(musekit_script: Script, site: FakeSite) -> None:
    site.install("mkt_tidy")
    done = musekit_script("run", "tidy", "--json", "--repeat", "2", "Hello", "World")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["sections"][0]["body"] == "hello world\nhello world"
    assert data["command"] == "tidy"


def test_script_bad_params_exit_2(musekit_script: Script) -> None:
    done = musekit_script("run", "write", "--seed", "-3", "first snow")
    assert done.returncode == 2
    assert "--seed: Input should be greater than or equal to 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_script_plugin_failure_exits_1_and_debug_shows_the_traceback(
    musekit_script: Script, site: FakeSite
) -> None:
    site.install("mkt_explode")

    done = musekit_script("run", "explode")
    assert done.returncode == 1
    assert "The 'explode' command (plugin 'explode') failed unexpectedly" in done.stderr
    assert "secret-token-123" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr

    debug = musekit_script("--debug", "run", "explode")
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert "RuntimeError: secret-token-123" in debug.stderr


def test_script_missing_model_file_exits_1(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MUSEKIT_ENGINE__MODEL_PATH", str(tmp_path / "missing.gguf"))
    done = musekit_script("run", "write", "first snow")
    assert done.returncode == 1
    assert "missing.gguf" in done.stderr
    assert "Traceback" not in done.stderr


def test_script_plugins_json_shows_load_errors(musekit_script: Script, site: FakeSite) -> None:
    site.install("mkt_unknown_hook")
    done = musekit_script("plugins", "--json")
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    assert plugins["unknown-hook"]["status"] == "failed"
    assert "register_exporters is not a musekit hook" in plugins["unknown-hook"]["error"]
    assert plugins["write"]["status"] == "loaded"


def test_ctrl_c_cancels_the_command_and_exits_130(
    site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import MUSEKIT_SCRIPT

    site.install("mkt_nap")
    started = tmp_path / "nap-started"
    monkeypatch.setenv("MKT_NAP_STARTED", str(started))
    process = subprocess.Popen(
        [str(MUSEKIT_SCRIPT), "run", "nap"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.read_text(encoding="utf-8") == "napping"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Cancelled." in stderr
    assert "Traceback" not in stderr
    assert started.read_text(encoding="utf-8") == "cancelled"  # the command saw the cancel
