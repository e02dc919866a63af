"""Streaming 10,000 tokens through the OpenAI-compatible engine vs a bare SSE parse.

One answer of 10,000 tokens from the test kit's fake vLLM server (in a process of
its own). musekit's side is :meth:`OpenAIEngine.stream`, every delta consumed;
the baseline reads the same stream with ``httpx`` and ``httpx-sse`` and decodes
each chunk's JSON, nothing more. Runs alternate. Two ratios, baseline over
musekit: wall time (tokens/s as a caller sees them; the server's own work is in
both) and this process's CPU time (the client's cost alone, the stricter one).

Run: ``python bench/sse_stream.py`` (target: both ratios >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable

import httpx
from httpx_sse import EventSource

from musekit.engine.openai.engine import OpenAIEngine
from musekit.engine.types import ChatRequest, Delta, Message, Sampling
from musekit.settings import OpenAISettings
from musekit.testing.fake_vllm import fake_vllm_process

TARGET = 0.8
TOKENS = 10_000
MESSAGES = (Message(role="user", content="write a very long story"),)


async def through_engine(engine: OpenAIEngine) -> int:
    request = ChatRequest(messages=MESSAGES, sampling=Sampling(max_tokens=TOKENS))
    tokens = 0
    async for event in engine.stream(request):
        if isinstance(event, Delta) and event.text:
            tokens += 1
    return tokens


async def bare_parse(client: httpx.AsyncClient, url: str) -> int:
    body = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": MESSAGES[0].content}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": TOKENS,
    }
    tokens = 0
    async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        async for event in EventSource(response).aiter_sse():
            if event.data == "[DONE]":
                continue  # the body ends next: reading it lets the connection be reused
            for choice in json.loads(event.data)["choices"]:
                if choice["delta"].get("content"):
                    tokens += 1
    return tokens


async def timed(run: Awaitable[int]) -> tuple[float, float]:
    """Wall and CPU seconds of awaiting ``run``; checks the token count."""
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = await run
    if tokens != TOKENS:
        raise SystemExit(f"expected {TOKENS} tokens, got {tokens}")
    return time.perf_counter() - wall, time.process_time() - cpu


async def measure(url: str, repeats: int) -> dict[str, list[tuple[float, float]]]:
    engine = OpenAIEngine(OpenAISettings(base_urls=[url]))
    runs: dict[str, list[tuple[float, float]]] = {"engine": [], "bare": []}
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=None)) as client:
        await through_engine(engine)  # warm-up
        await bare_parse(client, url)
        for _ in range(repeats):
            runs["engine"].append(await timed(through_engine(engine)))
            runs["bare"].append(await timed(bare_parse(client, url)))
    await engine.aclose()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    reply = " ".join(f"t{i}" for i in range(TOKENS))
    with fake_vllm_process("--reply", reply, "--max-model-len", str(4 * TOKENS)) as url:
        runs = asyncio.run(measure(url, args.repeats))
    medians = {
        name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
        for name, r in runs.items()
    }
    for name, (wall, cpu) in (("engine", medians["engine"]), ("bare SSE", medians["bare"])):
        per_token = cpu / TOKENS * 1e6
        print(f"{name + ':':10} {TOKENS / wall:8.0f} tokens/s, {per_token:5.1f} us CPU/token")
    print(f"(median of {args.repeats})")
    (engine_wall, engine_cpu), (bare_wall, bare_cpu) = medians["engine"], medians["bare"]
    for name, ratio in (("wall", bare_wall / engine_wall), ("CPU", bare_cpu / engine_cpu)):
        verdict = "ok" if ratio >= TARGET else "BELOW TARGET"
        print(f"ratio ({name}): {ratio:.3f} (target >= {TARGET}) {verdict}")


if __name__ == "__main__":
    main()
