"""Generate, check, repair, rank: make a model's drafts meet a form that code can check.

:func:`refine` asks the engine for ``candidates`` drafts in one request (``n``),
checks each, sends the most promising failures back with the checker's problems
quoted (a bounded number of rounds, within a token budget and a time budget), and
ranks everything it got: passed first, then by the check's score, then untruncated
before truncated, then by a quality signal (:func:`variety` by default), ties in the
order the drafts arrived. It works with any check whose report has ``passed``,
``score`` and ``problems`` (``musekit.craft.FormReport`` among them) and only
through the engine interface, so it runs on the embedded model and on vLLM alike.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, Protocol, TypeVar

from musekit.context import Context
from musekit.engine.base import Engine
from musekit.engine.types import ChatRequest, Completion, Message, Usage
from musekit.errors import EngineError

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


class CheckReport(Protocol):
    """What a check returns: whether the text passed, a 0..1 score, and quotable problems."""

    @property
    def passed(self) -> bool: ...

    @property
    def score(self) -> float: ...

    @property
    def problems(self) -> Sequence[str]: ...


R = TypeVar("R", bound=CheckReport)


@dataclass(frozen=True)
class Candidate(Generic[R]):
    """One draft: its cleaned text, its check report, a quality signal, where it came from.

    ``round`` is 0 for the first drafts and ``i`` for a repair made in round ``i``.
    """

    text: str
    report: R
    quality: float
    truncated: bool
    round: int


@dataclass(frozen=True)
class Drafts:
    """First drafts written another way than one request of ``n`` samples (a line at a
    time, say): their completion (its usage summed over ``requests`` requests)."""

    completion: Completion
    requests: int = 1


@dataclass(frozen=True)
class Refined(Generic[R]):
    """What :func:`refine` found: every distinct draft, best first, and what it cost.

    ``stopped`` says, in a sentence for the user, why repairs ended before a draft
    passed or the rounds ran out (the token or time budget, an engine error); it is
    ``None`` otherwise.
    """

    ranked: tuple[Candidate[R], ...]
    usage: Usage
    requests: int
    repair_rounds: int
    stopped: str | None = None

    @property
    def best(self) -> Candidate[R]:
        """The top-ranked draft."""
        return self.ranked[0]

    @property
    def alternatives(self) -> tuple[Candidate[R], ...]:
        """The other distinct drafts, best first: the "variations" to offer."""
        return self.ranked[1:]


def variety(text: str, *, repeated_lines_ok: bool = False) -> float:
    """A 0..1 quality signal: distinct words over words, times distinct lines over lines.

    Pass ``repeated_lines_ok=True`` for forms that repeat lines by design (refrains,
    choruses). Empty text scores 0.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return 0.0
    score = len(set(words)) / len(words)
    lines = [" ".join(_WORD.findall(line.lower())) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines and not repeated_lines_ok:
        score *= len(set(lines)) / len(lines)
    return score


def feedback(problems: Sequence[str]) -> str:
    """The check's problems as a bulleted list, for a repair prompt to quote."""
    return "\n".join(f"- {problem}" for problem in problems)


def rank(candidates: Sequence[Candidate[R]]) -> list[Candidate[R]]:
    """Best first: passed, then score, then untruncated, then quality; ties keep their order."""
    return sorted(
        candidates,
        key=lambda c: (not c.report.passed, -c.report.score, c.truncated, -c.quality),
    )


async def refine(
    source: Context | Engine,
    request: ChatRequest,
    check: Callable[[str], R],
    repair_prompt: Callable[[str, R], Sequence[Message] | ChatRequest],
    *,
    candidates: int = 4,
    repair_rounds: int = 2,
    repairs_per_round: int = 2,
    repair_samples: int = 1,
    apply_repair: Callable[[str, R, str], str] | None = None,
    token_budget: int | None = None,
    time_budget: float | None = None,
    clean: Callable[[str], str] = str.strip,
    quality: Callable[[str], float] = variety,
    draft: Callable[[int], Awaitable[Drafts]] | None = None,
) -> Refined[R]:
    """Draft ``candidates`` texts in one request, repair the best failures, rank them all.

    ``source`` is the command's :class:`~musekit.context.Context` (its engine is used,
    its status line shows progress, and its ``cancelled`` event is honoured) or a bare
    :class:`~musekit.engine.base.Engine`. ``request`` is the drafting request; its
    ``n`` is replaced by ``candidates``. Each draft is passed through ``clean`` and then
    ``check``.

    Repairs: while no draft passes, each round takes the top ``repairs_per_round``
    failing drafts not yet repaired and sends, for each, one request of
    ``repair_samples`` samples: ``repair_prompt(text, report)`` gives its messages
    (sent with the drafting request's sampling) or a whole :class:`ChatRequest` (its
    own sampling, say a few tokens to rewrite one line). Each answer becomes a new
    draft: the answer itself, or ``apply_repair(text, report, answer)`` if given (to
    put a rewritten line back in its poem), then cleaned and checked. At most
    ``repair_rounds`` rounds run.

    ``draft``, if given, writes the first drafts instead of that request:
    ``draft(count)`` (``count`` being how many drafts the token budget allows, at
    most ``candidates``) returns :class:`Drafts`, whose texts are cleaned and checked
    like any draft. Use it to write a long form a part at a time
    (``musekit_plugins.piecewise``).

    Budgets: ``token_budget`` caps the completion tokens of all requests together,
    counting each sample at its ``max_tokens`` before it is sent (the first request
    gets fewer samples if all would not fit; it must fit one). ``time_budget`` (seconds
    from the call) ends repairs when it passes, keeping the repairs already finished; the
    first request is not cut by it (the runner's ``max_seconds`` bounds the command).

    Errors: if the first request fails, its error propagates (there is nothing to
    return). An :class:`~musekit.errors.EngineError` during repairs ends them and the
    best draft so far is returned, with ``stopped`` saying so. Cancellation (the task,
    or the context's ``cancelled`` event) stops at once: no further request is made
    and :class:`asyncio.CancelledError` propagates.
    """
    per_sample = request.sampling.max_tokens
    _check_arguments(
        candidates, repair_rounds, repairs_per_round, repair_samples, token_budget, per_sample
    )
    engine, ctx = (source.engine, source) if isinstance(source, Context) else (source, None)
    loop = asyncio.get_running_loop()
    deadline = None if time_budget is None else loop.time() + time_budget
    run = _Run(check=check, clean=clean, quality=quality)

    def say(message: str) -> None:
        if ctx is not None:
            if ctx.cancelled.is_set():
                raise asyncio.CancelledError
            ctx.status(message)

    def repair_request(target: Candidate[R]) -> ChatRequest:
        prompt = repair_prompt(target.text, target.report)
        if isinstance(prompt, ChatRequest):
            return prompt.model_copy(update={"n": repair_samples})
        return request.model_copy(update={"messages": tuple(prompt), "n": repair_samples})

    first = candidates if token_budget is None else min(candidates, token_budget // per_sample)
    say(f"writing {_drafts(first)}")
    drafts = (
        await draft(first)
        if draft
        else Drafts(await engine.complete(request.model_copy(update={"n": first})))
    )
    run.requests += drafts.requests
    run.add(drafts.completion, round_=0)
    stopped: str | None = None
    rounds = 0
    repaired: set[str] = set()
    while rounds < repair_rounds and not run.best.report.passed:
        if deadline is not None and loop.time() >= deadline:
            stopped = _OUT_OF_TIME
            break
        targets = [c for c in rank(run.pool) if not c.report.passed and c.text not in repaired]
        jobs = [(t, repair_request(t)) for t in targets[:repairs_per_round]]
        if token_budget is not None:
            affordable = _affordable([r for _, r in jobs], token_budget - run.spent)
            if affordable < len(jobs):
                stopped = "Stopped repairing: the token budget ran out."
                jobs = jobs[:affordable]
        if not jobs:
            break
        rounds += 1
        say(f"repairing {_drafts(len(jobs))} (round {rounds})")
        repaired.update(t.text for t, _ in jobs)
        run.requests += len(jobs)
        answers, failure = await _complete_all(engine, [r for _, r in jobs], deadline)
        for (target, sent), answer in zip(jobs, answers, strict=True):
            if answer is None:  # abandoned: count it at its full allowance
                run.abandoned += sent.sampling.max_tokens * sent.n
            else:
                fix = partial(apply_repair, target.text, target.report) if apply_repair else None
                run.add(answer, round_=rounds, fix=fix)
        if failure is not None:
            stopped = failure
            break
    if ctx is not None and ctx.cancelled.is_set():
        raise asyncio.CancelledError
    return Refined(
        ranked=tuple(rank(run.pool)),
        usage=run.usage,
        requests=run.requests,
        repair_rounds=rounds,
        stopped=None if run.best.report.passed else stopped,
    )


def _affordable(requests: Sequence[ChatRequest], tokens: int) -> int:
    """How many of ``requests``, in order, fit in ``tokens`` at their full allowance."""
    count = 0
    for request in requests:
        tokens -= request.sampling.max_tokens * request.n
        if tokens < 0:
            break
        count += 1
    return count


_OUT_OF_TIME = "Stopped repairing: the time budget ran out."


def _drafts(count: int) -> str:
    return f"{count} draft{'s' if count != 1 else ''}"


def _check_arguments(
    candidates: int,
    repair_rounds: int,
    repairs_per_round: int,
    repair_samples: int,
    token_budget: int | None,
    per_sample: int,
) -> None:
    for name, value, least in (
        ("candidates", candidates, 1),
        ("repair_rounds", repair_rounds, 0),
        ("repairs_per_round", repairs_per_round, 1),
        ("repair_samples", repair_samples, 1),
    ):
        if value < least:
            raise ValueError(f"{name} must be at least {least}, not {value}")
    if token_budget is not None and token_budget < per_sample:
        raise ValueError(
            f"token_budget ({token_budget}) is smaller than one sample's max_tokens ({per_sample})"
        )


@dataclass
class _Run(Generic[R]):
    """The drafts gathered so far, distinct by text, in the order they arrived."""

    check: Callable[[str], R]
    clean: Callable[[str], str]
    quality: Callable[[str], float]
    usage: Usage = field(default_factory=Usage)
    requests: int = 0
    #: Tokens reserved by requests abandoned unfinished (their usage never came back).
    abandoned: int = 0
    pool: list[Candidate[R]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    @property
    def spent(self) -> int:
        """Completion tokens used, counting abandoned requests at their full reservation."""
        return self.usage.completion_tokens + self.abandoned

    @property
    def best(self) -> Candidate[R]:
        return rank(self.pool)[0]

    def add(
        self, completion: Completion, round_: int, fix: Callable[[str], str] | None = None
    ) -> None:
        """Check and keep each new text of ``completion`` (made whole by ``fix``, if given)."""
        self.usage = self.usage + completion.usage
        for choice in completion.choices:
            text = self.clean(fix(choice.text) if fix else choice.text)
            if text in self.seen:
                continue
            self.seen.add(text)
            self.pool.append(
                Candidate(
                    text=text,
                    report=self.check(text),
                    quality=self.quality(text),
                    truncated=choice.truncated,
                    round=round_,
                )
            )


async def _complete_all(
    engine: Engine, requests: Sequence[ChatRequest], deadline: float | None
) -> tuple[list[Completion | None], str | None]:
    """Run requests concurrently; return their completions in order (``None`` for those
    that did not finish) and why any did not.

    An engine error or the ``deadline`` (event-loop time) cancels the rest; anything
    else propagates.
    """
    loop = asyncio.get_running_loop()
    left = None if deadline is None else deadline - loop.time()
    tasks = [asyncio.ensure_future(engine.complete(r)) for r in requests]
    try:
        _, pending = await asyncio.wait(tasks, timeout=left, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        unfinished = [t for t in tasks if not t.done()]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
    done: list[Completion | None] = []
    failure = _OUT_OF_TIME if pending else None
    for task in tasks:
        error = None if task.cancelled() else task.exception()
        if task.cancelled() or error is not None:
            done.append(None)
        else:
            done.append(task.result())
        if isinstance(error, EngineError):
            failure = "Stopped repairing: the model failed, so this is the best draft so far."
        elif error is not None:
            raise error
    return done, failure
