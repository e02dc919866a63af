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
The loop and the table are ``bench/_pass_rate.py``'s, shared with
``bench/creative_pass_rate.py`` (whose cases bring their own briefs).
"""

from __future__ import annotations

import asyncio

from _pass_rate import SINGLE_SHOT, Case, host, main, run_case

__all__ = ["CASES", "SINGLE_SHOT", "TOPICS", "Case", "host", "run_case"]

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


if __name__ == "__main__":
    asyncio.run(main(__doc__.split("\n\n")[0], CASES, DEFAULT_CASES, TOPICS))
