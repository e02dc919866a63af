"""200 simultaneous Discord interactions while the engine takes 2 s each: deferred in time?

Every slash command must be answered within Discord's 3 s, so the bot defers it
before any other work. This feeds 200 INTERACTION_CREATE payloads at once to
discord.py's own parser, with the REST API a local fake Discord server (real
HTTP on loopback, recording when each defer arrives) and the built-in ``write``
command on a fake engine that takes 2 s per request, through the real command
service and a SQLite store. It reports each interaction's defer latency (feed
to the defer's arrival at the fake API), p50/p99/max, p99 as a fraction of the
3 s deadline, and the same for one interaction on an idle bot (the baseline,
same run). Every result must end delivered (its final edit carries its
buttons) or kept in the store as undelivered.

Run: ``python bench/discord_defer.py`` (target: p99 under 5% of the deadline, all 200
deferred in time, none lost). ``--interactions N`` and ``--latency S`` change the load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _shared import write_host

from musekit.guards.limits import Limiter
from musekit.observability.metrics import ServiceMetrics
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.settings import LimitsSettings
from musekit.store import Store, open_store
from musekit.testing.fake_engine import FakeEngine
from musekit_bots.discord.bot import MuseBot
from musekit_bots.discord.settings import DiscordSettings
from musekit_bots.discord.testing import Call, slash_payload

DEADLINE = 3.0
TARGET = 0.05
REPLY = "Salt on the glass, the lamp still turning, one last ship to see home."


class RemoteFake:
    """The fake Discord API in its own process, as Discord is: its CPU is not the bot's."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "musekit_bots.discord.testing"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            raise SystemExit("the fake Discord API did not start")
        self.client = httpx.AsyncClient(base_url=self.url.removesuffix("/api/v10"))

    async def calls(self, fragment: str) -> list[Call]:
        """The calls whose path contains ``fragment``."""
        response = await self.client.get("/_fake/calls", params={"fragment": fragment})
        return [Call(c["method"], c["path"], c["body"], {}, c["at"]) for c in response.json()]

    async def close(self) -> None:
        await self.client.aclose()
        self.process.terminate()
        self.process.wait(timeout=10)


async def run_wave(
    bot: MuseBot, fake: RemoteFake, count: int, first_user: int
) -> tuple[list[float], list[str]]:
    """Feed ``count`` interactions at once; their defer latencies and tokens, once all are done."""
    payloads = [
        slash_payload("write", {"prompt": f"a lighthouse #{n}"}, user_id=first_user + n)
        for n in range(count)
    ]
    fed: dict[str, float] = {}
    for payload in payloads:
        fed[payload["token"]] = time.monotonic()
        bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        await asyncio.sleep(0)  # as discord.py's gateway reader: one event per frame read
    deadline = time.monotonic() + 60
    while len(await _deferred(fake, fed)) < count:
        if time.monotonic() > deadline:
            raise SystemExit("not every interaction was deferred within 60 s")
        await asyncio.sleep(0.25)
    if not await bot.drain(120):
        raise SystemExit("the bot did not finish within 120 s")
    arrivals = await _deferred(fake, fed)
    return [arrivals[token] - at for token, at in fed.items()], list(fed)


async def _deferred(fake: RemoteFake, fed: dict[str, float]) -> dict[str, float]:
    """When each fed interaction's defer arrived, by token."""
    arrivals = {}
    for call in await fake.calls("/callback"):
        token = call.path.split("/")[3]
        if token in fed:
            arrivals[token] = call.at
    return arrivals


async def delivered(fake: RemoteFake, tokens: list[str]) -> int:
    """How many interactions' results arrived: a final edit carrying the result's buttons."""
    finals = {c.path.split("/")[3] for c in await fake.calls("/@original") if c.custom_ids}
    return len(finals & set(tokens))


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def main(count: int, latency: float) -> int:
    fake = RemoteFake()
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with await open_store(
                f"sqlite+aiosqlite:///{Path(folder) / 'store.db'}"
            ) as store:
                return await measure(fake, store, count, latency)
    finally:
        await fake.close()


async def measure(fake: RemoteFake, store: Store, count: int, latency: float) -> int:
    engine = FakeEngine(default=REPLY, latency=latency)
    service = CommandService(
        Runner(write_host(), engine),
        store,
        limiter=Limiter(LimitsSettings(user_in_flight=0)),
        metrics=ServiceMetrics(),
    )
    settings: dict[str, Any] = {"token": "bench", "api_base_url": fake.url, "edit_interval": 1.0}
    bot = MuseBot(service, DiscordSettings(**settings))
    await bot.login("bench")
    try:
        await run_wave(bot, fake, 1, 1)  # warm-up: imports, first connection
        idle = [(await run_wave(bot, fake, 1, 10 + n))[0][0] for n in range(5)]
        started = time.perf_counter()
        latencies, tokens = await run_wave(bot, fake, count, 1000)
        elapsed = time.perf_counter() - started
    finally:
        await bot.close()

    on_time = sum(1 for value in latencies if value < DEADLINE)
    arrived = await delivered(fake, tokens)
    kept = len(await store.undelivered(platform="discord"))
    loaded_p99 = p99(latencies)
    print(f"{count} interactions at once, engine {latency:.1f} s each, all done in {elapsed:.1f} s")
    print(f"idle bot, one interaction: defer median {statistics.median(idle) * 1000:.1f} ms")
    print(
        f"under load: defer p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {loaded_p99 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    print(f"deferred within {DEADLINE:.0f} s: {on_time}/{count}")
    print(
        f"results delivered: {arrived}, kept as undelivered: {kept}, lost: {count - arrived - kept}"
    )
    ratio = loaded_p99 / DEADLINE
    print(f"ratio (p99 defer latency / {DEADLINE:.0f} s deadline): {ratio:.4f} (target < {TARGET})")
    ok = ratio < TARGET and on_time == count and arrived + kept == count
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=200)
    parser.add_argument("--latency", type=float, default=2.0)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.interactions, args.latency)))
