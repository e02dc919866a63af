"""Schema-valid characters on the embedded model: the ``character`` command against one
unconstrained single-shot prompt.

For each of 20 concepts, interleaved and with the same seed:

* baseline: the command's own first request (system prompt, worked example, the
  concept), sent once without the JSON schema and without repairs, its reply checked
  by the command's own check (:func:`musekit_plugins.character_sheet.check_sheet`);
* pipeline: the ``character`` command through the real Runner (schema-constrained
  reply, re-asked with the problems quoted, fixed by rule if still invalid). Its
  result counts as valid when the character in ``result.data`` passes the same check
  again and the PNG card attached reads back to the same card.

Printed: valid results (baseline, the pipeline's first constrained reply, the model's
own reply after repairs, the delivered result), the ratio of delivered to baseline,
and seconds and completion tokens per character. Target: 100% of delivered results
valid.

Run: ``python bench/character_schema.py`` (20 concepts); ``--concepts 3`` for a
subset; ``--threads N`` for the engine; Ctrl-C prints the figures of the concepts
finished so far. The command's time limit is raised to
``--max-seconds`` (default 1800), so that on a loaded machine the figures are about
validity, not timeouts; the seconds per character printed say how long it took.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from dataclasses import dataclass

from musekit import ChatRequest, Engine, Invocation, MusekitError, Runner
from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path
from musekit.plugins import PluginHost, PluginSelection
from musekit_plugins.cards import read_card
from musekit_plugins.character import CharacterSettings, max_tokens
from musekit_plugins.character_prompts import EXAMPLE_SHEET, new_messages
from musekit_plugins.character_sheet import DEFAULT_FIELDS, Brief, SheetRules, check_sheet

CONCEPTS = (
    "a lighthouse keeper who collects lost letters",
    "a disgraced court alchemist",
    "a retired stunt driver who runs a bakery",
    "a teenage hacker who only works at night",
    "a botanist stranded on a generation ship",
    "a border guard who lets smugglers pass for stories",
    "a cartographer of places that no longer exist",
    "a jazz pianist haunted by a melody",
    "a dragon who is afraid of heights",
    "a detective who can smell lies",
    "a nun who forges paintings",
    "a circus strongman with a fragile heart",
    "a weather witch in a drought-struck town",
    "an android learning to cook",
    "a ferryman on a river between two wars",
    "a librarian who guards a forbidden book",
    "a beekeeper who talks to the hive",
    "a mercenary saving up for a farm",
    "a ghost who runs a night-time radio show",
    "a grandmother who was once a spy",
)

SETTINGS = CharacterSettings()


@dataclass(frozen=True)
class Run:
    """One concept's run: valid or not (and, for the pipeline, how), seconds, tokens."""

    valid: bool
    seconds: float
    tokens: int
    first_reply_valid: bool = False
    model_valid: bool = False


def character_host(max_seconds: float) -> PluginHost:
    """A host with the installed ``character`` command, its time limit set to ``max_seconds``."""
    host = PluginHost(PluginSelection(enabled=frozenset({"character"})))
    host.load_entry_points()
    if "character" not in host.commands:
        raise SystemExit("the built-in 'character' command is not installed (pip install -e .)")
    command = host.commands["character"]
    limits = command.spec.limits.model_copy(update={"max_seconds": max_seconds})
    spec = command.spec.model_copy(update={"limits": limits})
    host.commands["character"] = dataclasses.replace(command, spec=spec)
    return host


RULES = SheetRules(DEFAULT_FIELDS, copied=EXAMPLE_SHEET)


async def baseline(engine: Engine, concept: str, seed: int) -> Run:
    """One unconstrained single-shot prompt: the command's own first request, no schema."""
    request = ChatRequest(
        messages=new_messages(Brief(concept), DEFAULT_FIELDS, None),
    ).with_sampling(
        temperature=SETTINGS.temperature,
        min_p=SETTINGS.min_p,
        max_tokens=max_tokens(DEFAULT_FIELDS),
        seed=seed,
    )
    started = time.perf_counter()
    completion = await engine.complete(request)
    return Run(
        valid=check_sheet(completion.text.strip(), RULES).passed,
        seconds=time.perf_counter() - started,
        tokens=completion.usage.completion_tokens,
    )


