"""The embedded llama.cpp engine, on the real SmolLM2-135M model where it matters.

The model loads in a fraction of a second, so tests that need their own engine
(a small queue, a small context) simply make one.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from conftest import Script
from pydantic import BaseModel, Field

from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path, resolve_model_path
from musekit.engine.types import ChatRequest, Delta, Message, Sampling, StreamEvent, Usage
from musekit.errors import EngineBusy, EngineError, EngineUnavailable, PromptTooLong

MODEL = default_model_path()
SYSTEM = "You are a helpful writing assistant."
# Every sampling parameter is set, so a mapping mistake shows against raw llama.cpp.
SAMPLING = Sampling(
    temperature=0.8, top_p=0.95, min_p=0.05, top_k=40, repetition_penalty=1.1, max_tokens=48
)
LONG = 400  # tokens: 5 s or more of generation, far longer than any wait below
STOPPED = 2.0  # seconds: a cancelled generation must end well before LONG would


def make_engine(**options: Any) -> EmbeddedEngine:
    # One thread: llama.cpp's threads spin-wait on each other, so on a busy machine
    # (a parallel CI job) several threads can slow down tenfold and timings swing.
    return EmbeddedEngine(MODEL, threads=1, **options)


def chat(
    text: str, *, n: int = 1, json_schema: dict[str, Any] | None = None, **sampling: Any
) -> ChatRequest:
    return ChatRequest(
        messages=(Message(role="system", content=SYSTEM), Message(role="user", content=text)),
        sampling=SAMPLING.model_copy(update=sampling),
        n=n,
        json_schema=json_schema,
    )


async def events_of(engine: EmbeddedEngine, request: ChatRequest) -> list[StreamEvent]:
    async with aclosing(engine.stream(request)) as stream:
        return [event async for event in stream]


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> float:
    """Poll ``condition()`` until true; return the seconds it took."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > within:
            raise AssertionError(f"condition not reached within {within}s")
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


async def first_delta(engine: EmbeddedEngine, request: ChatRequest) -> asyncio.Task[None]:
    """Start streaming ``request`` in a task and return once its first text arrived."""
    started = asyncio.Event()

    async def consume() -> None:
        async with aclosing(engine.stream(request)) as stream:
            async for event in stream:
                if isinstance(event, Delta) and event.text:
                    started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), timeout=10)
    return task


@pytest.fixture(scope="module")
def llm() -> Iterator[EmbeddedEngine]:
    engine = make_engine(context_length=1024)
    yield engine
    asyncio.run(engine.aclose())


@pytest.fixture(scope="module")
def raw(llm: EmbeddedEngine) -> Any:
    """llama-cpp-python used directly, the reference the engine must agree with."""
    from llama_cpp import Llama

    return Llama(model_path=str(MODEL), n_ctx=1024, n_threads=llm.threads, verbose=False)


def reference(raw: Any, request: ChatRequest, seed: int) -> dict[str, Any]:
    s = request.sampling
    result: dict[str, Any] = raw.create_chat_completion(
        messages=[m.model_dump() for m in request.messages],
        temperature=s.temperature,
        top_p=s.top_p,
        min_p=s.min_p,
        top_k=s.top_k,
        repeat_penalty=s.repetition_penalty,
        max_tokens=s.max_tokens,
        stop=list(s.stop),
        seed=seed,
    )
    return result


@pytest.mark.model
@pytest.mark.parametrize(
    ("text", "sampling", "finish"),
    [
        ("Reply with one word: is the sea wet?", {}, "stop"),  # ends by itself
        ("Write a long story about a dragon.", {"max_tokens": 12}, "length"),
        ("Write a poem about rain.", {"stop": ("\n",)}, "stop"),  # a stop sequence ends it
    ],
)
async def test_stream_gives_llama_cpp_text_usage_and_finish(
    llm: EmbeddedEngine, raw: Any, text: str, sampling: dict[str, Any], finish: str
) -> None:
    request = chat(text, seed=11, **sampling)
    events = await events_of(llm, request)
    expected = reference(raw, request, seed=11)

    *deltas, usage = events
    assert all(isinstance(d, Delta) and d.index == 0 for d in deltas)
    assert [d.finish_reason for d in deltas] == [None] * (len(deltas) - 1) + [finish]
    streamed = "".join(d.text for d in deltas if isinstance(d, Delta))
    assert streamed == expected["choices"][0]["message"]["content"]
    assert expected["choices"][0]["finish_reason"] == finish
    assert usage == Usage(
        prompt_tokens=expected["usage"]["prompt_tokens"],
        completion_tokens=expected["usage"]["completion_tokens"],
    )


@pytest.mark.model
async def test_a_seed_repeats_a_result_and_another_seed_changes_it(llm: EmbeddedEngine) -> None:
    request = chat("Write a line about autumn.", seed=5)
    first = await llm.generate(request)
    assert await llm.generate(request) == first
    assert await llm.generate(request.with_sampling(seed=6)) != first


