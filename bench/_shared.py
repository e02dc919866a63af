"""Helpers the benchmark scripts share (a module, not a benchmark)."""

from __future__ import annotations

import asyncio
import time

from musekit.invocation import Invocation
from musekit.plugins import PluginHost, PluginSelection
from musekit.runner import Runner


def write_host() -> PluginHost:
    """A host with the installed built-in ``write`` plugin only."""
    host = PluginHost(PluginSelection(enabled=frozenset({"write"})))
    host.load_entry_points()
    if "write" not in host.commands:
        raise SystemExit("the built-in 'write' command is not installed (pip install -e .)")
    return host


async def write_batch(runner: Runner, count: int, reply: str) -> float:
    """Seconds for ``count`` ``write`` commands at once; checks each returned ``reply``."""
    invocations = [
        Invocation(command="write", params={"prompt": f"a lighthouse keeper's last night #{i}"})
        for i in range(count)
    ]
    started = time.perf_counter()
    results = await asyncio.gather(*(runner.run(inv) for inv in invocations))
    elapsed = time.perf_counter() - started
    if any(result.text != reply for result in results):
        raise SystemExit("a command returned the wrong text")
    return elapsed
