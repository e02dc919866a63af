"""``lyrics``: song lyrics with section tags, drafted several at a time, checked, repaired, ranked.

The pipeline is :func:`musekit.refine.refine` with :func:`musekit.craft.song.check_song`
as the check: sections present and in order, every chorus the same, each section's
lines, rhyme scheme and syllables, and with a key, a chord line per section in that
key; lines copied from the worked example count against a draft. The model writes
the chorus once (later choruses as their tag alone, filled in before checking). The
best draft comes back with its song report; the others become variations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from math import lcm

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    Example,
    Limits,
    Message,
    Params,
    Result,
    Sampling,
    hookimpl,
)
from musekit.craft.song import (
    SectionKind,
    SongForm,
    SongReport,
    check_song,
    parse_song,
    parse_structure,
    repeat_choruses,
    section_tags,
    syllables_text,
)
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit.refine import Refined, feedback, refine, variety
from musekit_plugins.drafts import Wording, drafts_result
from musekit_plugins.line_options import LINE_TOKENS
from musekit_plugins.lyrics_build import LyricsPlan
from musekit_plugins.piecewise import drafting

MUSEKIT_API = (1,)

#: Rhyme schemes used when none is asked for, for the sections the structure has.
DEFAULT_RHYME: dict[SectionKind, str] = {"verse": "XAXA", "chorus": "AABB"}
#: Lyric lines per section when neither a rhyme scheme nor a syllable template sets them.
DEFAULT_LINES: dict[SectionKind, int] = {"intro": 2, "outro": 2, "bridge": 2}
USUAL_LINES = 4
MAX_SECTIONS = 12

#: Tokens per lyric line (SmolLM2 spends about 10 on a sung line), per section for its tag
#: and chord line, and to spare.
TOKENS_PER_LINE = 16
TOKENS_PER_SECTION = 8
TOKENS_PER_CHORD_LINE = 12
TOKENS_SPARE = 24

#: Problems quoted in one repair prompt, at most: a small model loses track of a long list.
MAX_QUOTED = 5

LIMITS = Limits(max_output_tokens=1024, max_samples=6, max_seconds=180)

#: Repairs stop this far into the command's time limit, so the best draft is returned in time.
TIME_SHARE = 0.75
#: A song written line by line stops asking again for a line this far into the time limit,
#: and stops writing lines this far, so the song so far is repaired and returned in time.
LINE_TIME_SHARE = 0.4
LINE_TIME_LIMIT = 0.65

WORDING = Wording(
    piece="lyrics", asked="theme", form="the song's form", field="song", report_key="song_report"
)


def _song_form_error(error: ValueError) -> PydanticCustomError:
    return PydanticCustomError("song_form", str(error))


def _no_rhyme(rhyme: str) -> bool:
    return rhyme.strip().lower() == "none"


class LyricsParams(Params):
    theme: str = Field(min_length=1, max_length=500, description="What the song is about.")
    genre: str | None = Field(
        None, min_length=1, max_length=40, description="A genre or style, e.g. 'folk'."
    )
    structure: str = Field(
        "verse-chorus-verse-chorus",
        min_length=1,
        max_length=120,
        description="Sections in order: intro, verse, pre-chorus, chorus, bridge, outro.",
    )
    rhyme: str | None = Field(
        None,
        min_length=1,
        max_length=120,
        description="Rhyme scheme per section, e.g. 'verse=XAXA; chorus=AABB' (the default), "
        "'AABB' for every section, or 'none'.",
    )
    syllables: str | None = Field(
        None,
        min_length=1,
        max_length=120,
        description="Syllables per line: '8', a range '6-8', a template '8 8 6 6', or per "
        "section, e.g. 'verse=8; chorus=6 6 8 8'.",
    )
    lines: str | None = Field(
        None,
        min_length=1,
        max_length=120,
        description="Lyric lines per section: '4', or per section, e.g. 'verse=8; chorus=4' "
        "(default: what the rhyme scheme makes, else 4; 2 for an intro, outro or bridge).",
    )
    key: str | None = Field(
        None,
        min_length=1,
        max_length=12,
        description="A key such as 'G' or 'A minor': adds chords to each section, in that key.",
    )
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")

    @field_validator("structure")
    @classmethod
    def _known_sections(cls, value: str) -> str:
        try:
            sections = parse_structure(value)
        except ValueError as error:
            raise _song_form_error(error) from None
        if len(sections) > MAX_SECTIONS:
            raise PydanticCustomError(
                "too_many_sections", "at most {most} sections", {"most": MAX_SECTIONS}
            )
        return value

    @field_validator("rhyme", "syllables", "lines", "key")
    @classmethod
    def _fits_the_structure(cls, value: str | None, info: ValidationInfo) -> str | None:
        structure = info.data.get("structure")
        if value is None or structure is None:
            return value
        try:
            if info.field_name == "rhyme" and not _no_rhyme(value):
                SongForm.parse(structure, rhyme=value)
            elif info.field_name == "syllables":
                SongForm.parse(structure, syllables=value)
            elif info.field_name == "lines":
                kinds = parse_structure(structure)
                rhyme = _rhyme_rules(kinds, info.data.get("rhyme"))
                syllables = info.data.get("syllables")
                SongForm.parse(kinds, rhyme=rhyme, syllables=syllables, lines=value)
            elif info.field_name == "key":
                SongForm.parse(key=value)
        except ValueError as error:
            raise _song_form_error(error) from None
        return value


class LyricsSettings(BaseModel):
    """Sampling and the size of the draft-check-repair loop."""

    temperature: float = Field(0.9, ge=0.0, le=2.0, description="Sampling temperature.")
    min_p: float = Field(
        0.08, ge=0.0, le=1.0, description="Drop tokens below this share of the top one."
    )
    candidates: int = Field(
        3, ge=1, le=LIMITS.max_samples, description="Drafts asked for in one request."
    )
    repair_rounds: int = Field(2, ge=0, le=4, description="Rounds of repairs at most.")
    repairs_per_round: int = Field(2, ge=1, le=4, description="Drafts repaired in each round.")
    line_by_line: bool = Field(
        True,
        description="With more than one candidate, write the song a line at a time (else in "
        "whole drafts).",
    )
    line_samples: int = Field(
        4,
        ge=1,
        le=LIMITS.max_samples,
        description="A song written line by line: samples of each line, in one request.",
    )
    line_tries: int = Field(
        3, ge=1, le=8, description="Requests for one line at most, while no sample fits."
    )


SPEC = CommandSpec(
    name="lyrics",
    description="Write song lyrics with section tags, checked for structure, rhyme and syllables.",
    params=LyricsParams,
    text_param="theme",
    examples=(
        Example(params={"theme": "leaving a small town"}),
        Example(
            params={
                "theme": "a summer road trip",
                "genre": "pop",
                "structure": "verse-pre-chorus-chorus-verse-pre-chorus-chorus-bridge-chorus",
            },
            description="A longer structure.",
        ),
        Example(
            params={
                "theme": "the night shift",
                "rhyme": "verse=XAXA; chorus=AABB",
                "syllables": "8",
            },
            description="Rhyme schemes and syllables per line.",
        ),
        Example(
            params={"theme": "an old guitar", "genre": "folk", "key": "G"},
            description="With chords in G major.",
        ),
    ),
    limits=LIMITS,
)


def _rhyme_rules(
    structure: tuple[SectionKind, ...], rhyme: str | None
) -> str | dict[str, str] | None:
    if rhyme is None:
        return {kind: scheme for kind, scheme in DEFAULT_RHYME.items() if kind in structure}
    return None if _no_rhyme(rhyme) else rhyme


def song_form(params: LyricsParams) -> SongForm:
    """What the lyrics are checked against: the structure, rhyme schemes, syllables, the
    lines of each section (as asked, else what its scheme and template make, else the
    usual count) and the key."""
    structure = parse_structure(params.structure)
    form = SongForm.parse(
        structure,
        rhyme=_rhyme_rules(structure, params.rhyme),
        syllables=params.syllables,
        lines=params.lines,
        key=params.key,
    )
    lines = {kind: form.lines.get(kind) or _usual_lines(form, kind) for kind in structure}
    return replace(form, lines=lines)


def _usual_lines(form: SongForm, kind: SectionKind) -> int:
    sizes = [size for size, _ in form.patterns(kind)]
    return lcm(*sizes) if sizes else DEFAULT_LINES.get(kind, USUAL_LINES)


SYSTEM_PROMPT = (
    "You are a songwriter. Write song lyrics with each section's tag in square brackets on a "
    "line of its own, such as [Verse 1] or [Chorus], in the order asked. Write the chorus "
    "once; where it comes again, write only its tag. When a key is given, put a line "
    "'Chords: ...' under each tag, using only the chords listed. Write only the lyrics, with "
    "no title and no notes."
)
REPAIR_SYSTEM_PROMPT = (
    "You are a songwriter revising song lyrics. Rewrite the draft so that every problem listed "
    "is fixed, keeping its theme, its images and its section tags; where the chorus comes "
    "again, write only its tag. Write only the revised lyrics, with no title and no notes."
)

EXAMPLE_PARAMS = LyricsParams(theme="boats leaving the harbor at dawn", genre="folk")
EXAMPLE_KEY = "G"
EXAMPLE_SONG = """[Verse 1]
Chords: G Em C D
The morning light is on the bay,
the boats are leaving one by one;
I watch them slowly sail away
and turn my face into the sun.

