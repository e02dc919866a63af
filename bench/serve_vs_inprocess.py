"""Generated tokens/s through `musekit serve` (embedded) against the in-process embedded engine.

Both contenders run the same request, interleaved: the exact chat request the
built-in ``write`` command sends (``--length long --seed S``), with the same
seed, max_tokens, threads and context length:

* inprocess: ``EmbeddedEngine.stream`` in this process;
* served:    ``OpenAIEngine.stream`` to a real ``musekit serve`` subprocess (the
  embedded engine behind the OpenAI-compatible API, on loopback): HTTP, SSE
  chunks, the client's pool, retries and metrics polling included.

Only one contender generates at a time, so the server and this process never
compete for the CPU. Two rates are printed: decode (tokens after the first /
time after the first) and end to end (tokens / time from the call); each ratio
is the median, over the repetitions, of served's rate over inprocess's rate in
the same repetition.

Run: ``python bench/serve_vs_inprocess.py`` (target: ratio >= 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
from pathlib import Path

from _shared import write_host
from embedded_vs_raw import PARAMS, Clock, Run, write_request

from musekit.engine.base import Engine
from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path
from musekit.engine.openai.engine import OpenAIEngine
from musekit.engine.types import ChatRequest, Usage
from musekit.settings import OpenAISettings

TARGET = 0.9
READY = "Ctrl-C stops the server."


async def timed(engine: Engine, request: ChatRequest) -> Run:
    clock = Clock()
    parts, usage = [], Usage()
    async for event in engine.stream(request):
        if isinstance(event, Usage):
            usage = event
        elif event.text:
            clock.text()
            parts.append(event.text)
    return clock.stop("".join(parts), usage.completion_tokens)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(threads: int, ctx: int) -> tuple[subprocess.Popen[str], str]:
    """`musekit serve` with the embedded engine; its base URL once it is ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEKIT_")}
    env.update(
        MUSEKIT_SERVE__ENGINE="embedded",
        MUSEKIT_SERVE__PORT=str(port),
        MUSEKIT_ENGINE__THREADS=str(threads),
        MUSEKIT_ENGINE__CONTEXT_LENGTH=str(ctx),
    )
    script = Path(sys.executable).with_name("musekit")
    server = subprocess.Popen([str(script), "serve"], env=env, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    for line in server.stdout:
        if READY in line:
            return server, f"http://127.0.0.1:{port}/v1"
    raise SystemExit(f"musekit serve did not start (exit code {server.wait()})")


async def measure(args: argparse.Namespace) -> None:
    params = {**PARAMS, "seed": args.seed}
    request = await write_request(write_host(), params)
    inprocess = EmbeddedEngine(default_model_path(), context_length=args.ctx, threads=args.threads)
    await inprocess.load()
    server, url = start_server(inprocess.threads, args.ctx)
    served = OpenAIEngine(OpenAISettings(base_urls=[url]))
    try:
        reference = await timed(inprocess, request)  # warm-up, both sides
        await timed(served, request)
        contenders = {"inprocess": inprocess, "served": served}
        runs: dict[str, list[Run]] = {name: [] for name in contenders}
        names = list(contenders)
        for repeat in range(args.repeats):
            for name in names[repeat % 2 :] + names[: repeat % 2]:  # rotate who goes first
                runs[name].append(await timed(contenders[name], request))
    finally:
        await served.aclose()
        await inprocess.aclose()
        server.terminate()
        server.wait()

    same = all(run.text == reference.text for rs in runs.values() for run in rs)
    print(
        f"model {inprocess.model}, threads {inprocess.threads}, n_ctx {args.ctx}, "
        f"seed {args.seed}, max_tokens {request.sampling.max_tokens}, "
        f"{reference.tokens} tokens generated, {args.repeats} interleaved repeats"
    )
    print(f"identical text from both: {'yes' if same else 'NO'}")
    print(f"{'':10} {'decode tok/s':>13} {'ratio':>6}   {'end-to-end tok/s':>16} {'ratio':>6}")
    pairs = list(zip(runs["served"], runs["inprocess"], strict=True))
    ratios = {
        "decode": statistics.median(s.decode_rate / b.decode_rate for s, b in pairs),
        "e2e": statistics.median(s.e2e_rate / b.e2e_rate for s, b in pairs),
    }
    for name in names:
        decode = statistics.median(r.decode_rate for r in runs[name])
        e2e = statistics.median(r.e2e_rate for r in runs[name])
        decode_ratio, e2e_ratio = (1.0, 1.0) if name == "inprocess" else ratios.values()
        print(f"{name:10} {decode:13.1f} {decode_ratio:6.3f}   {e2e:16.1f} {e2e_ratio:6.3f}")
    lowest = min(ratios.values())
    verdict = "ok" if lowest >= TARGET and same else "BELOW TARGET"
    print(f"lowest ratio: {lowest:.3f} (target >= {TARGET}) {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="default: the engine's")
    parser.add_argument("--ctx", type=int, default=2048, help="context length (n_ctx)")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
