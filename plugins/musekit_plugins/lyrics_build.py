"""How the ``lyrics`` command writes a song a line at a time.

As :mod:`musekit_plugins.poem_build` does for poems: each lyric line (and, with a key,
each section's chord line) is one request of a few short samples, with the song so far
and what the line needs ("Write line 4 of [Verse 1], ending with the word 'sun'.");
code keeps the sample with the fewest problems in the song so far
(:func:`musekit_plugins.lyrics.check_lyrics`) and asks again while none is clean. A
repeated chorus is written as its tag alone and filled in by the check, as in whole
drafts. A line that must rhyme is asked to end on a word that does (the song's nouns,
then plain end words, :func:`musekit_plugins.poem_rhyme.rhyme_targets`); a sample that
mostly repeats a line of the example song or of this one is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

from musekit import ChatRequest, Message
from musekit.craft.checker import describe_range
from musekit.craft.chords import Chord
from musekit.craft.song import SongForm, SongReport, section_tags
from musekit.craft.song_form import FREE_LINE
from musekit.craft.song_text import chord_symbols
from musekit_plugins.line_options import line_options, line_tokens
from musekit_plugins.piecewise import Fit, echoes
from musekit_plugins.poem_rhyme import nouns_in, rhyme_targets
from musekit_plugins.poem_text import answer_lines, last_word

LINE_SYSTEM_PROMPT = (
    "You are a songwriter writing song lyrics one line at a time. Reply with the line only."
)

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_CHORDS = re.compile(r"^chords\s*:", re.IGNORECASE)
_TAG = re.compile(r"^\s*\[[^\]]*\]\s*$")


@dataclass(frozen=True)
class Slot:
    """One part of the song: a lyric line (``line`` counted from 0) or, with ``line``
    ``None``, a section's chord line; ``section`` indexes the song's structure."""

    section: int
    line: int | None


def slots(form: SongForm) -> list[Slot]:
    """What to write, in order: each section's chord line (with a key) and lyric lines; a
    chorus after the first is its tag alone."""
    found: list[Slot] = []
    chorus_written = False
    for index, kind in enumerate(form.structure):
        if kind == "chorus" and chorus_written:
            continue
        chorus_written |= kind == "chorus"
        if form.key is not None:
            found.append(Slot(index, None))
        found.extend(Slot(index, line) for line in range(form.lines[kind]))
    return found


def rhyme_partner(form: SongForm, slot: Slot) -> int | None:
    """The earlier line of the section that lyric line ``slot`` must rhyme with."""
    if slot.line is None:
        return None
    scheme = form.rhyme.get(form.structure[slot.section])
    if not scheme:
        return None

    def letter(line: int) -> str:
        found = scheme[line % len(scheme)]
        return found if found == FREE_LINE else f"{found}{line // len(scheme)}"

    mine = letter(slot.line)
    if mine == FREE_LINE:
        return None
    return next((i for i in range(slot.line) if letter(i) == mine), None)


def _words(line: str) -> list[str]:
    return _WORD.findall(line.lower())


@dataclass(frozen=True)
class LyricsPlan:
    """A song as :func:`musekit_plugins.piecewise.write_parts` writes it.

    ``request`` is the request as the prompts word it (``lyrics.user_message``);
    ``drafting`` the drafting request (its sampling is used, with a line's allowance);
    ``check`` the lyrics check (``lyrics.check_lyrics`` with the song's form), ``clean``
    what makes a draft checkable (``lyrics.clean_lyrics``); ``example`` the worked
    example's request and lyrics; ``history`` the conversation so far.
    """

    form: SongForm
    request: str
    drafting: ChatRequest
    check: Callable[[str], SongReport]
    clean: Callable[[str], str]
    example: tuple[str, str]
    history: tuple[Message, ...] = ()
    nouns: list[str] = field(default_factory=list)

    @property
    def parts(self) -> int:
        return len(self._slots())

    def fixed(self, done: Sequence[str], index: int) -> str | None:
        return None

    def ask(self, done: Sequence[str], index: int, attempt: int) -> ChatRequest:
        """The request for part ``index``: the song so far and what the part needs."""
        if not self.nouns:
            self.nouns.extend(nouns_in(self.example[1].splitlines()))
        slot = self._slots()[index]
        chords = slot.line is None
        example, answer = _chord_example(self.example) if chords else _line_example(self.example)
        so_far = self.join(done, upto=slot)
        messages = (
            Message(role="system", content=LINE_SYSTEM_PROMPT),
            Message(role="user", content=example),
            Message(role="assistant", content=answer),
            *self.history,
            Message(
                role="user",
                content=f"{self.request}\n\n{so_far}\n{self._needs(done, slot, attempt)}",
            ),
        )
        sampling = self.drafting.sampling.model_copy(
            update={"max_tokens": line_tokens(self._syllables(slot)), "stop": ("\n",)}
        )
        return self.drafting.model_copy(update={"messages": messages, "sampling": sampling})

    def parse(self, done: Sequence[str], index: int, answer: str) -> str | None:
        """The answer's line: a chord line for a chord part, else a lyric line that is no
        tag, chord line or echo, or what code makes of it (cut to length, its end noun
        swapped for a rhyme: :func:`~musekit_plugins.line_options.line_options`) when that
        fits better."""
        found = [line for line in answer_lines(answer) if not _TAG.match(line)]
        if not found:
            return None
        line = found[0]
        slot = self._slots()[index]
        if slot.line is None:
            if not _CHORDS.match(line):  # chords alone ("G Em C D") are a chord line too
                symbols = chord_symbols(f"Chords: {line}") or []
                if len(symbols) < 2 or any(Chord.parse(symbol) is None for symbol in symbols):
                    return None
                line = f"Chords: {' '.join(symbols)}"
            options = [line, *self._in_key(line)]
            return min(options, key=lambda option: self.fit(done, index, option).rank)
        if _CHORDS.match(line):
            return None
        self.nouns.extend(noun for noun in nouns_in([line]) if noun not in self.nouns)
        lines = self._section_lines(done, slot)
        partner = rhyme_partner(self.form, slot)
        options = line_options(
            line,
            syllables=self._syllables(slot),
            rhyme_with=last_word(lines[partner])
            if partner is not None and partner < len(lines)
            else None,
            nouns=self.nouns,
            taken=[last_word(other) for other in lines],
        )
        earlier = [_words(d) for d in done if not _CHORDS.match(d)]
        fresh = [
            option
            for option in options
            if _words(option)
            and not echoes(_words(option), (*_example_lines(self.example[1]), *earlier))
        ]
        if not fresh:
            return None
        return min(fresh, key=lambda option: self.fit(done, index, option).rank)

    def fit(self, done: Sequence[str], index: int, part: str) -> Fit:
        """The part's problems in the song so far: its line's, or its section's chords'."""
        slot = self._slots()[index]
        report = self.check(self.clean(self.join([*done, part], upto=slot)))
        section = report.sections[slot.section] if slot.section < len(report.sections) else None
        if section is None:
            return Fit(1, report.score)
        if slot.line is None:
            return Fit(sum("chord" in p for p in section.problems), report.score)
        if slot.line >= len(section.lines):
            return Fit(1, report.score)
        problems = len(section.lines[slot.line].problems)
        problems += sum("copied from the example" in p for p in report.problems)
        # A line later lines must rhyme with needs an end word they can be asked to end on.
        later = sum(
            rhyme_partner(self.form, other) == slot.line
            for other in self._slots()
            if other.section == slot.section and other.line is not None and other.line > slot.line
        )
        ends = [last_word(line) for line in self._section_lines(done, slot)]
        if later and len(rhyme_targets(last_word(part), self.nouns, ends)) < later:
            problems += 1
        return Fit(problems, report.score)

    def join(self, parts: Sequence[str], upto: Slot | None = None) -> str:
        """The song: each section's tag and its parts so far; a repeated chorus as its tag
        alone. With ``upto``, the sections up to that part's (the song so far)."""
        written: dict[int, list[str]] = {}
        for slot, part in zip(self._slots(), parts, strict=False):
            if part:
                written.setdefault(slot.section, []).append(part)
        last = len(self.form.structure) - 1 if upto is None else upto.section
        tags = section_tags(self.form.structure)
        blocks = [
            "\n".join([f"[{tags[i]}]", *written.get(i, [])])
            for i in range(last + 1)
            if i in written or self._tag_alone(i)
        ]
        return "\n\n".join(blocks)

    def _in_key(self, line: str) -> list[str]:
        """The chord line with only its chords that are in the song's key, if two or more
        are: a small model slips a chord from outside the key into a progression."""
        key = self.form.key
        symbols = chord_symbols(line) or []
        kept = [
            symbol
            for symbol in symbols
            if key is not None
            and (chord := Chord.parse(symbol)) is not None
            and (chord.fits(key) or (self.form.borrowed and chord.fits(key.parallel)))
        ]
        return [f"Chords: {' '.join(kept)}"] if len(kept) >= 2 and kept != symbols else []

    def _tag_alone(self, section: int) -> bool:
        kind = self.form.structure[section]
        return kind == "chorus" and "chorus" in self.form.structure[:section]

    def _syllables(self, slot: Slot) -> tuple[int, int] | None:
        """The syllable target (low, high) of a lyric line, if its section has one."""
        template = self.form.syllables.get(self.form.structure[slot.section])
        if not template or slot.line is None:
            return None
        return template[slot.line % len(template)]

    def _needs(self, done: Sequence[str], slot: Slot, attempt: int) -> str:
        tag = section_tags(self.form.structure)[slot.section]
        if slot.line is None:
            key = self.form.key
            chords = " ".join(key.triads()) if key is not None else ""
            return _chord_need(tag, chords)
        needs = [f"Write line {slot.line + 1} of [{tag}]"]
        syllables = self._syllables(slot)
        if syllables:
            needs.append(f"in {describe_range(syllables)} syllables")
        partner = rhyme_partner(self.form, slot)
        lines = self._section_lines(done, slot)
        if partner is not None and partner < len(lines):
            ends = [last_word(line) for line in lines]
            targets = rhyme_targets(last_word(lines[partner]), self.nouns, ends)
            if targets:
                needs.append(f"ending with the word '{targets[attempt % len(targets)]}'")
        return ", ".join(needs) + "."

    def _section_lines(self, done: Sequence[str], slot: Slot) -> list[str]:
        return [
            part
            for other, part in zip(self._slots(), done, strict=False)
            if other.section == slot.section and other.line is not None
        ]

    def _slots(self) -> list[Slot]:
        return slots(self.form)


@cache
def _example_lines(song: str) -> tuple[tuple[str, ...], ...]:
    return tuple(
        tuple(_words(line))
        for line in song.splitlines()
        if line.strip() and not _TAG.match(line) and not _CHORDS.match(line)
    )


def _chord_need(tag: str, chords: str) -> str:
    return f"Write the chord line of [{tag}]: 'Chords:' and four chords from {chords}."


@cache
def _chord_example(example: tuple[str, str]) -> tuple[str, str]:
    """The worked example of writing a chord line: the example song's first tag, asked
    for its chord line as a part is (with the chords its request offers); and that line."""
    request, song = example
    block = song.split("\n\n")[0].splitlines()
    offered = re.search(r"\(chords: ([^)]*)\)", request)
    line = next((row for row in block if _CHORDS.match(row)), None)
    if offered is None or line is None:
        raise ValueError("the worked example has no key and chord line")
    return f"{request}\n\n{block[0]}\n{_chord_need(block[0].strip('[]'), offered[1])}", line


@cache
def _line_example(example: tuple[str, str]) -> tuple[str, str]:
    """The worked example of writing one line: the example song up to its first verse's
    last line, asked for as a line is; and that line."""
    request, song = example
    block = song.split("\n\n")[0].splitlines()  # "[Verse 1]", maybe chords, four lines
    tag = block[0].strip("[]")
    lyric = [line for line in block[1:] if not _CHORDS.match(line)]
    ask = (
        f"{request}\n\n" + "\n".join(block[:-1]) + f"\nWrite line {len(lyric)} of [{tag}], "
        f"ending with the word '{last_word(lyric[-1])}'."
    )
    return ask, block[-1]
