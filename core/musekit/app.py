"""Assembling a host and runner from settings: what every front end does first."""

from __future__ import annotations

from musekit.engine.base import Engine
from musekit.engine.factory import create_engine
from musekit.plugins import PluginHost
from musekit.runner import Runner
from musekit.settings import Settings


def load_host(settings: Settings) -> PluginHost:
    """A plugin host with every installed plugin the settings allow."""
    host = PluginHost(settings.plugins.selection(), settings.plugin_config)
    host.load_entry_points()
    return host


def create_runner(
    settings: Settings, engine: Engine | None = None, host: PluginHost | None = None
) -> Runner:
    """A runner over the installed (or given) plugins and the configured (or given) engine."""
    return Runner(host or load_host(settings), engine or create_engine(settings.engine))
