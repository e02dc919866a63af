"""How the ``script`` command writes a script a part at a time.

Asked for a whole Fountain script, a small model loses the layout: no voice-over, a
character who speaks without being introduced, a running time far off. Here code lays
out the script (:func:`layout`: scenes, each a heading, an action paragraph and spoken
parts, narration and dialogue in turn, narration first and last) and the model writes
each part's words, one request of a few samples a part
(:func:`musekit_plugins.piecewise.write_parts`). Code writes the cues (``NARRATOR
(V.O.)``, the character's name) and checks each part: a heading reads ``INT.`` or
``EXT.``, the first action names a character in capitals, a spoken part has its share
of the running time's words (a longer answer is cut after the sentence that reaches
it). The spoken shares add up to the words the running time asks for, so a script
whose parts all fit has the right length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from musekit import ChatRequest, Message
from musekit_plugins.piecewise import Fit, echoes
from musekit_plugins.script_fountain import TOLERANCE, spoken_words_for

Kind = Literal["heading", "action", "narration", "dialogue"]

NARRATOR = "NARRATOR (V.O.)"

#: Words one spoken part aims at; the running time's words are shared among that many parts.
WORDS_PER_PART = 20
#: Tokens allowed for one part (a spoken part of 40 words, or an action paragraph).
PART_TOKENS = 72
#: A spoken part may be this far from its share of the words (inside the check's tolerance).
PART_TOLERANCE = TOLERANCE * 0.8
#: The times of day a heading may end on (any other becomes DAY).
TIMES_OF_DAY = frozenset(("DAY", "NIGHT", "MORNING", "AFTERNOON", "EVENING", "DAWN", "DUSK"))
#: A heading may be written as the place alone, in at most this many words.
MAX_PLACE_WORDS = 5

SYSTEM_PROMPT = (
    "You are a scriptwriter for short videos, writing a script in Fountain format one "
    "part at a time. Reply with that part only."
)

_HEADING = re.compile(r"^(?:INT|EXT)\.?\s+(.+?)(?:\s+[-\u2013]\s+(\w[\w ]*))?\.?$", re.IGNORECASE)
_SCENE_LABEL = re.compile(r"^scene\s+\d+\s*[:.-]\s*", re.IGNORECASE)
_PLACE_TIME = re.compile(r"\s+(?:at|in the)\s+(\w+)$", re.IGNORECASE)
_NAME = re.compile(r"\b([A-Z][A-Z'-]+)\b")
_NOT_NAMES = frozenset(("INT", "EXT", "DAY", "NIGHT", "MORNING", "EVENING", "TV", "OK", "CEO"))
_CUE = re.compile(r"^\s*(?:NARRATOR|[A-Z][A-Za-z'-]+)\s*(?:\([^)]*\))?\s*:\s*")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?")


@dataclass(frozen=True)
class Part:
    """One part of the layout: its kind and scene (1-based)."""

    kind: Kind
    scene: int


def layout(seconds: int) -> list[Part]:
    """The script's parts for ``seconds`` of running time: two scenes (three from 60
    seconds), each a heading, an action and spoken parts; narration and dialogue take
    turns, narration first and last."""
    scenes = 2 if seconds < 60 else 3
    spoken = max(3, round(spoken_words_for(seconds) / WORDS_PER_PART))
    per_scene = [spoken // scenes + (s < spoken % scenes) for s in range(scenes)]
    parts: list[Part] = []
    turn = 0
    for scene, count in enumerate(per_scene, 1):
        parts += [Part("heading", scene), Part("action", scene)]
        for index in range(count):
            last = scene == scenes and index == count - 1
            parts.append(Part("narration" if last or turn % 2 == 0 else "dialogue", scene))
            turn += 1
    return parts


def words(text: str) -> list[str]:
    """The words of ``text``, lower-case."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class ScriptPlan:
    """A script as :func:`~musekit_plugins.piecewise.write_parts` writes it: ``request``
    is the brief as the prompts word it, ``drafting`` the drafting request (its sampling
    is used, with a part's allowance), ``seconds`` the running time, ``example`` the
    worked example's request and script."""

    request: str
    drafting: ChatRequest
    seconds: int
    example: tuple[str, str]

    @property
    def parts(self) -> int:
        return len(self._layout())

    def fixed(self, done: Sequence[str], index: int) -> str | None:
        return None

    def ask(self, done: Sequence[str], index: int, attempt: int) -> ChatRequest:
        """The request for part ``index``: the brief, the script so far, what the part is."""
        part = self._layout()[index]
        example, answer = _example(self.example, part.kind)
        so_far = self.join(done) or "(nothing yet)"
        low, high = self._share()
        ask = _ask(part, self._character(done), low, high)
        messages = (
            Message(role="system", content=SYSTEM_PROMPT),
            Message(role="user", content=example),
            Message(role="assistant", content=answer),
            Message(role="user", content=f"{self.request}\n\nScript so far:\n{so_far}\n\n{ask}"),
        )
        sampling = self.drafting.sampling.model_copy(update={"max_tokens": PART_TOKENS})
        return self.drafting.model_copy(update={"messages": messages, "sampling": sampling})

    def parse(self, done: Sequence[str], index: int, answer: str) -> str | None:
        """The part the answer wrote, with its cue for a spoken part; for a spoken part the
        answer cut after a sentence when that fits its share of words better."""
        part = self._layout()[index]
        lines = [line.strip().strip('"“”') for line in answer.strip().splitlines()]
        lines = [line for line in lines if line and not line.startswith(("Script so far", "("))]
        if not lines:
            return None
        copied = _example_words(self.example)
        if part.kind == "heading":
            found = [h for h in map(_heading, lines) if h and words(h) not in copied]
            return found[0] if found else None
        if part.kind == "action":
            text = " ".join(lines)
            return None if _HEADING.match(text) or echoes(words(text), copied) else text
        cue = NARRATOR if part.kind == "narration" else self._character(done)
        if lines[0].rstrip(":").upper() in (cue, NARRATOR, f"{cue}:"):
            lines = lines[1:]
        text = _CUE.sub("", " ".join(lines)).strip()
        earlier = [*copied, *(words(d.partition("\n")[2]) for d in done if "\n" in d)]
        options = [
            option
            for option in (text, *_sentence_cuts(text))
            if words(option) and not echoes(words(option), earlier)
        ]
        if not options:
            return None
        best = min(options, key=lambda option: self.fit(done, index, f"{cue}\n{option}").rank)
        return f"{cue}\n{best}"

    def fit(self, done: Sequence[str], index: int, part: str) -> Fit:
        """A heading reads as one; the first action names a character in capitals; a
        spoken part has its share of the words."""
        kind = self._layout()[index].kind
        if kind == "heading":
            return Fit(0 if _HEADING.match(part) else 1)
        if kind == "action":
            named = self._layout()[index].scene > 1 or _name_in(part) is not None
            return Fit(0 if named else 1)
        count = len(words(part.partition("\n")[2]))
        low, high = self._share()
        off = max(low - count, count - high, 0)
        return Fit(1 if off else 0, 1.0 - off / high)

    def join(self, parts: Sequence[str]) -> str:
        """The script: its parts as Fountain paragraphs."""
        return "\n\n".join(part for part in parts if part)

    def _layout(self) -> list[Part]:
        return layout(self.seconds)

    def _share(self) -> tuple[int, int]:
        spoken = sum(part.kind in ("narration", "dialogue") for part in self._layout())
        share = spoken_words_for(self.seconds) / spoken
        return round(share * (1 - PART_TOLERANCE)), round(share * (1 + PART_TOLERANCE))

    def _character(self, done: Sequence[str]) -> str:
        firsts = [i for i, part in enumerate(self._layout()) if part.kind == "action"]
        named = _name_in(done[firsts[0]]) if firsts and firsts[0] < len(done) else None
        return named or "HOST"


