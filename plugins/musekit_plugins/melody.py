"""``melody``: a short melody for a lyric, one note per syllable, in ABC notation and MIDI.

The pipeline is :func:`musekit.refine.refine`: ``candidates`` drafts of the tune's
notes in one request, each made a whole tune (the header from the request, the
lyric under the notes) and checked (:mod:`musekit_plugins.melody_check`: it reads,
the notes are in the key and a singable range, one note per syllable); the best
failures go back to the model with the problems quoted, and code mends what its
revision leaves wrong (:class:`~musekit_plugins.mending.Mending`). The best tune
comes back as ABC text and as ``melody.abc`` and ``melody.mid`` attachments.
docs/melody.md describes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from musekit import (
    Attachment,
    ChatRequest,
    CommandSpec,
    Context,
    Example,
    Limits,
    Message,
    Params,
    Result,
    ResultField,
    Sampling,
    hookimpl,
)
from musekit.context import Turn
from musekit.craft.chords import Key
from musekit.craft.song import parse_song
from musekit.errors import UsageError
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit.refine import Refined, feedback, refine
from musekit_plugins.drafts import Wording, drafts_result
from musekit_plugins.melody_abc import Header, tune_body
from musekit_plugins.melody_check import (
    Frame,
    MelodyReport,
    midi_file,
    read_tune,
    require_music21,
    syllable_count,
)
from musekit_plugins.mending import Mending

MUSEKIT_API = (1,)

Metre = Literal["4/4", "3/4", "2/4", "6/8"]

#: A short melody: at most this many syllables (a verse of four or five lines).
MAX_SYLLABLES = 48

#: Tokens per note (SmolLM2 spends two or three on a note and its space) and to spare.
TOKENS_PER_NOTE = 4
TOKENS_SPARE = 16

LIMITS = Limits(max_output_tokens=256, max_samples=6, max_seconds=180)

#: Repairs stop this far into the command's time limit, so the best draft is returned in time.
TIME_SHARE = 0.75

WORDING = Wording(
    piece="melody",
    asked="lyric",
    form="the key, the singable range and the syllables",
    field="melody",
    report_key="melody_report",
    style="code",
)

#: The command whose result, in the conversation, gives the lyric when none is typed.
LYRICS_COMMAND = "lyrics"


def _too_long(syllables: int) -> PydanticCustomError:
    return PydanticCustomError(
        "too_long",
        "the lyric has {count} syllables; a melody sets at most {most}: give a line or a verse",
        {"count": syllables, "most": MAX_SYLLABLES},
    )


class MelodyParams(Params):
    lyric: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="The lyric line or verse to set (in a /lyrics thread, leave it out to set "
        "the song).",
    )
    key: str = Field(
        "C", min_length=1, max_length=12, description="The key, e.g. 'G', 'A minor', 'Bb'."
    )
    metre: Metre = Field("4/4", description="The time signature.")
    tempo: int = Field(96, ge=40, le=200, description="Beats a minute.")
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")

    @field_validator("lyric")
    @classmethod
    def _singable(cls, value: str | None) -> str | None:
        if value is None:
            return value
        syllables = syllable_count(value)
        if syllables == 0:
            raise PydanticCustomError("no_words", "the lyric has no words to sing")
        if syllables > MAX_SYLLABLES:
            raise _too_long(syllables)
        return value

    @field_validator("key")
    @classmethod
    def _known_key(cls, value: str) -> str:
        try:
            Key.parse(value)
        except ValueError as error:
            raise PydanticCustomError("key", str(error)) from None
        return value


class MelodySettings(BaseModel):
    """Sampling and the size of the draft-check-repair loop."""

    temperature: float = Field(0.8, ge=0.0, le=2.0, description="Sampling temperature.")
    min_p: float = Field(
        0.05, ge=0.0, le=1.0, description="Drop tokens below this share of the top one."
    )
    candidates: int = Field(
        4, ge=1, le=LIMITS.max_samples, description="Drafts asked for in one request."
    )
    repair_rounds: int = Field(2, ge=0, le=4, description="Rounds of repairs at most.")
    repairs_per_round: int = Field(2, ge=1, le=4, description="Drafts repaired in each round.")


SPEC = CommandSpec(
    name="melody",
    description="Write a short melody for a lyric (ABC and MIDI), one note per syllable.",
    params=MelodyParams,
    text_param="lyric",
    examples=(
        Example(params={"lyric": "The morning light is on the bay", "key": "G"}),
        Example(
            params={"lyric": "Hold on to the night", "key": "A minor", "metre": "3/4"},
            description="A waltz in a minor key.",
        ),
    ),
    limits=LIMITS,
)

SYSTEM_PROMPT = (
    "You are a songwriter. Write a melody for the lyric in ABC notation: one note for each "
    "syllable, only notes of the key, between C and e. Write only the notes and bar lines, "
    "with no header and no words."
)
REPAIR_SYSTEM_PROMPT = (
    "You are a songwriter revising a melody in ABC notation. Rewrite the notes so that every "
    "problem listed is fixed: one note for each syllable, only notes of the key, between C "
    "and e. Write only the notes and bar lines, with no header and no words."
)

EXAMPLE_LYRIC = "The morning light is on the bay"
EXAMPLE_KEY = "G"
EXAMPLE_NOTES = "D G A B | c2 B A | G4 |]"
"""The worked example, written for this project: eight notes in G major for eight syllables
(a test holds that it passes its own check)."""
EXAMPLE_BROKEN = "D G A ^c | e2 B |]"


def example_frame() -> Frame:
    """The worked example's frame: its lyric in G major, 4/4, at the default tempo."""
    return Frame(Header(EXAMPLE_LYRIC, "4/4", 96, Key.parse(EXAMPLE_KEY)), EXAMPLE_LYRIC)


