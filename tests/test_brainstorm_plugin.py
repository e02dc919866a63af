"""The brainstorm pipeline on a scripted engine: lenses, parsing, duplicates, choice, figures.

The service side (ideas stored with ids, not repeated in a channel, votes) is in
test_brainstorm_service.py.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import Script

from musekit import ChatRequest, EngineError, Invocation, Turn, UsageError
from musekit.context import EarlierIdea, IdeaSource
from musekit.diversity import IdeaSpace, distinct_n
from musekit.errors import CommandTimeout, InvalidParameters
from musekit.runner import Runner
from musekit.testing import FakeEngine, check_conformance, make_kit
from musekit.testing.kit import Kit, Outcome, run_sync
from musekit_plugins import brainstorm
from musekit_plugins.brainstorm_lenses import LENSES

Reply = Callable[[ChatRequest, int], str]


def lens_of(request: ChatRequest) -> str:
    found = re.search(r"^Angle: (.*)$", request.messages[-1].content, flags=re.MULTILINE)
    assert found is not None, "every request names its lens"
    return found[1]


def as_json(*ideas: str) -> str:
    return json.dumps({"ideas": [{"idea": idea, "likelihood": 0.2} for idea in ideas]})


def by_lens(replies: dict[str, Sequence[str]], default: Sequence[str] = ()) -> Reply:
    """A reply function: each lens's ideas as schema JSON."""

    def reply(request: ChatRequest, index: int) -> str:
        return as_json(*replies.get(lens_of(request), default))

    return reply


def kit(engine: FakeEngine, **settings: Any) -> Kit:
    return make_kit({"brainstorm": brainstorm}, engine=engine, settings={"brainstorm": settings})


def run(
    kit_: Kit,
    params: dict[str, Any],
    *,
    ideas: IdeaSource | None = None,
    history: Sequence[Turn] = (),
) -> Outcome:
    """Run brainstorm through the real runner, with earlier ideas as the service gives them."""
    invocation = Invocation(command="brainstorm", params=params)

    async def go() -> Any:
        return await Runner(kit_.host, kit_.engine).run(
            invocation, ideas=ideas, history=tuple(history)
        )

    result = run_sync(go())
    return Outcome(result=result, requests=tuple(kit_.engine.requests))


def texts_of(done: Outcome) -> list[str]:
    ideas: Any = done.result.data["ideas"]
    return [idea["text"] for idea in ideas]


def earlier(*ideas: tuple[int, str]) -> IdeaSource:
    async def load() -> list[EarlierIdea]:
        return [EarlierIdea(id=number, text=text) for number, text in ideas]

    return load


SCAMPER_IDEAS = {
    "Substitute: replace a part, a material or a person": [
        "Replace the car park with a covered bike shelter",
        "Swap company cars for company cargo bikes",
        "Swap plastic trays for washable ones the pupils decorate",  # the worked example's
        "Replace the car park with a covered bike shelter!",  # its own twin
    ],
    "Combine: merge it with something else": [
        "Combine the commute with a breakfast stop for cyclists",
        "Merge the bike ride with a charity step challenge",
        "Swap company cars for company cargo bikes",  # Substitute's
        "Pair new riders with a cycling buddy from the team",
    ],
    "Adapt: copy an idea that works somewhere else": [
        "Copy Dutch school streets and close roads at rush hour",
        "Use airline miles style points for every kilometre ridden",
        "Borrow the gym model: monthly bike servicing subscriptions",
        "Copy Dutch school streets and close the roads at rush hour",  # twin
    ],
}


