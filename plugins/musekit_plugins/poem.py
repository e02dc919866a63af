"""``poem``: a poem in a chosen form, drafted several at a time, checked, repaired and ranked.

The pipeline is :func:`musekit.refine.refine` with :func:`musekit.craft.check` as the
check: ``candidates`` drafts in one request, the most promising failures mended line
by line with the checker's problems quoted (:mod:`musekit_plugins.poem_repair`), the
best by form score then variety returned with its form report; the next drafts
become the result's variations. docs/refine.md describes it.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from musekit.craft import FormReport, check, get_form
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit.refine import Refined, refine, variety
from musekit_plugins.drafts import Wording, drafts_result
from musekit_plugins.line_options import LINE_TOKENS
from musekit_plugins.piecewise import drafting
from musekit_plugins.poem_build import LINE_BY_LINE, PoemPlan
from musekit_plugins.poem_forms import FORM_PROMPTS, OPEN_FORMS, FormName
from musekit_plugins.poem_repair import Repairs
from musekit_plugins.poem_text import clean_poem

MUSEKIT_API = (1,)

#: Tokens allowed per line of a draft (SmolLM2 spends about 10 on a line of verse), and
#: for the rest (stanza breaks, a last word).
TOKENS_PER_LINE = 16
TOKENS_SPARE = 24

LIMITS = Limits(max_output_tokens=512, max_samples=8, max_seconds=180)

#: Other drafts kept as the result's variations, best first, at most.
MAX_VARIATIONS = 5

#: All requests together may spend this many times the drafts' token allowance.
TOKEN_BUDGET_SHARE = 3

#: Repairs stop this far into the command's time limit, so the best draft is returned
#: in time rather than lost to a timeout.
TIME_SHARE = 0.75

#: A poem written line by line stops trying again at a line this far into the time limit.
LINE_TIME_SHARE = 0.6
#: ... and stops writing lines this far into it, so the poem so far is returned in time.
LINE_TIME_LIMIT = 0.85


class PoemParams(Params):
    topic: str = Field(min_length=1, max_length=500, description="What the poem is about.")
    form: FormName = Field("free-verse", description="The form the poem must follow.")
    tone: str | None = Field(
        None, min_length=1, max_length=40, description="A tone or style, e.g. 'wistful'."
    )
    rhymed: bool | None = Field(None, description="Free verse only: rhymed or not.")
    lines: int | None = Field(
        None, ge=1, le=30, description="Free verse and couplets only: how many lines."
    )
    title: str | None = Field(
        None, min_length=1, max_length=80, description="A title for the poem."
    )
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")

    @field_validator("lines")
    @classmethod
    def _lines_for_open_forms(cls, value: int | None, info: ValidationInfo) -> int | None:
        form = info.data.get("form")
        if value is not None and form is not None and form not in OPEN_FORMS:
            raise PydanticCustomError(
                "fixed_form",
                "only free verse and couplets take a line count; a {form} has {count} lines",
                {"form": form, "count": FORM_PROMPTS[form].lines},
            )
        if value is not None and form == "couplets" and value % 2:
            raise PydanticCustomError("odd_couplets", "couplets need an even number of lines")
        return value

    @field_validator("rhymed")
    @classmethod
    def _rhyme_for_free_verse(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        form = info.data.get("form")
        if value is not None and form is not None and form != "free-verse":
            raise PydanticCustomError(
                "fixed_form",
                "only free verse takes it; a {form}'s rhymes are set by its form",
                {"form": form},
            )
        return value


class PoemSettings(BaseModel):
    """Sampling and the size of the draft-check-repair loop."""

    temperature: float = Field(0.9, ge=0.0, le=2.0, description="Sampling temperature.")
    min_p: float = Field(
        0.08, ge=0.0, le=1.0, description="Drop tokens below this share of the top one."
    )
    candidates: int = Field(
        4, ge=1, le=LIMITS.max_samples, description="Drafts asked for in one request."
    )
    repair_rounds: int = Field(4, ge=0, le=8, description="Rounds of repairs at most.")
    repairs_per_round: int = Field(2, ge=1, le=4, description="Drafts repaired in each round.")
    repair_samples: int = Field(
        4, ge=1, le=LIMITS.max_samples, description="Tries at each repair, in one request."
    )
    line_samples: int = Field(
        6,
        ge=1,
        le=LIMITS.max_samples,
        description="Long forms (limerick, sonnets, villanelle, couplets), when candidates is "
        "above 1, are written a line at a time: samples of each line, in one request.",
    )
    line_tries: int = Field(
        5, ge=1, le=8, description="Requests for one line at most, while no sample fits."
    )


SPEC = CommandSpec(
    name="poem",
    description="Write a poem in a form (haiku, limerick, sonnet...), checked and repaired.",
    params=PoemParams,
    text_param="topic",
    examples=(
        Example(params={"topic": "autumn rain on a tin roof", "form": "haiku"}),
        Example(params={"topic": "a cat who steals socks", "form": "limerick"}),
        Example(
            params={"topic": "the first morning of spring", "form": "free-verse", "lines": 8},
            description="Free verse with a set number of lines.",
        ),
        Example(params={"topic": "a lighthouse keeper", "form": "shakespearean-sonnet"}),
    ),
    limits=LIMITS,
)


def system_prompt(form: FormName) -> str:
    """The fixed system prompt for drafting ``form``."""
    return (
        f"You are a poet. Write {FORM_PROMPTS[form].rules}. "
        "Write only the poem, with no title and no notes."
    )


def user_message(params: PoemParams) -> str:
    """The variable part of a prompt: the user's request, always in the last message."""
    parts = [f"Topic: {params.topic}"]
    if params.tone:
        parts.append(f"Tone: {params.tone}")
    if params.title:
        parts.append(f"Title: {params.title}")
    if params.lines:
        parts.append(f"Lines: {params.lines}")
    if params.rhymed is not None:
        parts.append(f"Rhyme: {'rhymed' if params.rhymed else 'unrhymed'}")
    return "\n".join(parts)


