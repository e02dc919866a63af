"""Creative pass rate on the embedded model: one draft against the draft-check-repair-rank loop.

The issue-9 commands (``story``, ``script``, ``melody``, ``palette``), each
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

MELODY_BRIEFS: tuple[dict[str, str | int], ...] = (
    {"lyric": "The morning light is on the bay", "key": "G"},
    {"lyric": "Hold on to the night", "key": "A minor", "metre": "3/4"},
    {"lyric": "I walked the long road home alone", "key": "D"},
    {"lyric": "Rain on the window, rain on my heart", "key": "E minor"},
    {"lyric": "Dance with me under the summer stars", "key": "C", "tempo": 120},
    {"lyric": "The river knows my name", "key": "F", "metre": "6/8"},
    {"lyric": "Every city sleeps but you and me", "key": "Bb"},
    {"lyric": "Close your eyes, the snow is falling", "key": "D minor", "metre": "3/4"},
    {"lyric": "We were young and the world was wide", "key": "A"},
    {"lyric": "Sing a song for the ones who stayed", "key": "G", "tempo": 80},
)

PALETTE_BRIEFS: tuple[dict[str, str | int], ...] = (
    {"brief": "a calm reading app at night"},
    {"brief": "a summer music festival poster", "colours": 8},
    {"brief": "a bakery's website, warm and homely", "colours": 4},
    {"brief": "a bank that wants to look trustworthy"},
    {"brief": "a children's science museum", "colours": 6},
    {"brief": "a meditation app at dawn"},
    {"brief": "a heavy metal band's merchandise", "colours": 4},
    {"brief": "a seaside cafe", "colours": 7},
    {"brief": "a law firm's annual report"},
    {"brief": "an autumn farmers' market flyer", "colours": 6},
)

CASES: dict[str, Case] = {
    "story": Case(
        "story", "story", {}, text_param="opening", report="story_report", briefs=STORY_BRIEFS
    ),
    "script": Case(
        "script", "script", {}, text_param="brief", report="script_report", briefs=SCRIPT_BRIEFS
    ),
    "melody": Case(
        "melody", "melody", {}, text_param="lyric", report="melody_report", briefs=MELODY_BRIEFS
    ),
    "palette": Case(
        "palette", "palette", {}, text_param="brief", report="palette_report", briefs=PALETTE_BRIEFS
    ),
}

DEFAULT_CASES = tuple(CASES)


if __name__ == "__main__":
    asyncio.run(main(__doc__.split("\n\n")[0], CASES, DEFAULT_CASES, default_count=10))
