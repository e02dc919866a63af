"""Write a long text a part at a time (a line, a section), keeping the sample that fits best.

A small model rarely writes fourteen good lines in one go, but among a few short
samples of one line it often writes one that fits: the right syllables, a rhyme with
the line it must rhyme with. :func:`write_in_parts` asks for each part in one request
of ``samples`` samples, scores each sample with the caller's check of the text so far,
keeps the best, and asks again (at most ``tries`` requests a part) while none fits.
It returns the whole text as :class:`~musekit.refine.Drafts`, so
:func:`musekit.refine.refine` can take it as its first draft (its ``draft`` argument).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Protocol

from musekit.context import Context
from musekit.engine.base import Engine
from musekit.engine.types import ChatRequest, Choice, Completion, Usage
from musekit.refine import Drafts


@dataclass(frozen=True)
class Fit:
    """How well a part fits where it goes: fewer ``problems`` is better, then a higher
    ``score`` (0 to 1)."""

    problems: int
    score: float = 0.0

    @property
    def fits(self) -> bool:
        """No problem with the part."""
        return self.problems == 0

    @property
    def rank(self) -> tuple[int, float]:
        """A sort key, best first: fewer problems, then a higher score."""
        return (self.problems, -self.score)

    def better_than(self, other: Fit) -> bool:
        """Fewer problems, or as many and a higher score."""
        return self.rank < other.rank


#: A part this alike (word sequence ratio) to an earlier part or the worked example is an
#: echo: a small model repeats its own lines and the example's.
ECHO_SIMILARITY = 0.6


def echoes(words: Sequence[str], others: Iterable[Sequence[str]]) -> bool:
    """Whether ``words`` (a part's, lower-case) mostly repeat one of ``others``."""
    return any(
        SequenceMatcher(None, words, other, autojunk=False).ratio() >= ECHO_SIMILARITY
        for other in others
    )


class Plan(Protocol):
    """What to write, part by part."""

    @property
    def parts(self) -> int:
        """How many parts the text has."""
        ...

    def fixed(self, done: Sequence[str], index: int) -> str | None:
        """The part's text when it is not the model's to write (a refrain), else ``None``."""
        ...

    def ask(self, done: Sequence[str], index: int, attempt: int) -> ChatRequest:
        """The request for part ``index`` (0-based) after the parts ``done``; ``attempt``
        counts the requests made for it before (0 for the first)."""
        ...

    def parse(self, done: Sequence[str], index: int, answer: str) -> str | None:
        """The part a sample wrote, or ``None`` if it wrote nothing usable."""
        ...

    def fit(self, done: Sequence[str], index: int, part: str) -> Fit:
        """How well ``part`` fits as part ``index`` after the parts ``done``."""
        ...

    def join(self, parts: Sequence[str]) -> str:
        """The whole text."""
        ...


@dataclass(frozen=True)
class Written:
    """The parts written, how each fits, and what writing them cost."""

    parts: tuple[str, ...]
    fits: tuple[Fit, ...]
    usage: Usage
    requests: int


async def write_parts(
    source: Context | Engine,
    plan: Plan,
    *,
    samples: int,
    tries: int,
    time_budget: float | None = None,
    time_limit: float | None = None,
) -> Written:
    """Write ``plan``'s parts in order: ``samples`` samples a request, at most ``tries``
    requests a part while no sample fits; the best sample of all is kept. A part asks
    again only within its even share of what is left of ``time_budget`` seconds (a
    part that fits sooner leaves its time to the parts after it), so the last parts get
    as many tries as the first; once the budget is spent, each part left gets one
    request. Once ``time_limit`` seconds have passed, writing stops (a request still
    running is cancelled) and the parts written so far are returned, so the caller has
    something to show before its own deadline.

    A part no sample wrote anything usable for is left empty (the check of the whole
    text then says what is missing). Cancellation (the task, or the context's
    ``cancelled`` event) stops at once.
    """
    if samples < 1 or tries < 1:
        raise ValueError("samples and tries must be at least 1")
    engine, ctx = (source.engine, source) if isinstance(source, Context) else (source, None)
    loop = asyncio.get_running_loop()
    deadline = None if time_budget is None else loop.time() + time_budget
    end = None if time_limit is None else loop.time() + time_limit
    done: list[str] = []
    fits: list[Fit] = []
    out_of_time = False
    usage = Usage()
    requests = 0
    for index in range(plan.parts):
        if end is not None and loop.time() >= end:
            break
        fixed = plan.fixed(done, index)
        if fixed is not None:
            done.append(fixed)
            fits.append(plan.fit(done[:-1], index, fixed))
            continue
        best: tuple[Fit, str] | None = None
        share_ends = (
            None
            if deadline is None
            else loop.time() + max(deadline - loop.time(), 0.0) / (plan.parts - index)
        )
        for attempt in range(tries):
            if ctx is not None:
                if ctx.cancelled.is_set():
                    raise asyncio.CancelledError
                ctx.status(f"writing part {index + 1} of {plan.parts}")
            request = plan.ask(done, index, attempt).model_copy(update={"n": samples})
            requests += 1
            try:
                left = None if end is None else max(end - loop.time(), 0.0)
                completion = await asyncio.wait_for(engine.complete(request), timeout=left)
            except TimeoutError:  # the time limit came mid-request: keep what is written
                out_of_time = True
                break
            usage = usage + completion.usage
            for choice in completion.choices:
                part = plan.parse(done, index, choice.text)
                if part is None:
                    continue
                fit = plan.fit(done, index, part)
                if best is None or fit.better_than(best[0]):
                    best = (fit, part)
            if best is not None and best[0].fits:
                break
            if share_ends is not None and loop.time() >= share_ends:
                break
        if best is not None or not out_of_time:
            fit, part = best if best is not None else (Fit(problems=1), "")
            done.append(part)
            fits.append(fit)
        if out_of_time:
            break
    return Written(parts=tuple(done), fits=tuple(fits), usage=usage, requests=requests)


async def write_in_parts(
    source: Context | Engine,
    plan: Plan,
    *,
    samples: int,
    tries: int,
    time_budget: float | None = None,
    time_limit: float | None = None,
) -> Drafts:
    """:func:`write_parts`, as a first draft for ``refine(draft=...)``: the whole text."""
    written = await write_parts(
        source, plan, samples=samples, tries=tries, time_budget=time_budget, time_limit=time_limit
    )
    text = plan.join([part for part in written.parts if part])
    choice = Choice(index=0, text=text, finish_reason="stop")
    return Drafts(Completion(choices=(choice,), usage=written.usage), written.requests)


def drafting(
    source: Context | Engine,
    plan: Plan,
    *,
    samples: int,
    tries: int,
    time_budget: float | None = None,
    time_limit: float | None = None,
) -> Callable[[int], Awaitable[Drafts]]:
    """:func:`write_in_parts` as ``refine``'s ``draft`` argument (one draft, whatever the
    count it is offered)."""

    async def draft(_count: int) -> Drafts:
        return await write_in_parts(
            source,
            plan,
            samples=samples,
            tries=tries,
            time_budget=time_budget,
            time_limit=time_limit,
        )

    return draft
