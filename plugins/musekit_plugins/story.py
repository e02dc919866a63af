"""``story``: continue a story in a chosen length, genre, point of view and tense, checked.

The pipeline is :func:`musekit.refine.refine` with :func:`~musekit_plugins.story_check.
check_story` as the check (point of view and tense kept, no repetition loops, no
restating of the story so far, the length's word range): ``candidates`` drafts in one
request, the most promising failures rewritten with their problems quoted, the best
returned with its report and the others as variations. In a conversation (a thread),
each invocation continues the whole story so far: the first turn's opening and every
continuation since, with the new text as a direction ("continue" alone just goes on).
docs/story.md describes it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    Example,
    Limits,
    Params,
    Result,
    ResultField,
    Sampling,
    hookimpl,
)
from musekit.context import Turn
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit.refine import Refined, refine
from musekit_plugins.drafts import Wording, drafts_result
from musekit_plugins.story_check import (
    LENGTH_WORDS,
    Length,
    Pov,
    StoryReport,
    Tense,
    check_story,
    to_keep,
)
from musekit_plugins.story_prompts import Ask, clean_story, draft_messages, repair_messages

MUSEKIT_API = (1,)

#: Tokens per word of prose (SmolLM2 spends about 1.3), and to spare.
TOKENS_PER_WORD = 1.4
TOKENS_SPARE = 16

LIMITS = Limits(max_output_tokens=720, max_samples=6, max_seconds=180)

#: Repairs stop this far into the command's time limit, so the best draft is returned in time.
TIME_SHARE = 0.75

#: A reply in a thread that only asks for more, with no direction.
CONTINUE_WORDS = frozenset({"continue", "go on", "more", "next", "keep going", "and then"})

WORDING = Wording(
    piece="continuation",
    asked="opening",
    form="the story's point of view, tense and length",
    field="story",
    report_key="story_report",
    style="prose",
)


class StoryParams(Params):
    opening: str = Field(
        min_length=1,
        max_length=4000,
        description="The story's opening to continue; in a thread, what happens next "
        "(or 'continue').",
    )
    length: Length = Field("short", description="short (~100 words), medium (~200), long (~350).")
    genre: str | None = Field(
        None, min_length=1, max_length=40, description="A genre, e.g. 'mystery'."
    )
    pov: Pov | None = Field(
        None, description="Point of view: first, second or third person (default: the opening's)."
    )
    tense: Tense | None = Field(
        None, description="Tense: past or present (default: the opening's)."
    )
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")


class StorySettings(BaseModel):
    """Sampling and the size of the draft-check-repair loop."""

    temperature: float = Field(0.8, ge=0.0, le=2.0, description="Sampling temperature.")
    min_p: float = Field(
        0.08, ge=0.0, le=1.0, description="Drop tokens below this share of the top one."
    )
    candidates: int = Field(
        3, ge=1, le=LIMITS.max_samples, description="Drafts asked for in one request."
    )
    repair_rounds: int = Field(2, ge=0, le=4, description="Rounds of repairs at most.")
    repairs_per_round: int = Field(2, ge=1, le=4, description="Drafts repaired in each round.")


SPEC = CommandSpec(
    name="story",
    description="Continue a story in a length, genre, point of view and tense, checked.",
    params=StoryParams,
    text_param="opening",
    examples=(
        Example(params={"opening": "The lighthouse had been dark for three nights."}),
        Example(
            params={
                "opening": "I found the key under the loose floorboard.",
                "genre": "mystery",
                "length": "medium",
            },
            description="A longer continuation in a genre.",
        ),
        Example(
            params={"opening": "The robot waited at the bus stop.", "pov": "first"},
            description="Told in the first person from here on.",
        ),
    ),
    limits=LIMITS,
)


def story_so_far(history: tuple[Turn, ...], text: str) -> tuple[str, str | None]:
    """The story to continue and the direction for the next part.

    Outside a conversation, ``text`` is the story so far. In one, the story is the
    first ``story`` turn's opening and every continuation since, and ``text`` is the
    direction (none for "continue" and the like).
    """
    turns = [turn for turn in history if turn.command == SPEC.name]
    if not turns:
        return text.strip(), None
    opening = str(turns[0].params.get("opening", ""))
    story = "\n\n".join(part.strip() for part in (opening, *(t.text for t in turns)) if part)
    asked = text.strip()
    direction = None if asked.lower().rstrip(".!") in CONTINUE_WORDS else asked
    return story, direction


def max_tokens(length: Length) -> int:
    """Tokens allowed for one draft: the length's most words, and a little spare."""
    return min(
        int(LENGTH_WORDS[length][2] * TOKENS_PER_WORD) + TOKENS_SPARE, LIMITS.max_output_tokens
    )


async def run_story(ctx: Context, params: StoryParams) -> Result:
    settings = ctx.settings if isinstance(ctx.settings, StorySettings) else StorySettings()
    story, direction = story_so_far(ctx.history, params.opening)
    pov, tense = to_keep(story, params.pov, params.tense)
    ask = Ask(story, params.length, pov, tense, params.genre, direction)
    request = ChatRequest(
        messages=draft_messages(ask),
        # min_p trims the unlikely tail relative to the top token; a light repetition
        # penalty keeps a small model out of loops.
        sampling=Sampling(
            temperature=settings.temperature,
            top_p=1.0,
            min_p=settings.min_p,
            repetition_penalty=1.1,
            max_tokens=max_tokens(params.length),
            seed=params.seed,
        ),
    )

    def check(text: str) -> StoryReport:
        return check_story(
            text, story, length=params.length, pov=params.pov, tense_asked=params.tense
        )

    refined = await refine(
        ctx,
        request,
        check,
        lambda draft, report: repair_messages(ask, draft, report.problems),
        candidates=settings.candidates,
        repair_rounds=settings.repair_rounds,
        repairs_per_round=settings.repairs_per_round,
        # Repairs may spend as many tokens as the drafts were allowed.
        token_budget=2 * settings.candidates * request.sampling.max_tokens,
        time_budget=ctx.spec.limits.max_seconds * TIME_SHARE,
        clean=clean_story,
    )
    return story_result(story, refined, part=2 + sum(t.command == SPEC.name for t in ctx.history))


def story_result(story: str, refined: Refined[StoryReport], *, part: int) -> Result:
    """The best continuation with its report; the other drafts as variations."""
    first_line = story.splitlines()[0] if story else SPEC.name
    title = first_line if len(first_line) <= 60 else first_line[:59] + "…"
    result = drafts_result(refined, title=title, wording=WORDING)
    result.fields.append(ResultField(name="part", value=f"{part} (the opening is part 1)"))
    return result


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_story)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(StorySettings)
