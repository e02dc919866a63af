"""musekit's OpenAI-compatible engine against a real server it did not write: llama_cpp.server.

llama-cpp-python's own server runs the bundled model on loopback; the engine talks
to it in its "llama-cpp" dialect (``json_object`` schemas, no ``n``: several
samples are several calls, sample i with seed + i).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from musekit.engine.models import default_model_path
from musekit.engine.openai.engine import OpenAIEngine
from musekit.engine.types import ChatRequest, Delta, Message, Sampling, Usage
from musekit.settings import OpenAISettings

pytestmark = pytest.mark.model

ASK = (Message(role="user", content="Write one sentence about the sea."),)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with the bundled model; its /v1 URL once it answers."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "log.txt"
    output = log.open("wb")  # llama.cpp logs a lot: a pipe nobody reads would fill and block
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
        stdout=output,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text("utf-8", "replace")[-2000:]
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "llama_cpp.server did not start in 30 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        output.close()


def settings(url: str, health_interval: float = 2.0) -> OpenAISettings:
    return OpenAISettings(base_urls=[url], dialect="llama-cpp", health_interval=health_interval)


@pytest.fixture
async def engine(llama_server: str) -> AsyncIterator[OpenAIEngine]:
    engine = OpenAIEngine(settings(llama_server))
    yield engine
    await engine.aclose()


def request(**sampling: object) -> ChatRequest:
    return ChatRequest(
        messages=ASK, sampling=Sampling.model_validate({"seed": 11, "max_tokens": 24, **sampling})
    )


async def test_streams_text_then_usage_with_a_finish_reason(engine: OpenAIEngine) -> None:
    events = [event async for event in engine.stream(request())]

    deltas = [e for e in events if isinstance(e, Delta)]
    usage = events[-1]
    assert isinstance(usage, Usage)
    assert len([d for d in deltas if d.text]) > 1  # streamed, not one block
    assert "".join(d.text for d in deltas).strip()
    assert deltas[-1].finish_reason in ("stop", "length")
    assert {d.index for d in deltas} == {0}
    # llama_cpp.server streams no usage chunk: the engine counts one token per content chunk.
    assert usage.completion_tokens == len([d for d in deltas if d.text]) <= 24
    assert engine.model  # discovered from /v1/models


async def test_a_json_schema_is_honoured(engine: OpenAIEngine) -> None:
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["colour", "count"],
    }
    wanted = ChatRequest(
        messages=(Message(role="user", content="Name a colour and a number, as JSON."),),
        sampling=Sampling(seed=3, max_tokens=60, temperature=0.0),
        json_schema=schema,
    )

    answer = json.loads((await engine.complete(wanted)).text)

    assert isinstance(answer["colour"], str)
    assert isinstance(answer["count"], int)


async def test_n_samples_come_back_indexed_as_separate_samples(engine: OpenAIEngine) -> None:
    three = await engine.complete(request().model_copy(update={"n": 3}))

    texts = [c.text for c in three.choices]
    assert [c.index for c in three.choices] == [0, 1, 2]
    assert all(text.strip() for text in texts)
    assert len(set(texts)) > 1  # seeds 11, 12, 13: three samples, not one repeated
    assert 3 <= three.usage.completion_tokens <= 3 * 24


async def test_running_out_of_tokens_finishes_with_length(engine: OpenAIEngine) -> None:
    completion = await engine.complete(request(max_tokens=3).model_copy(update={"n": 2}))

    assert [c.finish_reason for c in completion.choices] == ["length", "length"]
    assert completion.usage.completion_tokens == 6


async def test_health_probes_do_not_cut_off_a_streaming_answer(llama_server: str) -> None:
    engine = OpenAIEngine(settings(llama_server, health_interval=0.1))
    try:
        completion = await engine.complete(request(max_tokens=64))
    finally:
        await engine.aclose()
    assert completion.text.strip()
