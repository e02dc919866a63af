"""Generated tokens/s of the embedded engine through musekit against raw llama-cpp-python.

All contenders run the same request in the same process, interleaved: the exact
chat request the built-in ``write`` command sends (``--length long --seed S``,
captured through the Runner on a recording fake engine), with the same seed,
max_tokens, n_threads and n_ctx:

* raw:    ``Llama.create_chat_completion(stream=True)`` on a plain ``llama_cpp.Llama``;
* engine: ``EmbeddedEngine.stream`` (the worker thread, queue and metering);
* runner: ``Runner.run`` of the ``write`` command on the embedded engine (the whole
  musekit path a front end uses: validation, plugin, budget, result).

A seeded request makes the engine evaluate its prompt afresh, so raw does the same
(``Llama.reset()``) and all three produce the same text. Two rates are printed:
decode (tokens after the first / time after the first) and end to end (tokens /
time from the call, prompt evaluation included); each ratio is the median, over the
repetitions, of a contender's rate over raw's rate in the same repetition.

Run: ``python bench/embedded_vs_raw.py`` (target: ratio >= 0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from _shared import write_host

from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path
from musekit.engine.types import ChatRequest, Delta, Usage
from musekit.invocation import Invocation
from musekit.plugins import PluginHost
from musekit.runner import Runner
from musekit.testing.fake_engine import FakeEngine

TARGET = 0.95
PARAMS = {"prompt": "a lighthouse keeper's last night", "length": "long"}


@dataclass
class Run:
    """One generation: its text, token count and timings (seconds from the call)."""

    text: str
    tokens: int
    first: float
    total: float

    @property
    def decode_rate(self) -> float:
        return (self.tokens - 1) / (self.total - self.first)

    @property
    def e2e_rate(self) -> float:
        return self.tokens / self.total


class Clock:
    """Marks the first streamed text and the end of a run."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first = 0.0

    def text(self) -> None:
        if not self.first:
            self.first = time.perf_counter() - self.started

    def stop(self, text: str, tokens: int) -> Run:
        return Run(text, tokens, self.first, time.perf_counter() - self.started)


async def write_request(host: PluginHost, params: dict[str, Any]) -> ChatRequest:
    """The request ``write`` sends the engine, after the Runner applied its limits."""
    recorder = FakeEngine()
    await Runner(host, recorder).run(Invocation(command="write", params=params))
    return recorder.requests[0]


def raw_run(llama: Any, request: ChatRequest, tokens: int) -> Run:
    s = request.sampling
    llama.reset()  # as the engine does for a seeded request
    clock = Clock()
    parts = []
    for chunk in llama.create_chat_completion(
        messages=[m.model_dump() for m in request.messages],
        stream=True,
        temperature=s.temperature,
        top_p=s.top_p,
        min_p=s.min_p,
        top_k=s.top_k or 0,
        repeat_penalty=s.repetition_penalty or 1.0,
        max_tokens=s.max_tokens,
        seed=s.seed,
    ):
        text = chunk["choices"][0]["delta"].get("content")
        if text:
            clock.text()
            parts.append(text)
    # Streaming reports no usage: the count is the engine's, checked by equal text.
    return clock.stop("".join(parts), tokens)


async def engine_run(engine: EmbeddedEngine, request: ChatRequest) -> Run:
    clock = Clock()
    parts, usage = [], Usage()
    async for event in engine.stream(request):
        if isinstance(event, Usage):
            usage = event
        elif event.text:
            clock.text()
            parts.append(event.text)
    return clock.stop("".join(parts), usage.completion_tokens)


async def runner_run(runner: Runner, params: dict[str, Any]) -> Run:
    clock = Clock()

    def on_delta(delta: Delta) -> None:
        if delta.text:
            clock.text()

    result = await runner.run(Invocation(command="write", params=params), on_delta=on_delta)
    return clock.stop(result.text, result.metrics.completion_tokens)


async def measure(args: argparse.Namespace) -> None:
    from llama_cpp import Llama

    host = write_host()
    params = {**PARAMS, "seed": args.seed}
    request = await write_request(host, params)
    engine = EmbeddedEngine(default_model_path(), context_length=args.ctx, threads=args.threads)
    await engine.load()
    raw = Llama(
        model_path=str(engine.model_path),
        n_ctx=engine.context_length,
        n_threads=engine.threads,
        verbose=False,
    )
    runner = Runner(host, engine)

    reference = await engine_run(engine, request)  # warm-up, and the token count
    contenders: dict[str, Callable[[], Awaitable[Run]]] = {
        # Called directly: nothing else runs on the loop, so blocking it costs nothing.
        "raw": lambda: asyncio.sleep(0, raw_run(raw, request, reference.tokens)),
        "engine": lambda: engine_run(engine, request),
        "runner": lambda: runner_run(runner, params),
    }
    runs: dict[str, list[Run]] = {name: [] for name in contenders}
    names = list(contenders)
    for repeat in range(args.repeats):
        order = names[repeat % 3 :] + names[: repeat % 3]  # rotate who goes first
        for name in order:
            runs[name].append(await contenders[name]())
    await engine.aclose()

    same = all(run.text == reference.text for rs in runs.values() for run in rs)
    print(
        f"model {engine.model}, n_threads {engine.threads}, n_ctx {engine.context_length}, "
        f"seed {args.seed}, max_tokens {request.sampling.max_tokens}, "
        f"{reference.tokens} tokens generated, {args.repeats} interleaved repeats"
    )
    print(f"identical text from all contenders: {'yes' if same else 'NO'}")
    # Each repetition's ratio pairs runs made seconds apart, so slow drifts in machine
    # speed cancel out; the median of those ratios is the figure.
    print(f"{'':8} {'decode tok/s':>13} {'ratio':>6}   {'end-to-end tok/s':>16} {'ratio':>6}")
    ratios = []
    for name in names:
        decode = statistics.median(r.decode_rate for r in runs[name])
        e2e = statistics.median(r.e2e_rate for r in runs[name])
        pairs = list(zip(runs[name], runs["raw"], strict=True))
        decode_ratio = statistics.median(r.decode_rate / b.decode_rate for r, b in pairs)
        e2e_ratio = statistics.median(r.e2e_rate / b.e2e_rate for r, b in pairs)
        print(f"{name:8} {decode:13.1f} {decode_ratio:6.3f}   {e2e:16.1f} {e2e_ratio:6.3f}")
        if name != "raw":
            ratios += [decode_ratio, e2e_ratio]
    verdict = "ok" if min(ratios) >= TARGET and same else "BELOW TARGET"
    print(f"lowest ratio: {min(ratios):.3f} (target >= {TARGET}) {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="default: the engine's")
    parser.add_argument("--ctx", type=int, default=2048, help="context length (n_ctx)")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
