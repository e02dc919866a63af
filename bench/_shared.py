"""Helpers the benchmark scripts share (a module, not a benchmark)."""

from __future__ import annotations

from musekit.plugins import PluginHost, PluginSelection


def write_host() -> PluginHost:
    """A host with the installed built-in ``write`` plugin only."""
    host = PluginHost(PluginSelection(enabled=frozenset({"write"})))
    host.load_entry_points()
    if "write" not in host.commands:
        raise SystemExit("the built-in 'write' command is not installed (pip install -e .)")
    return host
