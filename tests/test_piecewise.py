"""Writing a text a part at a time (:func:`musekit_plugins.piecewise.write_parts`), on the
fake engine, with a plan that records what it is given."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from musekit import ChatRequest, Message, Sampling
from musekit.testing import FakeEngine
from musekit_plugins.piecewise import Fit, write_parts


@dataclass
class Recorder:
    """A plan of ``parts`` parts that no sample ever fits; it records each parsed answer
    and each request by part."""

    parts: int
    answers: list[str] = field(default_factory=list)
    asked: Counter[int] = field(default_factory=Counter)

    def fixed(self, done: Sequence[str], index: int) -> str | None:
        return None

    def ask(self, done: Sequence[str], index: int, attempt: int) -> ChatRequest:
        self.asked[index] += 1
        return ChatRequest(
            messages=(Message(role="user", content=f"Write part {index + 1}."),),
            sampling=Sampling(max_tokens=8),
        )

    def parse(self, done: Sequence[str], index: int, answer: str) -> str | None:
        self.answers.append(answer)
        return answer

    def fit(self, done: Sequence[str], index: int, part: str) -> Fit:
        return Fit(problems=1)

    def join(self, parts: Sequence[str]) -> str:
        return "\n".join(parts)


def test_the_time_budget_is_shared_so_the_last_part_gets_as_many_tries_as_the_first() -> None:
    # No sample fits, so each part asks again while its share of the budget lasts: half
    # of one second each, about five requests of 0.1 s, not ten for the first part and
    # one for the second.
    plan = Recorder(parts=2)
    engine = FakeEngine(default="no good", latency=0.1)
    written = asyncio.run(write_parts(engine, plan, samples=1, tries=20, time_budget=1.0))
    assert len(written.parts) == 2
    assert 3 <= plan.asked[0] <= 7
    assert plan.asked[1] >= 3
    # Once the budget is spent, a part gets one request.
    late = Recorder(parts=3)
    asyncio.run(write_parts(engine, late, samples=1, tries=20, time_budget=0.0))
    assert late.asked == Counter({0: 1, 1: 1, 2: 1})
