"""``brainstorm``: many ideas asked for through different lenses, near-duplicates removed,
a varied set chosen and its diversity reported.

The pipeline: one request per lens of the chosen technique (SCAMPER's "Combine", a
persona, a thinking hat...), each asking for a few ideas with their likelihood, as
JSON through the engine's schema-constrained output (or as a list, read tolerantly);
ideas that repeat each other, the worked example or ideas already produced in this
channel or conversation are dropped (:mod:`musekit.diversity`); the set delivered is
chosen by maximal marginal relevance, topped up by one more round when too few
distinct ideas came back. ``more_like`` develops one earlier idea instead. The
result's ``data["ideas"]`` is what the service stores with ids and bots vote on.
docs/brainstorm.md describes it.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, Field, model_validator

from musekit import (
    ChatRequest,
    CommandSpec,
    Completion,
    Context,
    EngineError,
    Example,
    Limits,
    Message,
    Params,
    Result,
    ResultField,
    Sampling,
    Section,
    UsageError,
    hookimpl,
)
from musekit.context import EarlierIdea
from musekit.diversity import DUPLICATE_THRESHOLD, IdeaSpace, content_words, distinct_n
from musekit.errors import CommandTimeout
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit_plugins.brainstorm_lenses import LENSES, Technique
from musekit_plugins.brainstorm_parse import ParsedIdea, parse_ideas

MUSEKIT_API = (1,)

LIMITS = Limits(max_output_tokens=512, max_samples=4, max_seconds=180)

#: Tokens allowed per idea asked for (a JSON item of a short sentence is ~35), and spare.
TOKENS_PER_IDEA = 48
TOKENS_SPARE = 24

#: Requests still running this far into the command's time limit are cancelled, so the
#: ideas that did arrive are delivered in time rather than lost to a timeout.
TIME_SHARE = 0.75

#: Earlier ideas of the channel quoted in the prompt as ones to avoid, at most.
AVOID_IN_PROMPT = 5

TECHNIQUE_NAMES: dict[Technique, str] = {
    "free": "free",
    "scamper": "SCAMPER",
    "six-hats": "six thinking hats",
    "reverse": "reverse (worst idea)",
    "personas": "personas",
    "crazy-eights": "crazy eights",
}

# The worked example: it shows the format; ideas copying it are dropped.
EXAMPLE_TOPIC = "cheaper school lunches"
EXAMPLE_LENS = "Substitute: replace a part, a material or a person"
EXAMPLE_IDEAS = (
    ParsedIdea("Swap plastic trays for washable ones the pupils decorate", 0.3),
    ParsedIdea("Let pupils grow herbs that go into the lunch", 0.1),
    ParsedIdea("Buy bruised fruit from local farms at half price", 0.2),
)


class BrainstormParams(Params):
    topic: str | None = Field(
        None, min_length=1, max_length=500, description="The topic or challenge to brainstorm."
    )
    count: int = Field(8, ge=1, le=20, description="How many ideas to deliver.")
    technique: Technique = Field("free", description="The brainstorming technique.")
    constraints: str | None = Field(
        None, min_length=1, max_length=300, description="What the ideas must respect."
    )
    audience: str | None = Field(
        None, min_length=1, max_length=100, description="Who the ideas are for."
    )
    more_like: int | None = Field(
        None, ge=1, description="Develop an earlier idea of this channel: its number (#3)."
    )
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")

    @model_validator(mode="after")
    def _something_to_brainstorm(self) -> Self:
        if self.topic is None and self.more_like is None:
            raise ValueError("give a topic, or the number of an idea to develop (more_like)")
        return self


class BrainstormSettings(BaseModel):
    """Sampling, how much to over-generate, and how near-duplicates and variety are judged."""

    temperature: float = Field(1.0, ge=0.0, le=2.0, description="Sampling temperature.")
    min_p: float = Field(
        0.1, ge=0.0, le=1.0, description="Drop tokens below this share of the top one."
    )
    oversample: float = Field(
        2.0, ge=1.0, le=6.0, description="Ideas asked of the model per idea delivered."
    )
    ideas_per_request: int = Field(4, ge=1, le=10, description="Ideas asked for in each request.")
    samples: int = Field(
        1, ge=1, le=LIMITS.max_samples, description="Samples of each lens's request."
    )
    parallel: int = Field(4, ge=1, le=16, description="Requests sent to the engine at once.")
    structured: bool = Field(
        True, description="Ask for JSON through the engine's schema-constrained output."
    )
    duplicate_threshold: float = Field(
        DUPLICATE_THRESHOLD, gt=0.0, le=1.0, description="Similarity from which ideas are the same."
    )
    trade_off: float = Field(
        0.7, ge=0.0, le=1.0, description="Quality against variety when choosing (1: quality only)."
    )
    top_up_rounds: int = Field(
        1, ge=0, le=3, description="More rounds of requests when too few distinct ideas came."
    )


SPEC = CommandSpec(
    name="brainstorm",
    description="Brainstorm varied ideas (SCAMPER, six hats, personas...), duplicates removed.",
    params=BrainstormParams,
    text_param="topic",
    examples=(
        Example(params={"topic": "ways to get more people to cycle to work"}),
        Example(
            params={"topic": "a new flavour of ice cream", "technique": "scamper", "count": 5},
            description="Five ideas through the SCAMPER lenses.",
        ),
        Example(
            params={"topic": "a library open day", "audience": "teenagers", "count": 6},
            description="Ideas for an audience.",
        ),
    ),
    limits=LIMITS,
)


@dataclass(frozen=True)
class Brief:
    """What every request asks about: the topic (or the idea developed) and its limits."""

    topic: str | None
    expanding: EarlierIdea | None
    constraints: str | None
    audience: str | None
    avoid: tuple[str, ...]

    @classmethod
    def of(
        cls, params: BrainstormParams, expanding: EarlierIdea | None, earlier: Sequence[EarlierIdea]
    ) -> Brief:
        return cls(
            topic=params.topic,
            expanding=expanding,
            constraints=params.constraints,
            audience=params.audience,
            avoid=tuple(idea.text for idea in earlier[:AVOID_IN_PROMPT]),
        )

    @property
    def subject(self) -> str:
        """What the ideas are about, for the relevance of each idea."""
        return " ".join(p for p in (self.topic, self.expanding and self.expanding.text) if p)

    def request(self, lens: str, ideas: int) -> str:
        """The user message asking for ``ideas`` ideas through ``lens``."""
        lines = []
        if self.expanding is not None:
            lines.append(f"Idea to develop: {self.expanding.text}")
        if self.topic is not None:
            lines.append(f"Topic: {self.topic}")
        lines.append(f"Angle: {lens}")
        if self.constraints:
            lines.append(f"Constraints: {self.constraints}")
        if self.audience:
            lines.append(f"Audience: {self.audience}")
        if self.avoid:
            lines.append("Already suggested (do not repeat): " + "; ".join(self.avoid))
        lines.append(f"Give {ideas} ideas.")
        return "\n".join(lines)


@dataclass(frozen=True)
class Candidate:
    """One idea the model gave, with the lens it came through."""

    text: str
    lens: str
    likelihood: float | None
    truncated: bool


def system_prompt(structured: bool) -> str:
    """The fixed system prompt: short, different, concrete ideas with their likelihood."""
    shape = "as JSON" if structured else "as a numbered list, one idea a line"
    return (
        "You are a brainstorming partner for a creative team. Give short, concrete ideas "
        "that differ from each other, each with its likelihood: how likely a typical person "
        f"would be to suggest it (0 to 1). Prefer unlikely ideas. Answer {shape}."
    )


def format_ideas(ideas: Sequence[ParsedIdea], structured: bool) -> str:
    """Ideas written the way the model is asked to write them (the worked example)."""
    if structured:
        items = [{"idea": idea.text, "likelihood": idea.likelihood} for idea in ideas]
        return json.dumps({"ideas": items})
    return "\n".join(
        f"{n}. {idea.text} (likelihood {idea.likelihood})" for n, idea in enumerate(ideas, 1)
    )


def ideas_schema(count: int) -> dict[str, Any]:
    """The JSON schema of a reply holding exactly ``count`` ideas."""
    item = {
        "type": "object",
        "properties": {
            "idea": {"type": "string", "minLength": 10, "maxLength": 200},
            "likelihood": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["idea", "likelihood"],
        "additionalProperties": False,
    }
    ideas = {"type": "array", "items": item, "minItems": count, "maxItems": count}
    return {
        "type": "object",
        "properties": {"ideas": ideas},
        "required": ["ideas"],
        "additionalProperties": False,
    }


def lens_request(
    ctx: Context, brief: Brief, lens: str, settings: BrainstormSettings, seed: int | None
) -> ChatRequest:
    """One lens's request: system prompt, worked example, the conversation so far, the ask."""
    ideas = settings.ideas_per_request
    structured = settings.structured
    example = Brief(EXAMPLE_TOPIC, None, None, None, ()).request(EXAMPLE_LENS, len(EXAMPLE_IDEAS))
    messages = (
        Message(role="system", content=system_prompt(structured)),
        Message(role="user", content=example),
        Message(role="assistant", content=format_ideas(EXAMPLE_IDEAS, structured)),
        *ctx.history_messages(),
        Message(role="user", content=brief.request(lens, ideas)),
    )
    return ChatRequest(
        messages=messages,
        n=settings.samples,
        json_schema=ideas_schema(ideas) if structured else None,
        # min_p trims the unlikely tail relative to the top token, so a high temperature
        # varies the ideas without nonsense words; a light penalty keeps a small model
        # from repeating itself inside one reply.
        sampling=Sampling(
            temperature=settings.temperature,
            top_p=1.0,
            min_p=settings.min_p,
            repetition_penalty=1.1,
            max_tokens=ideas * TOKENS_PER_IDEA + TOKENS_SPARE,
            seed=seed,
        ),
    )


