"""Fountain for the ``script`` command: cleaning, the checks, and HTML and PDF export.

Parsing, HTML and PDF are screenplain's (MIT). The checks, each a simple rule:

* **Parses as Fountain**: screenplain reads every text as something, so the parse
  must also have the parts of a script: it starts with a scene heading (``INT.`` /
  ``EXT.``...), no scene is empty, there are action lines, a character speaks on
  screen, and there is voice-over narration (a cue with ``(V.O.)``).
* **Characters introduced**: every character who speaks on screen is named in an
  action line before their first line (voice-over speakers are not on screen, so
  they need no introduction). Names compare without case and cue extensions
  (``(O.S.)``, ``(CONT'D)``).
* **Running time**: the words of dialogue and narration (parentheticals left out) at
  ``WORDS_PER_MINUTE`` (150, an unhurried voice-over) must come within
  ``TOLERANCE`` (25%) of the seconds asked for.
"""

from __future__ import annotations

import io
import re
from typing import Any

from pydantic import BaseModel, ConfigDict
from screenplain.export.html import convert as html_convert
from screenplain.export.pdf import to_pdf
from screenplain.parsers import fountain
from screenplain.types import Action, Dialog, DualDialog, Slug

#: Spoken words a minute, dialogue and narration alike.
WORDS_PER_MINUTE = 150
#: How far the estimated running time may be from the seconds asked for, as a share.
TOLERANCE = 0.25

