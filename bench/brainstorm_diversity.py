"""Brainstorm diversity on the embedded model: the pipeline against one plain prompt.

For each topic, in the same run on the same engine, interleaved:

* baseline: one plain request, "Give me N ideas for: <topic>", read with the same
  tolerant parser as the pipeline, its first N ideas delivered;
* pipeline: the ``brainstorm`` command's handler with ``count=N`` (its default
  settings: lenses, over-generation, duplicates removed, a varied set chosen by MMR),
  its time limit lifted to an hour, so that a busy machine cuts nothing short.

Both deliver at most N ideas. For each, the distinct ideas delivered (those left when
near-duplicates among them are removed, with musekit.diversity's default similarity
and threshold), the mean pairwise similarity of the ideas delivered, distinct-2, and
the completion tokens and seconds spent. The summary prints the pipeline's figures
over the baseline's as ratios. Target: more distinct ideas (ratio above 1) and a lower
mean similarity (ratio below 1).

Run: ``python bench/brainstorm_diversity.py`` (20 topics, 5 ideas each); ``--topics 3``
while iterating (Ctrl-C prints the figures of the topics finished); ``--count N``,
``--threads T``, ``--seed S`` (topic ``i`` uses ``S + i`` in both runs).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

from musekit.context import Context
from musekit.diversity import IdeaSpace, distinct_n
from musekit.engine.base import Engine
from musekit.engine.budget import BudgetedEngine
from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path
from musekit.engine.types import ChatRequest, Message, Sampling
from musekit.errors import MusekitError
from musekit.invocation import Invocation
from musekit_plugins.brainstorm import (
    LIMITS,
    SPEC,
    TOKENS_PER_IDEA,
    TOKENS_SPARE,
    BrainstormParams,
    BrainstormSettings,
    run_brainstorm,
)
from musekit_plugins.brainstorm_parse import parse_ideas

#: The command as declared, with an hour to run: on a busy machine the time limit would
#: cut the pipeline short, and the figures are about the ideas, not the machine's load.
UNHURRIED = SPEC.model_copy(update={"limits": LIMITS.model_copy(update={"max_seconds": 3600})})

TOPICS = (
    "ways to get more people to cycle to work",
    "a fundraiser for a small village library",
    "names for a bakery that only opens at night",
    "making a long train journey fun for children",
    "reducing food waste in a school canteen",
    "a theme for a neighbourhood street party",
    "getting teenagers to read more poetry",
    "a new board game about the ocean",
    "keeping a remote team feeling connected",
    "uses for an empty shop on the high street",
    "a podcast about forgotten inventions",
    "helping older people learn to use smartphones",
    "a festival celebrating the first frost",
    "making a museum visit exciting for toddlers",
    "a mascot for a city's recycling campaign",
    "saving water in a busy hotel",
    "a short film set entirely in a lift",
    "welcoming new neighbours to a street",
    "a menu for a restaurant on a boat",
    "turning a rooftop into a community space",
)


@dataclass
class Tally:
    """One side's figures, one entry per topic."""

    delivered: list[int] = field(default_factory=list)
    distinct: list[int] = field(default_factory=list)
    similarity: list[float] = field(default_factory=list)
    distinct_2: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, ideas: list[str], tokens: int, seconds: float) -> None:
        space = IdeaSpace(ideas)
        self.delivered.append(len(ideas))
        self.distinct.append(len(space.deduplicate(range(len(ideas))).kept))
        self.similarity.append(space.mean_similarity(range(len(ideas))))
        self.distinct_2.append(distinct_n(ideas, 2))
        self.tokens.append(tokens)
        self.seconds.append(seconds)


def baseline_request(topic: str, count: int) -> ChatRequest:
    """The plain prompt, with the pipeline's sampling and a token allowance for ``count``."""
    settings = BrainstormSettings()
    return ChatRequest(
        messages=(Message(role="user", content=f"Give me {count} ideas for: {topic}"),),
        sampling=Sampling(
            temperature=settings.temperature,
            min_p=settings.min_p,
            repetition_penalty=1.1,
            max_tokens=count * TOKENS_PER_IDEA + TOKENS_SPARE,
        ),
    )


async def baseline(engine: Engine, topic: str, count: int, seed: int | None) -> Tally:
    request = baseline_request(topic, count)
    if seed is not None:
        request = request.with_sampling(seed=seed)
    started = time.perf_counter()
    completion = await engine.complete(request)
    ideas = [idea.text for idea in parse_ideas(completion.text)][:count]
    tally = Tally()
    tally.add(ideas, completion.usage.completion_tokens, time.perf_counter() - started)
    return tally