async def run_brainstorm(ctx: Context, params: BrainstormParams) -> Result:
    settings = (
        ctx.settings if isinstance(ctx.settings, BrainstormSettings) else BrainstormSettings()
    )
    earlier = await ctx.earlier_ideas()
    expanding = _idea_to_expand(params.more_like, earlier)
    brief = Brief.of(params, expanding, earlier)
    rng = random.Random(params.seed)
    lenses = list(LENSES["expand" if expanding is not None else params.technique])
    rng.shuffle(lenses)
    session = Session(ctx, brief, settings, params.seed, lenses)

    wanted = max(params.count + 2, round(params.count * settings.oversample))
    await session.ask(wanted)
    chosen = session.choose(params.count, earlier, expanding)
    for _ in range(settings.top_up_rounds):
        if len(chosen.ideas) >= params.count or session.done:
            break
        await session.ask(2 * (params.count - len(chosen.ideas)) + 2)
        chosen = session.choose(params.count, earlier, expanding)
    return brainstorm_result(params, expanding, session, chosen)


def _idea_to_expand(number: int | None, earlier: Sequence[EarlierIdea]) -> EarlierIdea | None:
    if number is None:
        return None
    found = next((idea for idea in earlier if idea.id == number), None)
    if found is None:
        raise UsageError(
            f"There is no idea #{number} in this channel or conversation to develop; "
            "use the number shown with an idea brainstormed here."
        )
    return found


