"""What the ``story`` command tells the model: fixed prompts, two worked examples, cleaning.

The examples are written for this project and pass the ``story`` checks (a test holds
them to it): one told in the third person and past tense, one in the first person and
present tense; a request gets the one closest to the point of view and tense it keeps.
Everything from the user (the story so far, a direction) is in the last message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from musekit import Message
from musekit.refine import feedback
from musekit_plugins.story_check import LENGTH_WORDS, Length, Pov, Tense, words

#: Words of the story so far a prompt shows, at most (its end: what the model continues).
SHOWN_WORDS = 300
#: Problems a repair prompt quotes, at most: a small model loses track of a long list.
MAX_QUOTED = 5


@dataclass(frozen=True)
class Example:
    """A worked example: an opening and its continuation, in a point of view and tense."""

    pov: Pov
    tense: Tense
    opening: str
    continuation: str


EXAMPLES = (
    Example(
        pov="third",
        tense="past",
        opening=(
            "Nell found the boat on the morning the tide went out farther than anyone "
            "remembered. It lay on its side in the grey mud, its blue paint peeling."
        ),
        continuation=(
            "She walked out to it with her boots sinking at every step. Gulls lifted from "
            "the mud and circled, complaining. Up close, the boat was smaller than it had "
            "looked from the sea wall, and someone had painted a name on the bow in careful "
            "white letters: MARGARET. Nell knew the name. It was her grandmother's, and her "
            "grandmother had never owned a boat.\n\n"
            "She climbed over the side. Under the bench lay a tin box, rusted shut. Nell "
            "worked at the lid with her fingers until it gave. Inside, dry as the day it was "
            "packed, was a bundle of letters tied with red string. The top one was addressed "
            "to her."
        ),
    ),
    Example(
        pov="first",
        tense="present",
        opening=(
            "I wake before the alarm, the way I always do on the day of a move. The flat is "
            "already empty around me, every sound too loud."
        ),
        continuation=(
            "I pull on yesterday's jumper and walk from room to room, checking what I have "
            "already checked. The kitchen smells of bleach. Someone has left a single spoon "
            "in the drawer, and I stand there holding it longer than I should.\n\n"
            "Downstairs, the van is late. I sit on the front step with my coffee and watch "
            "the street wake up: the baker rolling up his shutter, a boy on a bike with a dog "
            "running beside him. Nobody looks at me. I am just a woman on a step.\n\n"
            "When the van finally turns the corner, I realise I do not want to get up. I put "
            "the spoon in my pocket and stand anyway."
        ),
    ),
)


def example_for(pov: Pov | None, tense: Tense | None) -> Example:
    """The worked example closest to ``pov`` and ``tense`` (point of view first)."""
    return max(EXAMPLES, key=lambda e: (e.pov == pov, e.tense == tense, e is EXAMPLES[0]))


def system_prompt(length: Length) -> str:
    """The fixed system prompt for continuing a story at ``length``."""
    return (
        f"You are a fiction writer. Continue the story from where it stops, in about "
        f"{LENGTH_WORDS[length][0]} words. Keep its point of view and its tense. Do not "
        "repeat or sum up what has already happened: write what happens next. Write only "
        "the continuation, with no title and no notes."
    )


def repair_system_prompt(length: Length) -> str:
    """The fixed system prompt for revising a continuation at ``length``."""
    return (
        f"You are a fiction editor. Rewrite the draft continuation of the story so that "
        f"every problem listed is fixed, in about {LENGTH_WORDS[length][0]} words, keeping "
        "its events. Write only the revised continuation, with no title and no notes."
    )


@dataclass(frozen=True)
class Ask:
    """A request as the prompts word it: what to continue, and how."""

    story: str
    length: Length
    pov: Pov | None = None
    tense: Tense | None = None
    genre: str | None = None
    direction: str | None = None

    def message(self) -> str:
        """The variable part of a prompt: always the last message."""
        parts = [f"Story so far:\n{shown(self.story)}", ""]
        if self.genre:
            parts.append(f"Genre: {self.genre}")
        if self.pov:
            parts.append(f"Point of view: {self.pov} person")
        if self.tense:
            parts.append(f"Tense: {self.tense}")
        parts.append(f"Length: about {LENGTH_WORDS[self.length][0]} words")
        if self.direction:
            parts.append(f"What happens next: {self.direction}")
        return "\n".join(parts)


def shown(story: str) -> str:
    """The end of the story so far, at most ``SHOWN_WORDS`` words, cut at a word."""
    if len(words(story)) <= SHOWN_WORDS:
        return story.strip()
    pieces = story.split()
    return "…" + " ".join(pieces[-SHOWN_WORDS:])


def draft_messages(ask: Ask) -> tuple[Message, ...]:
    """System prompt and worked example (fixed per length and example), then the request."""
    example = example_for(ask.pov, ask.tense)
    shown_example = Ask(example.opening, "short", example.pov, example.tense)
    return (
        Message(role="system", content=system_prompt(ask.length)),
        Message(role="user", content=shown_example.message()),
        Message(role="assistant", content=example.continuation),
        Message(role="user", content=ask.message()),
    )


def repair_messages(ask: Ask, draft: str, problems: Sequence[str]) -> list[Message]:
    """A fixed system prompt, then the request, the draft and its problems."""
    quoted = feedback(problems[:MAX_QUOTED])
    return [
        Message(role="system", content=repair_system_prompt(ask.length)),
        Message(role="user", content=f"{ask.message()}\n\nDraft:\n{draft}\n\nProblems:\n{quoted}"),
    ]


_CHATTER = re.compile(
    r"^(here('s| is| are)|sure|certainly|of course|okay|title:|#+ |\*\*[^*]+\*\*$|"
    r"(the )?continuation:?$|story so far:?$)",
    re.IGNORECASE,
)
_AFTERWORD = re.compile(
    r"^(i hope|note:|(the )?problems:|draft:|(genre|point of view|tense|length):)", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)]*")


def clean_story(text: str) -> str:
    """The continuation alone: no preamble ("Here is the continuation:"), title, notes or
    code fences, and no unfinished sentence at the end (a sample cut at its token limit)."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if not line.startswith("```")]
    while lines and (not lines[0] or _CHATTER.match(lines[0])):
        lines.pop(0)
    for index, line in enumerate(lines):
        if _AFTERWORD.match(line):
            del lines[index:]
            break
    story = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    ends = list(_SENTENCE_END.finditer(story))
    if ends and ends[-1].end() < len(story):
        story = story[: ends[-1].end()]
    return story
