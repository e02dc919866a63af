"""Every Store method, on SQLite and on a real PostgreSQL server (tests/pg_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from musekit import Attachment, Invocation, Invoker, Result, ResultField, Section
from musekit.settings import StoreSettings
from musekit.store import InvalidInput, NotFound, Store, open_store, prune_expired

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with await open_store(store_url) as opened:
        yield opened


def invocation(
    user: str = "u-ada",
    *,
    command: str = "write",
    channel: str | None = "c-general",
    platform: str = "slack",
    conversation: str | None = None,
    params: dict[str, object] | None = None,
) -> Invocation:
    return Invocation(
        command=command,
        params=params if params is not None else {"prompt": "first snow"},
        invoker=Invoker(user_id=user, display_name=user.title(), roles=("poet",)),
        platform=platform,
        channel=channel,
        conversation=conversation,
    )


async def started(store: Store, inv: Invocation, minutes: float = 0) -> Invocation:
    await store.record_start(inv, started_at=T0 + timedelta(minutes=minutes))
    return inv


async def finished(
    store: Store, inv: Invocation, minutes: float = 0, *, prompt: int = 0, completion: int = 0
) -> Invocation:
    await started(store, inv, minutes)
    await store.record_finish(
        inv.id,
        status="ok",
        result=Result(title=f"For {inv.invoker.user_id}"),
        prompt_tokens=prompt,
        completion_tokens=completion,
        finished_at=T0 + timedelta(minutes=minutes, seconds=3),
    )
    return inv


def ids(records: list[object]) -> list[str]:
    return [record.id for record in records]  # type: ignore[attr-defined]


# Invocations ----------------------------------------------------------------------------------


async def test_a_started_invocation_is_kept_running_with_who_where_and_what(store: Store) -> None:
    inv = invocation(conversation="t-1", params={"prompt": "first snow", "lines": 4})
    await store.record_start(inv, started_at=T0)

    record = await store.get(inv.id)

    assert record is not None
    assert (record.id, record.command, record.params) == (inv.id, "write", inv.params)
    assert (record.user_id, record.display_name, record.roles) == ("u-ada", "U-Ada", ("poet",))
    assert (record.platform, record.channel, record.conversation) == ("slack", "c-general", "t-1")
    assert record.status == "running"
    assert (record.result, record.error, record.finished_at, record.delivered) == (
        None,
        None,
        None,
        None,
    )
    assert record.started_at == T0
    assert record.started_at.tzinfo is not None
    assert record.started_at.utcoffset() == timedelta(0)


async def test_a_finished_invocation_keeps_its_whole_result_tokens_and_timings(
    store: Store,
) -> None:
    inv = await started(store, invocation())
    result = Result(
        title="First snow",
        sections=[Section(heading="Poem", body="white\n  on white", style="verse")],
        fields=[ResultField(name="form", value="haiku (5-7-5 ok)")],
        attachments=[
            Attachment(filename="card.png", media_type="image/png", data=b"\x89PNG\0\xff")
        ],
        warnings=["one line is long"],
        data={"report": {"ok": True, "lines": [5, 7, 5]}},
        command="write",
        invocation_id=inv.id,
    )
    timings = {"queue": 0.25, "first_token": 0.5, "total": 2.75}

    await store.record_finish(
        inv.id,
        status="ok",
        result=result,
        prompt_tokens=120,
        completion_tokens=48,
        timings=timings,
        finished_at=T0 + timedelta(seconds=3),
    )

    record = await store.get(inv.id)
    assert record is not None
    assert record.status == "ok"
    assert record.result == result
    assert record.result.attachments[0].data == b"\x89PNG\0\xff"
    assert (record.prompt_tokens, record.completion_tokens, record.tokens) == (120, 48, 168)
    assert record.timings == timings
    assert record.finished_at == T0 + timedelta(seconds=3)


async def test_a_failed_invocation_keeps_its_user_safe_error(store: Store) -> None:
    inv = await started(store, invocation())
    await store.record_finish(
        inv.id, status="timeout", error="The command ran past its time limit.", finished_at=T0
    )
    record = await store.get(inv.id)
    assert record is not None
    assert (record.status, record.result, record.error) == (
        "timeout",
        None,
        "The command ran past its time limit.",
    )


async def test_times_in_any_timezone_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    inv = invocation()
    await store.record_start(inv, started_at=datetime(2026, 6, 1, 11, 30, tzinfo=paris))
    await store.record_finish(
        inv.id,
        status="ok",
        finished_at=datetime(2026, 6, 1, 5, 31, tzinfo=timezone(-timedelta(hours=4))),
    )
    record = await store.get(inv.id)
    assert record is not None
    assert record.started_at == datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    assert str(record.started_at) == "2026-06-01 09:30:00+00:00"
    assert str(record.finished_at) == "2026-06-01 09:31:00+00:00"


async def test_unknown_ids_and_bad_values_are_refused_and_change_nothing(store: Store) -> None:
    inv = await started(store, invocation())

    assert await store.get("no-such-id") is None
    with pytest.raises(NotFound, match="No invocation 'no-such-id'"):
        await store.record_finish("no-such-id", status="ok", finished_at=T0)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await store.record_finish(inv.id, status="ok", finished_at=datetime(2026, 3, 1, 9, 5))
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await store.record_start(invocation(), started_at=datetime(2026, 3, 1, 9, 5))
    with pytest.raises(InvalidInput, match="'running' is not a finished status"):
        await store.record_finish(inv.id, status="running", finished_at=T0)
    with pytest.raises(InvalidInput, match="'lost' is not a finished status"):
        await store.record_finish(inv.id, status="lost", finished_at=T0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="conflicts with a stored record"):
        await store.record_start(inv, started_at=T0)

    record = await store.get(inv.id)
    assert record is not None
    assert (record.status, record.finished_at) == ("running", None)
    assert ids(await store.history()) == [inv.id]


# History and conversations --------------------------------------------------------------------


async def test_history_is_newest_first_and_filters_by_user_channel_command_and_platform(
    store: Store,
) -> None:
    a = await finished(store, invocation("u-ada", channel="c-poems"), 1)
    b = await finished(store, invocation("u-bram", channel="c-poems", command="poem"), 2)
    c = await finished(store, invocation("u-ada", channel="c-songs", command="lyrics"), 3)
    d = await finished(store, invocation("u-ada", channel=None, platform="cli"), 4)

    assert ids(await store.history()) == [d.id, c.id, b.id, a.id]
    assert ids(await store.history(user="u-ada")) == [d.id, c.id, a.id]
    assert ids(await store.history(channel="c-poems")) == [b.id, a.id]
    assert ids(await store.history(command="lyrics")) == [c.id]
    assert ids(await store.history(platform="cli")) == [d.id]
    assert ids(await store.history(user="u-ada", channel="c-poems")) == [a.id]
    assert ids(await store.history(user="u-ada", command="poem")) == []
    assert ids(await store.history(user="u-nobody")) == []


async def test_history_limits_and_pages_back_with_before(store: Store) -> None:
    made = [await finished(store, invocation(), minute) for minute in range(5)]
    newest_first = [inv.id for inv in reversed(made)]

    assert ids(await store.history(limit=2)) == newest_first[:2]
    page = await store.history(limit=2, before=(await store.history(limit=2))[-1].started_at)
    assert ids(page) == newest_first[2:4]
    assert ids(await store.history(before=T0 + timedelta(minutes=1))) == [made[0].id]
    with pytest.raises(InvalidInput, match="at least 1"):
        await store.history(limit=0)


async def test_a_conversation_is_its_last_invocations_oldest_first(store: Store) -> None:
    thread = [await finished(store, invocation(conversation="t-7"), m) for m in (1, 3, 5, 7)]
    await finished(store, invocation(conversation="t-8"), 4)
    await finished(store, invocation(conversation=None), 6)

    assert ids(await store.conversation("t-7")) == [inv.id for inv in thread]
    assert ids(await store.conversation("t-7", limit=2)) == [thread[2].id, thread[3].id]
    assert await store.conversation("t-none") == []


async def test_tokens_used_counts_one_users_tokens_since_a_time(store: Store) -> None:
    await finished(store, invocation("u-ada"), 0, prompt=100, completion=20)
    await finished(store, invocation("u-ada"), 60, prompt=30, completion=5)
    await finished(store, invocation("u-ada"), 90, prompt=1, completion=2)
    await finished(store, invocation("u-bram"), 90, prompt=500, completion=500)
    await started(store, invocation("u-ada"), 100)  # running: no tokens yet

    assert await store.tokens_used("u-ada", since=T0) == 158
    assert await store.tokens_used("u-ada", since=T0 + timedelta(minutes=60)) == 38
    assert await store.tokens_used("u-ada", since=T0 + timedelta(minutes=61)) == 3
    assert await store.tokens_used("u-ada", since=T0 + timedelta(days=1)) == 0
    assert await store.tokens_used("u-nobody", since=T0) == 0


# Ideas and votes ------------------------------------------------------------------------------


async def test_ideas_keep_their_order_and_new_ones_come_after(store: Store) -> None:
    inv = await finished(store, invocation(command="brainstorm"))

    first = await store.add_ideas(inv.id, ["a lighthouse cat", "fog as a character"])
    more = await store.add_ideas(inv.id, ["the last ferry"])

    kept = await store.ideas(inv.id)
    assert [idea.id for idea in kept] == first + more
    assert [idea.text for idea in kept] == [
        "a lighthouse cat",
        "fog as a character",
        "the last ferry",
    ]
    assert [idea.position for idea in kept] == [1, 2, 3]
    assert all((idea.up, idea.down, idea.score) == (0, 0, 0) for idea in kept)
    assert await store.add_ideas(inv.id, []) == []
    assert await store.ideas("no-such-id") == []
    with pytest.raises(NotFound, match="No invocation 'no-such-id'"):
        await store.add_ideas("no-such-id", ["lost"])


async def test_one_vote_per_user_per_idea_the_last_one_counts(store: Store) -> None:
    inv = await finished(store, invocation(command="brainstorm"))
    cat, fog = await store.add_ideas(inv.id, ["a lighthouse cat", "fog as a character"])

    await store.vote(cat, "u-ada", 1)
    await store.vote(cat, "u-bram", 1)
    await store.vote(cat, "u-bram", 1)  # again: still one vote
    await store.vote(cat, "u-tess", -1)
    await store.vote(fog, "u-ada", 1)
    await store.vote(fog, "u-ada", -1)  # changed her mind

    totals = {idea.id: (idea.up, idea.down, idea.score) for idea in await store.ideas(inv.id)}
    assert totals == {cat: (2, 1, 1), fog: (0, 1, -1)}


async def test_bad_votes_are_refused(store: Store) -> None:
    inv = await finished(store, invocation(command="brainstorm"))
    (cat,) = await store.add_ideas(inv.id, ["a lighthouse cat"])

    with pytest.raises(InvalidInput, match=r"A vote is \+1 or -1, not 2"):
        await store.vote(cat, "u-ada", 2)
    with pytest.raises(NotFound, match="No idea 999999"):
        await store.vote(999999, "u-ada", 1)
    assert [(idea.up, idea.down) for idea in await store.ideas(inv.id)] == [(0, 0)]


# Undelivered results --------------------------------------------------------------------------


async def test_undelivered_results_wait_oldest_first_until_marked_delivered(store: Store) -> None:
    delivered_at_once = await finished(store, invocation(), 0)
    slack = await finished(store, invocation(platform="slack"), 1)
    discord = await finished(store, invocation(platform="discord"), 2)
    slack_later = await finished(store, invocation(platform="slack"), 3)
    await store.mark_delivered(delivered_at_once.id)
    for inv in (slack_later, slack):
        await store.keep_undelivered(
            inv.id, platform="slack", destination="C042/1712.5", reason="rate limited"
        )
    await store.keep_undelivered(
        discord.id, platform="discord", destination="9001", reason="gateway closed"
    )

    waiting = await store.undelivered()
    assert ids(waiting) == [slack.id, discord.id, slack_later.id]
    assert ids(await store.undelivered(platform="slack")) == [slack.id, slack_later.id]
    assert waiting[0].delivered is False
    assert waiting[0].delivery is not None
    assert (waiting[0].delivery.destination, waiting[0].delivery.reason) == (
        "C042/1712.5",
        "rate limited",
    )

    await store.mark_delivered(slack.id)

    assert ids(await store.undelivered(platform="slack")) == [slack_later.id]
    record = await store.get(slack.id)
    assert record is not None
    assert record.delivered is True
    once = await store.get(delivered_at_once.id)
    assert once is not None
    assert once.delivered is True
    with pytest.raises(NotFound):
        await store.keep_undelivered("no-such-id", platform="slack", destination="C1", reason="x")
    with pytest.raises(NotFound):
        await store.mark_delivered("no-such-id")


# A user's data: export and delete; retention --------------------------------------------------


async def two_users(store: Store) -> dict[str, object]:
    """Ada and Bram, each with invocations and ideas, each voting on the other's ideas."""
    ada1 = await finished(store, invocation("u-ada", command="brainstorm"), 1, prompt=10)
    ada2 = await finished(store, invocation("u-ada"), 2)
    bram = await finished(store, invocation("u-bram", command="brainstorm"), 3)
    ada_ideas = await store.add_ideas(ada1.id, ["ada's first", "ada's second"])
    bram_ideas = await store.add_ideas(bram.id, ["bram's only"])
    await store.vote(ada_ideas[0], "u-bram", 1)
    await store.vote(ada_ideas[1], "u-ada", 1)
    await store.vote(bram_ideas[0], "u-ada", -1)
    await store.vote(bram_ideas[0], "u-bram", 1)
    return {"ada": [ada1.id, ada2.id], "bram": bram.id, "bram_idea": bram_ideas[0]}