@dataclass(frozen=True)
class Chosen:
    """The ideas delivered (in the order chosen) and what choosing them found."""

    ideas: tuple[Candidate, ...]
    duplicates: int
    repeats: int
    copies: int
    distinct: int
    mean_similarity: float


class Session:
    """The requests of one brainstorm and every idea they brought, in arrival order."""

    def __init__(
        self,
        ctx: Context,
        brief: Brief,
        settings: BrainstormSettings,
        seed: int | None,
        lenses: list[str],
    ) -> None:
        self.ctx = ctx
        self.brief = brief
        self.settings = settings
        self.seed = seed
        self.lenses = lenses
        self.pool: list[Candidate] = []
        self.requests = 0
        self.lenses_used: set[str] = set()
        self.failure: str | None = None
        self.stopped: str | None = None
        self._gate = asyncio.Semaphore(settings.parallel)
        self._budget = ctx.spec.limits.max_seconds * TIME_SHARE
        self._deadline = asyncio.get_running_loop().time() + self._budget

    @property
    def done(self) -> bool:
        """True once asking more would be in vain: time is up or the model failed."""
        return self.stopped is not None or self.failure is not None

    async def ask(self, ideas: int) -> None:
        """Ask for about ``ideas`` more ideas, one request per lens, taking lenses in turn;
        requests unfinished at the time budget are cancelled and their ideas go without."""
        per_request = self.settings.ideas_per_request * self.settings.samples
        count = max(1, -(-ideas // per_request))
        lenses = [self.lenses[(self.requests + i) % len(self.lenses)] for i in range(count)]
        self.ctx.status(f"asking for ideas through {_lenses(count)}")
        seeds = [None if self.seed is None else self.seed + self.requests + i for i in range(count)]
        self.requests += count
        tasks = [
            asyncio.ensure_future(self._complete(lens, seed))
            for lens, seed in zip(lenses, seeds, strict=True)
        ]
        left = self._deadline - asyncio.get_running_loop().time()
        try:
            _, pending = await asyncio.wait(tasks, timeout=max(left, 0.001))
        finally:
            unfinished = [task for task in tasks if not task.done()]
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        finished = [
            (lens, task) for lens, task in zip(lenses, tasks, strict=True) if not task.cancelled()
        ]
        raised = [error for _, task in finished if (error := task.exception()) is not None]
        unexpected = [error for error in raised if not isinstance(error, EngineError)]
        if unexpected:  # a bug: the runner logs it and tells the user the plugin failed
            raise unexpected[0]
        errors = [error for error in raised if isinstance(error, EngineError)]
        for lens, task in finished:
            if task.exception() is None:
                self._add(lens, task.result())
        if errors:
            self.failure = f"{len(errors)} of {count} requests to the model failed."
        if pending:
            self.stopped = (
                f"Stopped waiting for the model after {self._budget:g} seconds; these ideas "
                "come from the requests that had finished."
            )
        if not self.pool and errors:
            raise errors[0]
        if not self.pool and pending:
            raise CommandTimeout(
                f"The model gave no ideas within {self._budget:g} seconds; try again when it "
                "is less busy, or ask for fewer ideas."
            )

    async def _complete(self, lens: str, seed: int | None) -> Completion:
        async with self._gate:
            request = lens_request(self.ctx, self.brief, lens, self.settings, seed)
            return await self.ctx.engine.complete(request)

    def _add(self, lens: str, completion: Completion) -> None:
        self.lenses_used.add(lens)
        for choice in completion.choices:
            for idea in parse_ideas(choice.text):
                self.pool.append(Candidate(idea.text, lens, idea.likelihood, choice.truncated))

    def choose(
        self, count: int, earlier: Sequence[EarlierIdea], expanding: EarlierIdea | None
    ) -> Chosen:
        """Drop near-duplicates (of each other, of the example, of earlier ideas), then
        choose ``count`` varied ideas by maximal marginal relevance."""
        self.ctx.status(f"choosing {count} varied ideas from {len(self.pool)}")
        example = [idea.text for idea in EXAMPLE_IDEAS]
        seen = [idea.text for idea in earlier]
        if expanding is not None and expanding.text not in seen:
            seen.append(expanding.text)
        texts = [*example, *seen, *(c.text for c in self.pool)]
        space = IdeaSpace(texts)
        first = len(example) + len(seen)
        candidates = range(first, len(texts))
        found = space.deduplicate(
            candidates, seen=range(first), threshold=self.settings.duplicate_threshold
        )
        relevance = [0.0] * first + [relevance_of(c, self.brief.subject) for c in self.pool]
        picked = space.select(
            found.kept,
            count,
            relevance=relevance,
            avoid=range(len(example), first),
            trade_off=self.settings.trade_off,
        )
        copies = sum(1 for _, original in found.repeats if original < len(example))
        return Chosen(
            ideas=tuple(self.pool[i - first] for i in picked),
            duplicates=len(found.duplicates),
            repeats=len(found.repeats) - copies,
            copies=copies,
            distinct=len(found.kept),
            mean_similarity=space.mean_similarity(picked),
        )


def relevance_of(candidate: Candidate, subject: str) -> float:
    """How good an idea looks on its own, 0..1: a sentence's length, on the subject, not
    cut off; an idea stated as unlikely (the tail of what the model would say) a little more."""
    words = len(candidate.text.split())
    score = 1.0 if 5 <= words <= 35 else 0.7
    stems = {word[:5] for word in content_words(subject)}
    if stems and not stems & {word[:5] for word in content_words(candidate.text)}:
        score *= 0.7
    if candidate.truncated:
        score *= 0.5
    if candidate.likelihood is not None:
        score *= 0.9 + 0.1 * (1.0 - candidate.likelihood)
    return score


def brainstorm_result(
    params: BrainstormParams, expanding: EarlierIdea | None, session: Session, chosen: Chosen
) -> Result:
    """The chosen ideas as a list, their diversity figures, and the ideas as data."""
    texts = [idea.text for idea in chosen.ideas]
    removed = chosen.duplicates + chosen.repeats + chosen.copies
    figures = {
        "distinct_2": round(distinct_n(texts, 2), 3),
        "mean_similarity": round(chosen.mean_similarity, 3),
        "duplicates_removed": removed,
        "repeats_of_earlier": chosen.repeats,
        "candidates": len(session.pool),
        "distinct_candidates": chosen.distinct,
        "requests": session.requests,
    }
    data: dict[str, Any] = {
        "ideas": [
            {"id": None, "text": idea.text, "lens": idea.lens, "likelihood": idea.likelihood}
            for idea in chosen.ideas
        ],
        "technique": "expand" if expanding is not None else params.technique,
        "diversity": figures,
    }
    if expanding is not None:
        data["expanding"] = {"id": expanding.id, "text": expanding.text}
    body = "\n".join(f"- {text}" for text in texts) or "No ideas."
    technique = (
        TECHNIQUE_NAMES[params.technique] if expanding is None else f"more like #{expanding.id}"
    )
    fields = [
        ResultField(name="technique", value=technique),
        ResultField(
            name="ideas",
            value=f"{len(texts)} of {params.count} asked, from {len(session.pool)} drafted "
            f"through {_lenses(len(session.lenses_used))}",
        ),
        ResultField(
            name="diversity",
            value=f"distinct-2 {figures['distinct_2']:.2f}, mean similarity "
            f"{figures['mean_similarity']:.2f}, {removed} near-duplicate"
            f"{'s' if removed != 1 else ''} removed",
        ),
    ]
    return Result(
        title=_title(params, expanding),
        sections=[Section(body=body)],
        fields=fields,
        warnings=_warnings(params, session, chosen),
        data=data,
    )


def _lenses(count: int) -> str:
    return f"{count} lens{'es' if count != 1 else ''}"


def _title(params: BrainstormParams, expanding: EarlierIdea | None) -> str:
    if params.topic is not None:
        title = params.topic
    elif expanding is not None:
        title = f"More like #{expanding.id}: {expanding.text}"
    else:  # the parameters hold a topic or an idea to develop
        title = "Ideas"
    return title if len(title) <= 60 else title[:59] + "…"


def _warnings(params: BrainstormParams, session: Session, chosen: Chosen) -> list[str]:
    warnings = []
    if not chosen.ideas:
        warnings.append("The model gave no usable ideas; try again or rephrase the topic.")
    elif len(chosen.ideas) < params.count:
        warnings.append(
            f"Only {len(chosen.ideas)} distinct ideas of the {params.count} asked for: the "
            "others repeated each other or ideas already given here."
        )
    warnings.extend(w for w in (session.failure, session.stopped) if w is not None)
    return warnings


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_brainstorm)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(BrainstormSettings)
