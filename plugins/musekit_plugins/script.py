"""``script``: a short video script in Fountain, checked, and exported as Fountain, HTML and PDF.

The pipeline is :func:`musekit.refine.refine` with
:func:`~musekit_plugins.script_fountain.check_script` as the check (it reads as a
Fountain script with scene headings, action, dialogue and voice-over narration; every
on-screen speaker is introduced before speaking; the spoken words fit the running
time): ``candidates`` drafts in one request, the most promising failures rewritten
with their problems quoted, the best returned with its report, the others as
variations. The best script is attached as ``.fountain``, ``.html`` and ``.pdf``.
docs/script.md describes it.
"""

from __future__ import annotations

import re

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
    Sampling,
    hookimpl,
)
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit.refine import Refined, feedback, refine
from musekit_plugins.drafts import Wording, drafts_result
from musekit_plugins.piecewise import drafting
from musekit_plugins.script_build import PART_TOKENS, ScriptPlan
from musekit_plugins.script_fountain import (
    WORDS_PER_MINUTE,
    ScriptReport,
    check_script,
    clean_script,
    spoken_words_for,
    to_html,
    to_pdf_bytes,
    with_title,
)

MUSEKIT_API = (1,)

#: Tokens a second of video takes: about 2.5 spoken words, as many again for headings,
#: action and cues, at about 1.4 tokens a word; and to spare.
TOKENS_PER_SECOND = 7.5
TOKENS_SPARE = 64

LIMITS = Limits(max_output_tokens=760, max_samples=6, max_seconds=180)

#: Repairs stop this far into the command's time limit, so the best draft is returned in time.
TIME_SHARE = 0.75
#: Written part by part, each part gets one request once this share of the time is gone...
PART_TIME_SHARE = 0.4
#: ... and writing stops this far into it, so the script so far is returned in time.
PART_TIME_LIMIT = 0.65
#: Problems a repair prompt quotes, at most: a small model loses track of a long list.
MAX_QUOTED = 5

WORDING = Wording(
    piece="script",
    asked="brief",
    form="the script checks",
    field="script",
    report_key="script_report",
)


class ScriptParams(Params):
    brief: str = Field(
        min_length=1, max_length=500, description="What the video is for and what it says."
    )
    audience: str | None = Field(
        None, min_length=1, max_length=80, description="Who it is for, e.g. 'new customers'."
    )
    seconds: int = Field(30, ge=15, le=90, description="Running time in seconds (15 to 90).")
    tone: str | None = Field(
        None, min_length=1, max_length=40, description="A tone, e.g. 'warm' or 'playful'."
    )
    title: str | None = Field(None, min_length=1, max_length=80, description="The script's title.")
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")


class ScriptSettings(BaseModel):
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
    part_by_part: bool = Field(
        True,
        description="With more than one candidate, write the script a part at a time "
        "(heading, action, a spoken line; else in whole drafts).",
    )
    part_samples: int = Field(
        4,
        ge=1,
        le=LIMITS.max_samples,
        description="A script written part by part: samples of each part, in one request.",
    )
    part_tries: int = Field(
        3, ge=1, le=8, description="Requests for one part at most, while no sample fits."
    )


SPEC = CommandSpec(
    name="script",
    description="Write a short video script (Fountain, HTML, PDF), checked for form and length.",
    params=ScriptParams,
    text_param="brief",
    examples=(
        Example(params={"brief": "announce a library's new late opening hours"}),
        Example(
            params={
                "brief": "explain how to recycle batteries safely",
                "audience": "teenagers",
                "seconds": 45,
                "tone": "upbeat",
            },
            description="With an audience, a length and a tone.",
        ),
    ),
    limits=LIMITS,
)

SYSTEM_PROMPT = (
    "You are a scriptwriter for short videos. Write the script in Fountain format: each "
    "scene starts with a heading such as INT. KITCHEN - DAY or EXT. STREET - NIGHT; action "
    "lines say what we see; a character's name in capitals on its own line goes above "
    "their dialogue; narration goes under NARRATOR (V.O.). Name each character in an "
    "action line before they first speak. Fit the spoken words to the running time. "
    "Write only the script, with no title and no notes."
)
REPAIR_SYSTEM_PROMPT = (
    "You are a script editor. Rewrite the draft video script in Fountain format so that "
    "every problem listed is fixed, keeping its story and its characters. Write only the "
    "revised script, with no title and no notes."
)

EXAMPLE_PARAMS = ScriptParams(
    brief="a hardware shop that repairs old things",
    audience="local residents",
    seconds=30,
    tone="warm",
)
EXAMPLE_SCRIPT = """INT. HARDWARE SHOP - MORNING

Sunlight through dusty windows. LENA (60s), the owner, unlocks the door and flips the sign to OPEN.

NARRATOR (V.O.)
On Mill Street, one small shop has been fixing the town's broken things for forty years.

A teenager, SAM, hurries in holding a lamp with a frayed cord.

SAM
Can you save it? It was my grandad's, and it's the only thing of his I kept.

LENA
(smiling)
Give me ten minutes and a cup of tea. Old lamps are the easy ones.

EXT. MILL STREET - DAY

Sam walks out with the lamp glowing in a paper bag. Lena waves from the doorway.

NARRATOR (V.O.)
Millers Hardware, on Mill Street. Bring it in broken, take it home working.
Open every day from eight."""
"""The worked example, written for this project; it passes its own check (a test holds it)."""


