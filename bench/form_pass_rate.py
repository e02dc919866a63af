"""Form pass rate on the embedded model: one draft against the draft-check-repair-rank loop.

For each case (a command and its parameters, e.g. ``poem --form haiku``) and each
topic, the same command runs twice through the real Runner on the same embedded
engine, interleaved: single shot (one draft, no repair: ``candidates=1,
repair_rounds=0`` in the plugin's settings) and the full pipeline (the plugin's
defaults, or ``--candidates``/``--repair-rounds``). With ``--seed S`` both runs of
topic ``i`` use seed ``S + i``, so the single shot's draft is also the pipeline's
first draft (a paired comparison; slower on the embedded engine, which evaluates a
seeded prompt afresh for each sample); without it, samples are independent. A run
passes when the form report in its result (``result.data[case.report]``) says so.

The table gives, per case, both pass rates, both mean form scores, and what a topic
cost each (completion tokens, seconds). Target: the pipeline passes more often than
single shot in every case.

Run: ``python bench/form_pass_rate.py`` (haiku, limerick and the Shakespearean sonnet
on 20 topics); ``--forms all --topics 5`` for every case, the ``lyrics`` command's
included; ``--candidates K`` to size the pipeline. Other refine-based commands add
rows to ``CASES``: a command, its parameters, and the ``Result.data`` key of its report.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path
from musekit.errors import MusekitError
from musekit.invocation import Invocation
from musekit.plugins import PluginHost, PluginSelection
from musekit.result import Result
from musekit.runner import Runner

TOPICS = (
    "autumn rain",
    "a cat asleep in the sun",
    "the sea at night",
    "an old bicycle",
    "first snow in the city",
    "a lighthouse keeper",
    "morning coffee",
    "a forgotten letter",
    "the last day of summer",
    "a fox in the garden",
    "a train leaving the station",
    "my grandmother's kitchen",
    "a thunderstorm",
    "a lost umbrella",
    "the moon over the hills",
    "a crowded market",
    "an empty playground",
    "bees in the clover",
    "a candle burning down",
    "the river in spring",
)


@dataclass(frozen=True)
class Case:
    """One row: a command, its parameters besides the topic, and where its report is.

    ``plugin`` names the settings section the single-shot settings go in (the
    command's name unless given); ``report`` is the ``Result.data`` key of a report
    with ``passed`` and ``score``.
    """

    label: str
    command: str
    params: dict[str, Any]
    text_param: str = "topic"
    report: str = "form_report"
    plugin: str = ""

    @property
    def plugin_name(self) -> str:
        return self.plugin or self.command


#: One draft, no repairs: the settings every refine-based plugin takes for a single shot.
SINGLE_SHOT = {"candidates": 1, "repair_rounds": 0}

POEM_FORMS = (
    "haiku",
    "tanka",
    "limerick",
    "shakespearean-sonnet",
    "petrarchan-sonnet",
    "villanelle",
    "couplets",
    "free-verse",
)

CASES: dict[str, Case] = {
    **{form: Case(form, "poem", {"form": form}) for form in POEM_FORMS},
    "free-verse-8": Case("free-verse-8", "poem", {"form": "free-verse", "lines": 8}),
    "lyrics": Case("lyrics", "lyrics", {}, text_param="theme", report="song_report"),
    "lyrics-chords": Case(
        "lyrics-chords", "lyrics", {"key": "G"}, text_param="theme", report="song_report"
    ),
}

DEFAULT_CASES = ("haiku", "limerick", "shakespearean-sonnet")


@dataclass
class Tally:
    """What one mode did over a case's topics."""

    passed: int = 0
    scores: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, result: Result, report_key: str) -> None:
        report = result.data.get(report_key)
        if not isinstance(report, dict):
            raise SystemExit(f"the result has no '{report_key}' report in its data")
        self.passed += bool(report["passed"])
        score = report["score"]
        self.scores.append(float(score) if isinstance(score, int | float) else 0.0)
        self.tokens.append(result.metrics.completion_tokens)
        self.seconds.append(result.metrics.seconds)

    def rate(self, topics: int) -> str:
        return f"{self.passed}/{topics} ({100 * self.passed / topics:.0f}%)"