def test_the_pipeline_over_generates_through_lenses_and_delivers_distinct_ideas() -> None:
    engine = FakeEngine(default=by_lens(SCAMPER_IDEAS))
    # 5 ideas x 5.6 = 28 asked for, 4 a request: 7 requests, one through each SCAMPER lens.
    done = kit(engine, oversample=5.6).invoke(
        "brainstorm", "getting staff to cycle to work", technique="scamper", count=5, seed=1
    )

    assert sorted(lens_of(r) for r in done.requests) == sorted(LENSES["scamper"])
    request = done.request
    assert request.json_schema == brainstorm.ideas_schema(4)
    assert "Topic: getting staff to cycle to work" in request.messages[-1].content
    assert request.messages[-1].content.endswith("Give 4 ideas.")

    ideas: Any = done.result.data["ideas"]
    texts = texts_of(done)
    assert len(texts) == 5
    assert all(idea["id"] is None for idea in ideas)
    drafted = {idea for lens in SCAMPER_IDEAS.values() for idea in lens}
    assert set(texts) <= drafted
    assert "Swap plastic trays for washable ones the pupils decorate" not in texts
    assert len({t.lower().rstrip("!").replace("the roads", "roads") for t in texts}) == 5
    assert done.result.text == "\n".join(f"- {t}" for t in texts)
    assert done.result.warnings == []

    # 12 drafted: the worked example's copy and three twins removed, 8 distinct left.
    figures = done.result.data["diversity"]
    assert isinstance(figures, dict)
    assert figures["candidates"] == 12
    assert figures["duplicates_removed"] == 4
    assert figures["repeats_of_earlier"] == 0
    assert figures["distinct_candidates"] == 8
    assert figures["distinct_2"] == round(distinct_n(texts, 2), 3)
    assert figures["requests"] == 7
    fields = {f.name: f.value for f in done.result.fields}
    assert fields["technique"] == "SCAMPER"
    assert fields["ideas"] == "5 of 5 asked, from 12 drafted through 7 lenses"
    assert fields["diversity"].startswith(
        f"distinct-2 {figures['distinct_2']:.2f}, mean similarity"
    )
    assert fields["diversity"].endswith(", 4 near-duplicates removed")


def test_with_too_few_distinct_ideas_one_more_round_asks_then_a_warning_says_so() -> None:
    same = ["Build a bike lane on the high street"] * 4
    engine = FakeEngine(default=as_json(*same))
    done = kit(engine).invoke("brainstorm", "cycling", count=3, seed=2)

    # 3 x 2 -> 6 asked (2 requests); 1 distinct; then 2 x (3 - 1) + 2 = 6 more (2 requests).
    assert len(done.requests) == 4
    assert texts_of(done) == [same[0]]
    assert done.result.warnings == [
        "Only 1 distinct ideas of the 3 asked for: the others repeated each other or ideas "
        "already given here."
    ]
    figures = done.result.data["diversity"]
    assert isinstance(figures, dict)
    assert (figures["candidates"], figures["duplicates_removed"]) == (16, 15)


def test_without_structured_output_it_asks_for_a_list_and_reads_it() -> None:
    reply = "Here are ideas:\n1. Give staff a bike voucher\n2. Run a bike breakfast on Fridays"
    engine = FakeEngine(default=reply)
    done = kit(engine, structured=False, top_up_rounds=0).invoke("brainstorm", "cycling", count=2)
    assert done.request.json_schema is None
    assert "numbered list" in done.request.messages[0].content
    example = done.request.messages[2].content
    assert example.startswith("1. Swap plastic trays for washable ones the pupils decorate")
    texts = texts_of(done)
    assert sorted(texts) == ["Give staff a bike voucher", "Run a bike breakfast on Fridays"]


def test_constraints_audience_and_samples_reach_every_request() -> None:
    engine = FakeEngine(default=as_json("Give staff a bike voucher each spring"))
    done = kit(engine, samples=2, ideas_per_request=3, top_up_rounds=0).invoke(
        "brainstorm", "cycling", count=2, constraints="no budget", audience="nurses"
    )
    assert len(done.requests) == 1  # 4 ideas asked, 2 samples x 3 ideas a request
    request = done.request
    assert request.n == 2
    assert "Constraints: no budget\nAudience: nurses\nGive 3 ideas." in request.messages[-1].content
    assert request.sampling.max_tokens == 3 * brainstorm.TOKENS_PER_IDEA + brainstorm.TOKENS_SPARE


def test_a_seed_repeats_the_lenses_and_no_seed_varies_them() -> None:
    def lenses(seed: int | None) -> list[str]:
        engine = FakeEngine(default=as_json("An idea of some words"))
        done = kit(engine, top_up_rounds=0).invoke("brainstorm", "x", count=8, seed=seed)
        return [lens_of(r) for r in done.requests]

    assert lenses(5) == lenses(5)
    assert len({tuple(lenses(None)) for _ in range(6)}) > 1