async def pipeline(runner: Runner, concept: str, seed: int) -> Run:
    """The ``character`` command; valid when its character passes the check again and its
    PNG card holds the same card as its data."""
    invocation = Invocation(command="character", params={"concept": concept, "seed": seed})
    started = time.perf_counter()
    try:
        result = await runner.run(invocation)
    except MusekitError as exc:  # a timeout on a loaded machine, say: no result delivered
        print(f"  {concept[:50]}: {exc.message}")
        return Run(valid=False, seconds=time.perf_counter() - started, tokens=0)
    report = result.data["schema_report"]
    assert isinstance(report, dict)
    sheet_ok = check_sheet(json.dumps(result.data["character"]), RULES).passed
    card_ok = read_card(result.attachments[0].data).to_v3() == result.data["card"]
    return Run(
        valid=sheet_ok and card_ok,
        seconds=result.metrics.seconds,
        tokens=result.metrics.completion_tokens,
        first_reply_valid=bool(report["model_passed"]) and report["repair_rounds"] == 0,
        model_valid=bool(report["model_passed"]),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concepts", type=int, default=len(CONCEPTS), help="How many concepts.")
    parser.add_argument("--threads", type=int, default=None, help="Engine threads.")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=1800.0,
        help="The command's time limit here (its own is 180 s; a shared, loaded machine "
        "would measure timeouts rather than validity).",
    )
    args = parser.parse_args()
    concepts = CONCEPTS[: args.concepts]
    engine = EmbeddedEngine(default_model_path(), threads=args.threads)
    await engine.load()
    runner = Runner(character_host(args.max_seconds), engine)
    runs: list[tuple[Run, Run]] = []
    print(f"{len(concepts)} concepts on {engine.model}")
    try:
        for seed, concept in enumerate(concepts):
            plain = await baseline(engine, concept, seed)
            made = await pipeline(runner, concept, seed)
            runs.append((plain, made))
            print(
                f"  {concept[:50]:<50} baseline {'valid' if plain.valid else 'invalid':<8} "
                f"{plain.seconds:5.0f} s  pipeline {'valid' if made.valid else 'INVALID':<8} "
                f"{made.seconds:5.0f} s"
            )
    except asyncio.CancelledError:  # Ctrl-C: the figures of the concepts finished
        print(f"\ninterrupted after {len(runs)} of {len(concepts)} concepts")
    finally:
        await engine.aclose()
    if runs:
        summary([plain for plain, _ in runs], [made for _, made in runs])


def share(count: int, total: int) -> str:
    return f"{count}/{total} ({count / total:.0%})"


def summary(plain: list[Run], made: list[Run]) -> None:
    total = len(made)
    valid = sum(r.valid for r in made)
    base_valid = sum(r.valid for r in plain)
    print()
    print(f"baseline (one unconstrained prompt)   valid {share(base_valid, total)}")
    first, repaired = sum(r.first_reply_valid for r in made), sum(r.model_valid for r in made)
    print(f"pipeline, first constrained reply     valid {share(first, total)}")
    print(f"pipeline, model's reply after repairs valid {share(repaired, total)}")
    print(f"pipeline, delivered result            valid {share(valid, total)}  (target 100%)")
    ratio = f"{valid / base_valid:.2f}" if base_valid else "inf (baseline 0)"
    print(f"ratio delivered/baseline valid: {ratio}")
    seconds, base_seconds = sum(r.seconds for r in made), sum(r.seconds for r in plain)
    print(
        f"seconds per character: pipeline {seconds / total:.1f}, "
        f"baseline {base_seconds / total:.1f} (ratio {seconds / base_seconds:.2f})"
    )
    print(
        f"completion tokens per character: pipeline {sum(r.tokens for r in made) / total:.0f}, "
        f"baseline {sum(r.tokens for r in plain) / total:.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