def draft_messages(params: PoemParams, history: Sequence[Message] = ()) -> tuple[Message, ...]:
    """System prompt and worked example (fixed per form), the conversation so far
    (``history``: earlier requests and poems, so a reply revises them), then the user's
    request."""
    example = FORM_PROMPTS[params.form]
    return (
        Message(role="system", content=system_prompt(params.form)),
        Message(role="user", content=f"Topic: {example.topic}"),
        Message(role="assistant", content=example.poem),
        *history,
        Message(role="user", content=user_message(params)),
    )


def max_tokens(params: PoemParams) -> int:
    """Tokens allowed for one draft: enough for the form's lines, and a little spare."""
    lines = params.lines or FORM_PROMPTS[params.form].lines
    return min(lines * TOKENS_PER_LINE + TOKENS_SPARE, LIMITS.max_output_tokens)


async def run_poem(ctx: Context, params: PoemParams) -> Result:
    settings = ctx.settings if isinstance(ctx.settings, PoemSettings) else PoemSettings()
    history = tuple(ctx.history_messages())
    request = ChatRequest(
        messages=draft_messages(params, history),
        # min_p trims the unlikely tail relative to the top token, so a high temperature
        # still gives varied drafts without nonsense words; top_p is left open. A light
        # repetition penalty keeps a small model out of loops, except in forms with
        # refrains (the villanelle), whose lines must repeat.
        sampling=Sampling(
            temperature=settings.temperature,
            top_p=1.0,
            min_p=settings.min_p,
            repetition_penalty=1.0 if get_form(params.form).refrains else 1.1,
            max_tokens=max_tokens(params),
            seed=params.seed,
        ),
    )
    repairs = Repairs(params.form, user_message(params), request, params.lines)
    draft = None
    plan_cost = 0
    if params.form in LINE_BY_LINE and settings.candidates > 1:
        plan = PoemPlan(params.form, user_message(params), request, history, params.lines)
        plan_cost = plan.parts * settings.line_samples * settings.line_tries * LINE_TOKENS
        draft = drafting(
            ctx,
            plan,
            samples=settings.line_samples,
            tries=settings.line_tries,
            time_budget=ctx.spec.limits.max_seconds * LINE_TIME_SHARE,
            time_limit=ctx.spec.limits.max_seconds * LINE_TIME_LIMIT,
        )
    refined = await refine(
        ctx,
        request,
        lambda text: check(text, params.form, lines=params.lines, rhymed=params.rhymed),
        repairs.prompt,
        candidates=settings.candidates,
        repair_rounds=settings.repair_rounds,
        repairs_per_round=settings.repairs_per_round,
        repair_samples=settings.repair_samples,
        apply_repair=repairs.apply,
        # Repairs may spend this much, besides the most that writing line by line may take.
        token_budget=TOKEN_BUDGET_SHARE * settings.candidates * request.sampling.max_tokens
        + (plan_cost if draft else 0),
        time_budget=ctx.spec.limits.max_seconds * TIME_SHARE,
        clean=clean_poem,
        quality=lambda text: variety(text, repeated_lines_ok=bool(get_form(params.form).refrains)),
        draft=draft,
    )
    return poem_result(params, refined)


def poem_result(params: PoemParams, refined: Refined[FormReport]) -> Result:
    """The best poem with its form report; the other drafts as variations."""
    title = params.title or (params.topic if len(params.topic) <= 60 else params.topic[:59] + "…")
    wording = Wording(
        piece="poem",
        asked="topic",
        form=f"the {params.form} form",
        field="form",
        report_key="form_report",
    )
    return drafts_result(refined, title=title, wording=wording, max_variations=MAX_VARIATIONS)


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_poem)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(PoemSettings)