def _ask(part: Part, character: str, low: int, high: int) -> str:
    """What a part's request asks for: ``character`` speaks the dialogue, a spoken part
    has ``low`` to ``high`` words."""
    if part.kind == "heading":
        return (
            f"Write the heading of scene {part.scene}: INT. (inside) or EXT. (outside), "
            "the place, then DAY or NIGHT."
        )
    if part.kind == "action" and part.scene == 1:
        return (
            "Write the action of scene 1, what we see, in one or two sentences, introducing "
            "one character by a first name in capitals with their age and role."
        )
    if part.kind == "action":
        return f"Write the action of scene {part.scene}, what we see, in one or two sentences."
    who = (
        "the narrator's next voice-over line"
        if part.kind == "narration"
        else (f"what {character} says next")
    )
    return f"Write {who}, in {low} to {high} words."


def _heading(line: str) -> str | None:
    """A scene heading in Fountain's form (``EXT. MILL STREET - DAY``) from a heading or
    a place alone ("Scene 1: the town library at night": ``INT. THE TOWN LIBRARY -
    NIGHT``); ``None`` for anything longer."""
    line = _SCENE_LABEL.sub("", line.strip()).rstrip(":.")
    found = _HEADING.match(line)
    if found is not None:
        prefix = "EXT." if line.upper().startswith("EXT") else "INT."
        place, time = found[1], found[2] or "DAY"
    elif 0 < len(words(line)) <= MAX_PLACE_WORDS and not re.search(r"[,;!?\"]", line):
        prefix, place, time = "INT.", line, "DAY"
        when = _PLACE_TIME.search(place)
        if when is not None:
            place, time = place[: when.start()], when[1]
    else:
        return None
    place = place.strip(" -.\u2013").upper()
    time = next((w for w in time.upper().split() if w in TIMES_OF_DAY), "DAY")
    return f"{prefix} {place} - {time}" if place else None


