"""The OpenAI-compatible engine against the fake vLLM server, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from musekit.engine.openai.engine import OpenAIEngine
from musekit.engine.openai.wire import ChunkReader
from musekit.engine.types import ChatRequest, Delta, Message, Sampling, Usage
from musekit.errors import EngineBusy, EngineError, EngineUnavailable, PromptTooLong
from musekit.settings import OpenAISettings
from musekit.testing import FakeVLLM

ASK = ChatRequest(messages=(Message(role="user", content="write about snow"),))


def settings_for(*servers: FakeVLLM | str, **changes: Any) -> OpenAISettings:
    urls = [s if isinstance(s, str) else s.base_url for s in servers]
    return OpenAISettings(base_urls=urls, retry_backoff=0.01, **changes)


@pytest.fixture
async def server() -> AsyncIterator[FakeVLLM]:
    async with FakeVLLM(default="Soft white snow") as fake:
        yield fake


@pytest.fixture
async def engine(server: FakeVLLM) -> AsyncIterator[OpenAIEngine]:
    openai = OpenAIEngine(settings_for(server))
    yield openai
    await openai.aclose()


def dead_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_a_stream_yields_the_deltas_then_the_servers_usage(engine: OpenAIEngine) -> None:
    events = [event async for event in engine.stream(ASK)]

    *deltas, usage = events
    assert "".join(d.text for d in deltas if isinstance(d, Delta)) == "Soft white snow"
    assert deltas[-1] == Delta(0, "", "stop")
    assert usage == Usage(prompt_tokens=3, completion_tokens=3)
    assert engine.model == "fake-model"


async def test_the_body_uses_vllms_current_fields_and_nothing_removed(
    server: FakeVLLM, engine: OpenAIEngine
) -> None:
    request = ChatRequest(
        messages=(Message(role="system", content="Be brief."), *ASK.messages),
        sampling=Sampling(
            temperature=0.4,
            min_p=0.05,
            top_k=40,
            repetition_penalty=1.1,
            seed=9,
            stop=("\n\n",),
            max_tokens=33,
        ),
        json_schema={"type": "object", "properties": {"line": {"type": "string"}}},
        priority=-2,
        cache_salt="tenant-a",
        affinity="conversation-42",
    )

    await engine.complete(request)

    (body,) = server.requests
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": request.json_schema, "strict": True},
    }
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 33
    assert "max_tokens" not in body
    expected = {"min_p": 0.05, "top_k": 40, "repetition_penalty": 1.1, "seed": 9,
                "stop": ["\n\n"], "priority": -2, "cache_salt": "tenant-a", "n": 1}  # fmt: skip
    assert {key: body[key] for key in expected} == expected
    assert not [key for key in body if key.startswith("guided")]
    assert "conversation-42" not in json.dumps(body)


async def test_n_choices_come_in_one_request_and_are_told_apart_by_index(
    server: FakeVLLM, engine: OpenAIEngine
) -> None:
    server.engine.script("one a", "two b", "three c")

    completion = await engine.complete(ASK.model_copy(update={"n": 3}))

    assert [c.text for c in completion.choices] == ["one a", "two b", "three c"]
    assert len(server.requests) == 1
    assert completion.usage.completion_tokens == 6


def test_a_stream_with_fewer_choices_than_asked_is_an_error() -> None:
    reader = ChunkReader(n=2)
    only_one = {"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}
    reader.read(json.dumps(only_one))
    reader.read("[DONE]")

    with pytest.raises(EngineError, match="returned 1 of the 2 samples"):
        reader.end()


async def test_the_llama_cpp_dialect_sends_json_object_and_one_call_per_sample(
    server: FakeVLLM,
) -> None:
    server.engine.script("first", "second")
    engine = OpenAIEngine(settings_for(server, dialect="llama-cpp"))
    request = ChatRequest(
        messages=ASK.messages,
        sampling=Sampling(seed=5, max_tokens=20, repetition_penalty=1.2),
        n=2,
        json_schema={"type": "object"},
    )
    try:
        completion = await engine.complete(request)
    finally:
        await engine.aclose()

    assert [c.text for c in completion.choices] == ["first", "second"]
    assert [body["seed"] for body in server.requests] == [5, 6]
    for body in server.requests:
        assert body["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
        assert (body["max_tokens"], body["repeat_penalty"]) == (20, 1.2)
        assert "n" not in body
        assert "max_completion_tokens" not in body


async def test_a_length_finish_marks_the_sample_truncated(engine: OpenAIEngine) -> None:
    completion = await engine.complete(ASK.with_sampling(max_tokens=2))

    assert completion.choices[0].text == "Soft white "
    assert completion.choices[0].truncated


@pytest.mark.parametrize("status", [503, 429])
async def test_busy_answers_are_retried_after_the_servers_retry_after(
    server: FakeVLLM, engine: OpenAIEngine, status: int
) -> None:
    server.fail_next(status, retry_after=0.4)

    started = time.monotonic()
    text = await engine.generate(ASK)

    assert text == "Soft white snow"
    assert time.monotonic() - started >= 0.4
    assert len(server.requests) == 2


async def test_a_server_still_busy_after_every_retry_is_a_busy_error(server: FakeVLLM) -> None:
    server.fail_next(503, times=3)
    engine = OpenAIEngine(settings_for(server, retries=2))
    try:
        with pytest.raises(EngineBusy, match="busy"):
            await engine.generate(ASK)
    finally:
        await engine.aclose()

    assert len(server.requests) == 3


async def test_a_retry_after_longer_than_max_retry_wait_is_busy_at_once(server: FakeVLLM) -> None:
    server.fail_next(503, retry_after=30)
    engine = OpenAIEngine(settings_for(server, max_retry_wait=1.0))
    started = time.monotonic()
    try:
        with pytest.raises(EngineBusy):
            await engine.generate(ASK)
    finally:
        await engine.aclose()

    assert time.monotonic() - started < 1.0
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (400, EngineError, "refused the request (400 BadRequestError)"),
        (404, EngineUnavailable, "does not serve a model named 'fake-model'"),
        (422, EngineError, "refused the request (422"),
        (500, EngineError, "failed to answer (500"),
    ],
)
async def test_refusals_are_not_retried_and_become_typed_errors(
    server: FakeVLLM, engine: OpenAIEngine, status: int, error: type[EngineError], words: str
) -> None:
    server.fail_next(status, message="internal detail: /srv/secret", times=2)

    with pytest.raises(error) as raised:
        await engine.generate(ASK)

    assert words in raised.value.message
    assert "secret" not in raised.value.message
    assert len(server.requests) == 1


async def test_the_servers_context_overflow_becomes_prompt_too_long(
    server: FakeVLLM, engine: OpenAIEngine
) -> None:
    server.fail_next(400, message="This model's maximum context length is 2048 tokens. However")

    with pytest.raises(PromptTooLong, match="too long for the model"):
        await engine.generate(ASK)


async def test_a_prompt_that_cannot_fit_is_refused_before_sending() -> None:
    async with FakeVLLM(max_model_len=100) as server:
        engine = OpenAIEngine(settings_for(server))
        huge = ChatRequest(messages=(Message(role="user", content="snow " * 200),))
        try:
            with pytest.raises(PromptTooLong, match=r"1,000 characters.*at most 100 tokens"):
                await engine.generate(huge)
            assert await engine.generate(ASK) == "ok"  # a short one still goes through
        finally:
            await engine.aclose()

        assert len(server.requests) == 1


async def test_a_connection_dropped_before_any_token_is_retried(
    server: FakeVLLM, engine: OpenAIEngine
) -> None:
    server.disconnect_after(1)  # the role chunk only

    assert await engine.generate(ASK) == "Soft white snow"
    assert len(server.requests) == 2


async def test_a_connection_dropped_after_tokens_is_an_error_not_a_retry(
    server: FakeVLLM, engine: OpenAIEngine
) -> None:
    server.disconnect_after(2)
    received: list[str] = []

    async def consume() -> None:
        async for event in engine.stream(ASK):
            if isinstance(event, Delta):
                received.append(event.text)

    with pytest.raises(EngineError, match="connection to the model server broke"):
        await consume()

    assert received == ["Soft "]
    assert len(server.requests) == 1


async def test_a_malformed_chunk_is_a_clear_error(server: FakeVLLM, engine: OpenAIEngine) -> None:
    server.malformed_after(2)

    with pytest.raises(EngineError, match="streamed chunk musekit cannot read"):
        await engine.generate(ASK)


async def test_an_unreachable_server_is_a_clear_unavailable_error() -> None:
    engine = OpenAIEngine(settings_for(dead_url(), retries=2))
    try:
        # the retries, or the replica's breaker opened by its failed /health probe
        with pytest.raises(EngineUnavailable, match="model server"):
            await engine.generate(ASK)
    finally:
        await engine.aclose()


async def test_a_dead_replica_fails_over_to_a_live_one(server: FakeVLLM) -> None:
    engine = OpenAIEngine(settings_for(dead_url(), server))
    try:
        texts = [
            await engine.generate(ASK.model_copy(update={"affinity": f"c{i}"})) for i in range(4)
        ]
    finally:
        await engine.aclose()

    assert texts == ["Soft white snow"] * 4
    assert len(server.requests) == 4


async def test_no_first_token_in_time_is_a_timeout_error_and_the_server_aborts() -> None:
    async with FakeVLLM(latency=3.0) as server:
        engine = OpenAIEngine(settings_for(server, first_token_timeout=0.3))
        started = time.monotonic()
        try:
            with pytest.raises(EngineError, match=r"did not start answering within 0\.3 s"):
                await engine.generate(ASK)
            assert time.monotonic() - started < 1.0
            for _ in range(100):
                if server.aborted:
                    break
                await asyncio.sleep(0.02)
            assert server.aborted == 1  # it stopped waiting for the slow engine
        finally:
            await engine.aclose()


async def test_a_pause_between_tokens_past_idle_timeout_is_an_error() -> None:
    async with FakeVLLM(default="a b c", token_delay=0.6) as server:
        engine = OpenAIEngine(settings_for(server, idle_timeout=0.3, first_token_timeout=3))
        try:
            with pytest.raises(EngineError, match=r"nothing for 0\.3 s"):
                await engine.generate(ASK)
        finally:
            await engine.aclose()


async def test_a_long_answer_that_keeps_streaming_is_never_cut_off() -> None:
    reply = " ".join(f"w{i}" for i in range(40))
    async with FakeVLLM(default=reply, token_delay=0.03) as server:
        engine = OpenAIEngine(settings_for(server, idle_timeout=0.5, first_token_timeout=0.5))
        try:
            started = time.monotonic()
            text = await engine.generate(ASK)
        finally:
            await engine.aclose()

    assert text == reply
    assert time.monotonic() - started > 1.0  # twice the first-token and idle limits


async def test_cancelling_closes_the_stream_and_the_server_aborts(server: FakeVLLM) -> None:
    server.engine.default = "word " * 1000
    server.engine.token_delay = 0.01
    engine = OpenAIEngine(settings_for(server))
    first = asyncio.Event()

    async def consume() -> None:
        async for event in engine.stream(ASK):
            if isinstance(event, Delta) and event.text:
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    try:
        for _ in range(200):
            if server.aborted:
                break
            await asyncio.sleep(0.02)
        assert server.aborted == 1
    finally:
        await engine.aclose()


async def test_an_unknown_model_name_lists_the_served_ones(server: FakeVLLM) -> None:
    engine = OpenAIEngine(settings_for(server, model="gpt-9"))
    try:
        with pytest.raises(
            EngineUnavailable, match="does not serve 'gpt-9'; it serves: fake-model"
        ):
            await engine.generate(ASK)
    finally:
        await engine.aclose()

    assert server.requests == []


async def test_the_api_key_is_sent_and_a_wrong_one_is_named() -> None:
    async with FakeVLLM(api_key="right") as server:
        good = OpenAIEngine(settings_for(server, api_key="right"))
        bad = OpenAIEngine(settings_for(server, api_key="wrong"))
        try:
            assert await good.generate(ASK) == "ok"
            with pytest.raises(EngineUnavailable, match=r"engine\.openai\.api_key") as raised:
                await bad.generate(ASK)
        finally:
            await good.aclose()
            await bad.aclose()

    assert "wrong" not in raised.value.message


def test_the_cli_runs_a_command_through_the_fake_server(tmp_path: Any) -> None:
    from tests.conftest import MUSEKIT_SCRIPT

    with FakeVLLM(default="Snow settles on the quiet roofs.") as server:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "MUSEKIT_ENGINE__BACKEND": "openai",
            "MUSEKIT_ENGINE__OPENAI__BASE_URLS": json.dumps([server.base_url]),
        }
        run = subprocess.run(
            [str(MUSEKIT_SCRIPT), "run", "write", "first snow"],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False,
        )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert "Snow settles on the quiet roofs." in run.stdout
    (body,) = server.requests
    assert "first snow" in body["messages"][-1]["content"]


async def test_a_slow_consumer_is_not_taken_for_a_silent_server(server: FakeVLLM) -> None:
    engine = OpenAIEngine(settings_for(server, idle_timeout=0.2, first_token_timeout=0.5))
    texts = []
    try:
        async for event in engine.stream(ASK):
            if isinstance(event, Delta):
                texts.append(event.text)
                await asyncio.sleep(0.3)  # longer than both limits, on the caller's side
    finally:
        await engine.aclose()

    assert "".join(texts) == "Soft white snow"


class _OddServer(http.server.BaseHTTPRequestHandler):
    """Lists a model; answers chat requests with plain JSON (path ``/plain/v1``), or with the
    stream of events gzip-compressed (``/gzip/v1``)."""

    def do_GET(self) -> None:
        self._answer(json.dumps({"data": [{"id": "odd", "max_model_len": 4096}]}).encode())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/plain/"):
            self._answer(json.dumps({"choices": [{"index": 0, "message": {"content": "hi"}}]}))
            return
        chunks = [
            {"choices": [{"index": 0, "delta": {"content": "Soft"}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {"content": " snow"}, "finish_reason": "stop"}]},
        ]
        events = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
        self._answer(gzip.compress(events.encode()), "text/event-stream", gzipped=True)

    def _answer(
        self, body: str | bytes, content_type: str = "application/json", *, gzipped: bool = False
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def odd_server() -> Iterator[str]:
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OddServer) as odd:
        threading.Thread(target=odd.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{odd.server_address[1]}"
        odd.shutdown()


async def test_an_answer_that_is_not_a_stream_of_events_is_a_clear_error(odd_server: str) -> None:
    engine = OpenAIEngine(settings_for(f"{odd_server}/plain/v1"))
    try:
        with pytest.raises(EngineError, match="did not answer with a stream of events"):
            await engine.generate(ASK)
    finally:
        await engine.aclose()


async def test_a_compressed_stream_of_events_is_read(odd_server: str) -> None:
    engine = OpenAIEngine(settings_for(f"{odd_server}/gzip/v1"))
    try:
        assert await engine.generate(ASK) == "Soft snow"
    finally:
        await engine.aclose()