[Chorus]
Chords: C G D G
Oh, carry me home on the tide,
with stars and the sea at my side;
the lantern will burn in the rain
until I come homeward again.

[Verse 2]
Chords: G Em C D
The harbor bells begin to ring,
the gulls are crying overhead;
I hear the sailors as they sing
of all the things they left unsaid.

[Chorus]"""
"""The worked example, written for this project; with its chorus repeated it passes its own
check (a test holds it)."""


def example_params(chords: bool) -> LyricsParams:
    """The worked example's request, with a key when the real request has one."""
    return EXAMPLE_PARAMS.model_copy(update={"key": EXAMPLE_KEY if chords else None})


def example_song(chords: bool) -> str:
    """The worked example's lyrics, with or without its chord lines."""
    if chords:
        return EXAMPLE_SONG
    return "\n".join(line for line in EXAMPLE_SONG.splitlines() if not line.startswith("Chords:"))


def user_message(params: LyricsParams) -> str:
    """The request in plain lines; always the last message, so the prefix stays fixed."""
    form = song_form(params)
    kinds = list(dict.fromkeys(form.structure))
    parts = [f"Theme: {params.theme}"]
    if params.genre:
        parts.append(f"Genre: {params.genre}")
    parts.append("Sections: " + " ".join(f"[{tag}]" for tag in section_tags(form.structure)))
    parts.append("Lines: " + ", ".join(f"{kind} {form.lines[kind]}" for kind in kinds))
    if form.rhyme:
        parts.append("Rhyme: " + ", ".join(f"{k} {s}" for k, s in form.rhyme.items()))
    if form.syllables:
        parts.append(
            "Syllables per line: "
            + ", ".join(
                f"{kind} {syllables_text(target)}" for kind, target in form.syllables.items()
            )
        )
    if form.key is not None:
        parts.append(f"Key: {form.key} (chords: {' '.join(form.key.triads())})")
    return "\n".join(parts)


