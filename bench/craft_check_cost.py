"""What checking a sonnet costs against generating it on the embedded engine.

The embedded model (threads: the engine's default) writes two 14-line sonnets
(max_tokens 220, different seeds), each timed. Then ``musekit.craft.check``
times, in the same process:

* cold: the first check ever, on sonnet 1; it loads the CMU dictionary (also
  printed on its own) and starts with empty word caches;
* warm: the first check of sonnet 2, with the dictionary loaded: the cost a
  command pays per new draft (the target);
* repeat: the median of rechecking sonnet 2 (word caches hot), for information.

Each ratio is check time over the generation time of the same sonnet.

Run: ``python bench/craft_check_cost.py`` (target: warm ratio < 0.01).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path
from musekit.engine.types import ChatRequest, Message, Sampling

TARGET = 0.01
SYSTEM = "You are a poet. Answer with the poem only: no title, no notes."
USER = (
    "Write a Shakespearean sonnet about {topic}: 14 lines of iambic pentameter "
    "rhymed ABAB CDCD EFEF GG."
)


@dataclass(frozen=True)
class Sonnet:
    """A generated sonnet: its text, tokens and generation time."""

    text: str
    tokens: int
    seconds: float


async def generate(engine: EmbeddedEngine, topic: str, seed: int, max_tokens: int) -> Sonnet:
    request = ChatRequest(
        messages=(
            Message(role="system", content=SYSTEM),
            Message(role="user", content=USER.format(topic=topic)),
        ),
        sampling=Sampling(temperature=0.7, min_p=0.1, seed=seed, max_tokens=max_tokens),
    )
    started = time.perf_counter()
    completion = await engine.complete(request)
    seconds = time.perf_counter() - started
    return Sonnet(completion.text, completion.usage.completion_tokens, seconds)


def timed(function: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


async def measure(args: argparse.Namespace) -> None:
    engine = EmbeddedEngine(default_model_path(), threads=args.threads)
    await engine.load()
    await generate(engine, "warming up", 0, 8)
    first = await generate(engine, "the sea", args.seed, args.max_tokens)
    second = await generate(engine, "a city at night", args.seed + 1, args.max_tokens)
    await engine.aclose()

    started = time.perf_counter()
    from musekit.craft import Pronunciations, check

    import_seconds = time.perf_counter() - started
    assert not Pronunciations.shared().loaded, "the dictionary must load lazily"
    cold = timed(check, first.text, "shakespearean-sonnet")
    load = Pronunciations.shared().load_seconds or 0.0
    warm = timed(check, second.text, "shakespearean-sonnet")
    repeat = statistics.median(
        timed(check, second.text, "shakespearean-sonnet") for _ in range(args.repeats)
    )

    print(f"model {engine.model}, n_threads {engine.threads}, max_tokens {args.max_tokens}")
    for name, sonnet in (("sonnet 1", first), ("sonnet 2", second)):
        report = check(sonnet.text, "shakespearean-sonnet")
        print(
            f"{name}: {sonnet.tokens} tokens in {sonnet.seconds:.2f}s "
            f"({sonnet.tokens / sonnet.seconds:.1f} tokens/s), {len(report.lines)} lines, "
            f"{report.summary()}"
        )
    print(f"import musekit.craft: {import_seconds * 1000:.1f} ms (dictionary not loaded)")
    print(f"dictionary load: {load * 1000:.1f} ms (inside the cold check)")
    print(f"{'check':8} {'ms':>9} {'ratio to generating':>20}")
    print(f"{'cold':8} {cold * 1000:9.2f} {cold / first.seconds:20.5f}")
    print(f"{'warm':8} {warm * 1000:9.2f} {warm / second.seconds:20.5f}")
    print(f"{'repeat':8} {repeat * 1000:9.2f} {repeat / second.seconds:20.5f}")
    ratio = warm / second.seconds
    verdict = "ok" if ratio < TARGET else "ABOVE TARGET"
    print(f"warm ratio: {ratio:.5f} (target < {TARGET}) {verdict}")
    print(f"cold ratio: {cold / first.seconds:.5f} (for information: includes the dictionary load)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--max-tokens", type=int, default=220)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="default: the engine's")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
