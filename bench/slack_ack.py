"""200 simultaneous Slack slash commands, the engine taking 2 s each: is every one acked in time?

The bot is the real Slack front end (Bolt in HTTP mode behind uvicorn, the real
command service over a SQLite store, the built-in ``write`` command) in a process
of its own, as in production; its Web API client talks to the fake Slack server
of ``musekit_bots.slack.testing``. The engine is the test kit's fake engine,
2 seconds before each answer. This process sends correctly signed slash
commands over HTTP, 200 at once on 200 open connections (from 200 users, so no
per-user limit refuses them), and times each acknowledgement.

Figures: ack latency p50/p99/max, p99 as a fraction of Slack's 3-second deadline
(target: under 5%), against an idle baseline measured in the same run (the
same commands sent one at a time to the idle bot); then, once the bot has
finished, how many results were delivered to the fake Slack, kept in the store
as undelivered, or lost (target: none lost).

Run: ``python bench/slack_ack.py`` (``--commands 50`` for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import urllib.parse
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from _shared import write_host

from musekit.guards.limits import Limiter
from musekit.observability.metrics import ServiceMetrics
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.settings import LimitsSettings
from musekit.store import open_store
from musekit.testing import FakeEngine
from musekit_bots.slack.app import build_app
from musekit_bots.slack.bot import SlackBot
from musekit_bots.slack.serve import EVENTS_PATH, http_app, web_client
from musekit_bots.slack.settings import SlackSettings
from musekit_bots.slack.testing import (
    FakeSlack,
    serve_loopback,
    signed_headers,
    slash_command_body,
)

DEADLINE = 3.0
TARGET = 0.05
ENGINE_SECONDS = 2.0
SECRET = "bench-signing-secret"
REPLY = "the lamp burns on though no ship comes"


def _bot_process(ready: Queue[Any], marks: Queue[Any], finish: Event, report: Queue[Any]) -> None:
    cpu: list[float] = []

    def note_cpu() -> None:  # the bot process's CPU time when the burst starts and ends
        for _ in range(2):
            marks.get()
            cpu.append(time.process_time())

    threading.Thread(target=note_cpu, daemon=True).start()
    asyncio.run(_serve_bot(ready, finish, report, cpu))


async def _serve_bot(
    ready: Queue[Any], finish: Event, report: Queue[Any], cpu: list[float]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store_url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        async with FakeSlack() as slack, await open_store(store_url) as store:
            engine = FakeEngine(default=REPLY, latency=ENGINE_SECONDS)
            service = CommandService(
                Runner(write_host(), engine),
                store,
                limiter=Limiter(LimitsSettings()),
                metrics=ServiceMetrics(),
            )
            settings = SlackSettings(
                bot_token="xoxb-bench", signing_secret=SECRET, api_base_url=slack.api_url
            )
            bot = SlackBot(service, settings, web_client(settings))
            async with serve_loopback(http_app(bot, build_app(bot))) as url:
                ready.put((url + EVENTS_PATH, slack.response_url("bench")))
                await asyncio.get_running_loop().run_in_executor(None, finish.wait)
                await bot.drain()
            records = await store.history(limit=10_000)
            finals = {  # each result's final update (its blocks end with the buttons), once
                c.args["ts"]
                for c in slack.called("chat.update")
                if c.args["blocks"][-1]["type"] == "actions"
            }
            report.put(
                {
                    "invocations": len(records),
                    "ok": sum(r.status == "ok" for r in records),
                    "kept": sum(r.delivered is False for r in records),
                    "delivered": len(finals),
                    "statuses": sorted({r.status for r in records}),
                    "burst_cpu": cpu[1] - cpu[0] if len(cpu) == 2 else float("nan"),
                }
            )


class _Connection:
    """One keep-alive HTTP/1.1 connection to the bot, as lean as a client can be, so the
    figures measure the bot rather than an HTTP client sharing its two cores."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> _Connection:
        parts = urllib.parse.urlsplit(url)
        return cls(*await asyncio.open_connection(parts.hostname, parts.port))

    async def post(self, path: str, body: str, headers: dict[str, str]) -> tuple[int, float]:
        """Send one request; its HTTP status and the seconds until the response came."""
        data = body.encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = f"POST {path} HTTP/1.1\r\nHost: bot\r\nContent-Length: {len(data)}\r\n{head}\r\n"
        started = time.perf_counter()
        self.writer.write(request.encode() + data)
        status_line = await self.reader.readline()
        elapsed = time.perf_counter() - started
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1]), elapsed

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _command(connection: _Connection, path: str, response_url: str, user: str) -> float:
    body = slash_command_body(
        "/write",
        f"a lighthouse keeper's last night, for {user}",
        response_url=response_url,
        user_id=user,
    )
    status, elapsed = await connection.post(path, body, signed_headers(SECRET, body))
    if status != 200:
        raise SystemExit(f"a slash command got HTTP {status}, not an ack")
    return elapsed


async def _measure(
    url: str, response_url: str, count: int, marks: Queue[Any]
) -> tuple[list[float], list[float]]:
    path = urllib.parse.urlsplit(url).path
    connections = [await _Connection.open(url) for _ in range(count)]
    try:
        idle = [await _command(connections[0], path, response_url, f"UIDLE{i}") for i in range(20)]
        await asyncio.sleep(ENGINE_SECONDS + 1)  # the idle commands finish first
        marks.put("burst starts")
        burst = await asyncio.gather(
            *(_command(c, path, response_url, f"U{i:04d}") for i, c in enumerate(connections))
        )
        marks.put("burst acked")
    finally:
        for connection in connections:
            await connection.close()
    return idle, list(burst)


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200, help="commands sent at once")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    ready: Queue[Any] = context.Queue()
    report: Queue[Any] = context.Queue()
    marks: Queue[Any] = context.Queue()
    finish = context.Event()
    bot = context.Process(target=_bot_process, args=(ready, marks, finish, report), daemon=True)
    bot.start()
    try:
        url, response_url = ready.get(timeout=60)
        idle, burst = asyncio.run(_measure(url, response_url, args.commands, marks))
        finish.set()
        outcome = report.get(timeout=120)
    finally:
        finish.set()
        bot.join(timeout=30)

    p99 = _p99(burst)
    idle_p99 = _p99(idle)
    total = len(idle) + args.commands
    lost = total - outcome["delivered"] - outcome["kept"]
    print(f"{args.commands} slash commands at once, engine {ENGINE_SECONDS:.0f} s each")
    print(f"  acked: {len(burst)}/{args.commands}")
    print(
        f"  ack latency: p50 {statistics.median(burst) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {max(burst) * 1000:.1f} ms"
    )
    print(f"  idle baseline (one at a time): p99 {idle_p99 * 1000:.1f} ms")
    cpu = outcome["burst_cpu"]
    print(
        f"  the bot's CPU for the burst: {cpu * 1000:.0f} ms, {cpu / args.commands * 1000:.2f} ms "
        f"an ack ({cpu / DEADLINE:.1%} of the deadline on one free core); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"  p99 under load / idle p99: {p99 / idle_p99:.1f}x")
    print(
        f"  results ({total} with the baseline's): {outcome['delivered']} delivered, "
        f"{outcome['kept']} kept undelivered, {lost} lost; statuses {outcome['statuses']}"
    )
    fraction = p99 / DEADLINE
    verdict = "meets" if fraction < TARGET and lost == 0 else "MISSES"
    print(f"ack p99 / Slack's 3 s deadline: {fraction:.1%} ({verdict} the target: < 5%, none lost)")


if __name__ == "__main__":
    main()
