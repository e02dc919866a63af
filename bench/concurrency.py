"""64 concurrent commands vs one, through the real Runner, on a fake engine with 50 ms latency.

The host must never serialize commands: with every engine call taking 50 ms,
64 commands at once should finish in about the time of one. The command is the
built-in ``write``, loaded from its installed ``musekit.plugins`` entry point.

Run: ``python bench/concurrency.py`` (target: ratio <= 1.3). It also prints the host's
CPU time per command (the batch run with no engine latency): on one event loop
the 64 commands' own work adds up, so the ratio is about
``1 + 64 * per_command / latency``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from _shared import write_batch, write_host

from musekit.plugins import PluginHost
from musekit.runner import Runner
from musekit.testing.fake_engine import FakeEngine

TARGET = 1.3
REPLY = "Salt on the glass, the lamp still turning, one last ship to see home."


async def measure(
    host: PluginHost, concurrency: int, latency: float, repeats: int
) -> tuple[float, float]:
    """Median seconds of one command and of ``concurrency`` commands, interleaved."""
    runner = Runner(host, FakeEngine(default=REPLY, latency=latency))
    await write_batch(runner, concurrency, REPLY)  # warm-up: imports, pydantic schemas
    singles, batches = [], []
    for _ in range(repeats):
        singles.append(await write_batch(runner, 1, REPLY))
        batches.append(await write_batch(runner, concurrency, REPLY))
    return statistics.median(singles), statistics.median(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05, help="fake engine latency (s)")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    host = write_host()
    single, batch = asyncio.run(measure(host, args.concurrency, args.latency, args.repeats))
    _, cpu_batch = asyncio.run(measure(host, args.concurrency, 0.0, args.repeats))
    ratio = batch / single
    runs = f"(median of {args.repeats})"
    print(f"1 command:             {single * 1000:7.1f} ms {runs}")
    print(f"{args.concurrency} concurrent commands: {batch * 1000:7.1f} ms {runs}")
    per_command = cpu_batch / args.concurrency * 1e6
    print(f"host CPU per command: {per_command:7.0f} us (no engine latency)")
    verdict = "ok" if ratio <= TARGET else "ABOVE TARGET"
    print(f"ratio: {ratio:.3f} (target <= {TARGET}) {verdict}")


if __name__ == "__main__":
    main()
