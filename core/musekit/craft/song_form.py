"""What a song must follow: its sections in order, rhyme schemes, syllables and key.

Section kinds are intro, verse, pre-chorus, chorus, bridge and outro.
:meth:`SongForm.parse` reads the plain-text spellings a user types
("verse-chorus-verse-chorus", "verse=ABAB; chorus=AABB", "8 8 6 6", "G major").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from musekit.craft.chords import Key
from musekit.craft.forms import Range

SectionKind = Literal["intro", "verse", "pre-chorus", "chorus", "bridge", "outro"]
SECTION_KINDS: tuple[SectionKind, ...] = (
    "intro",
    "verse",
    "pre-chorus",
    "chorus",
    "bridge",
    "outro",
)
"""The section names a song may use, in tags and in structures."""

FREE_LINE = "X"
"""In a rhyme scheme, a line that need not rhyme ("XAXA")."""

TITLES: dict[SectionKind, str] = {kind: kind.title() for kind in SECTION_KINDS}
"""How a tag spells each kind: "Pre-Chorus"."""
_BY_SQUEEZED: dict[str, SectionKind] = {kind.replace("-", ""): kind for kind in SECTION_KINDS}
_KIND_LIST = "intro, verse, pre-chorus, chorus, bridge or outro"
_RULE_KEY = re.compile(r"([A-Za-z][A-Za-z_-]*)\s*[=:]")
_COUNT = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")
_MAX_SYLLABLES = 40
_MAX_LINES = 32

_T = TypeVar("_T")


def section_kind(name: str) -> SectionKind | None:
    """The kind a section name stands for ("Pre Chorus" -> "pre-chorus"); None if unknown."""
    return _BY_SQUEEZED.get(re.sub(r"[\s_-]+", "", name.lower()))


def parse_structure(structure: str | Iterable[str]) -> tuple[SectionKind, ...]:
    """Sections in order from "verse-chorus-verse-chorus-bridge-chorus" (or a list of names).

    Names are separated by ``-``, commas or spaces; "pre-chorus" keeps its hyphen.
    Raises ``ValueError`` naming an unknown section, or if none is named.
    """
    if isinstance(structure, str):
        squeezed = re.sub(r"pre[\s_-]*chorus", "prechorus", structure, flags=re.IGNORECASE)
        names = [name for name in re.split(r"[\s,;>|-]+", squeezed) if name]
    else:
        names = list(structure)
    kinds = []
    for number, name in enumerate(names, start=1):
        kind = section_kind(name)
        if kind is None:
            raise ValueError(f"section {number} of the structure is not one of {_KIND_LIST}")
        kinds.append(kind)
    if not kinds:
        raise ValueError(f"the structure names no sections; use {_KIND_LIST}")
    return tuple(kinds)


def section_tags(structure: Iterable[SectionKind]) -> list[str]:
    """The tags to write for a structure: verses numbered when there are several.

    ``["Verse 1", "Chorus", "Verse 2", "Chorus"]`` for verse-chorus-verse-chorus.
    """
    kinds = list(structure)
    verses = iter(range(1, kinds.count("verse") + 1))
    return [
        f"Verse {next(verses)}" if kind == "verse" and kinds.count("verse") > 1 else TITLES[kind]
        for kind in kinds
    ]


def section_labels(names: Iterable[str]) -> list[str]:
    """Labels for sections in order, numbered where a kind comes more than once.

    ``["Verse 1", "Chorus 1", "Verse 2", "Chorus 2", "Bridge"]``; a name that is not
    a section kind (an unknown tag) is kept as it is.
    """
    names = list(names)
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        if name not in TITLES:
            labels.append(name)
            continue
        seen[name] = seen.get(name, 0) + 1
        number = f" {seen[name]}" if names.count(name) > 1 else ""
        labels.append(TITLES[name] + number)
    return labels


def parse_rhyme(scheme: str) -> str:
    """A section's rhyme scheme ("ABAB", "aabb", "XAXA"), upper-cased and checked."""
    letters = scheme.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2,16}", letters):
        raise ValueError(
            "a rhyme scheme is 2 to 16 letters, one per line, e.g. ABAB "
            f"({FREE_LINE} for a line that need not rhyme)"
        )
    return letters


def parse_syllables(target: str | int) -> tuple[Range, ...]:
    """Syllables per line: ``8`` (every line), ``"6-8"`` (a range for every line), or a
    template of one count or range per line, separated by spaces or commas
    (``"8 8 6 6"``, ``"8,8,5-6,5-6"``), repeated over longer sections."""
    text = str(target).strip()
    items = [item for item in re.split(r"\s*[, ]\s*", re.sub(r"\s*-\s*", "-", text)) if item]
    ranges: list[Range] = []
    for item in items:
        found = _COUNT.fullmatch(item)
        if found is None:
            raise ValueError(
                "syllables are a count (8), a range (6-8) or counts per line (8 8 6 6)"
            )
        low = int(found[1])
        high = int(found[2] or low)
        if not 1 <= low <= high <= _MAX_SYLLABLES:
            raise ValueError(
                f"a syllable range goes from low to high, between 1 and {_MAX_SYLLABLES}"
            )
        ranges.append((low, high))
    if not ranges or len(ranges) > 16:
        raise ValueError("syllables give 1 to 16 counts, one per line")
    return tuple(ranges)