async def test_export_user_has_everything_of_that_user_and_nothing_of_others(store: Store) -> None:
    made = await two_users(store)

    export = await store.export_user("u-ada")

    assert export["user_id"] == "u-ada"
    assert [inv["id"] for inv in export["invocations"]] == made["ada"]
    assert {inv["user_id"] for inv in export["invocations"]} == {"u-ada"}
    assert export["invocations"][0]["started_at"] == "2026-03-01T09:01:00Z"
    assert export["invocations"][0]["result"]["title"] == "For u-ada"
    assert [(i["text"], i["up"], i["down"]) for i in export["ideas"]] == [
        ("ada's first", 1, 0),
        ("ada's second", 1, 0),
    ]
    assert sorted(v["value"] for v in export["votes"]) == [-1, 1]
    assert made["bram_idea"] in {v["idea_id"] for v in export["votes"]}
    assert "bram's only" not in str(export)
    assert datetime.fromisoformat(export["exported_at"]).tzinfo is not None
    assert kept_of(await store.export_user("u-nobody")) == ([], [], [])


def kept_of(export: dict[str, object]) -> tuple[object, object, object]:
    return export["invocations"], export["ideas"], export["votes"]


async def test_delete_user_removes_all_of_theirs_and_nothing_else(store: Store) -> None:
    made = await two_users(store)

    # 2 invocations + 2 ideas + Bram's vote on an idea of Ada's + Ada's 2 votes.
    assert await store.delete_user("u-ada") == 7

    assert kept_of(await store.export_user("u-ada")) == ([], [], [])
    assert [await store.get(i) for i in made["ada"]] == [None, None]  # type: ignore[attr-defined]
    assert ids(await store.history()) == [made["bram"]]
    (bram_idea,) = await store.ideas(str(made["bram"]))
    assert (bram_idea.text, bram_idea.up, bram_idea.down) == ("bram's only", 1, 0)
    assert await store.tokens_used("u-ada", since=T0) == 0
    assert await store.delete_user("u-ada") == 0


