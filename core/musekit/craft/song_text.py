"""Lyrics text split into sections: tags, lyric lines, backing vocals and chord lines.

A tag is a line in square brackets (``[Verse 1]``, ``[Pre-Chorus]``, ``[Chorus: all]``);
text in parentheses is backing vocals, left out of what the lead sings; a line
``Chords: C G Am F`` gives the section's chords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from musekit.craft.phonetics import words
from musekit.craft.song_form import SectionKind, section_kind, section_labels

_TAG = re.compile(r"^\[\s*([^\[\]]+?)\s*\]$")
#: A known section name, then an optional number, then an optional note after a colon or dash.
_TAG_NAME = re.compile(
    r"^(intro|verse|pre[\s_-]*chorus|chorus|bridge|outro)\s*(\d+)?\s*(?:[:\u2013\u2014-].*)?$",
    re.IGNORECASE,
)
_CHORD_LINE = re.compile(r"^chords?\s*:\s*(.*)$", re.IGNORECASE)
_BACKING = re.compile(r"\([^()]*\)")
_DASHES = frozenset({"", "-", "\u2013", "\u2014"})


@dataclass(frozen=True)
class SongLine:
    """A lyric line as written, and as sung by the lead (backing vocals removed)."""

    text: str
    sung: str


@dataclass(frozen=True)
class SongSection:
    """A tagged section: its tag as written, its kind (None for a tag we do not know), its
    label ("Verse 2", "Chorus 1": numbered when the kind comes more than once or the tag
    has a number), its lyric lines and its chords."""

    tag: str
    kind: SectionKind | None
    label: str
    lines: tuple[SongLine, ...]
    chords: tuple[str, ...]


@dataclass(frozen=True)
class Song:
    """Lyrics split into sections; ``untagged`` holds lyric lines before the first tag."""

    sections: tuple[SongSection, ...]
    untagged: tuple[str, ...]


def chord_symbols(line: str) -> list[str] | None:
    """The chord symbols of a chord line (``Chords: C G Am F``; commas, bars and dashes
    between them allowed), or ``None`` for any other line."""
    found = _CHORD_LINE.match(line.strip())
    if found is None:
        return None
    return [s for s in re.split(r"[\s,|]+", found[1]) if s and s not in _DASHES]


def parse_song(text: str) -> Song:
    """Split lyrics at their section tags; read chord lines and backing vocals."""
    untagged: list[SongLine] = []
    blocks: list[tuple[str, list[SongLine], list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        tag = _TAG.match(line)
        symbols = chord_symbols(line)
        if tag:
            blocks.append((tag[1], [], []))
        elif symbols is not None and blocks:
            blocks[-1][2].extend(symbols)
        elif line:
            sung = " ".join(_BACKING.sub(" ", line).split())
            if words(sung):
                (blocks[-1][1] if blocks else untagged).append(SongLine(line, sung))
    kinds = [_tag_kind(tag) for tag, _, _ in blocks]
    labels = section_labels(kind or tag for (tag, _, _), kind in zip(blocks, kinds, strict=True))
    sections = tuple(
        SongSection(tag, kind, _numbered(label, tag), tuple(lines), tuple(chords))
        for (tag, lines, chords), kind, label in zip(blocks, kinds, labels, strict=True)
    )
    return Song(sections=sections, untagged=tuple(line.text for line in untagged))


def _tag_kind(tag: str) -> SectionKind | None:
    found = _TAG_NAME.match(tag)
    return section_kind(found[1]) if found else None


def _numbered(label: str, tag: str) -> str:
    """A label keeps the number its tag was written with: a lone "[Verse 1]" stays Verse 1."""
    found = _TAG_NAME.match(tag)
    if found is None or found[2] is None or label[-1].isdigit():
        return label
    return f"{label} {found[2]}"


def repeat_choruses(text: str) -> str:
    """The lyrics with every empty ``[Chorus]`` filled with the first chorus's lines.

    Song sheets write a repeated chorus as its tag alone; the checks want its words.
    A chorus with lines of its own is left as written, and so is everything else.
    """
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if _TAG.match(line.strip()):
            blocks.append([])
        blocks[-1].append(line)
    first: list[str] | None = None
    filled: list[str] = []
    for block in blocks:
        tag = _TAG.match(block[0].strip()) if block else None
        if tag is not None and _tag_kind(tag[1]) == "chorus":
            body = [line for line in block[1:] if line.strip() and not _is_chord_line(line)]
            if first is None:
                first = body or None
            elif not body:
                end = len(block)
                while end > 1 and not block[end - 1].strip():
                    end -= 1
                block = block[:end] + first + block[end:]
        filled.extend(block)
    return "\n".join(filled) + ("\n" if text.endswith("\n") else "")


def _is_chord_line(line: str) -> bool:
    return _CHORD_LINE.match(line.strip()) is not None
