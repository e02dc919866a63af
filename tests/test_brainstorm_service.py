"""Brainstorm ideas in team use, through the command service and a real store: stored with
ids, voted on, not repeated in a channel or conversation, developed by number."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from musekit import CommandSpec, Context, Invocation, Invoker, Params, Result, hookimpl
from musekit.plugins import PluginHost
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.store import Store, open_store
from musekit.testing import FakeEngine
from musekit_plugins import brainstorm, rules

FIRST = ["Give every employee a free bike on their first day", "Put showers in every office"]
SECOND = ["Pay a small bonus for each day people cycle", "Close one street each Sunday"]


def replies(*ideas: str) -> str:
    return json.dumps({"ideas": [{"idea": idea, "likelihood": 0.3} for idea in ideas]})


class Raw(Params):
    text: str = "x"


class DataPlugin:
    """A command returning the ``data`` it was made with."""

    MUSEKIT_API = (1,)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @hookimpl
    def register_commands(self, register: Any) -> None:
        async def handler(ctx: Context, params: Raw) -> Result:
            return Result(title="data", data=self.data)

        register(CommandSpec(name="data", description="data", params=Raw), handler)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await open_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def service(store: Store, engine: FakeEngine, data: dict[str, Any] | None = None) -> CommandService:
    host = PluginHost(plugin_config={"brainstorm": {"top_up_rounds": 0}})
    host.add(brainstorm, name="brainstorm")
    host.add(rules, name="rules")
    host.add(DataPlugin(data or {}), name="data")
    return CommandService(Runner(host, engine), store)


def ask(**fields: Any) -> Invocation:
    params = fields.pop("params", {"topic": "cycling to work", "count": 2})
    return Invocation(command="brainstorm", params=params, **fields)


def data(result: Result | None) -> Any:
    """The result's data, as JSON for the test to read."""
    assert result is not None
    return result.data


def idea_texts(result: Result | None) -> list[str]:
    return [idea["text"] for idea in data(result)["ideas"]]


async def test_ideas_are_stored_with_their_ids_written_into_the_result_and_votes_rank_them(
    store: Store,
) -> None:
    invocation = ask(platform="slack", channel="C1")
    outcome = await service(store, FakeEngine(default=replies(*FIRST))).submit(invocation)

    assert outcome.status == "ok"
    assert outcome.result is not None
    ideas = outcome.result.data["ideas"]
    stored = await store.ideas(invocation.id)
    assert [idea.text for idea in stored] == idea_texts(outcome.result)
    assert [i["id"] for i in data(outcome.result)["ideas"]] == [idea.id for idea in stored]
    record = await store.get(invocation.id)
    assert record is not None
    assert record.result is not None
    assert record.result.data["ideas"] == ideas  # recorded with the ids

    second = stored[1].id
    await store.vote(second, "U1", 1)
    await store.vote(second, "U2", 1)
    await store.vote(stored[0].id, "U1", -1)
    ranking = sorted(await store.ideas(invocation.id), key=lambda idea: -idea.score)
    assert [(idea.id, idea.score) for idea in ranking] == [(second, 2), (stored[0].id, -1)]


async def test_a_second_brainstorm_in_the_channel_does_not_repeat_the_first(store: Store) -> None:
    engine = FakeEngine(default=replies(*FIRST))
    run = service(store, engine)
    first = await run.submit(ask(platform="slack", channel="C1"))
    assert sorted(idea_texts(first.result)) == sorted(FIRST)

    engine.default = replies(FIRST[0].upper(), *SECOND, FIRST[1])
    again = await run.submit(ask(platform="slack", channel="C1"))
    assert sorted(idea_texts(again.result)) == sorted(SECOND)
    assert again.result is not None
    assert data(again.result)["diversity"]["repeats_of_earlier"] == 2  # in its one request
    assert "Already suggested (do not repeat): " in engine.requests[-1].messages[-1].content

    elsewhere = await run.submit(ask(platform="slack", channel="C2"))
    assert elsewhere.result is not None
    assert data(elsewhere.result)["diversity"]["repeats_of_earlier"] == 0
    assert "Already suggested" not in engine.requests[-1].messages[-1].content


