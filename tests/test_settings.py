"""Settings from the environment, a .env file and a TOML file; errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from musekit.errors import SettingsError
from musekit.settings import config_file, load_settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_source() -> None:
    settings = load_settings()
    assert config_file() is None
    assert settings.engine.context_length == 2048
    assert settings.engine.model_path is None
    assert settings.plugins.enabled is None
    assert settings.plugins.disabled == []
    assert settings.log_level == "WARNING"


def test_environment_variables_with_nested_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSEKIT_ENGINE__CONTEXT_LENGTH", "4096")
    monkeypatch.setenv("MUSEKIT_ENGINE__MODEL_PATH", "/models/tiny.gguf")
    monkeypatch.setenv("MUSEKIT_PLUGINS__DISABLED", '["write"]')
    monkeypatch.setenv("MUSEKIT_LOG_LEVEL", "DEBUG")

    settings = load_settings()

    assert settings.engine.context_length == 4096
    assert settings.engine.model_path == Path("/models/tiny.gguf")
    assert settings.plugins.disabled == ["write"]
    assert settings.log_level == "DEBUG"


def test_dotenv_file_in_the_working_folder(isolated: Path) -> None:
    write(isolated / ".env", "MUSEKIT_ENGINE__THREADS=3\nMUSEKIT_LOG_LEVEL=INFO\n")
    settings = load_settings()
    assert settings.engine.threads == 3
    assert settings.log_level == "INFO"


def test_toml_file_in_the_working_folder(isolated: Path) -> None:
    write(
        isolated / "musekit.toml",
        '[engine]\ncontext_length = 1024\n\n[plugins]\nenabled = ["write"]\n\n'
        "[plugin_config.write]\ntemperature = 0.3\n",
    )
    settings = load_settings()
    assert config_file() == Path("musekit.toml")
    assert settings.engine.context_length == 1024
    assert settings.plugins.enabled == ["write"]
    assert settings.plugin_config == {"write": {"temperature": 0.3}}


def test_musekit_config_names_the_toml_file_and_wins_over_the_local_one(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(isolated / "musekit.toml", "[engine]\ncontext_length = 1024\n")
    chosen = write(tmp_path / "elsewhere" / "team.toml", "[engine]\ncontext_length = 8192\n")
    monkeypatch.setenv("MUSEKIT_CONFIG", str(chosen))

    assert config_file() == chosen
    assert load_settings().engine.context_length == 8192


def test_user_config_folder_is_the_last_resort(isolated: Path, tmp_path: Path) -> None:
    user_file = write(tmp_path / "xdg" / "musekit" / "musekit.toml", "log_level = 'ERROR'\n")
    assert config_file() == user_file
    assert load_settings().log_level == "ERROR"

    write(isolated / "musekit.toml", "log_level = 'INFO'\n")
    assert load_settings().log_level == "INFO"


def test_precedence_arguments_env_dotenv_toml_defaults(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        isolated / "musekit.toml", "[engine]\ncontext_length = 1024\nthreads = 1\nmax_queue = 5\n"
    )
    assert load_settings().engine.context_length == 1024

    write(isolated / ".env", "MUSEKIT_ENGINE__CONTEXT_LENGTH=3000\nMUSEKIT_ENGINE__THREADS=2\n")
    assert load_settings().engine.context_length == 3000

    monkeypatch.setenv("MUSEKIT_ENGINE__CONTEXT_LENGTH", "4096")
    settings = load_settings()
    # Each source overrides only what it sets: nested sections are merged, not replaced.
    assert settings.engine.context_length == 4096  # environment
    assert settings.engine.threads == 2  # .env
    assert settings.engine.max_queue == 5  # TOML
    assert settings.log_level == "WARNING"  # default

    assert load_settings(log_level="ERROR").log_level == "ERROR"  # explicit argument


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("MUSEKIT_ENGINE__CONTEXT_LENGTH", "lots", "engine.context_length", "valid integer"),
        ("MUSEKIT_ENGINE__CONTEXT_LENGTH", "100", "engine.context_length", ">= 256"),
        ("MUSEKIT_ENGINE__THREADS", "0", "engine.threads", "greater than or equal to 1"),
        ("MUSEKIT_ENGINE__BACKEND", "cloud", "engine.backend", "'embedded'"),
        ("MUSEKIT_LOG_LEVEL", "LOUD", "log_level", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ],
)
def test_a_wrong_value_names_the_setting_its_variable_and_what_is_expected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = caught.value.message
    assert f"{field} (env {variable}): " in message
    assert expected.replace(">= ", "greater than or equal to ") in message
    assert caught.value.exit_code == 2


def test_a_wrong_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "hunter2-secret")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "hunter2" not in caught.value.message


def test_an_unknown_setting_in_the_toml_file_is_named(isolated: Path) -> None:
    write(isolated / "musekit.toml", "[engine]\ncontext_lenght = 4096\n")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "engine.context_lenght (env MUSEKIT_ENGINE__CONTEXT_LENGHT): unknown setting" in (
        caught.value.message
    )


def test_a_misspelt_top_level_variable_is_refused_not_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MUSEKIT_LOGLEVEL", "DEBUG")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "Unknown setting variable MUSEKIT_LOGLEVEL" in caught.value.message
    assert "MUSEKIT_LOG_LEVEL" in caught.value.message


def test_an_unknown_line_in_dotenv_is_named_as_written(isolated: Path) -> None:
    write(isolated / ".env", "MUSEKIT_LOGLEVEL=DEBUG\n")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "MUSEKIT_LOGLEVEL (in .env): unknown setting" in caught.value.message


def test_a_list_setting_that_is_not_json_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MUSEKIT_PLUGINS__DISABLED", "write,poem")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = caught.value.message
    assert message.startswith("plugins (env MUSEKIT_PLUGINS__DISABLED): ")
    assert "written as JSON" in message


def test_malformed_toml_says_which_file_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "team.toml", "[engine]\ncontext_length 4096\nthreads = 2\n")
    monkeypatch.setenv("MUSEKIT_CONFIG", str(path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = caught.value.message
    assert message.startswith(f"Settings file '{path}' is not valid TOML: ")
    assert "line 2, column 16" in message
    assert "Expected '='" in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_missing_musekit_config_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEKIT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match=r"MUSEKIT_CONFIG: no settings file at '.*nope\.toml'"):
        load_settings()
