"""``musekit doctor``: is everything in place to run commands? In plain words."""

from __future__ import annotations

import asyncio
import importlib.metadata
import platform
from collections.abc import Callable

from rich.markup import escape

from musekit.cli.session import stdout
from musekit.errors import MusekitError

Check = Callable[[], str]


def run_doctor(*, debug: bool) -> None:
    """Run each check in order, print ✓ or ✗ with a sentence, exit 1 if any failed."""
    state: dict[str, object] = {}
    checks: list[tuple[str, Check]] = [
        ("Python", lambda: f"Python {platform.python_version()}, musekit {_version('musekit')}"),
        ("Settings", lambda: _settings(state)),
        ("Plugins", lambda: _plugins(state)),
        ("Engine", lambda: _engine(state)),
        ("Model", lambda: _model(state)),
    ]
    failed = False
    for label, check in checks:
        try:
            message = check()
        except MusekitError as exc:
            failed = True
            stdout.print(f"[red]✗[/] [bold]{label}[/]: {escape(exc.message)}")
            if label in ("Settings", "Engine"):
                break
        except Exception as exc:
            failed = True
            stdout.print(f"[red]✗[/] [bold]{label}[/]: unexpected {type(exc).__name__}")
            if debug:
                stdout.print_exception()
            break
        else:
            stdout.print(f"[green]✓[/] [bold]{label}[/]: {escape(message)}")
    raise SystemExit(1 if failed else 0)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _settings(state: dict[str, object]) -> str:
    from musekit.settings import config_file, load_settings

    state["settings"] = load_settings()
    source = config_file()
    where = f"file {source}" if source else "no settings file (defaults and MUSEKIT_ variables)"
    return f"valid; {where}"


def _plugins(state: dict[str, object]) -> str:
    from musekit.app import load_host
    from musekit.settings import Settings

    settings = state["settings"]
    assert isinstance(settings, Settings)
    host = load_host(settings)
    broken = [f"{i.name} ({i.status}: {i.error})" for i in host.plugins.values() if i.error]
    summary = f"{len(host.commands)} commands from {len(host.plugins)} plugins"
    if broken:
        raise MusekitError(f"{summary}; not loaded: {', '.join(broken)}")
    return summary


def _engine(state: dict[str, object]) -> str:
    from musekit.engine.models import resolve_model_path
    from musekit.settings import Settings

    settings = state["settings"]
    assert isinstance(settings, Settings)
    path = resolve_model_path(settings.engine.model_path)
    state["model_path"] = path
    llama = _version("llama-cpp-python")
    if llama == "not installed":
        raise MusekitError("llama-cpp-python is not installed: `pip install llama-cpp-python`.")
    size_mb = path.stat().st_size / 1e6
    return f"embedded llama.cpp (llama-cpp-python {llama}); model {path.name}, {size_mb:.0f} MB"


def _model(state: dict[str, object]) -> str:
    from musekit.engine.factory import create_engine
    from musekit.engine.types import ChatRequest, Message, Sampling
    from musekit.settings import Settings

    settings = state["settings"]
    assert isinstance(settings, Settings)

    async def probe() -> str:
        engine = create_engine(settings.engine)
        try:
            request = ChatRequest(
                messages=(Message(role="user", content="Say hello."),),
                sampling=Sampling(max_tokens=8, seed=0),
            )
            return await engine.generate(request)
        finally:
            await engine.aclose()

    text = asyncio.run(probe())
    return f"loads and generates (said {text.strip()[:40]!r})"
