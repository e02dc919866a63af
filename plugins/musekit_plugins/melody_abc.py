"""The ABC notation the ``melody`` command reads and writes: a small, strict subset.

The model writes only the tune's body (the notes and bar lines); the header (``X:``,
``T:``, ``M:``, ``L:``, ``Q:``, ``K:``) comes from the request, and a ``w:`` line
puts the lyric under the notes. The body may hold notes (``^`` ``_`` ``=``
accidentals, ``,`` and ``'`` octave marks, lengths such as ``2``, ``/2``, ``3/2``),
rests (``z``), bar lines and broken rhythm (``>``, ``<``): one sung note per
syllable. Chords, ties, tuplets and inline fields are not read, so a body using them
is reported unreadable rather than miscounted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from musekit.craft.chords import Key
from musekit.craft.phonetics import line_syllables, words

#: Pitch class of each natural note, and the letters in scale order.
NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
LETTERS = "CDEFGAB"
_STEPS = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_ACCIDENTAL_ALTER = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
_ALTER_ACCIDENTAL = {alter: mark for mark, alter in _ACCIDENTAL_ALTER.items()}

_LENGTH = r"(?:\d+)?(?:/+\d*)?"
_TOKEN = re.compile(
    rf"(?P<note>(?P<accidental>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<octave>[,']*)"
    rf"(?P<length>{_LENGTH}))"
    rf"|(?P<rest>z{_LENGTH})"
    r"|(?P<bar>\|\]|\|\||\[\||\|:|:\||::|\|)"
    r"|(?P<broken>[<>]{1,3})"
    r"|(?P<space>\s+)"
)
_HEADER = re.compile(r"^[A-Za-z]:")
_ANNOTATION = re.compile(r'"[^"\n]*"|![^!\n]*!')


TokenKind = Literal["note", "rest", "bar", "other"]


@dataclass(frozen=True)
class Token:
    """One piece of a body, its kind, and for a note the text of its length."""

    text: str
    kind: TokenKind = "other"
    length: str = ""

    @property
    def note(self) -> bool:
        return self.kind == "note"


def read_body(body: str) -> list[Token] | str:
    """The body's tokens, or a sentence naming the first part that is not in the subset."""
    tokens: list[Token] = []
    position = 0
    while position < len(body):
        found = _TOKEN.match(body, position)
        if found is None or not found.group():
            bit = body[position:].split()[0][:12] if body[position:].split() else body[position]
            return f"'{bit}' is not ABC this command reads (notes, rests and bar lines only)"
        if found["note"]:
            tokens.append(Token(found.group(), "note", found["length"]))
        elif found["rest"] or found["bar"]:
            tokens.append(Token(found.group(), "rest" if found["rest"] else "bar"))
        else:
            tokens.append(Token(found.group()))
        position = found.end()
    if not any(token.note for token in tokens):
        return "the tune has no notes"
    return tokens


def salvage(body: str) -> tuple[str, list[str]]:
    """The body without what is not in the subset (each such character dropped), and the
    characters dropped, in order."""
    kept: list[str] = []
    dropped: list[str] = []
    position = 0
    while position < len(body):
        found = _TOKEN.match(body, position)
        if found is None or not found.group():
            dropped.append(body[position])
            kept.append(" ")
            position += 1
        else:
            kept.append(found.group())
            position = found.end()
    return re.sub(r"[ \t]+", " ", "".join(kept)).strip(), dropped


def body_of(text: str) -> str:
    """The body of a model's answer: lines that read as ABC notes, without header fields,
    ``w:`` lyrics, comments, chord symbols, decorations, fences or chatter.

    When no line reads, the first line that is not a header is kept, so the check can say
    what is wrong with it.
    """
    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = _ANNOTATION.sub("", raw.split("%", 1)[0]).strip()
        if line and not line.startswith("```") and not _HEADER.match(line):
            lines.append(line)
    readable = [line for line in lines if not isinstance(read_body(line), str)]
    if readable:
        return "\n".join(readable)
    return lines[0] if lines else ""


def tune_body(text: str) -> str:
    """The body of a whole tune: its lines other than header fields and ``w:`` lyrics."""
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not _HEADER.match(line))


def abc_key(key: Key) -> str:
    """The key as an ABC ``K:`` field value: ``G``, ``F#m``, ``Bb``."""
    return key.tonic + ("m" if key.mode == "minor" else "")


