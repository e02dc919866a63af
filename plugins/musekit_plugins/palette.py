"""``palette``: a named colour palette for a mood or brief, checked for legibility and distinctness.

The model answers in JSON constrained by a schema (a name, and a ``#RRGGBB`` colour
for each role: :func:`~musekit_plugins.palette_check.response_schema`), several drafts
in one request (:func:`musekit.refine.refine`). Each is checked
(:mod:`musekit_plugins.palette_check`: WCAG contrast of text on its backgrounds,
CIEDE2000 between colours); the best failures go back to the model with the problems
quoted, and code mends what its revision leaves wrong by moving lightness the least it
can (:class:`~musekit_plugins.mending.Mending`). The best palette comes back as text,
a PNG swatch and CSS custom properties. docs/palette.md describes it.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

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
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit.refine import Refined, feedback, refine
from musekit_plugins.drafts import Wording, drafts_result
from musekit_plugins.mending import Mending
from musekit_plugins.palette_check import ROLES, Brief, Palette, PaletteReport, response_schema
from musekit_plugins.palette_export import css, swatch_png

MUSEKIT_API = (1,)

#: Tokens for a palette's JSON: the name, and about 12 a colour with its role.
TOKENS_NAME = 24
TOKENS_PER_COLOUR = 14

LIMITS = Limits(max_output_tokens=160, max_samples=6, max_seconds=180)

#: Repairs stop this far into the command's time limit, so the best draft is returned in time.
TIME_SHARE = 0.75

WORDING = Wording(
    piece="palette",
    asked="brief",
    form="the contrast and distinctness rules",
    field="palette",
    report_key="palette_report",
    style="code",
)


class PaletteParams(Params):
    brief: str = Field(
        min_length=1, max_length=500, description="A mood or brief, e.g. 'a calm reading app'."
    )
    colours: int = Field(
        5,
        ge=4,
        le=8,
        description="How many colours, 4 to 8 (roles: background, text, primary, accent, then "
        "more).",
    )
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")


class PaletteSettings(BaseModel):
    """Sampling and the size of the draft-check-repair loop."""

    temperature: float = Field(0.9, ge=0.0, le=2.0, description="Sampling temperature.")
    min_p: float = Field(
        0.05, ge=0.0, le=1.0, description="Drop tokens below this share of the top one."
    )
    candidates: int = Field(
        4, ge=1, le=LIMITS.max_samples, description="Drafts asked for in one request."
    )
    repair_rounds: int = Field(2, ge=0, le=4, description="Rounds of repairs at most.")
    repairs_per_round: int = Field(2, ge=1, le=4, description="Drafts repaired in each round.")


SPEC = CommandSpec(
    name="palette",
    description="Make a named colour palette for a mood or brief (PNG swatch and CSS).",
    params=PaletteParams,
    text_param="brief",
    examples=(
        Example(params={"brief": "a calm reading app at night"}),
        Example(
            params={"brief": "a summer music festival poster", "colours": 8},
            description="Eight colours.",
        ),
    ),
    limits=LIMITS,
)

SYSTEM_PROMPT = (
    "You are a designer. Make a colour palette for the brief, as JSON: a short evocative "
    "name, and a colour written #RRGGBB for each role. Text colours must be easy to read on "
    "the background and the surface, and every colour must be clearly different from the "
    "others."
)
REPAIR_SYSTEM_PROMPT = (
    "You are a designer revising a colour palette. Rewrite it as JSON so that every problem "
    "listed is fixed, keeping its name and mood: make text darker or lighter to read on its "
    "background, and make colours that look alike more different."
)

EXAMPLE_BRIEF = "a quiet harbour at dawn"
EXAMPLE_PALETTE = Palette(
    name="Harbour Dawn",
    colours=(
        ("background", "#F4EFE6"),
        ("surface", "#DCD3C4"),
        ("text", "#1F2A36"),
        ("primary", "#2B5D7D"),
        ("accent", "#C8553D"),
    ),
)
"""The worked example, written for this project; it passes its own check (a test holds it)."""
EXAMPLE_FAINT = EXAMPLE_PALETTE.replaced("text", "#9AA3AD")


def palette_json(palette: Palette) -> str:
    """The palette as the JSON the schema asks for."""
    return json.dumps({"name": palette.name, **dict(palette.colours)})


def user_message(brief: str, count: int) -> str:
    """The request in plain lines; always the last message, so the prefix stays fixed."""
    return f"Brief: {brief}\nColours: {', '.join(ROLES[count])}"


def _repair_request(brief: str, count: int, draft: str, problems: list[str]) -> str:
    return f"{user_message(brief, count)}\n\nDraft:\n{draft}\n\nProblems:\n{feedback(problems)}"


def repair_messages(params: PaletteParams, draft: str, report: PaletteReport) -> list[Message]:
    """A fixed repair prefix (with a worked repair), then the draft and its problems."""
    example = Brief(len(EXAMPLE_PALETTE.colours))
    faint = EXAMPLE_FAINT.text()
    return [
        Message(role="system", content=REPAIR_SYSTEM_PROMPT),
        Message(
            role="user",
            content=_repair_request(
                EXAMPLE_BRIEF, example.count, faint, example.check(faint).problems
            ),
        ),
        Message(role="assistant", content=palette_json(EXAMPLE_PALETTE)),
        Message(
            role="user",
            content=_repair_request(params.brief, params.colours, draft, report.problems),
        ),
    ]


def max_tokens(count: int) -> int:
    return min(TOKENS_NAME + TOKENS_PER_COLOUR * count, LIMITS.max_output_tokens)


async def run_palette(ctx: Context, params: PaletteParams) -> Result:
    settings = ctx.settings if isinstance(ctx.settings, PaletteSettings) else PaletteSettings()
    brief = Brief(params.colours)
    request = ChatRequest(
        messages=(
            Message(role="system", content=SYSTEM_PROMPT),
            Message(role="user", content=user_message(EXAMPLE_BRIEF, len(EXAMPLE_PALETTE.colours))),
            Message(role="assistant", content=palette_json(EXAMPLE_PALETTE)),
            # A reply in the thread ("warmer") revises the palettes before it.
            *ctx.history_messages(),
            Message(role="user", content=user_message(params.brief, params.colours)),
        ),
        sampling=Sampling(
            temperature=settings.temperature,
            top_p=1.0,
            min_p=settings.min_p,
            max_tokens=max_tokens(params.colours),
            seed=params.seed,
        ),
        json_schema=response_schema(params.colours),
    )
    mending = Mending(clean=brief.clean, usable=brief.usable, mend=brief.mend)

    def quality(text: str) -> float:
        return _spread(brief.check(text))

    refined = await refine(
        ctx,
        request,
        brief.check,
        lambda draft, report: repair_messages(params, draft, report),
        candidates=settings.candidates,
        repair_rounds=settings.repair_rounds,
        repairs_per_round=settings.repairs_per_round,
        apply_repair=mending.apply,
        token_budget=2 * settings.candidates * request.sampling.max_tokens,
        time_budget=ctx.spec.limits.max_seconds * TIME_SHARE,
        clean=brief.clean,
        quality=quality,
    )
    if settings.repair_rounds:  # a budget may have ended the repairs before code mended
        refined = mending.finish(refined, brief.check, quality)
    return palette_result(params, brief, refined, mending)


def _spread(report: PaletteReport) -> float:
    """A 0..1 quality signal: the smallest difference between two colours, over 50."""
    return min((report.closest or 0.0) / 50, 1.0)


def palette_result(
    params: PaletteParams, brief: Brief, refined: Refined[PaletteReport], mending: Mending
) -> Result:
    """The best palette with its report, what code mended, and its PNG and CSS files."""
    best = brief.parse(refined.best.text)
    title = best.name if isinstance(best, Palette) else params.brief[:60]
    result = drafts_result(refined, title=title, wording=WORDING)
    changes = mending.of(refined.best.text)
    if changes:
        result.fields.append(ResultField(name="mended", value="; ".join(changes)))
    result.data["mended"] = list(changes)
    if isinstance(best, Palette):
        result.data["palette"] = {"name": best.name, "colours": dict(best.colours)}
        result.attachments = [
            Attachment(
                filename="palette.png",
                media_type="image/png",
                data=swatch_png(best),
                description=f"{best.name}: the palette as swatches.",
            ),
            Attachment(
                filename="palette.css",
                media_type="text/css",
                data=css(best).encode(),
                description=f"{best.name}: the palette as CSS custom properties.",
            ),
        ]
    return result


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_palette)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(PaletteSettings)