def _name_in(action: str) -> str | None:
    """The first name in capitals an action line introduces, or ``None``."""
    return next((n for n in _NAME.findall(action) if n not in _NOT_NAMES), None)


def _sentence_cuts(text: str) -> list[str]:
    """``text`` up to the end of each of its sentences but the last, longest first."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return [text[:end] for end in reversed(ends) if end < len(text.rstrip())]


@cache
def _example(example: tuple[str, str], kind: Kind) -> tuple[str, str]:
    """The worked example of writing a part of ``kind``: the example script up to its
    first such part, asked for as a part is; and that part's text (a spoken part's
    words without the cue)."""
    request, script = example
    paragraphs = script.split("\n\n")
    at = next(i for i, p in enumerate(paragraphs) if _kind_of(p) == kind)
    answer = paragraphs[at].partition("\n")[2] if "\n" in paragraphs[at] else paragraphs[at]
    count = len(words(answer))
    speaker = paragraphs[at].partition("\n")[0]
    scene = sum(_kind_of(p) == "heading" for p in paragraphs[: at + 1]) or 1
    ask = _ask(Part(kind, scene), speaker, count - 3, count + 3)
    so_far = "\n\n".join(paragraphs[:at]) or "(nothing yet)"
    return f"{request}\n\nScript so far:\n{so_far}\n\n{ask}", answer


@cache
def _example_words(example: tuple[str, str]) -> tuple[list[str], ...]:
    """The words of each paragraph of the example script (its spoken parts without cues):
    a part that copies one is not kept."""
    return tuple(words(p.partition("\n")[2] if "\n" in p else p) for p in example[1].split("\n\n"))


def _kind_of(paragraph: str) -> Kind:
    if _HEADING.match(paragraph):
        return "heading"
    if "\n" not in paragraph:
        return "action"
    return "narration" if paragraph.startswith(NARRATOR) else "dialogue"
