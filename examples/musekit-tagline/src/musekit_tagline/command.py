"""The ``tagline`` command: its parameters, settings, prompt and handler."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from musekit import (
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
    Section,
)
from musekit_tagline.cleanup import pick_taglines

Style = Literal["punchy", "playful", "earnest", "bold"]

STYLE_HINTS: dict[Style, str] = {
    "punchy": "short and strong, active verbs, no filler",
    "playful": "light and witty; wordplay welcome",
    "earnest": "warm and sincere",
    "bold": "confident, one big promise",
}

# Everything that varies with the input goes in the user message, after this fixed
# system prompt, so the prompt prefix stays the same for every run (and can be cached).
SYSTEM_PROMPT = (
    "You write taglines: short, memorable slogans for products and projects. "
    "Reply with exactly one tagline on one line: no quotes, no numbering, no explanation."
)


class TaglineParams(Params):
    """What the user asks for."""

    product: str = Field(
        min_length=2,
        max_length=200,
        description="The product or project, in a phrase: what it is and what it does.",
    )
    audience: str | None = Field(
        None,
        min_length=2,
        max_length=80,
        description="Who the tagline speaks to, e.g. 'indie game studios'.",
    )
    style: Style = Field("punchy", description="The voice: punchy, playful, earnest or bold.")
    count: int = Field(3, ge=1, le=5, description="How many taglines to write.")
    max_words: int = Field(
        8, ge=3, le=15, description="The most words a tagline may have; longer ones are cut."
    )
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")


class TaglineSettings(BaseModel):
    """The operator's settings for this plugin (``plugin_config.tagline``)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(
        0.9, ge=0.0, le=2.0, description="Sampling temperature; higher is more varied."
    )
    banned_words: list[Annotated[str, Field(pattern=r"^[\w']+$")]] = Field(
        default_factory=list,
        description="Taglines that contain any of these words (in any case) are dropped.",
    )


SPEC = CommandSpec(
    name="tagline",
    description="Write short taglines for a product or project.",
    params=TaglineParams,
    text_param="product",
    examples=(
        Example(params={"product": "a bicycle repair app for city commuters"}),
        Example(
            params={
                "product": "an open-source font for dyslexic readers",
                "style": "earnest",
                "count": 5,
                "audience": "teachers",
            },
            description="Five earnest taglines for a given audience.",
        ),
    ),
    limits=Limits(max_output_tokens=64, max_samples=5, max_seconds=60),
)


def user_message(params: TaglineParams) -> str:
    """The variable part of the prompt, sent as the last message."""
    return (
        f"Product: {params.product}\n"
        f"Audience: {params.audience or 'anyone'}\n"
        f"Style: {params.style} ({STYLE_HINTS[params.style]})\n"
        f"Length: at most {params.max_words} words"
    )


def build_request(params: TaglineParams, settings: TaglineSettings) -> ChatRequest:
    """One request for ``count`` samples: each sample is one tagline."""
    return ChatRequest(
        messages=(
            Message(role="system", content=SYSTEM_PROMPT),
            Message(role="user", content=user_message(params)),
        ),
        sampling=Sampling(
            temperature=settings.temperature,
            max_tokens=params.max_words * 3 + 8,
            seed=params.seed,
            stop=("\n",),  # one line per sample
        ),
        n=params.count,
    )


async def run_tagline(ctx: Context, params: TaglineParams) -> Result:
    """Ask for ``count`` samples in one request and keep the usable, distinct taglines."""
    settings = ctx.settings if isinstance(ctx.settings, TaglineSettings) else TaglineSettings()
    completion = await ctx.engine.complete(build_request(params, settings))
    picked = pick_taglines(
        [choice.text for choice in completion.choices],
        max_words=params.max_words,
        banned_words=settings.banned_words,
    )
    warnings = list(picked.warnings)
    if not picked.taglines:
        warnings.append("The model wrote no usable tagline; try again or try another style.")
    fields = [ResultField(name="style", value=params.style)]
    if params.audience:
        fields.append(ResultField(name="audience", value=params.audience))
    title = params.product if len(params.product) <= 50 else params.product[:49] + "…"
    return Result(
        title=f"Taglines: {title}",
        sections=[Section(body=tagline, style="quote") for tagline in picked.taglines],
        fields=fields,
        warnings=warnings,
    )
