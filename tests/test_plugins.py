"""The plugin host: discovery through real entry points, fault isolation, selection, settings."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import FakeSite

from musekit import CommandSpec, Context, Invocation, Invoker, Params, Result, Runner, hookimpl
from musekit.app import load_host
from musekit.errors import CommandUnavailable, PermissionDenied
from musekit.plugins import API_VERSION, PluginHost
from musekit.settings import load_settings
from musekit.testing import FakeEngine


async def run_command(host: PluginHost, command: str, **params: object) -> Result:
    return await Runner(host, FakeEngine()).run(Invocation(command=command, params=params))


def assert_secret_not_logged(caplog: pytest.LogCaptureFixture, secret: str) -> None:
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            assert secret not in record.getMessage()
            assert record.exc_info is None


# Discovery ---------------------------------------------------------------------------------


def test_builtin_write_is_found_through_its_installed_entry_point() -> None:
    entry_points = importlib.metadata.entry_points(group="musekit.plugins")
    advertised = {ep.name: ep.value for ep in entry_points}
    assert advertised["write"] == "musekit_plugins.write"

    host = PluginHost()
    host.load_entry_points()

    info = host.plugins["write"]
    assert info.status == "loaded"
    assert info.error is None
    assert info.version == importlib.metadata.version("musekit")
    assert info.commands == ["write"]
    assert host.command("write").plugin == "write"


async def test_third_party_distribution_is_discovered_and_runs(site: FakeSite) -> None:
    name = site.install("mkt_tidy", dist="musekit-tidy", version="2.3.4")
    assert name == "tidy"

    host = PluginHost()
    host.load_entry_points()

    info = host.plugins["tidy"]
    assert (info.status, info.version, info.commands) == ("loaded", "2.3.4", ["tidy", "ask"])
    assert [plugin for plugin, _ in host.permission_checks] == ["tidy"]
    assert host.plugin_settings("tidy") is not None
    result = await run_command(host, "tidy", text="Hello", case="upper")
    assert result.text == "HELLO"


# Fault isolation ---------------------------------------------------------------------------

BROKEN = [
    # module, status, words the error must contain, secret it must not contain
    ("mkt_broken_import", "failed", ["failed to import", "RuntimeError"], "hunter2"),
    ("mkt_raise_register", "failed", ["raised in register_commands", "KeyError"], "abc123"),
    ("mkt_unknown_hook", "failed", ["register_exporters", "not a musekit hook"], None),
    ("mkt_old_api", "incompatible", ["supports musekit API 0", f"API {API_VERSION}"], None),
    ("mkt_no_api", "incompatible", ["declares no MUSEKIT_API"], None),
    ("mkt_sync_handler", "failed", ["'sync'", "must be an async function"], None),
]


@pytest.mark.parametrize(("module", "status", "words", "secret"), BROKEN)
async def test_a_broken_plugin_is_recorded_and_the_others_keep_working(
    site: FakeSite,
    caplog: pytest.LogCaptureFixture,
    module: str,
    status: str,
    words: list[str],
    secret: str | None,
) -> None:
    broken = site.install(module)
    site.install("mkt_tidy")
    caplog.set_level(logging.DEBUG, logger="musekit")

    host = PluginHost()
    host.load_entry_points()

    info = host.plugins[broken]
    assert info.status == status
    assert info.commands == []
    assert info.error is not None
    for word in words:
        assert word in info.error
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(broken in w and info.error in w for w in warnings), warnings
    if secret is not None:
        assert secret not in info.error
        assert_secret_not_logged(caplog, secret)
        assert info.traceback is not None
        assert secret in info.traceback  # kept for --debug
    # Nothing the broken plugin registered survives; the others are intact and run.
    assert broken not in {c.plugin for c in host.commands.values()}
    assert host.plugins["tidy"].status == host.plugins["write"].status == "loaded"
    assert (host.command("tidy").plugin, host.command("write").plugin) == ("tidy", "write")
    assert (await run_command(host, "tidy", text="Still here")).text == "still here"


async def test_a_plugin_failing_midway_through_registration_leaves_nothing_behind(
    site: FakeSite,
) -> None:
    site.install("mkt_raise_register")
    host = PluginHost()
    host.load_entry_points()

    assert "half" not in host.commands  # registered, then the hook raised: rolled back
    with pytest.raises(CommandUnavailable, match=r"'half' command is unavailable: plugin 'raise"):
        await run_command(host, "half")


async def test_a_command_name_clash_keeps_the_first_and_records_the_other(
    site: FakeSite,
) -> None:
    site.install("mkt_tidy")  # plugin "tidy", loads first (by name)
    site.install("mkt_clash", entry_name="tidy-rival")

    host = PluginHost()
    host.load_entry_points()

    assert host.command("tidy").plugin == "tidy"
    rival = host.plugins["tidy-rival"]
    assert rival.status == "loaded"
    assert rival.commands == ["sweep"]
    assert rival.problems == ["command 'tidy' is already provided by plugin 'tidy'"]
    assert (await run_command(host, "tidy", text="Mine")).title == "Tidied"
    assert (await run_command(host, "sweep")).title == "sweep from clash"


def test_plugins_declaring_several_api_versions_load_when_one_matches() -> None:
    host = PluginHost()
    assert host.add(SimpleNamespace(MUSEKIT_API=[API_VERSION, 99]), name="ok").status == "loaded"
    info = host.add(SimpleNamespace(MUSEKIT_API=(API_VERSION + 1,)), name="future")
    assert info.status == "incompatible"
    assert info.error == (
        f"supports musekit API {API_VERSION + 1}; this musekit provides API {API_VERSION}"
    )


def test_hook_with_arguments_the_spec_does_not_provide_is_rejected() -> None:
    class Plugin:
        MUSEKIT_API = (1,)

        @hookimpl
        def register_commands(self, register: object, channel: str) -> None:
            raise AssertionError("never called")

    info = PluginHost().add(Plugin(), name="odd")
    assert info.status == "failed"
    assert info.error is not None
    assert "channel" in info.error


# Selection by settings ---------------------------------------------------------------------


def test_disabled_plugins_are_not_even_imported(
    site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.install("mkt_tidy")
    site.install("mkt_broken_import")
    monkeypatch.setenv("MUSEKIT_PLUGINS__DISABLED", '["tidy", "broken-import"]')

    host = load_host(load_settings())

    assert host.plugins["tidy"].status == "disabled"
    assert host.plugins["broken-import"].status == "disabled"
    assert host.plugins["broken-import"].error is None
    assert "mkt_tidy" not in sys.modules
    assert "mkt_broken_import" not in sys.modules
    assert {"tidy", "ask"}.isdisjoint(host.commands)
    assert host.command("write").plugin == "write"


def test_enabled_is_an_allow_list_and_disabled_wins(
    site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.install("mkt_tidy")
    site.install("mkt_clash", entry_name="clash")
    monkeypatch.setenv("MUSEKIT_PLUGINS__ENABLED", '["tidy", "clash"]')
    monkeypatch.setenv("MUSEKIT_PLUGINS__DISABLED", '["clash"]')

    host = load_host(load_settings())

    statuses = {name: info.status for name, info in host.plugins.items()}
    assert statuses.pop("tidy") == "loaded"
    assert set(statuses.values()) == {"disabled"}  # clash, write, and any other installed
    assert {"clash", "write"} <= set(statuses)
    assert sorted(host.commands) == ["ask", "tidy"]
    assert "mkt_clash" not in sys.modules


# Plugin settings -----------------------------------------------------------------------------


async def test_plugin_settings_come_from_the_environment_validated_by_the_plugin_model(
    site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.install("mkt_tidy")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__TIDY__PREFIX", "> ")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__TIDY__WIDTH", "80")

    host = load_host(load_settings())

    settings = host.plugin_settings("tidy")
    assert type(settings).__name__ == "TidySettings"
    assert settings.model_dump() == {"prefix": "> ", "width": 80}
    assert (await run_command(host, "tidy", text="Hi")).text == "> hi"


def test_a_wrong_plugin_setting_names_plugin_config_plugin_field(
    site: FakeSite, isolated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site.install("mkt_tidy")
    (isolated / "musekit.toml").write_text(
        '[plugin_config.tidy]\nwidth = 5\nprefix = "sk-secret-value-1234"\n', encoding="utf-8"
    )

    host = load_host(load_settings())

    info = host.plugins["tidy"]
    assert info.status == "failed"
    assert info.error is not None
    assert "plugin_config.tidy.width" in info.error
    assert "greater than or equal to 10" in info.error
    assert "plugin_config.tidy.prefix" in info.error
    assert "at most 10 characters" in info.error
    assert "sk-secret-value-1234" not in info.error
    assert_secret_not_logged(caplog, "sk-secret-value-1234")
    # Nothing of the plugin stays registered, not even its permission check.
    assert "tidy" not in host.commands
    assert host.permission_checks == []
    assert host.plugins["write"].status == "loaded"
    # Asking for its command says why it is missing, rather than "unknown command".
    with pytest.raises(CommandUnavailable) as caught:
        host.command("tidy")
    assert caught.value.message.startswith("The 'tidy' command is unavailable: plugin 'tidy' ")
    assert "plugin_config.tidy.width" in caught.value.message
    assert "sk-secret-value-1234" not in caught.value.message


async def test_a_plugin_permission_check_applies_to_every_command(site: FakeSite) -> None:
    site.install("mkt_tidy")
    host = PluginHost()
    host.load_entry_points()
    runner = Runner(host, FakeEngine())
    banned = Invoker(user_id="u1", roles=("banned",))

    with pytest.raises(PermissionDenied, match="banned users may not run commands"):
        await runner.run(Invocation(command="write", params={"prompt": "x"}, invoker=banned))


async def test_plugin_objects_added_directly_behave_like_entry_points() -> None:
    class Hello(Params):
        pass

    async def hello(ctx: Context, params: Hello) -> Result:
        return Result(title=f"hello from {ctx.spec.name}")

    class Plugin:
        MUSEKIT_API = (1,)

        @hookimpl
        def register_commands(self, register: object) -> None:
            assert callable(register)
            register(CommandSpec(name="hello", description="Say hello.", params=Hello), hello)

    host = PluginHost()
    assert host.add(Plugin(), name="greeter", version="0.2").commands == ["hello"]
    assert (await run_command(host, "hello")).title == "hello from hello"