async def test_more_like_develops_an_idea_of_this_channel_and_not_of_another(store: Store) -> None:
    engine = FakeEngine(default=replies(*FIRST))
    run = service(store, engine)
    first = await run.submit(ask(platform="discord", channel="C1", conversation="T1"))
    assert first.result is not None
    number = data(first.result)["ideas"][1]["id"]
    developed_text = data(first.result)["ideas"][1]["text"]

    engine.default = replies("Lend folding bikes to people who take the train")
    developed = await run.submit(
        ask(platform="discord", channel="C1", params={"more_like": number, "count": 1})
    )
    assert developed.status == "ok"
    assert developed.result is not None
    assert developed.result.data["expanding"] == {"id": number, "text": developed_text}
    assert (
        engine.requests[-1].messages[-1].content.startswith(f"Idea to develop: {developed_text}\n")
    )

    requests = len(engine.requests)
    other = await run.submit(
        ask(platform="discord", channel="C2", params={"more_like": number, "count": 1})
    )
    assert other.status == "error"
    assert other.private
    assert other.message == (
        f"There is no idea #{number} in this channel or conversation to develop; use the "
        "number shown with an idea brainstormed here."
    )
    assert len(engine.requests) == requests


async def test_earlier_ideas_are_those_of_the_channel_or_conversation_on_the_platform(
    store: Store,
) -> None:
    async def with_idea(text: str, **fields: Any) -> int:
        invocation = Invocation(command="brainstorm", **fields)
        await store.record_start(invocation, started_at=datetime.now(UTC))
        return (await store.add_ideas(invocation.id, [text]))[0]

    in_channel = await with_idea("channel idea", platform="slack", channel="C1")
    in_thread = await with_idea("thread idea", platform="slack", channel="C9", conversation="T1")
    await with_idea("other channel", platform="slack", channel="C2")
    await with_idea("other platform", platform="discord", channel="C1")
    mine = await with_idea("my cli idea", platform="cli", invoker=Invoker(user_id="me"))
    await with_idea("their cli idea", platform="cli", invoker=Invoker(user_id="them"))

    async def seen(**fields: Any) -> list[int]:
        return [i.id for i in await store.earlier_ideas(Invocation(command="x", **fields))]

    assert await seen(platform="slack", channel="C1") == [in_channel]
    assert await seen(platform="slack", channel="C1", conversation="T1") == [
        in_thread,
        in_channel,
    ]  # newest first
    assert await seen(platform="slack", conversation="T1") == [in_thread]
    assert await seen(platform="cli", invoker=Invoker(user_id="me")) == [mine]
    assert await seen(platform="teams", channel="C1") == []
    latest = await store.earlier_ideas(
        Invocation(command="x", platform="slack", channel="C1", conversation="T1"), limit=1
    )
    assert [idea.id for idea in latest] == [in_thread]


async def test_idea_texts_are_neutralised_and_malformed_ideas_are_left_unstored(
    store: Store,
) -> None:
    mention = {"ideas": [{"id": None, "text": "Ping @everyone at lunch", "lens": "x"}]}
    ok = await service(store, FakeEngine(), mention).submit(Invocation(command="data"))
    assert ok.result is not None
    [idea] = data(ok.result)["ideas"]
    assert idea["text"] != "Ping @everyone at lunch"
    assert "everyone" in idea["text"]
    assert idea["lens"] == "x"
    assert [i.text for i in await store.ideas(ok.invocation_id)] == [idea["text"]]

    malformed = {"ideas": [{"text": "fine"}, "not an object"]}
    odd = await service(store, FakeEngine(), malformed).submit(Invocation(command="data"))
    assert odd.status == "ok"
    assert odd.result is not None
    assert odd.result.data["ideas"] == [{"text": "fine"}, "not an object"]
    assert await store.ideas(odd.invocation_id) == []