def draft_messages(params: LyricsParams, history: Sequence[Message] = ()) -> tuple[Message, ...]:
    """System prompt and worked example (fixed, with or without chords), the conversation
    so far (``history``: earlier requests and lyrics, so a reply revises them), then the
    request."""
    chords = params.key is not None
    return (
        Message(role="system", content=SYSTEM_PROMPT),
        Message(role="user", content=user_message(example_params(chords))),
        Message(role="assistant", content=example_song(chords)),
        *history,
        Message(role="user", content=user_message(params)),
    )


def repair_messages(params: LyricsParams, draft: str, report: SongReport) -> list[Message]:
    """A fixed repair prefix (with a worked repair), then the draft and its problems."""
    chords = params.key is not None
    broken, problems = _example_repair(chords)
    example = _repair_request(user_message(example_params(chords)), broken, problems)
    return [
        Message(role="system", content=REPAIR_SYSTEM_PROMPT),
        Message(role="user", content=example),
        Message(role="assistant", content=example_song(chords)),
        Message(role="user", content=_repair_request(user_message(params), draft, report.problems)),
    ]


def _repair_request(request: str, draft: str, problems: Sequence[str]) -> str:
    return f"{request}\n\nDraft:\n{draft}\n\nProblems:\n{feedback(problems[:MAX_QUOTED])}"


@cache
def _example_repair(chords: bool) -> tuple[str, tuple[str, ...]]:
    """The worked example (its chorus repeated, as drafts are) with a rhyme broken, and what
    the check says about it."""
    song = repeat_choruses(example_song(chords))
    broken = song.replace(
        "of all the things they left unsaid.", "of all the ships that sailed away."
    )
    report = check_song(broken, song_form(example_params(chords)))
    return broken, tuple(report.problems)