def user_message(params: ScriptParams) -> str:
    """The request in plain lines; always the last message, so the prefix stays fixed."""
    parts = [f"Brief: {params.brief}"]
    if params.audience:
        parts.append(f"Audience: {params.audience}")
    if params.tone:
        parts.append(f"Tone: {params.tone}")
    parts.append(
        f"Running time: {params.seconds} seconds (about {spoken_words_for(params.seconds)} "
        f"spoken words at {WORDS_PER_MINUTE} a minute)"
    )
    return "\n".join(parts)


def draft_messages(params: ScriptParams) -> tuple[Message, ...]:
    """System prompt and worked example (fixed), then the brief."""
    return (
        Message(role="system", content=SYSTEM_PROMPT),
        Message(role="user", content=user_message(EXAMPLE_PARAMS)),
        Message(role="assistant", content=EXAMPLE_SCRIPT),
        Message(role="user", content=user_message(params)),
    )


def repair_messages(params: ScriptParams, draft: str, report: ScriptReport) -> list[Message]:
    """A fixed system prompt, then the brief, the draft and its problems."""
    quoted = feedback(report.problems[:MAX_QUOTED])
    return [
        Message(role="system", content=REPAIR_SYSTEM_PROMPT),
        Message(
            role="user",
            content=f"{user_message(params)}\n\nDraft:\n{draft}\n\nProblems:\n{quoted}",
        ),
    ]


def max_tokens(seconds: int) -> int:
    """Tokens allowed for one draft: the running time's words and layout, and a little spare."""
    return min(int(seconds * TOKENS_PER_SECOND) + TOKENS_SPARE, LIMITS.max_output_tokens)


async def run_script(ctx: Context, params: ScriptParams) -> Result:
    settings = ctx.settings if isinstance(ctx.settings, ScriptSettings) else ScriptSettings()
    request = ChatRequest(
        messages=draft_messages(params),
        # min_p trims the unlikely tail relative to the top token; a light repetition
        # penalty keeps a small model out of loops.
        sampling=Sampling(
            temperature=settings.temperature,
            top_p=1.0,
            min_p=settings.min_p,
            repetition_penalty=1.1,
            max_tokens=max_tokens(params.seconds),
            seed=params.seed,
        ),
    )
    draft = None
    plan_cost = 0
    if settings.part_by_part and settings.candidates > 1:
        example = (user_message(EXAMPLE_PARAMS), EXAMPLE_SCRIPT)
        plan = ScriptPlan(user_message(params), request, params.seconds, example)
        plan_cost = plan.parts * settings.part_samples * settings.part_tries * PART_TOKENS
        draft = drafting(
            ctx,
            plan,
            samples=settings.part_samples,
            tries=settings.part_tries,
            time_budget=ctx.spec.limits.max_seconds * PART_TIME_SHARE,
            time_limit=ctx.spec.limits.max_seconds * PART_TIME_LIMIT,
        )
    refined = await refine(
        ctx,
        request,
        lambda text: check_script(text, params.seconds),
        lambda draft, report: repair_messages(params, draft, report),
        candidates=settings.candidates,
        repair_rounds=settings.repair_rounds,
        repairs_per_round=settings.repairs_per_round,
        # Repairs may spend as many tokens as the drafts were allowed, besides the most
        # that writing part by part may take.
        token_budget=2 * settings.candidates * request.sampling.max_tokens + plan_cost,
        time_budget=ctx.spec.limits.max_seconds * TIME_SHARE,
        clean=clean_script,
        draft=draft,
    )
    return script_result(params, refined)


def script_title(params: ScriptParams) -> str:
    """The title asked for, else the brief (cut to 60 characters)."""
    title = params.title or params.brief
    return title if len(title) <= 60 else title[:59] + "…"


def file_stem(title: str) -> str:
    """A safe file name from the title: lower-case words joined by '-', or 'script'."""
    stem = "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:60].strip("-")
    return stem or "script"


def script_result(params: ScriptParams, refined: Refined[ScriptReport]) -> Result:
    """The best script with its report and its files; the other drafts as variations."""
    title = script_title(params)
    result = drafts_result(refined, title=title, wording=WORDING)
    if not refined.best.text:
        return result
    document = with_title(refined.best.text, title)
    stem = file_stem(title)
    result.attachments += [
        Attachment(
            filename=f"{stem}.fountain",
            media_type="text/plain",
            data=document.encode(),
            description="The script in Fountain, the plain-text screenplay format.",
        ),
        Attachment(
            filename=f"{stem}.html",
            media_type="text/html",
            data=to_html(document).encode(),
            description="The script laid out as a screenplay, for a browser.",
        ),
        Attachment(
            filename=f"{stem}.pdf",
            media_type="application/pdf",
            data=to_pdf_bytes(document),
            description="The script laid out as a screenplay, title page first.",
        ),
    ]
    return result


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_script)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(ScriptSettings)
