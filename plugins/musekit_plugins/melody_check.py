"""Checking a tune as a melody for a lyric, mending what code can, and writing it as MIDI.

music21 reads the tune (the ABC subset of :mod:`musekit_plugins.melody_abc`): the
check is that it reads, that every note is in the key (a minor key allows its raised
seventh), that every note lies in a singable range (:data:`LOWEST` to :data:`HIGHEST`,
C4 to E5: a span most untrained voices reach), and that there is one note per
syllable. Mending drops marks that are not ABC notes, moves stray notes into the range
and the key, and adds or removes notes at the end to match the syllables.

music21 is an optional dependency (``pip install 'musekit[music]'``), imported on
first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from musekit.craft.chords import Key
from musekit.craft.phonetics import line_syllables
from musekit.errors import MusekitError
from musekit_plugins.melody_abc import (
    Header,
    Token,
    body_of,
    note_name,
    read_body,
    salvage,
    scale_pitches,
    tune,
    tune_body,
    write_body,
)

#: The singable range, as MIDI numbers: C4 to E5.
LOWEST = 60
HIGHEST = 76

MISSING_MUSIC21 = (
    "The melody command needs music21, which is not installed: pip install 'musekit[music]'."
)


def require_music21() -> None:
    """Raise a user-safe error naming the extra to install when music21 is missing."""
    try:
        import music21  # noqa: F401
    except ImportError:
        raise MusekitError(MISSING_MUSIC21) from None


def syllable_count(lyric: str) -> int:
    """The lyric's syllables: each word at its shortest dictionary reading."""
    return sum(line_syllables(line).low for line in lyric.splitlines())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


class MelodyReport(BaseModel):
    """What the check found: whether the tune passed, a 0..1 score, quotable problems, and
    the counts behind them (``notes`` is ``None`` when the tune does not read)."""

    passed: bool
    score: float
    problems: list[str]
    key: str
    syllables: int
    notes: int | None = None
    out_of_key: int = 0
    out_of_range: int = 0
    lowest: str | None = None
    highest: str | None = None

    def summary(self) -> str:
        """One line: ``8 notes for 8 syllables, in G major, D4 to C5`` or the problem count."""
        if not self.passed:
            return _plural(len(self.problems), "problem")
        return (
            f"{_plural(self.notes or 0, 'note')} for {_plural(self.syllables, 'syllable')}, "
            f"in {self.key}, {self.lowest} to {self.highest}"
        )

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (``Result.data["melody_report"]``)."""
        return self.model_dump()


@dataclass(frozen=True)
class Reading:
    """A tune as read: the body's tokens and the MIDI pitch of each note, in order."""

    tokens: tuple[Token, ...]
    pitches: tuple[int, ...]


@lru_cache(maxsize=256)
def read_tune(text: str) -> Reading | str:
    """The tune's notes as music21 reads them, or a sentence saying why it does not read."""
    from music21 import converter, note

    tokens = read_body(tune_body(text))
    if isinstance(tokens, str):
        return tokens
    try:
        score = converter.parseData(text, format="abc")
    except Exception:  # music21 raises many kinds on bad input; the message is ours
        return "music21 cannot read the tune"
    # A note longer than what is left of its bar comes back as tied notes: one sung note.
    notes = [
        n
        for n in score.recurse().notes
        if isinstance(n, note.Note) and (n.tie is None or n.tie.type == "start")
    ]
    written = sum(1 for token in tokens if token.note)
    if len(notes) != written:
        return f"music21 reads {len(notes)} notes where the tune writes {written}"
    return Reading(tuple(tokens), tuple(int(n.pitch.midi) for n in notes))


def midi_file(text: str) -> bytes:
    """The tune as a standard MIDI file at its tempo: its notes and rests in order, tied
    notes as one (the tune's bars need not fill the metre)."""
    from music21 import base, converter, note, stream, tempo
    from music21.midi import translate

    score = converter.parseData(text, format="abc").stripTies()
    marks = score.recurse().getElementsByClass(tempo.MetronomeMark)
    sounds: list[base.Music21Object] = [
        tempo.MetronomeMark(number=mark.number, referent=mark.referent) for mark in marks[:1]
    ]
    for sound in score.flatten().notesAndRests:
        length = sound.quarterLength
        if isinstance(sound, note.Note):
            sounds.append(note.Note(sound.pitch, quarterLength=length))
        else:
            sounds.append(note.Rest(quarterLength=length))
    line: stream.Stream[base.Music21Object] = stream.Stream(sounds)
    data: bytes = translate.streamToMidiFile(line).writestr()
    return data