def host(commands: set[str], config: dict[str, dict[str, Any]]) -> PluginHost:
    loaded = PluginHost(PluginSelection(enabled=frozenset(commands)), plugin_config=config)
    loaded.load_entry_points()
    missing = commands - set(loaded.commands)
    if missing:
        raise SystemExit(f"not installed: {', '.join(sorted(missing))} (pip install -e .)")
    return loaded


async def run_case(
    case: Case,
    topics: tuple[str, ...],
    single: Runner,
    pipeline: Runner,
    seed: int | None,
) -> tuple[Tally, Tally]:
    tallies = (Tally(), Tally())
    for index, topic in enumerate(topics):
        params = {case.text_param: topic, **case.params}
        if seed is not None:
            params["seed"] = seed + index
        for runner, tally in zip((single, pipeline), tallies, strict=True):
            try:
                result = await runner.run(Invocation(command=case.command, params=params))
            except MusekitError as exc:
                print(f"  {case.label} '{topic}': {exc.message}", file=sys.stderr)
                tally.errors += 1
                tally.scores.append(0.0)
                continue
            tally.add(result, case.report)
        print(
            f"  {case.label} {index + 1}/{len(topics)}: single {tallies[0].passed} passed, "
            f"pipeline {tallies[1].passed}",
            file=sys.stderr,
        )
    return tallies


def mean(values: list[float] | list[int]) -> float:
    return statistics.fmean(values) if values else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--forms",
        nargs="+",
        default=list(DEFAULT_CASES),
        metavar="CASE",
        help=f"cases to run, or 'all' ({', '.join(CASES)}); default: {' '.join(DEFAULT_CASES)}",
    )
    parser.add_argument("--topics", type=int, default=20, help="topics per case (1-20)")
    parser.add_argument("--candidates", type=int, help="drafts per request in the pipeline")
    parser.add_argument("--repair-rounds", type=int, help="repair rounds in the pipeline")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--seed", type=int, help="seed of the first topic (paired runs)")
    args = parser.parse_args()
    names = list(CASES) if args.forms == ["all"] else args.forms
    unknown = [name for name in names if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    if not 1 <= args.topics <= len(TOPICS):
        parser.error(f"--topics must be 1 to {len(TOPICS)}")
    cases = [CASES[name] for name in names]
    topics = TOPICS[: args.topics]

    pipeline_settings = {
        key: value
        for key, value in (("candidates", args.candidates), ("repair_rounds", args.repair_rounds))
        if value is not None
    }
    plugins = {case.plugin_name for case in cases}
    commands = {case.command for case in cases}
    engine = EmbeddedEngine(default_model_path(), threads=args.threads)
    await engine.load()
    single = Runner(host(commands, {p: dict(SINGLE_SHOT) for p in plugins}), engine)
    pipeline = Runner(host(commands, {p: dict(pipeline_settings) for p in plugins}), engine)
    print(
        f"{len(cases)} case(s) x {len(topics)} topics on {engine.model} "
        f"({args.threads} threads); pipeline settings: {pipeline_settings or 'the defaults'}",
        file=sys.stderr,
    )
    rows = []
    try:
        for case in cases:
            rows.append((case, *await run_case(case, topics, single, pipeline, args.seed)))
    finally:
        await engine.aclose()

    header = (
        f"{'case':<22} {'single pass':>12} {'pipeline pass':>14} {'score s/p':>11} "
        f"{'tokens s/p':>11} {'seconds s/p':>12}  verdict"
    )
    print(header)
    print("-" * len(header))
    all_higher = True
    for case, one, full in rows:
        higher = full.passed > one.passed
        all_higher &= higher
        print(
            f"{case.label:<22} {one.rate(len(topics)):>12} {full.rate(len(topics)):>14} "
            f"{mean(one.scores):>5.2f}/{mean(full.scores):<5.2f} "
            f"{mean(one.tokens):>5.0f}/{mean(full.tokens):<5.0f} "
            f"{mean(one.seconds):>5.1f}/{mean(full.seconds):<6.1f}  "
            f"{'higher' if higher else 'NOT higher'}"
            + (f" ({one.errors + full.errors} errors)" if one.errors + full.errors else "")
        )
    print(
        "target (pipeline pass rate higher than single shot in every case): "
        + ("met" if all_higher else "NOT met")
    )


if __name__ == "__main__":
    asyncio.run(main())