@pytest.mark.model
async def test_without_a_seed_each_request_samples_afresh(llm: EmbeddedEngine) -> None:
    request = chat("Write a line about autumn.", seed=None, max_tokens=24)
    texts = {await llm.generate(request) for _ in range(3)}
    assert len(texts) > 1


@pytest.mark.model
async def test_n_samples_are_tagged_by_index_and_seeded_like_vllm(llm: EmbeddedEngine) -> None:
    request = chat("Give me a name for a cat.", n=3, seed=20, max_tokens=16)
    *deltas, usage = await events_of(llm, request)
    texts = ["", "", ""]
    for delta in deltas:
        assert isinstance(delta, Delta)
        texts[delta.index] += delta.text
    ends = [d.index for d in deltas if isinstance(d, Delta) and d.finish_reason is not None]
    assert ends == [0, 1, 2]

    singles = [
        await llm.complete(chat(request.messages[1].content, seed=20 + i, max_tokens=16))
        for i in range(3)
    ]
    assert texts == [s.text for s in singles]
    assert usage == Usage(
        prompt_tokens=singles[0].usage.prompt_tokens,
        completion_tokens=sum(s.usage.completion_tokens for s in singles),
    )


class Idea(BaseModel):
    """Bounded strings: a tiny model left free inside a JSON string may ramble on."""

    title: str = Field(max_length=40)
    mood: Literal["calm", "stormy", "bright"]
    words: list[Annotated[str, Field(max_length=20)]] = Field(min_length=1, max_length=3)


@pytest.mark.model
@pytest.mark.parametrize("seed", [1, 2])
async def test_json_schema_output_parses_and_validates(llm: EmbeddedEngine, seed: int) -> None:
    request = chat(
        "Describe a painting of the sea as JSON.",
        json_schema=Idea.model_json_schema(),
        seed=seed,
        max_tokens=200,
    )
    choice = (await llm.complete(request)).choices[0]
    assert choice.finish_reason == "stop"
    Idea.model_validate_json(choice.text)


@pytest.mark.model
async def test_an_unsupported_schema_is_a_clear_error(llm: EmbeddedEngine) -> None:
    request = chat("Anything.", json_schema={"type": "string", "pattern": "a+"})
    with pytest.raises(EngineError, match="cannot constrain output to this JSON schema"):
        await llm.complete(request)


@pytest.mark.model
async def test_hitting_max_tokens_is_visible_as_truncation(llm: EmbeddedEngine) -> None:
    completion = await llm.complete(chat("Write a long story about a dragon.", max_tokens=5))
    assert completion.choices[0].truncated
    assert completion.usage.completion_tokens == 5


@pytest.mark.model
async def test_the_event_loop_keeps_running_while_the_model_loads_and_generates() -> None:
    engine = make_engine(context_length=512)  # not loaded yet: loading is timed too
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    completion = await engine.complete(chat("Write about a storm.", max_tokens=64, seed=1))
    elapsed = time.perf_counter() - started
    ticking.cancel()
    await engine.aclose()

    assert completion.usage.completion_tokens > 0
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    # Loading takes ~0.2 s and generating ~1 s: either, run on the loop, would stall it.
    assert max(gaps) < 0.15, f"the loop stalled for {max(gaps):.3f}s"
    assert len(ticks) > elapsed / 0.02


@pytest.mark.model
async def test_requests_run_first_come_first_served(llm: EmbeddedEngine) -> None:
    order: list[str] = []

    async def run(name: str, max_tokens: int) -> None:
        await llm.complete(chat("Write about a river.", max_tokens=max_tokens, seed=1))
        order.append(name)

    tasks = []
    for name, max_tokens in [("a", 24), ("b", 8), ("c", 4), ("d", 2)]:
        tasks.append(asyncio.create_task(run(name, max_tokens)))
        admitted = len(tasks)
        await wait_until(lambda: llm.pending == admitted)  # noqa: B023 - awaited at once
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c", "d"]


@pytest.mark.model
async def test_past_the_queue_bound_callers_get_busy_at_once() -> None:
    engine = make_engine(context_length=512, max_queue=1)
    running = await first_delta(engine, chat("Write a long story.", max_tokens=LONG))
    waiting = asyncio.create_task(engine.complete(chat("Say hi.", max_tokens=4)))
    await wait_until(lambda: engine.pending == 2)

    started = time.perf_counter()
    with pytest.raises(EngineBusy, match="busy"):
        await engine.complete(chat("Say hi.", max_tokens=4))
    assert time.perf_counter() - started < 0.1

    running.cancel()
    assert (await asyncio.wait_for(waiting, 5)).usage.completion_tokens > 0
    await engine.aclose()


