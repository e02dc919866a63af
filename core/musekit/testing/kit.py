"""A plugin host and runner around a fake engine: run commands in tests, inspect what they did."""

from __future__ import annotations

import asyncio
import importlib.metadata
import types
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

from musekit.context import Turn
from musekit.engine.base import Engine
from musekit.engine.types import ChatRequest, StreamEvent
from musekit.invocation import Invocation
from musekit.plugins import ENTRY_POINT_GROUP, PluginHost
from musekit.result import Result
from musekit.runner import Runner
from musekit.testing.fake_engine import FakeEngine
from musekit.testing.prompt import render_prompt

#: Plugins for a kit: plugin objects (modules, usually), or a mapping of plugin name to plugin.
Plugins = Mapping[str, object] | Iterable[object]

#: Settings for a kit: plugin name -> that plugin's settings section.
PluginSettings = Mapping[str, Mapping[str, Any]]

_T = TypeVar("_T")


class PluginLoadError(Exception):
    """A plugin did not load into the kit; the message says which, why, and where."""


@dataclass(frozen=True)
class Outcome:
    """One command run: its :class:`Result` and the engine requests it made, in order."""

    result: Result
    requests: tuple[ChatRequest, ...]

    @property
    def text(self) -> str:
        """The result as plain text (its section bodies)."""
        return self.result.text

    @property
    def request(self) -> ChatRequest:
        """The first engine request; fails the test if the command made none."""
        if not self.requests:
            raise AssertionError(f"the '{self.result.command}' command made no engine request")
        return self.requests[0]

    @property
    def prompt(self) -> str:
        """The first request's messages as readable text (see :func:`render_prompt`)."""
        return render_prompt(self.request)


#: The type of :meth:`Kit.invoke` and of the ``invoke`` fixture, for annotating tests.
Invoke = Callable[..., "Outcome"]


class Kit:
    """Plugins loaded in a real :class:`PluginHost`, run by the real :class:`Runner`
    against a :class:`FakeEngine`.

    ``invoke`` and ``run`` are for plain (sync) tests; ``ainvoke`` and ``arun``
    for async ones. A failing command raises its :class:`MusekitError`, exactly
    the error a user would see.
    """

    def __init__(self, host: PluginHost, engine: FakeEngine) -> None:
        self.host = host
        self.engine = engine

    @property
    def commands(self) -> list[str]:
        """Names of the commands the loaded plugins provide."""
        return sorted(self.host.commands)

    def with_engine(self, engine: FakeEngine) -> Kit:
        """A kit over the same loaded plugins and another engine."""
        return Kit(self.host, engine)

    def invocation(self, command: str, text: str | None = None, /, **params: Any) -> Invocation:
        """The invocation :meth:`invoke` runs; ``text`` fills the command's ``text_param``."""
        if text is not None:
            spec = self.host.command(command).spec
            if spec.text_param is None:
                raise TypeError(f"'{command}' takes no free text; pass its parameters by name")
            if spec.text_param in params:
                raise TypeError(f"'{spec.text_param}' given both as text and by name")
            params = {spec.text_param: text, **params}
        return Invocation(command=command, params=params)

    async def arun(self, invocation: Invocation, *, history: Sequence[Turn] = ()) -> Outcome:
        """Run an invocation through the runner; return its result and engine requests.

        ``history`` stands for the conversation's earlier turns (``ctx.history``), as the
        command service would load them for a reply in a chat thread.
        """
        recorder = _Recorder(self.engine)
        result = await Runner(self.host, recorder).run(invocation, history=tuple(history))
        return Outcome(result=result, requests=tuple(recorder.requests))

    async def ainvoke(self, command: str, text: str | None = None, /, **params: Any) -> Outcome:
        """Run ``command`` with ``text`` (its free text, if any) and parameters by name."""
        return await self.arun(self.invocation(command, text, **params))

    def run(self, invocation: Invocation, *, history: Sequence[Turn] = ()) -> Outcome:
        """:meth:`arun` for sync tests."""
        return run_sync(self.arun(invocation, history=history))

    def invoke(self, command: str, text: str | None = None, /, **params: Any) -> Outcome:
        """:meth:`ainvoke` for sync tests: ``kit.invoke("write", "first snow", length="long")``."""
        return run_sync(self.ainvoke(command, text, **params))


def make_kit(
    plugins: Plugins | types.ModuleType | None = None,
    *,
    engine: FakeEngine | None = None,
    settings: PluginSettings | None = None,
) -> Kit:
    """A kit with the given plugins (a module, a list, or a name -> plugin mapping), or with
    every installed plugin if ``plugins`` is None.

    A plugin object is named after its ``musekit.plugins`` entry point when it is
    installed, else after its module (``my_plugin.commands`` -> ``commands``);
    pass a mapping to choose names. ``settings`` maps plugin names to settings
    sections, as ``plugin_config`` does in a settings file. A plugin that fails
    to load raises :class:`PluginLoadError` with the reason and traceback.
    """
    sections = {name: dict(section) for name, section in (settings or {}).items()}
    host = PluginHost(plugin_config=sections)
    if plugins is None:
        host.load_entry_points()
    else:
        for name, plugin in _named(plugins):
            host.add(plugin, name=name, version=str(getattr(plugin, "__version__", "0")))
    broken = [info for info in host.plugins.values() if info.status in ("failed", "incompatible")]
    if broken:
        report = "\n".join(
            f"plugin '{info.name}' {info.error}" + (f"\n{info.traceback}" if info.traceback else "")
            for info in broken
        )
        raise PluginLoadError(report)
    return Kit(host, engine or FakeEngine())


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code (not from inside an event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop running: the normal case
    else:
        coro.close()
        raise RuntimeError(
            "this sync helper cannot run inside an event loop; in async tests, await the "
            "async form (ainvoke, arun, acheck_conformance)"
        )
    return asyncio.run(coro)


class _Recorder(Engine):
    """Passes requests on to the kit's engine, keeping those of one command run."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[ChatRequest] = []

    @property
    def model(self) -> str:
        return self.inner.model

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        self.requests.append(request)
        async with aclosing(self.inner.stream(request)) as events:
            async for event in events:
                yield event


def _named(plugins: Plugins | types.ModuleType) -> list[tuple[str, object]]:
    if isinstance(plugins, Mapping):
        return list(plugins.items())
    items: Iterable[object] = [plugins] if isinstance(plugins, types.ModuleType) else plugins
    installed = {
        ep.value: ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    }
    named = []
    for plugin in items:
        module = plugin.__name__ if isinstance(plugin, types.ModuleType) else None
        if module is not None:
            name = installed.get(module, module.rpartition(".")[2])
        else:
            name = getattr(plugin, "__name__", type(plugin).__name__)
        named.append((name, plugin))
    return named