async def pipeline(engine: Engine, topic: str, count: int, seed: int | None) -> Tally:
    """The brainstorm command's handler with its default settings, its time limit lifted."""
    params = BrainstormParams(topic=topic, count=count, seed=seed)
    metered = BudgetedEngine(engine, UNHURRIED.limits)
    ctx = Context(
        invocation=Invocation(command="brainstorm", params=params.model_dump()),
        spec=UNHURRIED,
        engine=metered,
        settings=BrainstormSettings(),
        logger=logging.LoggerAdapter(logging.getLogger("bench.brainstorm")),
    )
    started = time.perf_counter()
    result = await run_brainstorm(ctx, params)
    elapsed = time.perf_counter() - started
    ideas = result.data["ideas"]
    listed = ideas if isinstance(ideas, list) else []
    texts = [str(idea["text"]) for idea in listed if isinstance(idea, dict)]
    tally = Tally()
    tally.add(texts, metered.usage.completion_tokens, elapsed)
    return tally


async def side(run: Awaitable[Tally], topic: str) -> Tally:
    """One side's figures for a topic; an error counts as no ideas delivered."""
    try:
        return await run
    except MusekitError as exc:
        print(f"  '{topic}': {exc.message}", file=sys.stderr)
        return Tally(delivered=[0], distinct=[0], errors=1)


def merge(into: Tally, one: Tally) -> None:
    for name in ("delivered", "distinct", "similarity", "distinct_2", "tokens", "seconds"):
        getattr(into, name).extend(getattr(one, name))
    into.errors += one.errors


def mean(values: list[float] | list[int]) -> float:
    return statistics.fmean(values) if values else 0.0


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def report(plain: Tally, full: Tally, topics: int, count: int) -> None:
    """Both sides' totals and means, the pipeline's ratios over the baseline, the verdict."""
    rows = (
        ("ideas delivered (total)", sum(plain.delivered), sum(full.delivered), "{:.0f}"),
        ("distinct ideas (total)", sum(plain.distinct), sum(full.distinct), "{:.0f}"),
        ("mean pairwise similarity", mean(plain.similarity), mean(full.similarity), "{:.3f}"),
        ("distinct-2", mean(plain.distinct_2), mean(full.distinct_2), "{:.3f}"),
        ("completion tokens a topic", mean(plain.tokens), mean(full.tokens), "{:.0f}"),
        ("seconds a topic", mean(plain.seconds), mean(full.seconds), "{:.1f}"),
    )
    print(f"{topics} topics, {count} ideas asked each")
    header = f"{'':<26} {'baseline':>10} {'pipeline':>10} {'pipeline/baseline':>18}"
    print(header)
    print("-" * len(header))
    for label, a, b, shape in rows:
        print(f"{label:<26} {shape.format(a):>10} {shape.format(b):>10} {ratio(b, a):>18}")
    if plain.errors or full.errors:
        print(f"errors: baseline {plain.errors}, pipeline {full.errors}")
    more = sum(full.distinct) > sum(plain.distinct)
    less_similar = mean(full.similarity) < mean(plain.similarity)
    print(
        "target (more distinct ideas, lower mean similarity): "
        + ("met" if more and less_similar else "NOT met")
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=len(TOPICS), help="topics to run")
    parser.add_argument("--count", type=int, default=5, help="ideas asked for a topic")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--seed", type=int, help="seed of the first topic (both runs)")
    args = parser.parse_args()
    if not 1 <= args.topics <= len(TOPICS):
        parser.error(f"--topics must be 1 to {len(TOPICS)}")
    if not 1 <= args.count <= 20:
        parser.error("--count must be 1 to 20")

    engine = EmbeddedEngine(default_model_path(), threads=args.threads)
    await engine.load()
    print(f"{args.topics} topics on {engine.model} ({args.threads} threads)", file=sys.stderr)
    plain, full = Tally(), Tally()
    done = 0
    try:
        for index, topic in enumerate(TOPICS[: args.topics]):
            seed = None if args.seed is None else args.seed + index
            one = await side(baseline(engine, topic, args.count, seed), topic)
            other = await side(pipeline(engine, topic, args.count, seed), topic)
            merge(plain, one)
            merge(full, other)
            done += 1
            print(
                f"  {done}/{args.topics} {topic}: distinct {one.distinct} vs {other.distinct}; "
                f"so far distinct {sum(plain.distinct)} vs {sum(full.distinct)}, similarity "
                f"{mean(plain.similarity):.3f} vs {mean(full.similarity):.3f}",
                file=sys.stderr,
            )
    except asyncio.CancelledError:  # Ctrl-C: the figures of the topics finished
        print(f"interrupted: {done} of {args.topics} topics finished", file=sys.stderr)
    finally:
        await engine.aclose()
    report(plain, full, done, args.count)


if __name__ == "__main__":
    asyncio.run(main())
