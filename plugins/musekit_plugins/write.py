"""``write``: a short free-form piece from a prompt, the simplest end-to-end command."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
    Section,
    hookimpl,
)
from musekit.hookspecs import RegisterCommand, RegisterSettings

MUSEKIT_API = (1,)

Length = Literal["short", "medium", "long"]
WORDS: dict[Length, int] = {"short": 60, "medium": 150, "long": 300}

# The prompt is tuned for the small default model (SmolLM2-135M): a plain role, then one
# worked example, so the model answers with prose instead of talking about the task.
# The system prompt and the example are fixed (a cacheable prefix); the user's text
# comes last, in its own message.
SYSTEM_PROMPT = (
    "You are a fiction writer. Given a subject, write a vivid passage of prose about it. "
    "Write only the passage."
)
EXAMPLE: tuple[Message, Message] = (
    Message(role="user", content="Request: the last train home"),
    Message(
        role="assistant",
        content=(
            "The carriage was empty except for a woman with a sleeping child on her lap. "
            "Rain streaked the windows, and the city lights smeared into long gold lines. "
            "She counted the stops under her breath, afraid to miss hers, while the child's "
            "warm weight rose and fell against her like a small tide."
        ),
    ),
)


class WriteParams(Params):
    prompt: str = Field(min_length=1, max_length=1000, description="What to write about.")
    length: Length = Field("short", description="About 60, 150 or 300 words.")
    tone: str | None = Field(
        None, min_length=1, max_length=40, description="A tone or style, e.g. 'wry'."
    )
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")


class WriteSettings(BaseModel):
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature.")


SPEC = CommandSpec(
    name="write",
    description="Write a short original piece from a prompt.",
    params=WriteParams,
    text_param="prompt",
    examples=(
        Example(params={"prompt": "a lighthouse keeper's last night"}),
        Example(params={"prompt": "first snow in the city", "tone": "wistful", "length": "medium"}),
    ),
    limits=Limits(max_output_tokens=512, max_samples=1, max_seconds=120),
)


def user_message(params: WriteParams) -> str:
    """The variable part of the prompt, kept last so the system prompt is a stable prefix."""
    words = WORDS[params.length]
    tone = f" Tone: {params.tone}." if params.tone else ""
    return f"Write about {words} words.{tone}\n\nRequest: {params.prompt}"


async def run_write(ctx: Context, params: WriteParams) -> Result:
    settings = ctx.settings if isinstance(ctx.settings, WriteSettings) else WriteSettings()
    request = ChatRequest(
        messages=(
            Message(role="system", content=SYSTEM_PROMPT),
            *EXAMPLE,
            *ctx.history_messages(),
            Message(role="user", content=user_message(params)),
        ),
        # A trimmed tail (top_p, min_p) and a light repetition penalty keep a small
        # model on topic and out of loops.
        sampling=Sampling(
            temperature=settings.temperature,
            top_p=0.9,
            min_p=0.05,
            repetition_penalty=1.1,
            max_tokens=WORDS[params.length] * 2,
            seed=params.seed,
        ),
    )
    completion = await ctx.engine.complete(request)
    choice = completion.choices[0]
    warnings = []
    if choice.truncated:
        warnings.append("The text reached the length limit and may end mid-sentence.")
    text = choice.text.strip()
    if not text:
        warnings.append("The model returned no text; try again or rephrase the prompt.")
    title = params.prompt if len(params.prompt) <= 60 else params.prompt[:59] + "…"
    return Result(title=title, sections=[Section(body=text)], warnings=warnings)


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_write)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(WriteSettings)
