"""Progress edits at a bounded cadence: coalesced, never concurrent, the final state always sent."""

from __future__ import annotations

import asyncio
import time

import pytest

from musekit_bots.common.cadence import EditBudget, Progress, ProgressUpdater


class Recorder:
    """An edit that takes ``delay`` seconds and records when it ran and what it showed."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay = delay
        self.fail = fail
        self.shown: list[Progress] = []
        self.times: list[float] = []
        self.running = 0
        self.overlapped = False

    async def __call__(self, progress: Progress) -> None:
        self.running += 1
        self.overlapped |= self.running > 1
        try:
            await asyncio.sleep(self.delay)
            if self.fail:
                raise ConnectionError("secret-token xoxb-123 in the error")
            self.shown.append(progress)
            self.times.append(time.monotonic())
        finally:
            self.running -= 1


async def test_a_fast_stream_is_coalesced_to_one_edit_per_interval() -> None:
    edit = Recorder(delay=0.01)
    updater = ProgressUpdater(edit, interval=0.1)
    started = time.monotonic()
    for i in range(100):  # 100 deltas over about 0.5 s
        updater.add(f"w{i} ")
        await asyncio.sleep(0.005)
    elapsed = time.monotonic() - started
    await updater.finish()
    assert len(edit.shown) <= elapsed / 0.1 + 2
    assert len(edit.shown) >= 3  # progress was shown while it streamed, not only at the end
    gaps = [b - a for a, b in zip(edit.times, edit.times[1:-1], strict=False)]
    assert all(gap >= 0.095 for gap in gaps)
    assert not edit.overlapped
    assert edit.shown[-1].text == "".join(f"w{i} " for i in range(100))
    assert updater.edits == len(edit.shown)


async def test_the_first_change_is_shown_at_once() -> None:
    edit = Recorder()
    updater = ProgressUpdater(edit, interval=5.0)
    updater.status("Thinking…")
    await asyncio.sleep(0.05)
    assert edit.shown == [Progress(status="Thinking…", text="")]
    await updater.finish(Progress(status="", text="done"))
    assert edit.shown[-1] == Progress(status="", text="done")


async def test_finish_waits_for_an_edit_in_flight_so_the_final_one_lands_last() -> None:
    edit = Recorder(delay=0.1)
    updater = ProgressUpdater(edit, interval=0.01)
    updater.add("draft")
    await asyncio.sleep(0.02)  # the first edit is in flight
    updater.add(" more")
    await updater.finish(Progress(status="", text="final"))
    assert not edit.overlapped
    assert edit.shown[0].text == "draft"
    assert edit.shown[-1].text == "final"


async def test_nothing_is_edited_after_finish() -> None:
    edit = Recorder()
    updater = ProgressUpdater(edit, interval=0.05)
    updater.add("a")
    await updater.finish()
    updater.add("late")
    await asyncio.sleep(0.1)
    assert [p.text for p in edit.shown] == ["a"]


async def test_a_failed_progress_edit_stops_progress_but_finish_still_reports(
    caplog: pytest.LogCaptureFixture,
) -> None:
    edit = Recorder(fail=True)
    updater = ProgressUpdater(edit, interval=0.01)
    updater.add("a")
    await asyncio.sleep(0.05)
    assert updater.failed
    updater.add("b")
    await asyncio.sleep(0.05)
    with pytest.raises(ConnectionError):
        await updater.finish()
    assert "xoxb" not in caplog.text
    assert "ConnectionError" in caplog.text


async def test_a_shared_budget_caps_progress_edits_across_messages() -> None:
    budget = EditBudget(per_minute=6, burst=2)  # one edit in 10 s after a burst of two
    edits = [Recorder() for _ in range(4)]
    updaters = [ProgressUpdater(e, interval=0.01, budget=budget) for e in edits]
    for _ in range(20):
        for updater in updaters:
            updater.add("x")
        await asyncio.sleep(0.01)
    progress = sum(len(e.shown) for e in edits)
    assert progress == 2  # the burst; the next edit is 10 s away
    for updater in updaters:
        await updater.finish()  # finals always go, whatever the budget says
    assert all(e.shown[-1].text == "x" * 20 for e in edits)


def test_a_budget_refills_at_its_rate() -> None:
    now = [0.0]
    budget = EditBudget(per_minute=30, burst=1, clock=lambda: now[0])
    assert budget.try_take()
    assert not budget.try_take()
    assert budget.wait_time() == pytest.approx(2.0)
    now[0] = 1.0
    assert not budget.try_take()
    now[0] = 2.0
    assert budget.try_take()
    budget.take_anyway()
    assert budget.wait_time() == pytest.approx(4.0)


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (10, 0)])
def test_an_impossible_budget_is_refused(per_minute: float, burst: int) -> None:
    with pytest.raises(ValueError, match="per_minute"):
        EditBudget(per_minute, burst=burst)