def test_a_thread_reply_sees_the_earlier_turns_before_its_request() -> None:
    engine = FakeEngine(default=as_json("Cheaper: share one van between teams"))
    turn = Turn(command="brainstorm", params={"topic": "team outings"}, text="- Go bowling")
    done = run(
        kit(engine, top_up_rounds=0), {"topic": "make them cheaper", "count": 1}, history=[turn]
    )
    roles = [m.role for m in done.request.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert done.request.messages[3].content == "topic: team outings"
    assert done.request.messages[4].content == "- Go bowling"
    assert "Topic: make them cheaper" in done.request.messages[5].content


def test_ideas_already_given_here_are_not_repeated_and_are_named_to_avoid() -> None:
    old = "Give every employee a free bike on their first day"
    engine = FakeEngine(
        default=as_json(old.upper(), "Put showers and lockers in every office", "Fix bikes free")
    )
    done = run(
        kit(engine, top_up_rounds=0),
        {"topic": "cycling to work", "count": 3},
        ideas=earlier((7, old), (6, "Host a ride to the coast")),
    )
    texts = texts_of(done)
    assert sorted(texts) == ["Fix bikes free", "Put showers and lockers in every office"]
    figures = done.result.data["diversity"]
    assert isinstance(figures, dict)
    assert figures["repeats_of_earlier"] == 2  # once in each of the two requests
    assert (
        "Already suggested (do not repeat): " + old + "; Host a ride to the coast"
    ) in done.request.messages[-1].content


def test_more_like_develops_an_earlier_idea_through_the_expand_lenses() -> None:
    engine = FakeEngine(default=as_json("Parents run a cargo-bike lending scheme from the school"))
    done = run(
        kit(engine, top_up_rounds=0),
        {"more_like": 3, "count": 1},
        ideas=earlier((4, "Paint the racks gold"), (3, "A bike library for the street")),
    )
    ask = done.request.messages[-1].content
    assert ask.startswith("Idea to develop: A bike library for the street\nAngle: ")
    assert "Topic:" not in ask
    assert {lens_of(r) for r in done.requests} <= set(LENSES["expand"])
    assert done.result.title == "More like #3: A bike library for the street"
    assert done.result.data["expanding"] == {"id": 3, "text": "A bike library for the street"}
    assert done.result.data["technique"] == "expand"
    assert {"name": "technique", "value": "more like #3"} in [
        f.model_dump() for f in done.result.fields
    ]


def test_more_like_an_idea_not_given_here_is_a_usage_error_before_any_request() -> None:
    engine = FakeEngine()
    with pytest.raises(UsageError, match=r"There is no idea #9 in this channel or conversation"):
        run(kit(engine), {"more_like": 9}, ideas=earlier((3, "A bike library")))
    with pytest.raises(UsageError, match="#9"):
        run(kit(engine), {"more_like": 9})  # no store at all
    assert engine.requests == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"topic": "x", "count": 0}, "count"),
        ({"topic": "x", "count": 21}, "count"),
        ({"topic": "x", "technique": "mindmap"}, "technique"),
        ({"count": 3}, "(parameters)"),
        ({"topic": "x", "more_like": 0}, "more_like"),
        ({"topic": ""}, "topic"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(params: dict[str, Any], field: str) -> None:
    engine = FakeEngine()
    with pytest.raises(InvalidParameters) as refused:
        run(kit(engine), params)
    assert [p.field for p in refused.value.problems] == [field]
    assert engine.requests == []


def test_a_model_failing_every_request_is_the_engine_error_and_some_failing_a_warning() -> None:
    engine = FakeEngine()
    engine.fail_next(EngineError("The model is unavailable."), times=4)
    with pytest.raises(EngineError, match="unavailable"):
        kit(engine).invoke("brainstorm", "cycling", count=4)

    engine = FakeEngine(default=as_json("Give staff a bike voucher each spring"))
    engine.fail_next(EngineError("busy"))
    done = kit(engine, top_up_rounds=0).invoke("brainstorm", "cycling", count=4)
    assert "1 of 2 requests to the model failed." in done.result.warnings


def test_requests_past_the_time_budget_are_cancelled_and_the_finished_ones_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One request at a time, 0.5 s each, and 0.8 s to spend: the first finishes, the second not.
    monkeypatch.setattr(brainstorm, "TIME_SHARE", 0.8 / brainstorm.LIMITS.max_seconds)
    engine = FakeEngine(default=as_json("Give staff a bike voucher each spring"), latency=0.5)
    done = kit(engine, parallel=1).invoke("brainstorm", "cycling", count=4)
    assert texts_of(done) == ["Give staff a bike voucher each spring"]
    assert len(done.requests) == 2  # the second started, and was cancelled; no top-up
    assert done.result.warnings[-1] == (
        "Stopped waiting for the model after 0.8 seconds; these ideas come from the requests "
        "that had finished."
    )

    engine = FakeEngine(default=as_json("Give staff a bike voucher each spring"), latency=2.0)
    with pytest.raises(CommandTimeout, match=r"The model gave no ideas within 0.8 seconds"):
        kit(engine).invoke("brainstorm", "cycling", count=4)


def test_nothing_usable_is_a_warning_not_an_empty_list_passed_off_as_ideas() -> None:
    done = kit(FakeEngine(default="I cannot help with that."), top_up_rounds=0).invoke(
        "brainstorm", "cycling", count=2
    )
    assert done.result.data["ideas"] == []
    assert done.result.text == "No ideas."
    assert done.result.warnings == [
        "The model gave no usable ideas; try again or rephrase the topic."
    ]


@pytest.mark.model
def test_on_the_embedded_model_distinct_ideas_come_back_stored_with_ids(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One request of four ideas on one thread keeps this quick; the tiny model's ideas
    # need not be good, but what is delivered must be distinct, stored and reported truly.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    for setting, value in (("OVERSAMPLE", "1"), ("TOP_UP_ROUNDS", "0")):
        monkeypatch.setenv(f"MUSEKIT_PLUGIN_CONFIG__BRAINSTORM__{setting}", value)
    topic = "ways to get more people to cycle to work"
    done = musekit_script("run", "brainstorm", topic, "--count", "2", "--json", timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "brainstorm"
    ideas = result["data"]["ideas"]
    texts = [idea["text"] for idea in ideas]
    assert 1 <= len(texts) <= 2, result["warnings"]
    assert all(isinstance(idea["id"], int) for idea in ideas)  # stored by the service
    assert result["sections"][0]["body"] == "\n".join(f"- {text}" for text in texts)
    assert IdeaSpace(texts).deduplicate(range(len(texts))).removed == 0
    figures = result["data"]["diversity"]
    assert figures["distinct_2"] == round(distinct_n(texts, 2), 3)
    assert figures["requests"] == 1
    assert figures["candidates"] >= len(texts)
    assert 0 < result["metrics"]["completion_tokens"] <= 4 * brainstorm.TOKENS_PER_IDEA + 24


def test_the_diversity_bench_counts_what_each_side_delivers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "bench"))
    bench = importlib.import_module("brainstorm_diversity")
    plain = "1. Build a bike lane in town\n2. Build a bike lane in the town\n3. Give staff bikes"

    def reply(request: ChatRequest, index: int) -> str:
        if request.json_schema is None:  # the plain prompt
            return plain
        return as_json(f"Idea through {lens_of(request)}", "Give staff bikes")

    engine = FakeEngine(default=reply)
    baseline = run_sync(bench.baseline(engine, "cycling", 3, None))
    assert engine.requests[0].messages[-1].content == "Give me 3 ideas for: cycling"
    assert (baseline.delivered, baseline.distinct) == ([3], [2])
    full = run_sync(bench.pipeline(engine, "cycling", 3, None))
    assert (full.delivered, full.distinct) == ([3], [3])
    assert full.similarity[0] < baseline.similarity[0]
    assert full.tokens[0] > 0

    bench.report(baseline, full, 1, 3)
    shown = capsys.readouterr().out
    assert "distinct ideas (total)" in shown
    assert "1.50x" in shown  # 3 distinct against 2
    assert shown.rstrip().endswith("target (more distinct ideas, lower mean similarity): met")


def test_the_command_passes_the_conformance_check() -> None:
    """User text only in the last message, examples that run, no engine secret shown."""
    assert check_conformance(make_kit({"brainstorm": brainstorm}), "brainstorm") == []
