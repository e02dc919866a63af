"""musekit.refine: draft k candidates in one request, repair the best failures, rank them all.

The check here is a toy form, "exactly three lines", so each test can script
drafts that pass or fail by construction on the fake engine.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from musekit import ChatRequest, Context, Invocation, Message, Sampling
from musekit.engine.types import Choice, Completion, Usage
from musekit.errors import EngineUnavailable
from musekit.refine import Candidate, Drafts, feedback, rank, refine, variety
from musekit.spec import CommandSpec, Params
from musekit.testing import FakeEngine
from musekit.testing.fake_engine import split_tokens

REFINE_DOC = (Path(__file__).parents[1] / "docs" / "refine.md").read_text("utf-8")

THREE = "one red leaf\nfalls on the still pond\nripples fade"
THREE_B = "snow on the gate\nthe dog waits by the door\nnobody comes"
TWO = "one red leaf\nfalls on the still pond"
FOUR = "a\nb c\nd e f\ng h"
FIVE = "w1\nw2\nw3\nw4\nw5"


@dataclass(frozen=True)
class Lines:
    """A toy check report: the text must have exactly three lines."""

    count: int
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.count == 3

    @property
    def score(self) -> float:
        return max(0.0, 1 - abs(self.count - 3) / 3)


def three_lines(text: str) -> Lines:
    count = len([line for line in text.splitlines() if line.strip()])
    problems = [] if count == 3 else [f"the poem has {count} lines, expected 3"]
    return Lines(count, problems)


REPAIR_SYSTEM = "Rewrite the poem so that it has exactly three lines."


def repair_prompt(text: str, report: Lines) -> list[Message]:
    return [
        Message(role="system", content=REPAIR_SYSTEM),
        Message(role="user", content=f"Poem:\n{text}\n\nProblems:\n{feedback(report.problems)}"),
    ]


REQUEST = ChatRequest(
    messages=(Message(role="system", content="Write a poem."), Message(role="user", content="x")),
    sampling=Sampling(max_tokens=20, temperature=0.9, min_p=0.05),
)


async def test_candidates_come_from_one_request_and_the_rest_are_kept_ranked() -> None:
    engine = FakeEngine([TWO, FOUR, THREE, FIVE])
    refined = await refine(engine, REQUEST, three_lines, repair_prompt, candidates=4)
    assert len(engine.requests) == 1
    assert engine.requests[0].n == 4
    assert engine.requests[0].messages == REQUEST.messages
    assert refined.best.text == THREE
    assert refined.best.report.passed
    # The failures follow by score: 2 and 4 lines are one off (2/3), 5 lines two off (1/3);
    # 2 and 4 tie on score and variety, so they keep the order they arrived in.
    assert [c.text for c in refined.alternatives] == [TWO, FOUR, FIVE]
    assert refined.requests == 1
    assert refined.repair_rounds == 0
    assert refined.stopped is None
    assert refined.usage.completion_tokens == sum(
        len(split_tokens(text)) for text in (TWO, FOUR, THREE, FIVE)
    )


async def test_the_most_promising_failures_are_repaired_quoting_their_problems() -> None:
    engine = FakeEngine([FIVE, TWO, FOUR, "only one line"])
    engine.script(THREE, THREE_B)  # the two repairs, in the order they are asked for
    refined = await refine(
        engine, REQUEST, three_lines, repair_prompt, candidates=4, repairs_per_round=2
    )
    first, *repairs = engine.requests
    assert first.n == 4
    assert len(repairs) == 2
    # The two best failures (two and four lines) are repaired, best first; five lines is not.
    assert [r.messages for r in repairs] == [
        tuple(repair_prompt(TWO, three_lines(TWO))),
        tuple(repair_prompt(FOUR, three_lines(FOUR))),
    ]
    assert "- the poem has 2 lines, expected 3" in repairs[0].messages[-1].content
    assert all(r.n == 1 and r.sampling == REQUEST.sampling for r in repairs)
    assert refined.best.text == THREE
    assert refined.best.round == 1
    assert refined.repair_rounds == 1
    assert refined.requests == 3
    # Both repairs passed; the second is kept as a variation, ahead of every failure.
    # Five lines and one line tie (two off, equally varied words): arrival order decides.
    assert [c.text for c in refined.ranked] == [THREE, THREE_B, TWO, FOUR, FIVE, "only one line"]


async def test_repair_rounds_are_bounded_and_each_repairs_drafts_not_yet_repaired() -> None:
    failing = iter(f"line {i}\nline {i} again" for i in range(100))
    engine = FakeEngine(default=lambda _request, _index: next(failing))
    refined = await refine(
        engine,
        REQUEST,
        three_lines,
        repair_prompt,
        candidates=3,
        repair_rounds=2,
        repairs_per_round=2,
    )
    assert len(engine.requests) == 1 + 2 * 2
    assert refined.repair_rounds == 2
    assert not refined.best.report.passed
    repaired = [r.messages[-1].content.split("\n\n")[0] for r in engine.requests[1:]]
    assert len(set(repaired)) == 4, "a draft was repaired twice"
    assert sorted(c.round for c in refined.ranked) == [0, 0, 0, 1, 1, 2, 2]


async def test_no_repair_rounds_means_one_request() -> None:
    engine = FakeEngine(default=TWO)
    refined = await refine(engine, REQUEST, three_lines, repair_prompt, repair_rounds=0)
    assert len(engine.requests) == 1
    assert refined.stopped is None


async def test_repairs_stop_as_soon_as_a_draft_passes() -> None:
    engine = FakeEngine([TWO, FOUR], default=THREE)
    refined = await refine(
        engine, REQUEST, three_lines, repair_prompt, candidates=2, repair_rounds=5
    )
    assert len(engine.requests) == 3  # one round of two repairs, both pass
    assert refined.best.report.passed


async def test_a_token_budget_caps_the_completion_tokens_of_every_request() -> None:
    engine = FakeEngine(default=twenty_tokens())
    refined = await refine(
        engine,
        REQUEST,  # max_tokens 20
        three_lines,
        repair_prompt,
        candidates=4,
        repair_rounds=10,
        repairs_per_round=2,
        token_budget=130,
    )
    # 4 drafts (80 tokens), then room for two more samples (40), not a third.
    assert [r.n for r in engine.requests] == [4, 1, 1]
    assert refined.usage.completion_tokens == 120 <= 130
    assert refined.stopped == "Stopped repairing: the token budget ran out."


async def test_a_small_token_budget_asks_for_fewer_drafts() -> None:
    engine = FakeEngine(default=twenty_tokens())
    refined = await refine(
        engine, REQUEST, three_lines, repair_prompt, candidates=4, token_budget=45
    )
    assert [r.n for r in engine.requests] == [2]
    assert refined.usage.completion_tokens == 40
    assert refined.stopped == "Stopped repairing: the token budget ran out."


def test_a_budget_below_one_sample_is_refused() -> None:
    with pytest.raises(ValueError, match=r"token_budget \(19\) is smaller than one sample"):
        asyncio.run(refine(FakeEngine(), REQUEST, three_lines, repair_prompt, token_budget=19))


@pytest.mark.parametrize(
    ("argument", "value"),
    [("candidates", 0), ("repair_rounds", -1), ("repairs_per_round", 0), ("repair_samples", 0)],
)
def test_bad_loop_sizes_are_refused_before_any_request(argument: str, value: int) -> None:
    engine = FakeEngine()
    sizes: dict[str, Any] = {argument: value}
    with pytest.raises(ValueError, match=f"{argument} must be at least"):
        asyncio.run(refine(engine, REQUEST, three_lines, repair_prompt, **sizes))
    assert engine.requests == []


async def test_repair_samples_ask_for_several_rewrites_of_each_draft() -> None:
    engine = FakeEngine([TWO, FIVE, FOUR, THREE])
    refined = await refine(
        engine,
        REQUEST,
        three_lines,
        repair_prompt,
        candidates=1,
        repairs_per_round=1,
        repair_samples=3,
    )
    assert [r.n for r in engine.requests] == [1, 3]
    assert refined.best.text == THREE


async def test_a_repair_can_bring_its_own_request_and_be_put_back_into_its_draft() -> None:
    # A line-level repair: ask for one more line (a few tokens), append it to the draft.
    line_request = ChatRequest(
        messages=(Message(role="user", content="one more line"),),
        sampling=Sampling(max_tokens=6, temperature=0.5),
    )

    def add_line(text: str, report: Lines) -> ChatRequest:
        assert (text, report.count) == (TWO, 2)
        return line_request

    def append(text: str, report: Lines, answer: str) -> str:
        return f"{text}\n{answer.strip()}"

    engine = FakeEngine([TWO], default="ripples fade")
    refined = await refine(
        engine,
        REQUEST,
        three_lines,
        add_line,
        candidates=1,
        repair_samples=3,
        apply_repair=append,
        # The draft's tokens, then room for exactly one line request of 3 x 6 tokens.
        token_budget=len(split_tokens(TWO)) + 3 * 6,
    )
    assert engine.requests[1] == line_request.model_copy(update={"n": 3})
    assert len(engine.requests) == 2
    assert refined.best.text == f"{TWO}\nripples fade"
    assert refined.best.report.passed
    assert refined.best.round == 1


def candidate(
    text: str, *, count: int, quality: float, truncated: bool = False
) -> Candidate[Lines]:
    return Candidate(text=text, report=Lines(count), quality=quality, truncated=truncated, round=0)


def test_ranking_is_passed_then_score_then_untruncated_then_quality_and_stable() -> None:
    a = candidate("a", count=4, quality=0.9)
    b = candidate("b", count=3, quality=0.1)
    c = candidate("c", count=2, quality=0.9, truncated=True)
    d = candidate("d", count=2, quality=0.5)
    e = candidate("e", count=4, quality=0.9)  # ties with a in every respect
    f = candidate("f", count=6, quality=1.0)
    assert [x.text for x in rank([a, b, c, d, e, f])] == ["b", "a", "e", "d", "c", "f"]
    assert [x.text for x in rank([e, a])] == ["e", "a"]


async def test_drafts_are_cleaned_before_checking_and_duplicates_are_dropped() -> None:
    engine = FakeEngine([f"  {THREE}  ", THREE, f"Here:\n{TWO}"])
    refined = await refine(
        engine,
        REQUEST,
        three_lines,
        repair_prompt,
        candidates=3,
        clean=lambda text: text.strip().removeprefix("Here:\n"),
    )
    assert [c.text for c in refined.ranked] == [THREE, TWO]


async def test_an_engine_error_while_repairing_returns_the_best_draft_so_far() -> None:
    # The drafts come from the script; every repair fails mid-stream.
    engine = FakeEngine([TWO, FIVE], default=fail_with(EngineUnavailable("unreachable")))
    refined = await refine(
        engine, REQUEST, three_lines, repair_prompt, candidates=2, repair_rounds=3
    )
    assert [c.text for c in refined.ranked] == [TWO, FIVE]
    assert refined.stopped == (
        "Stopped repairing: the model failed, so this is the best draft so far."
    )
    assert refined.repair_rounds == 1
    assert len(engine.requests) == 3  # the drafts, then one round of two repairs, no more


async def test_an_engine_error_on_the_drafts_propagates() -> None:
    engine = FakeEngine()
    engine.fail_next(EngineUnavailable("The model server could not be reached."))
    with pytest.raises(EngineUnavailable, match="could not be reached"):
        await refine(engine, REQUEST, three_lines, repair_prompt)


async def test_an_unexpected_error_while_repairing_propagates() -> None:
    engine = FakeEngine([TWO], default=fail_with(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        await refine(engine, REQUEST, three_lines, repair_prompt, candidates=1)


async def test_cancelling_the_task_while_repairing_stops_every_request() -> None:
    engine = FakeEngine([TWO, FOUR], default=TWO, token_delay=0.01)
    task = asyncio.create_task(
        refine(engine, REQUEST, three_lines, repair_prompt, candidates=2, repair_rounds=5)
    )
    for _ in range(200):  # until both repairs of round 1 have started
        if len(engine.requests) == 3:
            break
        await asyncio.sleep(0.005)
    assert len(engine.requests) == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    assert len(engine.requests) == 3


def make_context(engine: FakeEngine, statuses: list[str]) -> Context:
    spec = CommandSpec(name="toy", description="A toy command.", params=Params)
    return Context(
        invocation=Invocation(command="toy"),
        spec=spec,
        engine=engine,
        settings=None,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
        on_status=statuses.append,
    )


async def test_with_a_context_it_reports_progress_and_honours_the_cancelled_event() -> None:
    statuses: list[str] = []
    engine = FakeEngine([TWO, FOUR, FIVE], default=THREE)
    refined = await refine(
        make_context(engine, statuses), REQUEST, three_lines, repair_prompt, candidates=3
    )
    assert refined.best.text == THREE
    assert statuses == ["writing 3 drafts", "repairing 2 drafts (round 1)"]

    engine = FakeEngine(default=TWO)
    ctx = make_context(engine, statuses)

    def check_then_cancel(text: str) -> Lines:
        ctx.cancelled.set()  # the user cancels while the drafts are checked
        return three_lines(text)

    with pytest.raises(asyncio.CancelledError):
        await refine(ctx, REQUEST, check_then_cancel, repair_prompt)
    assert len(engine.requests) == 1


async def test_a_time_budget_ends_repairs_and_keeps_what_finished() -> None:
    # The drafts take about 0.25 s; a repair (1000 words at 20 ms each) would take 20 s.
    long_reply = "\n".join(["word"] * 1000)
    engine = FakeEngine([TWO, FIVE], default=long_reply, token_delay=0.02)
    repair_long = REQUEST.with_sampling(max_tokens=2000)
    started = asyncio.get_running_loop().time()
    refined = await refine(
        engine,
        repair_long,
        three_lines,
        repair_prompt,
        candidates=2,
        repair_rounds=3,
        time_budget=1.0,
    )
    assert asyncio.get_running_loop().time() - started < 3
    assert len(engine.requests) == 3
    assert [c.text for c in refined.ranked] == [TWO, FIVE]
    assert refined.stopped == "Stopped repairing: the time budget ran out."


async def test_the_documented_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = dict(
        re.findall(r"<!-- file: (\S+) -->\s*```python\n(.*?)\n```", REFINE_DOC, re.DOTALL)
    )
    (tmp_path / "refine_example.py").write_text(blocks["refine_example.py"], "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    example = importlib.import_module("refine_example")
    try:
        long_titles = [
            "The Night the Lighthouse Keeper Finally Went Home",
            "A Very Long Title About a Lighthouse and the Sea",
            "Lighthouse",  # the third draft fits at once ...
            "The Last Lamp of the Northern Lighthouse Keeper",
        ]
        engine = FakeEngine(long_titles)
        title = await example.best_title(make_context(engine, []), "a keeper's last night")
        assert title == "Lighthouse"
        assert [r.n for r in engine.requests] == [4]  # ... so nothing is repaired

        engine = FakeEngine(long_titles[:2] + long_titles[3:] + ["Too Long A Title For It"])
        engine.script("The Last Lamp")
        title = await example.best_title(make_context(engine, []), "a keeper's last night")
        assert title == "The Last Lamp"
        # The closest draft (six words) is repaired first, its problem quoted.
        assert engine.requests[1].messages[-1].content == (
            "Title: Too Long A Title For It\nProblems:\n- the title has 6 words, expected 1 to 5"
        )
    finally:
        sys.modules.pop("refine_example", None)


def test_variety_prefers_distinct_words_and_lines() -> None:
    assert variety("") == 0.0
    assert variety("red leaf\nblue sky") == 1.0
    assert variety("red leaf\nred leaf") == pytest.approx(0.5 * 0.5)
    assert variety("red leaf\nred leaf", repeated_lines_ok=True) == pytest.approx(0.5)
    assert variety("the cat, the cat!\nsat") < variety("a cat sat\nhere")


def test_feedback_is_one_bullet_per_problem() -> None:
    problems = ["line 2 has 8 syllables, expected 7", "line 3 does not rhyme with line 1"]
    assert feedback(problems) == (
        "- line 2 has 8 syllables, expected 7\n- line 3 does not rhyme with line 1"
    )


def twenty_tokens() -> Callable[[ChatRequest, int], str]:
    """Fake-engine replies of 20 tokens (words) on two lines, each different, all failing."""
    count = iter(range(1000))

    def reply(_request: ChatRequest, _index: int) -> str:
        words = [f"w{next(count)}"] + ["word"] * 19
        return " ".join(words[:10]) + "\n" + " ".join(words[10:])

    return reply


def fail_with(error: Exception) -> Callable[[ChatRequest, int], str]:
    """A fake-engine reply that fails the request mid-stream with ``error``."""

    def reply(_request: ChatRequest, _index: int) -> str:
        raise error

    return reply


async def test_first_drafts_written_another_way_are_checked_repaired_and_counted() -> None:
    engine = FakeEngine([THREE])  # the repair's answer
    asked: list[int] = []

    async def line_by_line(count: int) -> Drafts:
        asked.append(count)
        completion = Completion(
            choices=(Choice(index=0, text=TWO, finish_reason="stop"),),
            usage=Usage(prompt_tokens=30, completion_tokens=12),
        )
        return Drafts(completion, requests=3)

    refined = await refine(
        engine,
        REQUEST,
        three_lines,
        repair_prompt,
        candidates=4,
        token_budget=50,
        draft=line_by_line,
    )
    # The draft function gets the number of drafts the budget allows (50 // 20 = 2).
    assert asked == [2]
    # No drafting request went to the engine: only the repair of the draft it wrote.
    (repair,) = engine.requests
    assert repair.messages == tuple(repair_prompt(TWO, three_lines(TWO)))
    assert [c.text for c in refined.ranked] == [THREE, TWO]
    assert refined.requests == 4
    assert refined.usage.completion_tokens == 12 + len(split_tokens(THREE))
