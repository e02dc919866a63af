"""Keys and chord symbols as pitch classes: is a chord diatonic to a key?

A chord belongs to a key when every note of it (and its slash bass) is in the
key's scale. Major keys use the major scale; minor keys use the natural minor
scale plus the raised seventh of harmonic minor, so the major V and V7 (E and E7
in A minor) and the diminished vii° belong. Pitch classes make enharmonic
spellings equal: A# and Bb are the same note, whatever the key's usual spelling.
With ``borrowed=True`` a chord from the parallel key (Fm, Bb or Ab in C major;
D or F#m in A minor) is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Mode = Literal["major", "minor"]

_NOTES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}
_NOTE = r"([A-G])([#♯b♭]?)"

_SCALES: dict[Mode, frozenset[int]] = {
    "major": frozenset({0, 2, 4, 5, 7, 9, 11}),
    # Natural minor with harmonic minor's raised seventh (the leading tone).
    "minor": frozenset({0, 2, 3, 5, 7, 8, 10, 11}),
}

_QUALITIES: dict[str, tuple[int, ...]] = {}
for _spellings, _intervals in (
    (("", "maj", "M"), (0, 4, 7)),
    (("m", "min", "-"), (0, 3, 7)),
    (("dim", "°", "o"), (0, 3, 6)),
    (("aug", "+"), (0, 4, 8)),
    (("5",), (0, 7)),
    (("sus2",), (0, 2, 7)),
    (("sus4", "sus"), (0, 5, 7)),
    (("6",), (0, 4, 7, 9)),
    (("m6",), (0, 3, 7, 9)),
    (("7",), (0, 4, 7, 10)),
    (("maj7", "M7", "Δ", "Δ7"), (0, 4, 7, 11)),
    (("m7", "min7", "-7"), (0, 3, 7, 10)),
    (("mmaj7", "mM7"), (0, 3, 7, 11)),
    (("m7b5", "ø", "ø7"), (0, 3, 6, 10)),
    (("dim7", "°7", "o7"), (0, 3, 6, 9)),
    (("7sus4",), (0, 5, 7, 10)),
    (("add9", "add2"), (0, 2, 4, 7)),
    (("madd9",), (0, 2, 3, 7)),
    (("9",), (0, 2, 4, 7, 10)),
    (("maj9",), (0, 2, 4, 7, 11)),
    (("m9",), (0, 2, 3, 7, 10)),
):
    _QUALITIES.update(dict.fromkeys(_spellings, _intervals))

#: Scale steps and triad qualities of the seven degrees, tonic first.
_DEGREES: dict[Mode, tuple[tuple[int, str], ...]] = {
    "major": ((0, ""), (2, "m"), (4, "m"), (5, ""), (7, ""), (9, "m"), (11, "dim")),
    "minor": ((0, "m"), (2, "dim"), (3, ""), (5, "m"), (7, "m"), (8, ""), (10, "")),
}
_LETTERS = "CDEFGAB"
_SPELLED = {0: "", 1: "#", 2: "##", 10: "bb", 11: "b"}

_CHORD = re.compile(rf"{_NOTE}(.*?)(?:/{_NOTE})?")
_KEY = re.compile(r"([A-Ga-g])([#♯b♭]?)\s*((?i:major|maj|minor|min)|m|M)?")


def _pitch(letter: str, accidental: str) -> int:
    return (_NOTES[letter.upper()] + _ACCIDENTALS[accidental]) % 12


@dataclass(frozen=True)
class Key:
    """A major or minor key, such as G major or F# minor."""

    tonic: str
    mode: Mode
    pitch: int

    @classmethod
    def parse(cls, text: str) -> Key:
        """Read "C", "C major", "CM", "Am", "A minor", "F#m", "Bb", "E♭ minor"...

        Raises ``ValueError`` naming the accepted forms for anything else.
        """
        found = _KEY.fullmatch(text.strip())
        if found is None:
            raise ValueError(
                "a key is a note A to G, optionally with # or b, then major or minor "
                "(e.g. 'G', 'F# minor', 'Bbm')"
            )
        letter, accidental, mode = found.groups()
        minor = mode is not None and (mode == "m" or mode.lower() in ("minor", "min"))
        tonic = letter.upper() + {"♯": "#", "♭": "b"}.get(accidental, accidental)
        return cls(
            tonic=tonic, mode="minor" if minor else "major", pitch=_pitch(letter, accidental)
        )

    @property
    def scale(self) -> frozenset[int]:
        """The key's pitch classes (0 is C)."""
        return frozenset((self.pitch + step) % 12 for step in _SCALES[self.mode])

    @property
    def parallel(self) -> Key:
        """The key on the same tonic in the other mode: C minor for C major."""
        other: Mode = "minor" if self.mode == "major" else "major"
        return Key(tonic=self.tonic, mode=other, pitch=self.pitch)

    def triads(self) -> tuple[str, ...]:
        """The key's diatonic triads, spelled for the key, tonic first.

        ``("C", "Dm", "Em", "F", "G", "Am", "Bdim")`` for C major; a minor key also
        lists its major V after the minor v: ``("Am", "Bdim", "C", "Dm", "Em", "E", "F", "G")``.
        """
        names = [
            self._note(degree, step) + quality
            for degree, (step, quality) in enumerate(_DEGREES[self.mode])
        ]
        if self.mode == "minor":
            names.insert(5, self._note(4, 7))
        return tuple(names)

    def _note(self, degree: int, step: int) -> str:
        letter = _LETTERS[(_LETTERS.index(self.tonic[0]) + degree) % 7]
        return letter + _SPELLED[(self.pitch + step - _NOTES[letter]) % 12]

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"


@dataclass(frozen=True)
class Chord:
    """A chord symbol read as pitch classes: its notes, and its bass if written after a slash."""

    symbol: str
    notes: frozenset[int]

    @classmethod
    def parse(cls, symbol: str) -> Chord | None:
        """Read "C", "Am7", "F#dim", "Bbmaj7", "G/B", "Dsus4"...; ``None`` if unreadable."""
        found = _CHORD.fullmatch(symbol)
        if found is None:
            return None
        letter, accidental, quality, bass_letter, bass_accidental = found.groups()
        intervals = _QUALITIES.get(quality)
        if intervals is None:
            return None
        root = _pitch(letter, accidental)
        notes = {(root + step) % 12 for step in intervals}
        if bass_letter is not None:
            notes.add(_pitch(bass_letter, bass_accidental))
        return cls(symbol=symbol, notes=frozenset(notes))

    def fits(self, key: Key) -> bool:
        """Whether every note of the chord is in ``key``'s scale."""
        return self.notes <= key.scale
