"""Creative pass rate on the embedded model: one draft against the draft-check-repair-rank loop.

The issue-9 commands (``story``, ``script``, and the others' rows as they land), each
on 10 briefs of its own: every brief runs single shot (``candidates=1,
repair_rounds=0``) and through the plugin's full pipeline, interleaved on the same
embedded engine, and passes when its result's report (``result.data[case.report]``)
says so. ``bench/_pass_rate.py`` holds the loop and the table (shared with
``bench/form_pass_rate.py``). Target: the pipeline passes more often than single
shot in every case.

Run: ``python bench/creative_pass_rate.py`` (every case, 10 briefs each);
``--cases story --briefs 3`` for a quick look; ``--seed S`` pairs the two modes.
A new command adds a row to ``CASES``: its command, fixed parameters, the
``Result.data`` key of its report, and its briefs.
"""

from __future__ import annotations

import asyncio

from _pass_rate import Case, main

STORY_BRIEFS: tuple[dict[str, str], ...] = (
    {"opening": "The lighthouse had been dark for three nights when Mara rowed out to it."},
    {"opening": "I found the key under the loose floorboard, wrapped in my father's old scarf."},
    {"opening": "The robot waited at the bus stop every morning, though no bus came anymore."},
    {
        "opening": "She opens the bakery at five. The street is still blue with night.",
        "genre": "slice of life",
    },
    {
        "opening": "We reached the border at dusk, and the guards were gone.",
        "genre": "thriller",
    },
    {"opening": "Old Tomas kept bees on the roof of the hospital.", "genre": "magical realism"},
    {"opening": "The letter arrived forty years late, addressed to a girl who no longer existed."},
    {"opening": "I am the last one awake on the ship. The engines hum below my feet."},
    {"opening": "When the river froze, the whole village walked across it to the fair."},
    {"opening": "Detective Ames hated the rain, and the rain knew it.", "genre": "noir"},
)

SCRIPT_BRIEFS: tuple[dict[str, str | int], ...] = (
    {"brief": "announce a neighbourhood library's new late opening hours", "audience": "families"},
    {"brief": "explain how to recycle batteries safely", "audience": "teenagers", "tone": "upbeat"},
    {"brief": "a cafe's new autumn menu", "seconds": 30, "tone": "warm"},
    {"brief": "invite volunteers to a beach clean-up", "audience": "students", "tone": "hopeful"},
    {"brief": "a bike repair shop's free safety check week", "audience": "commuters"},
    {"brief": "thank donors for funding a school garden", "tone": "grateful", "seconds": 45},
    {"brief": "introduce a new bus route to the hospital", "audience": "older residents"},
    {"brief": "a museum's night of dinosaurs for kids", "audience": "parents", "tone": "playful"},
    {"brief": "remind staff to back up their laptops", "audience": "office staff", "tone": "dry"},
    {"brief": "launch a small bakery's sourdough class", "seconds": 30, "tone": "friendly"},
)

CASES: dict[str, Case] = {
    "story": Case(
        "story", "story", {}, text_param="opening", report="story_report", briefs=STORY_BRIEFS
    ),
    "script": Case(
        "script", "script", {}, text_param="brief", report="script_report", briefs=SCRIPT_BRIEFS
    ),
}

DEFAULT_CASES = tuple(CASES)


if __name__ == "__main__":
    asyncio.run(main(__doc__.split("\n\n")[0], CASES, DEFAULT_CASES, default_count=10))
