"""256 concurrent commands through musekit to a fake vLLM server vs a raw httpx loop.

The server is the test kit's fake vLLM (in a process of its own, as vLLM runs):
100 ms before the first token, then 50 streamed tokens per request. musekit's
side is the real Runner running the built-in ``write`` command on an
:class:`OpenAIEngine`; the baseline is a bare ``httpx`` loop sending the same
streamed requests (the very bodies the engine sends for those commands, recorded
in a warm-up batch) and reading their SSE chunks. Batches alternate; the ratio is
the baseline's median batch time over musekit's (commands per second, relative).

The engine's backpressure limit (``max_waiting``) is raised past the batch size:
the fake server reports every request it holds as waiting, and what is measured
here is the client's cost, not its queueing policy. So is its probe timeout: on a
loaded machine the fake server, busy streaming 256 answers, can take seconds to
accept a ``/health`` probe's connection, and a breaker opened by that would fail
the batch (the probes still run, as often as in production).

Every batch starts with no idle connection on either side (a pause longer than
the keep-alive expiry before each). httpcore 1.0.9 hands one idle connection to
many requests that arrive in the same burst and retries all but one of them, at
a high CPU cost; whichever side happened to hold idle connections when its burst
began would pay for it, and the figures would measure that race, not musekit.

Run: ``python bench/openai_concurrency.py`` (target: ratio >= 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
from _shared import write_batch, write_host
from httpx_sse import EventSource

from musekit.engine.base import Engine
from musekit.engine.openai.engine import OpenAIEngine
from musekit.engine.openai.wire import chat_body
from musekit.engine.types import ChatRequest, StreamEvent
from musekit.runner import Runner
from musekit.settings import OpenAISettings
from musekit.testing.fake_vllm import fake_vllm_process

TARGET = 0.9
TOKENS = 50
REPLY = " ".join(f"word{i}" for i in range(TOKENS))


class Recording(Engine):
    """Passes requests through to an engine, keeping each one."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.requests: list[ChatRequest] = []
        self.name = inner.name

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        self.requests.append(request)
        return self.inner.stream(request)


async def raw_request(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> str:
    parts = []
    async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        async for event in EventSource(response).aiter_sse():
            if event.data == "[DONE]":
                continue  # the body ends next: reading it lets the connection be reused
            for choice in json.loads(event.data)["choices"]:
                parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


async def raw_batch(client: httpx.AsyncClient, url: str, bodies: list[dict[str, Any]]) -> float:
    """Seconds for the bare streamed requests at once; checks every text."""
    started = time.perf_counter()
    texts = await asyncio.gather(*(raw_request(client, url, body) for body in bodies))
    elapsed = time.perf_counter() - started
    if any(text != REPLY for text in texts):
        raise SystemExit("a raw request returned the wrong text")
    return elapsed


async def measure(url: str, concurrency: int, repeats: int) -> tuple[list[float], list[float]]:
    settings = OpenAISettings(base_urls=[url], max_waiting=concurrency * 4, probe_timeout=30)
    engine = OpenAIEngine(settings)
    recording = Recording(engine)
    # Warm-up, and the bodies the raw loop will send.
    await write_batch(Runner(write_host(), recording), concurrency, REPLY)
    bodies = [chat_body(request, engine.model, "vllm") for request in recording.requests]
    runner = Runner(write_host(), engine)
    limits = httpx.Limits(  # the engine's own (default) limits
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_idle_connections,
        keepalive_expiry=settings.keepalive_expiry,
    )
    timeout = httpx.Timeout(5.0, read=None)
    ours, raw = [], []
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        await raw_batch(client, url, bodies)  # warm-up
        for _ in range(repeats):
            await asyncio.sleep(settings.keepalive_expiry + 0.5)
            ours.append(await write_batch(runner, concurrency, REPLY))
            await asyncio.sleep(settings.keepalive_expiry + 0.5)
            raw.append(await raw_batch(client, url, bodies))
    await engine.aclose()
    return ours, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--latency", type=float, default=0.1, help="server latency (s)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    options = ("--reply", REPLY, "--latency", str(args.latency))
    with fake_vllm_process(*options) as url:
        ours, raw = asyncio.run(measure(url, args.concurrency, args.repeats))
    mine, bare = statistics.median(ours), statistics.median(raw)
    runs = f"(median of {args.repeats}, {args.concurrency} at once, {TOKENS} tokens each)"
    print(
        f"musekit (Runner + write + OpenAIEngine): {args.concurrency / mine:7.1f} commands/s {runs}"
    )
    print(f"raw httpx + SSE loop:                    {args.concurrency / bare:7.1f} requests/s")
    ratio = bare / mine
    verdict = "ok" if ratio >= TARGET else "BELOW TARGET"
    print(f"ratio: {ratio:.3f} (target >= {TARGET}) {verdict}")


if __name__ == "__main__":
    main()