def parse_lines(count: str | int) -> int:
    """Lyric lines in a section: a whole number from 1 to 32."""
    text = str(count).strip()
    if not text.isdigit() or not 1 <= int(text) <= _MAX_LINES:
        raise ValueError(f"lines per section are a whole number from 1 to {_MAX_LINES}")
    return int(text)


def _per_kind(
    rules: str | Mapping[str, Any] | None,
    read: Callable[[str], _T],
    what: str,
    structure: tuple[SectionKind, ...],
) -> dict[SectionKind, _T]:
    """Values per section kind from "ABAB; chorus=AABB" (pairs separated by ``;`` or ``,``;
    a bare value covers every section not named) or from a mapping of names to values."""
    if rules is None:
        return {}
    if isinstance(rules, Mapping):
        pairs: list[tuple[str | None, str]] = [(k, str(v)) for k, v in rules.items()]
    else:
        keys = list(_RULE_KEY.finditer(rules))
        starts = [key.start() for key in keys] + [len(rules)]
        bare = rules[: starts[0]].strip(" ;,")
        pairs = [(None, bare)] if bare else []
        pairs += [
            (key[1], rules[key.end() : end].strip(" ;,"))
            for key, end in zip(keys, starts[1:], strict=True)
        ]
    kinds = structure or SECTION_KINDS
    found: dict[SectionKind, _T] = {}
    default: _T | None = None
    for name, value in pairs:
        if name is None:
            default = read(value)
            continue
        kind = section_kind(name)
        if kind is None:
            raise ValueError(f"the {what} names a section that is not one of {_KIND_LIST}")
        if kind not in kinds:
            raise ValueError(f"the {what} names {kind}, which the structure does not have")
        found[kind] = read(value)
    if default is not None:
        for kind in kinds:
            found.setdefault(kind, default)
    return {kind: found[kind] for kind in dict.fromkeys(kinds) if kind in found}


@dataclass(frozen=True)
class SongForm:
    """What a song must follow; empty or ``None`` parts are not checked.

    ``structure`` is the sections in order; ``rhyme`` and ``syllables`` map a section
    kind to its rhyme scheme and its syllable template (one range per line, repeated
    over the section); ``lines`` to its number of lyric lines (without it, a section
    must fit its scheme and template a whole number of times); ``key`` asks for a
    chord line in every section, each chord in the key; ``borrowed`` also accepts
    chords of the parallel key.
    """

    structure: tuple[SectionKind, ...] = ()
    rhyme: Mapping[SectionKind, str] = field(default_factory=dict)
    syllables: Mapping[SectionKind, tuple[Range, ...]] = field(default_factory=dict)
    lines: Mapping[SectionKind, int] = field(default_factory=dict)
    key: Key | None = None
    borrowed: bool = False

    @classmethod
    def parse(
        cls,
        structure: str | Iterable[str] | None = None,
        *,
        rhyme: str | Mapping[str, str] | None = None,
        syllables: str | int | Mapping[str, str | int] | None = None,
        lines: str | int | Mapping[str, str | int] | None = None,
        key: str | None = None,
        borrowed: bool = False,
    ) -> SongForm:
        """A form from plain text: ``SongForm.parse("verse-chorus-verse-chorus",
        rhyme="verse=ABAB; chorus=AABB", syllables="8", lines=4, key="G")``.

        ``rhyme``, ``syllables`` and ``lines`` take a value for every section,
        ``section=value`` pairs (separated by ``;`` or ``,``), or both (the bare value
        covers the sections not named). Raises ``ValueError`` with a message fit for a
        user, also when a line count does not fit its section's scheme or template.
        """
        kinds = parse_structure(structure) if structure is not None else ()
        form = cls(
            structure=kinds,
            rhyme=_per_kind(rhyme, parse_rhyme, "rhyme", kinds),
            syllables=_per_kind(_text(syllables), parse_syllables, "syllables", kinds),
            lines=_per_kind(_text(lines), parse_lines, "lines", kinds),
            key=Key.parse(key) if key is not None else None,
            borrowed=borrowed,
        )
        for kind, count in form.lines.items():
            for size, what in form.patterns(kind):
                if count % size:
                    raise ValueError(
                        f"{count} lines do not fit the {kind}'s {what}: use a multiple of {size}"
                    )
        return form

    def patterns(self, kind: SectionKind) -> list[tuple[int, str]]:
        """The lengths a section of ``kind`` repeats in (its rhyme scheme, its syllable
        template of more than one line), each with a description."""
        found = []
        scheme = self.rhyme.get(kind)
        if scheme:
            found.append((len(scheme), f"rhyme scheme {scheme}"))
        template = self.syllables.get(kind)
        if template and len(template) > 1:
            found.append((len(template), f"syllables {syllables_text(template)}"))
        return found


def _text(value: str | int | Mapping[str, str | int] | None) -> str | Mapping[str, Any] | None:
    return str(value) if isinstance(value, int) else value


def syllables_text(template: tuple[Range, ...]) -> str:
    """A syllable template as :func:`parse_syllables` reads it: ``"8 8 5-6 5-6"``."""
    return " ".join(str(low) if low == high else f"{low}-{high}" for low, high in template)