def frame_for(params: MelodyParams, lyric: str) -> Frame:
    """What the tune must fit: the requested key, metre and tempo, and the lyric."""
    title = lyric.splitlines()[0]
    return Frame(Header(title, params.metre, params.tempo, Key.parse(params.key)), lyric)


def user_message(frame: Frame) -> str:
    """The request in plain lines; always the last message, so the prefix stays fixed."""
    lyric = " / ".join(line.strip() for line in frame.lyric.splitlines() if line.strip())
    return (
        f"Lyric: {lyric}\nSyllables: {frame.syllables}\nKey: {frame.key}\n"
        f"Metre: {frame.header.metre}"
    )


def draft_messages(frame: Frame) -> tuple[Message, ...]:
    """System prompt and worked example (fixed), then the request."""
    return (
        Message(role="system", content=SYSTEM_PROMPT),
        Message(role="user", content=user_message(example_frame())),
        Message(role="assistant", content=EXAMPLE_NOTES),
        Message(role="user", content=user_message(frame)),
    )


def _repair_request(frame: Frame, notes: str, problems: Sequence[str]) -> str:
    return f"{user_message(frame)}\n\nDraft:\n{notes}\n\nProblems:\n{feedback(problems)}"


def repair_messages(frame: Frame, draft: str, report: MelodyReport) -> list[Message]:
    """A fixed repair prefix (with a worked repair), then the draft's notes and problems."""
    example = example_frame()
    broken = example.check(example.clean(EXAMPLE_BROKEN))
    return [
        Message(role="system", content=REPAIR_SYSTEM_PROMPT),
        Message(role="user", content=_repair_request(example, EXAMPLE_BROKEN, broken.problems)),
        Message(role="assistant", content=EXAMPLE_NOTES),
        Message(role="user", content=_repair_request(frame, tune_body(draft), report.problems)),
    ]