async def test_prune_removes_what_started_before_the_cutoff_with_its_ideas_and_votes(
    store: Store,
) -> None:
    old = await finished(store, invocation(command="brainstorm"), 0)
    (old_idea,) = await store.add_ideas(old.id, ["old idea"])
    await store.vote(old_idea, "u-bram", 1)
    recent = await finished(store, invocation(command="brainstorm"), 10)
    (recent_idea,) = await store.add_ideas(recent.id, ["recent idea"])
    await store.vote(recent_idea, "u-bram", 1)

    assert await store.prune(older_than=T0 + timedelta(minutes=10)) == 3

    assert ids(await store.history()) == [recent.id]
    assert [(i.text, i.up) for i in await store.ideas(recent.id)] == [("recent idea", 1)]
    assert await store.ideas(old.id) == []
    assert await store.prune(older_than=T0 + timedelta(minutes=10)) == 0


async def test_prune_expired_applies_the_retention_setting(store: Store) -> None:
    now = T0 + timedelta(days=30)
    old = await finished(store, invocation(), 0)
    recent = await finished(store, invocation(), 60 * 24 * 25)

    assert await prune_expired(store, StoreSettings(), now=now) == 0
    assert ids(await store.history()) == [recent.id, old.id]
    assert await prune_expired(store, StoreSettings(retention_days=7), now=now) == 1
    assert ids(await store.history()) == [recent.id]