@dataclass(frozen=True)
class Frame:
    """What a melody must fit: its header (key, metre, tempo), the lyric and its syllables.

    ``clean`` turns a model's answer into a whole tune, ``check`` reports on a tune, and
    ``mend`` fixes what code can.
    """

    header: Header
    lyric: str

    @property
    def key(self) -> Key:
        return self.header.key

    @property
    def syllables(self) -> int:
        return syllable_count(self.lyric)

    def clean(self, answer: str) -> str:
        """The answer's notes as a whole tune: this frame's header, the body, the lyric."""
        return tune(self.header, body_of(answer), self.lyric)

    def check(self, text: str) -> MelodyReport:
        """Whether ``text`` reads and fits the key, the singable range and the syllables."""
        reading = read_tune(text)
        base = {"key": str(self.key), "syllables": self.syllables}
        if isinstance(reading, str):
            return MelodyReport(passed=False, score=0.0, problems=[reading], **base)
        pitches = reading.pitches
        strays = [p for p in pitches if p % 12 not in self.key.scale]
        outside = [p for p in pitches if not LOWEST <= p <= HIGHEST]
        problems = []
        if strays:
            names = ", ".join(dict.fromkeys(note_name(p) for p in strays))
            verb = "is" if len(strays) == 1 else "are"
            problems.append(
                f"{len(strays)} of {len(pitches)} notes {verb} not in {self.key} ({names}): "
                "use only the notes of the key"
            )
        if outside:
            problems.append(
                f"{_plural(len(outside), 'note')} outside the singable range "
                f"{note_name(LOWEST)} to {note_name(HIGHEST)} "
                f"(lowest {note_name(min(pitches))}, highest {note_name(max(pitches))})"
            )
        if len(pitches) != self.syllables:
            problems.append(
                f"the tune has {_plural(len(pitches), 'note')} for "
                f"{_plural(self.syllables, 'syllable')}: write one note per syllable"
            )
        count_share = max(0.0, 1 - abs(len(pitches) - self.syllables) / max(self.syllables, 1))
        shares = (1 - len(strays) / len(pitches), 1 - len(outside) / len(pitches), count_share)
        return MelodyReport(
            passed=not problems,
            score=round(sum(shares) / len(shares), 3),
            problems=problems,
            notes=len(pitches),
            out_of_key=len(strays),
            out_of_range=len(outside),
            lowest=note_name(min(pitches)),
            highest=note_name(max(pitches)),
            **base,
        )

    def readable(self, text: str) -> bool:
        """Whether the tune reads as it is."""
        return not isinstance(read_tune(text), str)

    def mendable(self, text: str) -> bool:
        """Whether the tune reads once what is not ABC is dropped, so :meth:`mend` can work."""
        return not isinstance(read_tune(self._salvaged(text)[0]), str)

    def _salvaged(self, text: str) -> tuple[str, list[str]]:
        body = tune_body(text)
        if not isinstance(read_body(body), str):
            return text, []
        kept, dropped = salvage(body)
        if not dropped:
            return text, []
        shown = ", ".join(f"'{mark}'" for mark in dict.fromkeys(dropped))
        change = f"{_plural(len(dropped), 'mark')} that {'is' if len(dropped) == 1 else 'are'}"
        return tune(self.header, kept, self.lyric), [f"{change} not ABC notes dropped ({shown})"]

    def mend(self, text: str) -> tuple[str, list[str]]:
        """The tune with what is not ABC dropped, notes moved into the range and the key,
        and notes added (stepping to the tonic) or removed at the end to match the
        syllables; and what was changed. A tune with no notes to keep is returned as is."""
        salvaged, dropped = self._salvaged(text)
        reading = read_tune(salvaged)
        if isinstance(reading, str):
            return text, []
        scale = scale_pitches(self.key, LOWEST, HIGHEST)
        pitches = list(reading.pitches[: self.syllables])
        into_key = into_range = 0
        for index, pitch in enumerate(pitches):
            if LOWEST <= pitch <= HIGHEST and pitch % 12 in self.key.scale:
                continue
            if pitch % 12 in self.key.scale:
                into_range += 1
            else:
                into_key += 1
            pitches[index] = _nearest(_into_range(pitch), scale)
        extra = _walk_to_tonic(pitches[-1], self.key, scale, self.syllables - len(pitches))
        removed = len(reading.pitches) - len(pitches)
        changes = dropped + [
            message
            for count, message in (
                (into_key, f"moved into {self.key}"),
                (into_range, "moved into the singable range"),
                (len(extra), "added at the end to give every syllable a note"),
                (removed, "removed from the end to match the syllables"),
            )
            if count
            for message in [f"{_plural(count, 'note')} {message}"]
        ]
        if len(changes) == len(dropped):
            return salvaged, changes
        body = write_body(list(reading.tokens), pitches, self.key, extra)
        return tune(self.header, body, self.lyric), changes


def _into_range(pitch: int) -> int:
    while pitch < LOWEST:
        pitch += 12
    while pitch > HIGHEST:
        pitch -= 12
    return pitch


def _nearest(pitch: int, scale: Sequence[int]) -> int:
    """The scale pitch nearest ``pitch``; the lower one of two as near."""
    return min(scale, key=lambda candidate: (abs(candidate - pitch), candidate))


def _walk_to_tonic(start: int, key: Key, scale: Sequence[int], count: int) -> tuple[int, ...]:
    """``count`` notes stepping along the scale from ``start`` to the nearest tonic, then
    staying on it."""
    tonic = _nearest(start, [p for p in scale if p % 12 == key.pitch])
    position = scale.index(_nearest(start, scale))
    goal = scale.index(tonic)
    walked = []
    for _ in range(max(count, 0)):
        position += (goal > position) - (goal < position)
        walked.append(scale[position])
    return tuple(walked)
