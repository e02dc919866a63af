"""Shared fixtures: an isolated environment, fake installed plugins, CLI runs."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pg_server import PostgresServer, unavailable_reason

from musekit.testing import FakeEngine

FIXTURES = Path(__file__).parent / "fixtures"
MUSEKIT_SCRIPT = Path(sys.executable).with_name("musekit")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test runs in an empty folder, with no MUSEKIT_ variables and no user config."""
    home = tmp_path / "work"
    home.mkdir()
    monkeypatch.chdir(home)
    # The user's own musekit.toml must not leak in: in process, and in subprocesses (Linux).
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(
        "platformdirs.user_config_path", lambda app, *args, **kwargs: tmp_path / "xdg" / app
    )
    # Nor may the user's store: the default SQLite file goes to a per-test data folder.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setattr(
        "platformdirs.user_data_path", lambda app, *args, **kwargs: tmp_path / "xdg-data" / app
    )
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    before = {k: v for k, v in os.environ.items() if k.startswith("MUSEKIT_")}
    for name in before:
        monkeypatch.delenv(name)
    root = logging.getLogger()
    level = root.level
    yield home
    # `musekit --config` and `--debug` change the process's environment and root logger.
    for name in [k for k in os.environ if k.startswith("MUSEKIT_")]:
        del os.environ[name]
    os.environ.update(before)
    root.setLevel(level)


@dataclass
class FakeSite:
    """A folder on sys.path holding fake installed distributions of test plugins."""

    path: Path
    modules: list[str] = field(default_factory=list)

    def install(
        self,
        module: str,
        *,
        entry_name: str | None = None,
        dist: str | None = None,
        version: str = "1.0.0",
    ) -> str:
        """Install ``tests/fixtures/<module>.py`` as a distribution advertising one plugin.

        Returns the plugin (entry point) name: by default the module name without ``mkt_``.
        """
        name = entry_name or module.removeprefix("mkt_").replace("_", "-")
        dist_name = dist or f"musekit-test-{name}"
        shutil.copy(FIXTURES / f"{module}.py", self.path / f"{module}.py")
        info = self.path / f"{dist_name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[musekit.plugins]\n{name} = {module}\n", encoding="utf-8"
        )
        self.modules.append(module)
        return name


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    """Install test plugins for real: importlib.metadata finds them like any package."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]))
    fake = FakeSite(path)
    yield fake
    for module in fake.modules:
        sys.modules.pop(module, None)


@pytest.fixture
def cli_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """A FakeEngine that in-process CLI runs use instead of the embedded model."""
    fake = FakeEngine(default="A fake reply from the engine.")
    monkeypatch.setattr("musekit.app.create_engine", lambda settings: fake)
    return fake


Invoke = Callable[..., Result]


@pytest.fixture
def cli() -> Invoke:
    """Run ``musekit ARGS...`` in process with click's CliRunner."""
    from musekit.cli.main import cli as musekit_cli

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(musekit_cli, list(args), input=input, prog_name="musekit")

    return invoke


Script = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def musekit_script() -> Script:
    """Run the installed ``musekit`` console script in a subprocess (here, with this env)."""

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MUSEKIT_SCRIPT), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


# The store: SQLite always, PostgreSQL when its binaries are installed ------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the session; skipped (failed on CI) without one."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh, empty database on the session's server: its SQLAlchemy URL."""
    import asyncpg

    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield postgres_server.url(name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty store: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))
