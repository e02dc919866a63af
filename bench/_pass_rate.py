"""The pass-rate loop the quality benchmarks share (a module, not a benchmark).

For each case (a command and its parameters) and each input, the same command runs
twice through the real Runner on the same embedded engine, interleaved: single shot
(one draft, no repair: ``candidates=1, repair_rounds=0`` in the plugin's settings,
convention 6) and the full pipeline (the plugin's defaults, or ``--candidates`` /
``--repair-rounds``). An input is a topic (put in the case's ``text_param``) or a
brief (a dict of parameters for that run); a case brings its own briefs or uses the
script's topics. With ``--seed S`` both runs of input ``i`` use seed ``S + i``, so the
single shot's draft is also the pipeline's first draft (a paired comparison); without
it, samples are independent. A run passes when the report in its result
(``result.data[case.report]``) says so.

The table gives, per case, both pass rates, both mean scores, and what an input cost
each (completion tokens, seconds). Target: the pipeline passes more often than single
shot in every case.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path
from musekit.errors import MusekitError
from musekit.invocation import Invocation
from musekit.plugins import PluginHost, PluginSelection
from musekit.result import Result
from musekit.runner import Runner

#: One run's input: a topic for the case's text parameter, or a brief (that run's parameters).
Input = str | dict[str, Any]

#: One draft, no repairs: the settings every refine-based plugin takes for a single shot.
SINGLE_SHOT = {"candidates": 1, "repair_rounds": 0}


@dataclass(frozen=True)
class Case:
    """One row: a command, its parameters besides the input, and where its report is.

    ``plugin`` names the settings section the single-shot settings go in (the
    command's name unless given); ``report`` is the ``Result.data`` key of a report
    with ``passed`` and ``score``; ``briefs``, when given, are the case's own inputs
    (each a dict of parameters) instead of the script's topics.
    """

    label: str
    command: str
    params: dict[str, Any]
    text_param: str = "topic"
    report: str = "form_report"
    plugin: str = ""
    briefs: tuple[dict[str, Any], ...] = ()

    @property
    def plugin_name(self) -> str:
        return self.plugin or self.command

    def run_params(self, given: Input) -> dict[str, Any]:
        """The parameters of one run: the case's, with the topic or the brief's on top."""
        if isinstance(given, str):
            return {self.text_param: given, **self.params}
        return {**self.params, **given}


@dataclass
class Tally:
    """What one mode did over a case's inputs."""

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

    def rate(self, runs: int) -> str:
        return f"{self.passed}/{runs} ({100 * self.passed / runs:.0f}%)"


def host(commands: set[str], config: dict[str, dict[str, Any]]) -> PluginHost:
    loaded = PluginHost(PluginSelection(enabled=frozenset(commands)), plugin_config=config)
    loaded.load_entry_points()
    missing = commands - set(loaded.commands)
    if missing:
        raise SystemExit(f"not installed: {', '.join(sorted(missing))} (pip install -e .)")
    return loaded


async def run_case(
    case: Case,
    inputs: Sequence[Input],
    single: Runner,
    pipeline: Runner,
    seed: int | None,
) -> tuple[Tally, Tally]:
    """Run every input single shot and through the pipeline, interleaved; tally both."""
    tallies = (Tally(), Tally())
    for index, given in enumerate(inputs):
        params = case.run_params(given)
        if seed is not None:
            params["seed"] = seed + index
        shown = given if isinstance(given, str) else str(params.get(case.text_param, index + 1))
        for runner, tally in zip((single, pipeline), tallies, strict=True):
            try:
                result = await runner.run(Invocation(command=case.command, params=params))
            except MusekitError as exc:
                print(f"  {case.label} '{shown[:40]}': {exc.message}", file=sys.stderr)
                tally.errors += 1
                tally.scores.append(0.0)
                continue
            tally.add(result, case.report)
        print(
            f"  {case.label} {index + 1}/{len(inputs)}: single {tallies[0].passed} passed, "
            f"pipeline {tallies[1].passed}",
            file=sys.stderr,
        )
    return tallies


def mean(values: list[float] | list[int]) -> float:
    return statistics.fmean(values) if values else 0.0


async def main(
    description: str,
    cases: dict[str, Case],
    default_cases: Sequence[str],
    topics: tuple[str, ...] = (),
    default_count: int = 20,
) -> None:
    """Parse the command line, run the chosen cases on the embedded model, print the table.

    ``topics`` are the inputs of cases without briefs of their own; ``--topics N`` (or
    ``--briefs N``) runs the first N inputs of each case.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--cases",
        "--forms",
        dest="cases",
        nargs="+",
        default=list(default_cases),
        metavar="CASE",
        help=f"cases to run, or 'all' ({', '.join(cases)}); default: {' '.join(default_cases)}",
    )
    parser.add_argument(
        "--topics", "--briefs", dest="count", type=int, default=default_count, help="inputs a case"
    )
    parser.add_argument("--candidates", type=int, help="drafts per request in the pipeline")
    parser.add_argument("--repair-rounds", type=int, help="repair rounds in the pipeline")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--seed", type=int, help="seed of the first input (paired runs)")
    args = parser.parse_args()
    names = list(cases) if args.cases == ["all"] else args.cases
    unknown = [name for name in names if name not in cases]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(cases)}")
    chosen = [cases[name] for name in names]
    inputs = {case.label: (case.briefs or topics) for case in chosen}
    most = min(len(given) for given in inputs.values())
    if not 1 <= args.count <= most:
        parser.error(f"--topics/--briefs must be 1 to {most}")

    pipeline_settings = {
        key: value
        for key, value in (("candidates", args.candidates), ("repair_rounds", args.repair_rounds))
        if value is not None
    }
    plugins = {case.plugin_name for case in chosen}
    commands = {case.command for case in chosen}
    engine = EmbeddedEngine(default_model_path(), threads=args.threads)
    await engine.load()
    single = Runner(host(commands, {p: dict(SINGLE_SHOT) for p in plugins}), engine)
    pipeline = Runner(host(commands, {p: dict(pipeline_settings) for p in plugins}), engine)
    print(
        f"{len(chosen)} case(s) x {args.count} inputs on {engine.model} "
        f"({args.threads} threads); pipeline settings: {pipeline_settings or 'the defaults'}",
        file=sys.stderr,
    )
    rows = []
    try:
        for case in chosen:
            given = inputs[case.label][: args.count]
            rows.append((case, *await run_case(case, given, single, pipeline, args.seed)))
    finally:
        await engine.aclose()
    print_table(rows, args.count)


def print_table(rows: list[tuple[Case, Tally, Tally]], runs: int) -> None:
    """Both pass rates, mean scores, tokens and seconds per case, and the verdict."""
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
            f"{case.label:<22} {one.rate(runs):>12} {full.rate(runs):>14} "
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