_EXTENSION = re.compile(r"\s*\([^)]*\)\s*")
_VOICE_OVER = re.compile(r"\(\s*V\.?\s*O\.?\s*\)", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?")


class ScriptReport(BaseModel):
    """What the checks found in one script; ``problems`` are quotable in a repair."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    score: float
    problems: list[str]
    scenes: int
    characters: list[str]
    spoken_words: int
    seconds: int
    target_seconds: int
    min_seconds: int
    max_seconds: int

    def summary(self) -> str:
        """One line for the result's fields."""
        if not self.passed:
            count = len(self.problems)
            return f"script: {count} problem{'s' if count != 1 else ''}"
        scenes = f"{self.scenes} scene{'s' if self.scenes != 1 else ''}"
        return f"{scenes}, about {self.seconds} s of {self.target_seconds} s ok"

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (``Result.data["script_report"]``)."""
        return self.model_dump(mode="json")


def seconds_range(seconds: int) -> tuple[int, int]:
    """The running times that fit ``seconds``, within the tolerance."""
    return round(seconds * (1 - TOLERANCE)), round(seconds * (1 + TOLERANCE))


def spoken_words_for(seconds: int) -> int:
    """Words of dialogue and narration that take ``seconds`` to say."""
    return round(seconds * WORDS_PER_MINUTE / 60)


def parse(text: str) -> list[Any]:
    """The script's paragraphs as screenplain reads them (a title page left aside)."""
    return list(fountain.parse(io.StringIO(text)))


def character(dialog: Dialog) -> str:
    """The speaking character's name, without cue extensions."""
    return _EXTENSION.sub(" ", str(dialog.character)).strip().rstrip("^").strip().upper()


def is_voice_over(dialog: Dialog) -> bool:
    return bool(_VOICE_OVER.search(str(dialog.character)))


def _dialogs(paragraphs: list[Any]) -> list[Dialog]:
    found: list[Dialog] = []
    for paragraph in paragraphs:
        if isinstance(paragraph, DualDialog):
            found += [paragraph.left, paragraph.right]
        elif isinstance(paragraph, Dialog):
            found.append(paragraph)
    return found


def spoken_words(paragraphs: list[Any]) -> int:
    """Words of dialogue and narration, parentheticals left out."""
    return sum(
        len(_WORD.findall(str(line)))
        for dialog in _dialogs(paragraphs)
        for parenthetical, line in dialog.blocks
        if not parenthetical
    )


def _shape_problems(paragraphs: list[Any]) -> list[str]:
    problems = []
    slugs = [i for i, p in enumerate(paragraphs) if isinstance(p, Slug)]
    if not slugs:
        problems.append(
            "there is no scene heading: start each scene with a line such as 'INT. KITCHEN - DAY'"
        )
    elif slugs[0] != 0:
        problems.append(
            "the script does not start with a scene heading such as 'EXT. STREET - NIGHT'"
        )
    ends = [*slugs[1:], len(paragraphs)] if slugs else []
    for number, (index, after) in enumerate(zip(slugs, ends, strict=True), 1):
        if after == index + 1:
            heading = str(paragraphs[index].line)
            problems.append(f"scene {number} ({heading}) is empty")
    if not any(isinstance(p, Action) for p in paragraphs):
        problems.append("there are no action lines describing what we see")
    dialogs = _dialogs(paragraphs)
    if not any(not is_voice_over(d) for d in dialogs):
        problems.append(
            "no character speaks on screen: put a name in capitals on its own "
            "line above their dialogue"
        )
    if not any(is_voice_over(d) for d in dialogs):
        problems.append("there is no voice-over narration: add a cue such as NARRATOR (V.O.)")
    return problems


def uninvited(paragraphs: list[Any]) -> list[str]:
    """Characters who speak on screen before an action line names them, in order."""
    seen_action = ""
    late: list[str] = []
    for paragraph in paragraphs:
        if isinstance(paragraph, Action):
            seen_action += " " + " ".join(str(line) for line in paragraph.lines).upper()
            continue
        for dialog in _dialogs([paragraph]):
            name = character(dialog)
            if is_voice_over(dialog) or name in late:
                continue
            if not re.search(rf"(?<![A-Z]){re.escape(name)}(?![A-Z])", seen_action):
                late.append(name)
    return late


def check_script(text: str, seconds: int) -> ScriptReport:
    """Check a Fountain script against the rules above, for ``seconds`` of running time."""
    paragraphs = parse(text)
    problems = _shape_problems(paragraphs)
    shape_score = 1.0 - len(problems) / 6
    late = uninvited(paragraphs)
    problems += [
        f"{name} speaks before being introduced: name {name} in an action line before "
        "their first line"
        for name in late
    ]
    speakers = list(dict.fromkeys(character(d) for d in _dialogs(paragraphs)))
    on_screen = [
        s
        for s in speakers
        if s in {character(d) for d in _dialogs(paragraphs) if not is_voice_over(d)}
    ]
    words = spoken_words(paragraphs)
    estimate = round(words * 60 / WORDS_PER_MINUTE)
    low, high = seconds_range(seconds)
    if not low <= estimate <= high:
        problems.append(
            f"the dialogue and narration run about {estimate} seconds ({words} words at "
            f"{WORDS_PER_MINUTE} a minute); write {spoken_words_for(low)} to "
            f"{spoken_words_for(high)} spoken words for {low} to {high} seconds"
        )
    timing = min(estimate / low, high / estimate) if estimate else 0.0
    introduced = 1.0 - len(late) / len(on_screen) if on_screen else 1.0
    return ScriptReport(
        passed=not problems,
        score=round((max(shape_score, 0.0) + introduced + min(timing, 1.0)) / 3, 3),
        problems=problems,
        scenes=sum(isinstance(p, Slug) for p in paragraphs),
        characters=speakers,
        spoken_words=words,
        seconds=estimate,
        target_seconds=seconds,
        min_seconds=low,
        max_seconds=high,
    )


def with_title(text: str, title: str) -> str:
    """The script as a Fountain document, with a title page."""
    return f"Title: {title}\n\n{text.strip()}\n"


def to_html(document: str) -> str:
    """A Fountain document as a whole HTML page (screenplain's layout and style)."""
    out = io.StringIO()
    html_convert(fountain.parse(io.StringIO(document)), out)
    return out.getvalue()


def to_pdf_bytes(document: str) -> bytes:
    """A Fountain document as a PDF in screenplay layout, title page first."""
    out = io.BytesIO()
    to_pdf(fountain.parse(io.StringIO(document)), out)
    return out.getvalue()


_CHATTER = re.compile(
    r"^(here('s| is| are)|sure|certainly|of course|okay|title:|script:?$|fade in:?$)",
    re.IGNORECASE,
)
_AFTERWORD = re.compile(r"^(i hope|note:|(the )?problems:|draft:|brief:)", re.IGNORECASE)
_MARKUP = re.compile(r"^(?:#+\s*)?(?:\*\*|__)?(.*?)(?:\*\*|__)?$")
_HEADING = re.compile(r"^(INT|EXT|EST|INT\.?/EXT|I/E)[. ]", re.IGNORECASE)
_COLON_CUE = re.compile(
    r"^([A-Z][A-Z .'-]{0,30}[A-Z.](?:\s*\((?:V\.O\.|O\.S\.|CONT'D)\))?)\s*:\s+(\S.*)$"
)


def clean_script(text: str) -> str:
    """The script alone: no preamble, title or notes, no code fences or markdown headings
    and bold; scene headings set apart by blank lines, and dialogue written as
    ``NAME: line`` made a Fountain cue and its line."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if not line.strip().startswith("```")]
    lines = [_MARKUP.sub(r"\1", line.strip()) if line.strip() else "" for line in lines]
    while lines and (not lines[0] or _CHATTER.match(lines[0])):
        lines.pop(0)
    for index, line in enumerate(lines):
        if _AFTERWORD.match(line):
            del lines[index:]
            break
    out: list[str] = []
    for line in lines:
        cue = _COLON_CUE.match(line)
        if _HEADING.match(line):  # a heading stands alone, or Fountain reads it as a cue
            out += ["", line, ""]
        elif cue:
            out += ["", cue[1], cue[2], ""]
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
