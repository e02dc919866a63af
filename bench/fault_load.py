"""1,000 invocations through the command service against a faulty fake vLLM server.

Every installed command with an example runs in turn (its first example's
parameters), ``--concurrency`` at a time, through the real CommandService (store,
guard rails, runner) on the OpenAI-compatible engine, to the test kit's fake vLLM
server. Before one invocation in ten (``--fault-rate``), one fault is queued on
the server, in turn: a 503, a connection dropped mid-stream, a malformed chunk,
a stream that stalls past the engine's idle timeout. A queued fault hits the next
request to arrive, whichever invocation sent it. A 503 is retried by the engine,
so most end well; the others end as errors.

Then every invocation is looked up in the store: it must have ended (not
``running``), with a result, or with a clear error (a message, no traceback, no
exception text). Prints counts by status, the errors by message, throughput and
peak memory (RSS) against the RSS before the load. Exits 1 if any invocation is
lost or ended unclearly. Target: 0 lost.

Run: ``python bench/fault_load.py`` (SQLite in a temporary folder), or
``python bench/fault_load.py --store postgres --postgres-url postgresql://USER:PASSWORD@HOST/DB``
(or the URL in ``MUSEKIT_BENCH_POSTGRES_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from musekit.engine.openai.engine import OpenAIEngine
from musekit.guards.limits import Limiter
from musekit.invocation import Invocation, Invoker
from musekit.observability.metrics import ServiceMetrics
from musekit.plugins import PluginHost
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.settings import LimitsSettings, OpenAISettings
from musekit.store import Store, open_store
from musekit.testing.fake_vllm import FakeVLLM

POSTGRES_ENV = "MUSEKIT_BENCH_POSTGRES_URL"
REPLY = "Salt wind on the harbour wall,\nthe lamps come on one by one,\nand gulls go home."
FAULTS = ("503", "disconnect", "malformed", "stall")
IDLE_TIMEOUT = 0.5  # the engine gives up on a silent stream after this long
STALL = 1.5  # seconds a stalled stream stays silent

LOST = "lost"
UNCLEAR = "unclear"
_EXCEPTION_TEXT = re.compile(r"Traceback|\b\w+(Error|Exception): ")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_ENV))
    return parser.parse_args()


def store_url(args: argparse.Namespace, folder: Path) -> str:
    if args.store == "sqlite":
        return f"sqlite:///{folder / 'fault_load.db'}"
    if not args.postgres_url:
        print(
            "--store postgres needs a PostgreSQL database: pass --postgres-url "
            f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE or set {POSTGRES_ENV}.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return str(args.postgres_url)


def workload(host: PluginHost, count: int) -> list[Invocation]:
    """``count`` invocations cycling through every command that has an example."""
    examples = {
        name: command.spec.examples[0].params
        for name, command in sorted(host.commands.items())
        if command.spec.examples
    }
    skipped = sorted(set(host.commands) - set(examples))
    if skipped:
        print(f"skipped (no example to run): {', '.join(skipped)}")
    names = list(examples)
    return [
        Invocation(
            command=names[i % len(names)],
            params=examples[names[i % len(names)]],
            invoker=Invoker(user_id=f"U{i % 97}"),
            platform="bench",
            channel=f"C{i % 13}",
        )
        for i in range(count)
    ]


def queue_fault(fake: FakeVLLM, number: int) -> str:
    kind = FAULTS[number % len(FAULTS)]
    if kind == "503":
        fake.fail_next(503, retry_after=0.05)
    elif kind == "disconnect":
        fake.disconnect_after(3)
    elif kind == "malformed":
        fake.malformed_after(3)
    else:
        fake.stall_after(3, STALL)
    return kind


async def load(
    service: CommandService, fake: FakeVLLM, invocations: list[Invocation], args: argparse.Namespace
) -> tuple[Counter[str], float]:
    """Submit every invocation, ``concurrency`` at a time; faults queued as they go."""
    slots = asyncio.Semaphore(args.concurrency)
    every = round(1 / args.fault_rate) if args.fault_rate > 0 else 0
    faults: Counter[str] = Counter()

    async def one(index: int, invocation: Invocation) -> None:
        async with slots:
            if every and index % every == every - 1:
                faults[queue_fault(fake, sum(faults.values()))] += 1
            await service.submit(invocation)

    started = time.perf_counter()
    await asyncio.gather(*(one(i, inv) for i, inv in enumerate(invocations)))
    return faults, time.perf_counter() - started


async def audit(store: Store, invocations: list[Invocation]) -> tuple[Counter[str], Counter[str]]:
    """Each invocation's stored status, ``lost`` if missing or unfinished, ``unclear`` if it
    ended with neither a result nor a clear message; and the error messages."""
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for invocation in invocations:
        record = await store.get(invocation.id)
        if record is None or record.status == "running" or record.finished_at is None:
            statuses[LOST] += 1
        elif record.status == "ok":
            statuses["ok" if record.result is not None else UNCLEAR] += 1
        else:
            message = record.error or ""
            statuses[record.status if _clear(message) else UNCLEAR] += 1
            errors[message] += 1
    return statuses, errors


def _clear(message: str) -> bool:
    """A sentence for a person: not empty, no traceback, no ``SomeError: ...`` text."""
    return bool(message.strip()) and not _EXCEPTION_TEXT.search(message)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> int:
    args = options()
    # The fake server writes to connections the engine gave up on (stalled streams); asyncio
    # warns about each write. That is the server's side of an injected fault, not news.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        url = store_url(args, Path(folder))
        host = PluginHost()
        host.load_entry_points()
        invocations = workload(host, args.invocations)
        async with FakeVLLM(default=REPLY, max_model_len=8192) as fake:
            engine = OpenAIEngine(
                OpenAISettings(
                    base_urls=[fake.base_url],
                    idle_timeout=IDLE_TIMEOUT,
                    first_token_timeout=5,
                    retry_backoff=0.05,
                    max_waiting=args.concurrency * 8,
                )
            )
            store = await open_store(url)
            metrics = ServiceMetrics()
            service = CommandService(
                Runner(host, engine),
                store,
                limiter=Limiter(LimitsSettings(user_in_flight=0)),
                metrics=metrics,
            )
            before = peak_rss_mib()
            try:
                faults, elapsed = await load(service, fake, invocations, args)
                statuses, errors = await audit(store, invocations)
            finally:
                await service.aclose()

    commands = Counter(inv.command for inv in invocations)
    print(f"store: {args.store}; commands: {dict(sorted(commands.items()))}")
    print(f"faults queued: {sum(faults.values())} {dict(sorted(faults.items()))}")
    print(
        f"{len(invocations)} invocations in {elapsed:.1f} s "
        f"({len(invocations) / elapsed:.0f}/s, {args.concurrency} at a time)"
    )
    print("by status:", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    for message, count in errors.most_common():
        print(f"  {count:4d}  {message}")
    engine_errors = {
        s.labels["kind"]: int(s.value)
        for family in metrics.registry.collect()
        if family.name == "musekit_engine_errors"
        for s in family.samples
        if s.name.endswith("_total")
    }
    print(f"engine errors by kind (metrics): {engine_errors}")
    peak = peak_rss_mib()
    print(f"peak RSS {peak:.0f} MiB (before the load {before:.0f} MiB; +{peak - before:.0f} MiB)")
    lost = statuses[LOST] + statuses[UNCLEAR]
    print(f"lost or unclear: {lost} (target 0)")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