def _plain(line: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", line.lower()))


@cache
def _example_lines() -> frozenset[str]:
    song = parse_song(EXAMPLE_SONG)
    return frozenset(_plain(line.sung) for section in song.sections for line in section.lines)


def check_lyrics(text: str, form: SongForm) -> SongReport:
    """:func:`check_song`, and a problem for lines copied from the worked example.

    A small model often copies the example's chorus, which then passes every check;
    the copied share of the lines comes off the score.
    """
    report = check_song(text, form)
    sung = [line.sung for section in parse_song(text).sections for line in section.lines]
    copied = [line for line in sung if _plain(line) in _example_lines()]
    if not copied:
        return report
    count = len(copied)
    problem = (
        f"{count} line{'s are' if count > 1 else ' is'} copied from the example song, such as "
        f"'{copied[0]}': write new lines about the theme"
    )
    return report.model_copy(
        update={
            "passed": False,
            "score": round(report.score * (1 - count / len(sung)), 3),
            "problems": [problem, *report.problems],
        }
    )


def max_tokens(params: LyricsParams) -> int:
    """Tokens allowed for one draft: every section's tag, chords and lines, and a little spare."""
    form = song_form(params)
    per_tag = TOKENS_PER_SECTION + (TOKENS_PER_CHORD_LINE if form.key is not None else 0)
    total = sum(per_tag + form.lines[kind] * TOKENS_PER_LINE for kind in form.structure)
    return min(total + TOKENS_SPARE, LIMITS.max_output_tokens)


_TAG_LIKE = re.compile(
    r"^(?:#+\s*)?(?:\*\*|__)?[\[(]?\s*"
    r"((?:intro|verse|pre[\s-]?chorus|chorus|bridge|outro)(?:\s*\d+)?)"
    r"\s*[\])]?\s*:?\s*(?:\*\*|__)?\s*:?$",
    re.IGNORECASE,
)
_CHATTER = re.compile(
    r"^(here('s| is| are)|sure|certainly|of course|okay|title:|#+ |\*\*[^*\[\]]+\*\*$)",
    re.IGNORECASE,
)
_AFTERWORD = re.compile(
    r"^(this song|these lyrics|i hope|note:|explanation|(the )?problems:|draft:)", re.IGNORECASE
)
_EMPHASIS = re.compile(r"^(\*\*|\*|__|_)(.+)\1$")


def clean_lyrics(text: str) -> str:
    """The lyrics alone: section headings made tags ("**Chorus:**" -> "[Chorus]"), no
    preamble, title, afterword, code fences or emphasis; one blank line between sections;
    a chorus written as its tag alone filled with the first chorus's lines."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if not line.startswith("```")]
    lines = [_as_tag(line) for line in lines]
    while lines and (not lines[0] or _CHATTER.match(lines[0])):
        lines.pop(0)
    for index in range(1, len(lines)):
        if not lines[index - 1] and _AFTERWORD.match(lines[index]):
            del lines[index:]
            break
    lines = [_EMPHASIS.sub(r"\2", line) for line in lines]
    return repeat_choruses(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip())


def _as_tag(line: str) -> str:
    found = _TAG_LIKE.match(line)
    return f"[{found[1]}]" if found else line


async def run_lyrics(ctx: Context, params: LyricsParams) -> Result:
    settings = ctx.settings if isinstance(ctx.settings, LyricsSettings) else LyricsSettings()
    form = song_form(params)
    history = tuple(ctx.history_messages())
    request = ChatRequest(
        messages=draft_messages(params, history),
        # min_p trims the unlikely tail relative to the top token, so a high temperature
        # still gives varied drafts without nonsense words; top_p is left open. No
        # repetition penalty: every chorus must repeat the first word for word.
        sampling=Sampling(
            temperature=settings.temperature,
            top_p=1.0,
            min_p=settings.min_p,
            repetition_penalty=1.0,
            max_tokens=max_tokens(params),
            seed=params.seed,
        ),
    )
    chords = params.key is not None
    plan = LyricsPlan(
        form,
        user_message(params),
        request,
        check=lambda text: check_lyrics(text, form),
        clean=clean_lyrics,
        example=(user_message(example_params(chords)), example_song(chords)),
        history=history,
    )
    limit = ctx.spec.limits.max_seconds
    line_by_line = settings.line_by_line and settings.candidates > 1
    draft = drafting(
        ctx,
        plan,
        samples=settings.line_samples,
        tries=settings.line_tries,
        time_budget=limit * LINE_TIME_SHARE,
        time_limit=limit * LINE_TIME_LIMIT,
    )
    refined = await refine(
        ctx,
        request,
        lambda text: check_lyrics(text, form),
        lambda draft, report: repair_messages(params, draft, report),
        candidates=settings.candidates,
        repair_rounds=settings.repair_rounds,
        repairs_per_round=settings.repairs_per_round,
        # Repairs may spend as many tokens as the drafts were allowed, besides the most that
        # writing line by line may take.
        token_budget=2 * settings.candidates * request.sampling.max_tokens
        + (
            plan.parts * settings.line_samples * settings.line_tries * LINE_TOKENS
            if line_by_line
            else 0
        ),
        time_budget=ctx.spec.limits.max_seconds * TIME_SHARE,
        clean=clean_lyrics,
        quality=lambda text: variety(text, repeated_lines_ok=True),
        draft=draft if line_by_line else None,
    )
    return lyrics_result(params, refined)


def lyrics_result(params: LyricsParams, refined: Refined[SongReport]) -> Result:
    """The best lyrics with their song report; the other drafts as variations."""
    title = params.theme if len(params.theme) <= 60 else params.theme[:59] + "…"
    return drafts_result(refined, title=title, wording=WORDING)


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_lyrics)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(LyricsSettings)