def signature(key: Key) -> dict[str, int]:
    """The key signature: each letter's pitch class in ``key`` (natural minor for a minor key)."""
    start = LETTERS.index(key.tonic[0])
    steps = _STEPS[key.mode]
    return {LETTERS[(start + degree) % 7]: (key.pitch + steps[degree]) % 12 for degree in range(7)}


def scale_pitches(key: Key, low: int, high: int) -> list[int]:
    """MIDI numbers from ``low`` to ``high`` that the key signature makes (no accidentals)."""
    classes = set(signature(key).values())
    return [pitch for pitch in range(low, high + 1) if pitch % 12 in classes]


def note_name(pitch: int) -> str:
    """A MIDI number in scientific pitch notation with sharps: 60 is ``C4``."""
    names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    return f"{names[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class Header:
    """The header fields of a tune: title, metre, tempo (beats a minute) and key."""

    title: str
    metre: str
    tempo: int
    key: Key

    def text(self) -> str:
        """The header lines; a compound metre (6/8) counts eighths and beats dotted quarters."""
        compound = self.metre == "6/8"
        unit, beat = ("1/8", "3/8") if compound else ("1/4", "1/4")
        title = " ".join(self.title.split())[:60] or "Melody"
        return (
            f"X:1\nT:{title}\nM:{self.metre}\nL:{unit}\nQ:{beat}={self.tempo}\n"
            f"K:{abc_key(self.key)}"
        )


def lyric_line(lyric: str) -> str:
    """The lyric as an ABC ``w:`` line: a word of several syllables is held (``_``) over as
    many notes as it has syllables, so every note gets its syllable."""
    sung = []
    for word in words(lyric):
        count = line_syllables(word).low
        if count:
            sung.append(" ".join([word.replace("-", ""), *["_"] * (count - 1)]))
    return "w: " + " ".join(sung)


def tune(header: Header, body: str, lyric: str) -> str:
    """A whole tune: the header, the body, and the lyric under the notes."""
    return f"{header.text()}\n{body}\n{lyric_line(lyric)}"


def spell(pitch: int, key: Key, bar_state: dict[tuple[str, int], int]) -> str:
    """The ABC for MIDI ``pitch`` in ``key``, given the accidentals already written in the
    bar (``bar_state``, updated): a bare letter when the signature (or an earlier accidental
    in the bar) gives the pitch, else the letter with an explicit accidental."""
    keyed = signature(key)
    pitch_class = pitch % 12
    letters = [letter for letter, value in keyed.items() if value == pitch_class]
    if not letters:  # a raised seventh, say: the natural letter just below, sharpened
        letters = [
            letter for letter, value in NATURALS.items() if (pitch_class - value) % 12 in (1, 2)
        ][:1]
    letter = letters[0]
    alter = (pitch_class - NATURALS[letter] + 6) % 12 - 6
    octave = (pitch - alter - NATURALS[letter]) // 12 - 1
    state_key = (letter, octave)
    implied = bar_state.get(state_key, keyed[letter])
    mark = "" if implied == pitch_class else _ALTER_ACCIDENTAL[alter]
    bar_state[state_key] = pitch_class
    name = letter.lower() + "'" * (octave - 5) if octave >= 5 else letter + "," * (4 - octave)
    return mark + name


def write_body(
    tokens: list[Token], pitches: list[int], key: Key, extra: tuple[int, ...] = ()
) -> str:
    """The body with its notes' pitches replaced by ``pitches`` (lengths, rests and bars
    kept; notes beyond ``pitches`` dropped) and ``extra`` notes added at the end, before
    a closing bar line."""
    parts: list[Token] = []
    state: dict[tuple[str, int], int] = {}
    in_last_bar = state  # the accidentals of the bar before the last bar line
    notes = iter(pitches)
    for token in tokens:
        if token.note:
            pitch = next(notes, None)
            if pitch is not None:
                parts.append(Token(spell(pitch, key, state) + token.length, "note"))
            continue
        if token.kind == "bar":
            in_last_bar, state = state, {}
            while parts and parts[-1].kind in ("bar", "other"):  # an emptied bar goes
                parts.pop()
            parts.append(Token(" "))
        parts.append(token)
    if extra:
        kinds = [part.kind for part in parts if part.kind != "other"]
        closing = bool(kinds) and kinds[-1] == "bar"
        bar = in_last_bar if closing else state
        added = Token(" " + " ".join(spell(pitch, key, bar) for pitch in extra) + " ", "note")
        at = max(i for i, part in enumerate(parts) if part.kind == "bar") if closing else len(parts)
        parts.insert(at, added)
    return re.sub(r"[ \t]+", " ", "".join(part.text for part in parts)).strip()
