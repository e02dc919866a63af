"""musekit's pytest plugin (entry point ``pytest11``): fixtures for plugin authors.

* ``fake_engine``: a fresh :class:`~musekit.testing.FakeEngine`.
* ``fake_vllm``: a running :class:`~musekit.testing.FakeVLLM` server on 127.0.0.1.
* ``musekit_plugins``: which plugins ``musekit_kit`` loads; ``None`` (the default)
  loads every installed plugin. Override it to list plugin modules instead.
* ``musekit_settings``: plugin settings sections, by plugin name (default: none).
* ``musekit_kit``: a :class:`~musekit.testing.Kit` over those plugins and ``fake_engine``.
* ``invoke``: ``musekit_kit.invoke``, to run a command: ``invoke("write", "first snow")``.

This module is imported in every pytest run where musekit is installed, so it
imports nothing heavy until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from musekit.testing.fake_engine import FakeEngine
    from musekit.testing.fake_vllm import FakeVLLM
    from musekit.testing.kit import Invoke, Kit, Plugins, PluginSettings


@pytest.fixture
def fake_engine() -> FakeEngine:
    """A fresh :class:`FakeEngine` that answers "ok" until scripted otherwise."""
    from musekit.testing.fake_engine import FakeEngine

    return FakeEngine()


@pytest.fixture
def fake_vllm() -> Iterator[FakeVLLM]:
    """A fake vLLM server answering "ok" on 127.0.0.1, stopped after the test; ``.base_url``."""
    from musekit.testing.fake_vllm import FakeVLLM

    with FakeVLLM() as server:
        yield server


@pytest.fixture
def musekit_plugins() -> Plugins | None:
    """The plugins ``musekit_kit`` loads: ``None`` means every installed plugin."""
    return None


@pytest.fixture
def musekit_settings() -> PluginSettings:
    """Settings sections for ``musekit_kit``'s plugins, keyed by plugin name."""
    return {}


@pytest.fixture
def musekit_kit(
    fake_engine: FakeEngine, musekit_plugins: Plugins | None, musekit_settings: PluginSettings
) -> Kit:
    """A kit running ``musekit_plugins`` with ``musekit_settings`` on ``fake_engine``."""
    from musekit.testing.kit import make_kit

    return make_kit(musekit_plugins, engine=fake_engine, settings=musekit_settings)


@pytest.fixture
def invoke(musekit_kit: Kit) -> Invoke:
    """Run a command on ``musekit_kit``: ``invoke(command, text=None, **params)``."""
    return musekit_kit.invoke
