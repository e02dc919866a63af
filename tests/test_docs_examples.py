"""The documentation's examples, run for real, so the docs cannot drift from the code.

* docs/sdk.md: the example plugin is extracted, imported and run through the real
  PluginHost and Runner on a FakeEngine; its pyproject snippet is installed as a
  distribution and found by the real ``musekit`` console script.
* docs/settings.md: every setting is documented with its variable; the example
  TOML and .env files load and set what they say.
* README.md: the quickstart's test command is the one CI runs; the CLI commands
  and benchmark scripts it lists exist; local links resolve.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import sys
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeSite, Script
from pydantic import BaseModel

from musekit import Invocation, Invoker, ResultField, Runner
from musekit.errors import EngineError, InvalidParameters, PermissionDenied
from musekit.plugins import PluginHost
from musekit.settings import Settings, env_name, load_settings
from musekit.testing import check_conformance, make_kit
from musekit.testing.fake_engine import FakeEngine

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SDK_DOC = ROOT / "docs" / "sdk.md"
SETTINGS_DOC = ROOT / "docs" / "settings.md"

_FILE_BLOCK = re.compile(r"<!-- file: (?P<name>\S+) -->\s*```\w*\n(?P<body>.*?)\n```", re.DOTALL)

NAMES = ["Ada Quill", "Bram Holloway", "Tess Marrow"]
REPLY = json.dumps({"names": NAMES})


def doc_file(doc: Path, name: str) -> str:
    """The fenced block marked ``<!-- file: NAME -->`` in a document."""
    blocks = {m["name"]: m["body"] for m in _FILE_BLOCK.finditer(doc.read_text("utf-8"))}
    assert name in blocks, f"{doc.name} has no block marked <!-- file: {name} -->"
    return blocks[name] + "\n"


def section(doc: Path, heading: str) -> str:
    """The text of a ``## heading`` section, up to the next ``## ``."""
    text = doc.read_text("utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


# docs/sdk.md: the example plugin ------------------------------------------------


@pytest.fixture
def names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """The example plugin module from docs/sdk.md, imported from a file."""
    folder = tmp_path / "doc_plugin"
    folder.mkdir()
    (folder / "musekit_names.py").write_text(doc_file(SDK_DOC, "musekit_names.py"), "utf-8")
    monkeypatch.syspath_prepend(str(folder))
    yield importlib.import_module("musekit_names")
    sys.modules.pop("musekit_names", None)


def host_with(
    plugin: types.ModuleType, config: dict[str, dict[str, Any]] | None = None
) -> PluginHost:
    host = PluginHost(plugin_config=config)
    host.add(plugin, name="names", version="0.1.0")
    return host


async def test_the_sdk_example_runs_through_the_runner(names: types.ModuleType) -> None:
    host = host_with(names)
    assert host.plugins["names"].status == "loaded"
    assert host.plugins["names"].commands == ["names"]
    engine = FakeEngine([REPLY])
    invocation = Invocation(
        command="names", params={"description": "a retired smuggler who keeps bees", "count": 3}
    )

    result = await Runner(host, engine).run(invocation)

    assert result.text == "Ada Quill\nBram Holloway\nTess Marrow"
    assert result.sections[0].style == "verse"
    assert result.fields == [ResultField(name="era", value="any")]
    assert [a.filename for a in result.attachments] == ["names.json"]
    assert json.loads(result.attachments[0].data) == {"names": NAMES}
    assert result.warnings == []
    assert result.command == "names"
    assert result.metrics.completion_tokens > 0
    (request,) = engine.requests
    assert request.json_schema == names.NAMES_SCHEMA
    assert request.sampling.temperature == 0.9
    assert request.messages[0].content == names.SYSTEM_PROMPT
    assert request.messages[-1].content.endswith("Character: a retired smuggler who keeps bees")


async def test_the_sdk_example_keeps_the_count_and_warns_when_short(
    names: types.ModuleType,
) -> None:
    engine = FakeEngine([json.dumps({"names": [*NAMES, "Ivo Brand"]}), REPLY])
    runner = Runner(host_with(names), engine)

    two = await runner.run(Invocation(command="names", params={"description": "x", "count": 2}))
    five = await runner.run(Invocation(command="names", params={"description": "x", "count": 5}))

    assert two.text.splitlines() == NAMES[:2]
    assert two.warnings == []
    assert five.text.splitlines() == NAMES
    assert five.warnings == ["Only 3 of the 5 names asked for came back."]


async def test_the_sdk_example_reports_an_unreadable_answer_without_echoing_it(
    names: types.ModuleType,
) -> None:
    engine = FakeEngine(["Sure! Here are some names: Zed Quorra"])
    invocation = Invocation(command="names", params={"description": "a smuggler"})

    with pytest.raises(EngineError) as caught:
        await Runner(host_with(names), engine).run(invocation)

    assert caught.value.message == "The model's answer could not be read. Please try again."
    assert caught.value.exit_code == 1
    assert "Zed" not in str(caught.value)


async def test_the_sdk_example_refuses_bad_parameters_and_guests_before_the_engine(
    names: types.ModuleType,
) -> None:
    engine = FakeEngine([REPLY])
    runner = Runner(host_with(names), engine)
    guest = Invoker(user_id="u1", roles=("guest",))

    with pytest.raises(InvalidParameters) as bad:
        await runner.run(Invocation(command="names", params={"description": "x", "count": 11}))
    with pytest.raises(PermissionDenied) as denied:
        await runner.run(Invocation(command="names", params={"description": "x"}, invoker=guest))

    assert [p.field for p in bad.value.problems] == ["count"]
    assert "less than or equal to 10" in bad.value.problems[0].problem
    assert denied.value.message == "You can't run 'names': guests can't ask for names."
    assert engine.requests == []


async def test_the_sdk_example_reads_its_settings_section(names: types.ModuleType) -> None:
    engine = FakeEngine([REPLY])
    host = host_with(names, {"names": {"temperature": 0.3}})

    await Runner(host, engine).run(Invocation(command="names", params={"description": "x"}))

    assert engine.requests[0].sampling.temperature == 0.3


def test_the_sdk_example_with_a_bad_setting_fails_to_load_naming_it(
    names: types.ModuleType,
) -> None:
    host = host_with(names, {"names": {"temperature": 5}})

    info = host.plugins["names"]
    assert info.status == "failed"
    assert info.error is not None
    assert "plugin_config.names.temperature" in info.error
    assert "names" not in host.commands


def test_the_sdk_example_passes_the_conformance_check(names: types.ModuleType) -> None:
    kit = make_kit({"names": names})

    assert check_conformance(kit, reply=REPLY) == []


def test_the_sdk_pyproject_snippet_installs_a_plugin_the_cli_finds(
    site: FakeSite, musekit_script: Script
) -> None:
    project = tomllib.loads(doc_file(SDK_DOC, "pyproject.toml"))["project"]
    entry_points = project["entry-points"]["musekit.plugins"]
    assert entry_points == {"names": "musekit_names"}
    # Install it as pip would: the module, plus a dist-info with the metadata and entry points.
    (site.path / "musekit_names.py").write_text(doc_file(SDK_DOC, "musekit_names.py"), "utf-8")
    info = site.path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n", "utf-8"
    )
    lines = [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("[musekit.plugins]\n" + "\n".join(lines) + "\n", "utf-8")
    site.modules.append("musekit_names")

    listed = musekit_script("plugins", "--json")
    usage = musekit_script("run", "names", "--help")
    refused = musekit_script("run", "names", "--count", "11", "a smuggler")

    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["names"]["version"] == "0.1.0"
    assert plugins["names"]["status"] == "loaded"
    assert plugins["names"]["commands"] == ["names"]
    assert usage.returncode == 0, usage.stderr
    for option in ("--count", "--era", "[any|ancient|medieval|modern|future]"):
        assert option in usage.stdout
    example = usage.stdout.partition("Examples:")[2]
    assert "musekit run names --count 3" in example
    assert "a retired smuggler who keeps bees" in example
    assert refused.returncode == 2
    assert "--count" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_every_hook_and_register_protocol_named_in_the_sdk_doc_exists() -> None:
    from musekit import hookspecs

    text = SDK_DOC.read_text("utf-8")
    documented = set(re.findall(r"^### `(\w+)\(", text, re.MULTILINE))
    hooks = {name for name in vars(hookspecs) if name.startswith("register_")}
    assert documented == hooks
    for protocol in re.findall(r"\bRegister[A-Z]\w+", text):
        assert hasattr(hookspecs, protocol), protocol


# docs/settings.md ----------------------------------------------------------------


def setting_names(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of every leaf setting, descending into nested settings models."""
    names = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += setting_names(annotation, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    text = SETTINGS_DOC.read_text("utf-8")
    names = setting_names(Settings)
    assert "engine.context_length" in names

    for name in names:
        assert f"| `{name}` | `{env_name(name)}` |" in text, f"{name} is not in docs/settings.md"


def leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= leaves(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat


def test_the_example_toml_file_loads_and_sets_what_it_says(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = doc_file(SETTINGS_DOC, "musekit.toml")
    (isolated / "elsewhere.toml").write_text(text, "utf-8")
    monkeypatch.setenv("MUSEKIT_CONFIG", str(isolated / "elsewhere.toml"))
    expected = leaves(tomllib.loads(text))
    assert len(expected) >= 7

    loaded = leaves(load_settings().model_dump(mode="json"))
    defaults = leaves(Settings.model_construct().model_dump(mode="json"))

    assert [name for name, value in expected.items() if loaded[name] != value] == []
    assert [name for name, value in expected.items() if defaults.get(name) != value] != []


def test_the_example_env_file_loads_and_sets_what_it_says(isolated: Path) -> None:
    text = doc_file(SETTINGS_DOC, ".env")
    (isolated / ".env").write_text(text, "utf-8")

    settings = load_settings()

    assert settings.engine.context_length == 4096
    assert settings.engine.threads == 2
    assert settings.plugins.enabled == ["write"]
    assert settings.plugin_config == {"write": {"temperature": "0.6"}}
    assert settings.log_level == "DEBUG"
    assert len([line for line in text.splitlines() if line.startswith("MUSEKIT_")]) == 5


# README.md -----------------------------------------------------------------------


def quickstart_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)\n```", section(README, "Quickstart"), re.DOTALL)
    assert block is not None, "the quickstart has no ```sh block"
    return [line for line in block[1].splitlines() if line.strip()]


def test_the_quickstart_is_two_commands_and_ci_runs_the_second() -> None:
    install_and_run, test = quickstart_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()

    assert install_and_run.startswith("pip install . && musekit run write ")
    assert shlex.split(install_and_run)[-1] == "a lighthouse keeper's last night"
    assert test.endswith("&& python -m pytest")
    assert ci_lines[-1] == test


def test_the_quickstart_installs_every_project_whose_tests_it_runs() -> None:
    _, test = quickstart_commands()
    steps = [shlex.split(step) for step in test.split("&&")]
    assert steps[-1] == ["python", "-m", "pytest"]
    installed = set()
    for step in steps[:-1]:
        assert step[:2] == ["pip", "install"], step
        for word in step[2:]:
            if not word.startswith("-"):
                path = (ROOT / word.split("[")[0]).resolve()
                assert (path / "pyproject.toml").is_file(), f"{word} is not a project"
                installed.add(path)
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["pytest"][
        "ini_options"
    ]["testpaths"]
    assert ROOT in installed
    for folder in testpaths:
        project = (ROOT / folder).resolve().parent
        if project != ROOT:
            assert project in installed, f"the tests in {folder} need {project.name} installed"


def test_the_readme_shows_every_cli_command() -> None:
    from musekit.cli.main import cli

    usage = section(README, "Using the CLI")
    for name in cli.commands:
        assert f"musekit {name}" in usage, name
    for option in ("--json", "--output-dir", "--debug", "--config"):
        assert option in usage


def test_the_readme_lists_every_benchmark_script() -> None:
    benchmarks = section(README, "Benchmarks")
    # bench/_*.py are helper modules the scripts share, not benchmarks.
    scripts = sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))
    assert scripts
    for script in scripts:
        assert f"python bench/{script}" in benchmarks, script


@pytest.mark.parametrize("doc", [README, SDK_DOC, SETTINGS_DOC], ids=lambda p: p.name)
def test_local_links_resolve(doc: Path) -> None:
    text = doc.read_text("utf-8")
    headings = {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (doc.parent / path).exists(), f"{doc.name} links to missing {path}"
        else:
            assert anchor in headings, f"{doc.name} links to missing #{anchor}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