@pytest.mark.model
async def test_cancelling_stops_generation_and_frees_the_worker(llm: EmbeddedEngine) -> None:
    task = await first_delta(llm, chat("Write a long story.", max_tokens=LONG))
    task.cancel()
    assert await wait_until(lambda: llm.pending == 0) < STOPPED
    assert (await llm.complete(chat("Say hi.", max_tokens=4))).usage.completion_tokens > 0


@pytest.mark.model
async def test_closing_the_stream_stops_generation(llm: EmbeddedEngine) -> None:
    async with aclosing(llm.stream(chat("Write a long story.", max_tokens=LONG))) as stream:
        async for event in stream:
            if isinstance(event, Delta) and event.text:
                break
    assert await wait_until(lambda: llm.pending == 0) < STOPPED


@pytest.mark.model
async def test_a_cancelled_waiting_request_gives_up_its_place() -> None:
    engine = make_engine(context_length=512, max_queue=1)
    running = await first_delta(engine, chat("Write a long story.", max_tokens=LONG))
    waiting = asyncio.create_task(engine.complete(chat("Say hi.", max_tokens=4)))
    await wait_until(lambda: engine.pending == 2)
    waiting.cancel()
    await wait_until(lambda: engine.pending == 1, within=0.5)
    third = asyncio.create_task(engine.complete(chat("Say hi.", max_tokens=4)))
    await wait_until(lambda: engine.pending == 2)
    running.cancel()
    assert (await asyncio.wait_for(third, 5)).usage.completion_tokens > 0
    await engine.aclose()


@pytest.mark.model
async def test_closing_the_engine_stops_work_and_refuses_more() -> None:
    engine = make_engine(context_length=512)
    running = await first_delta(engine, chat("Write a long story.", max_tokens=LONG))
    started = time.perf_counter()
    await engine.aclose()
    assert time.perf_counter() - started < STOPPED
    await asyncio.wait_for(running, 1)
    with pytest.raises(EngineUnavailable, match="shut down"):
        await engine.complete(chat("Say hi."))


@pytest.mark.model
async def test_a_prompt_longer_than_the_context_is_refused_clearly() -> None:
    engine = make_engine(context_length=256)
    with pytest.raises(PromptTooLong) as caught:
        await engine.complete(chat("tell me about the sea " * 100))
    assert "context window of 256 tokens" in caught.value.message
    assert "engine.context_length" in caught.value.message
    # The worker is free and the engine still answers requests that fit.
    assert (await engine.complete(chat("Say hi.", max_tokens=4))).usage.completion_tokens > 0
    await engine.aclose()


async def test_a_missing_model_file_is_unavailable(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"
    with pytest.raises(EngineUnavailable, match="no model file at"):
        resolve_model_path(missing)
    engine = EmbeddedEngine(missing)
    with pytest.raises(EngineUnavailable, match=r"'.*missing\.gguf' could not be loaded"):
        await engine.complete(chat("Say hi."))
    await engine.aclose()


async def test_a_file_that_is_not_gguf_is_unavailable(tmp_path: Path) -> None:
    fake = tmp_path / "notes.gguf"
    fake.write_text("these are not model weights\n" * 10, encoding="utf-8")
    with pytest.raises(EngineUnavailable, match="is not a GGUF model file"):
        resolve_model_path(fake)
    engine = EmbeddedEngine(fake)
    with pytest.raises(EngineUnavailable, match="not a valid GGUF model file"):
        await engine.complete(chat("Say hi."))
    await engine.aclose()


def test_a_model_path_setting_that_is_not_gguf_fails_the_cli_clearly(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n", encoding="utf-8")
    monkeypatch.setenv("MUSEKIT_ENGINE__MODEL_PATH", str(notes))
    done = musekit_script("run", "write", "first snow")
    assert done.returncode == 1
    assert f"engine.model_path: '{notes}' is not a GGUF model file" in done.stderr
    assert "Traceback" not in done.stderr

    doctor = musekit_script("doctor")
    assert doctor.returncode == 1
    assert "✗ Engine: engine.model_path:" in doctor.stdout


async def test_a_truncated_gguf_passes_the_magic_check_but_fails_to_load_clearly(
    tmp_path: Path,
) -> None:
    truncated = tmp_path / "truncated.gguf"
    with MODEL.open("rb") as model:
        truncated.write_bytes(model.read(64 * 1024))
    assert resolve_model_path(truncated) == truncated
    engine = EmbeddedEngine(truncated)
    with pytest.raises(EngineUnavailable, match="could not be loaded"):
        await engine.complete(chat("Say hi."))
    await engine.aclose()


def test_llama_cpp_is_imported_only_when_the_model_loads() -> None:
    code = (
        "import sys\n"
        "from musekit.engine.factory import create_engine\n"
        "from musekit.settings import EngineSettings\n"
        "engine = create_engine(EngineSettings())\n"
        "print(type(engine).__name__, 'llama_cpp' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["EmbeddedEngine", "False"]