def lyric_from(history: Sequence[Turn]) -> tuple[str, str]:
    """The first section of the latest /lyrics result in ``history``, as many whole lines
    as fit :data:`MAX_SYLLABLES`, and a note for the user saying what was set."""
    for turn in reversed(history):
        if turn.command != LYRICS_COMMAND:
            continue
        song = parse_song(turn.text)
        sections = [s for s in song.sections if s.lines]
        lines = [line.sung for line in sections[0].lines] if sections else list(song.untagged)
        taken: list[str] = []
        for line in lines:
            if syllable_count("\n".join([*taken, line])) > MAX_SYLLABLES:
                break
            taken.append(line)
        if not taken:
            continue
        label = f"[{sections[0].label}]" if sections else "the lyrics"
        left = len(lines) - len(taken)
        note = f"Set {label} of the song in this conversation"
        if left:
            note += f" ({len(taken)} lines; {left} more would pass {MAX_SYLLABLES} syllables)"
        return "\n".join(taken), note + "."
    raise UsageError(
        "Give a lyric to set, or use melody in the thread of a lyrics result to set its "
        "first section."
    )


def max_tokens(frame: Frame) -> int:
    """Tokens allowed for one draft: a few per note, and a little spare."""
    return min(frame.syllables * TOKENS_PER_NOTE + TOKENS_SPARE, LIMITS.max_output_tokens)


def melodic_variety(text: str) -> float:
    """A 0..1 quality signal: distinct pitches over notes (0 when the tune does not read)."""
    reading = read_tune(text)
    if isinstance(reading, str):
        return 0.0
    return len(set(reading.pitches)) / len(reading.pitches)


async def run_melody(ctx: Context, params: MelodyParams) -> Result:
    require_music21()
    settings = ctx.settings if isinstance(ctx.settings, MelodySettings) else MelodySettings()
    if params.lyric is not None:
        lyric, source = params.lyric, None
    else:
        lyric, source = lyric_from(ctx.history)
    frame = frame_for(params, lyric)
    request = ChatRequest(
        messages=draft_messages(frame),
        sampling=Sampling(
            temperature=settings.temperature,
            top_p=1.0,
            min_p=settings.min_p,
            max_tokens=max_tokens(frame),
            seed=params.seed,
        ),
    )
    mending = Mending(clean=frame.clean, usable=frame.mendable, mend=frame.mend)
    refined = await refine(
        ctx,
        request,
        frame.check,
        lambda draft, report: repair_messages(frame, draft, report),
        candidates=settings.candidates,
        repair_rounds=settings.repair_rounds,
        repairs_per_round=settings.repairs_per_round,
        apply_repair=mending.apply,
        token_budget=2 * settings.candidates * request.sampling.max_tokens,
        time_budget=ctx.spec.limits.max_seconds * TIME_SHARE,
        clean=frame.clean,
        quality=melodic_variety,
    )
    if settings.repair_rounds:  # a budget may have ended the repairs before code mended
        refined = mending.finish(refined, frame.check, melodic_variety)
    result = melody_result(frame, refined, mending)
    if source is not None:
        result.warnings.insert(0, source)
    return result


def melody_result(frame: Frame, refined: Refined[MelodyReport], mending: Mending) -> Result:
    """The best tune with its report, what code mended, and its ABC and MIDI files."""
    title = frame.header.title if len(frame.header.title) <= 60 else frame.header.title[:59] + "…"
    result = drafts_result(refined, title=title, wording=WORDING)
    best = refined.best.text
    changes = mending.of(best)
    setting = f"{frame.key}, {frame.header.metre}, {frame.header.tempo} bpm"
    result.fields.insert(0, ResultField(name="setting", value=setting))
    if changes:
        result.fields.append(ResultField(name="mended", value="; ".join(changes)))
    result.data["mended"] = list(changes)
    if frame.readable(best):
        result.attachments = [
            Attachment(
                filename="melody.abc",
                media_type="text/vnd.abc",
                data=best.encode(),
                description="The melody in ABC notation.",
            ),
            Attachment(
                filename="melody.mid",
                media_type="audio/midi",
                data=midi_file(best),
                description="The melody as a MIDI file.",
            ),
        ]
    return result


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_melody)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(MelodySettings)
