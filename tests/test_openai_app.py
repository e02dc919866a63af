"""The OpenAI-compatible app over musekit engines: request mapping, errors, the real model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from musekit.engine.base import Engine
from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.models import default_model_path
from musekit.errors import EngineBusy, EngineError, PromptTooLong
from musekit.testing import FakeEngine
from musekit_server.openai_app import create_app

USER = [{"role": "user", "content": "write about snow"}]


def client_for(engine: Engine, **options: Any) -> httpx.AsyncClient:
    app = create_app(engine, served_model_name="m", max_model_len=64, **options)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://app/v1"
    )


@pytest.fixture
async def engine() -> FakeEngine:
    return FakeEngine(["first answer", "second answer"])


@pytest.fixture
async def client(engine: FakeEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(engine) as http:
        yield http


async def test_every_sampling_field_reaches_the_engine(
    engine: FakeEngine, client: httpx.AsyncClient
) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "developer", "content": "be brief"}, *USER],
        "temperature": 0.3,
        "top_p": 0.9,
        "min_p": 0.05,
        "top_k": 40,
        "repetition_penalty": 1.1,
        "seed": 11,
        "stop": "\n\n",
        "max_completion_tokens": 12,
        "max_tokens": 50,
        "n": 2,
        "priority": -1,
        "cache_salt": "tenant-a",
    }
    response = await client.post("/chat/completions", json=body)

    assert response.status_code == 200
    (request,) = engine.requests
    assert [m.role for m in request.messages] == ["system", "user"]
    sampling = request.sampling
    assert (sampling.temperature, sampling.top_p, sampling.min_p) == (0.3, 0.9, 0.05)
    assert (sampling.top_k, sampling.repetition_penalty, sampling.seed) == (40, 1.1, 11)
    assert sampling.stop == ("\n\n",)
    assert sampling.max_tokens == 12  # max_completion_tokens wins over the legacy field
    assert (request.n, request.priority, request.cache_salt) == (2, -1, "tenant-a")
    reply = response.json()
    assert [c["message"]["content"] for c in reply["choices"]] == ["first answer", "second answer"]
    assert [c["index"] for c in reply["choices"]] == [0, 1]
    assert reply["object"] == "chat.completion"
    assert reply["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}


async def test_legacy_max_tokens_and_a_disabled_top_k(
    engine: FakeEngine, client: httpx.AsyncClient
) -> None:
    body = {"messages": USER, "max_tokens": 7, "top_k": -1}
    await client.post("/chat/completions", json=body)

    assert engine.requests[0].sampling.max_tokens == 7
    assert engine.requests[0].sampling.top_k is None


@pytest.mark.parametrize(
    ("response_format", "schema"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "idea", "schema": {"type": "array"}}},
            {"type": "array"},
        ),
        ({"type": "json_object"}, {"type": "object"}),
        ({"type": "text"}, None),
    ],
)
async def test_response_format_becomes_the_requests_json_schema(
    engine: FakeEngine,
    client: httpx.AsyncClient,
    response_format: dict[str, Any],
    schema: dict[str, Any] | None,
) -> None:
    await client.post(
        "/chat/completions", json={"messages": USER, "response_format": response_format}
    )

    assert engine.requests[0].json_schema == schema


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        ({"messages": USER, "temperature": 7}, "temperature"),
        ({"messages": USER, "n": 0}, "n"),
        ({"messages": USER, "top_k": -5}, "top_k"),
        ({"messages": USER, "response_format": {"type": "json_schema"}}, "json_schema"),
    ],
)
async def test_invalid_requests_get_400_naming_the_field_and_reach_no_engine(
    engine: FakeEngine, client: httpx.AsyncClient, body: dict[str, Any], named: str
) -> None:
    response = await client.post("/chat/completions", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("BadRequestError", 400)
    assert named in error["message"]
    assert engine.requests == []


async def test_a_body_that_is_not_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", content=b"{oops")

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


async def test_an_unknown_model_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/completions", json={"model": "gpt-9", "messages": USER})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "The model `gpt-9` does not exist."


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (EngineBusy("queue full"), 503, "busy"),
        (PromptTooLong("too long"), 400, "maximum context length is 64 tokens"),
        (EngineError("The model refused the schema."), 500, "refused the schema"),
    ],
)
async def test_engine_refusals_become_vllm_statuses(
    engine: FakeEngine,
    client: httpx.AsyncClient,
    error: EngineError,
    status: int,
    words: str,
) -> None:
    engine.fail_next(error)

    response = await client.post("/chat/completions", json={"messages": USER, "stream": True})

    assert response.status_code == status
    assert words in response.json()["error"]["message"]


async def test_a_failure_mid_stream_ends_with_an_error_event_and_done() -> None:
    def broken(request: object, index: int) -> str:
        raise RuntimeError("secret internals")

    body = {"messages": USER, "n": 2, "stream": True}
    async with client_for(FakeEngine(["fine", broken])) as client:
        text = (await client.post("/chat/completions", json=body)).text

    data = [line.removeprefix("data: ") for line in text.split("\n\n") if line]
    assert data[-1] == "[DONE]"
    assert json.loads(data[-2])["error"]["message"] == "Internal server error."
    assert "secret" not in text
    assert "fine" in text


async def test_an_engine_that_raises_before_answering_is_a_500_without_details(
    engine: FakeEngine, client: httpx.AsyncClient
) -> None:
    engine.fail_next(RuntimeError("secret internals"))

    response = await client.post("/chat/completions", json={"messages": USER})

    assert response.status_code == 500
    assert response.json()["error"]["message"] == "Internal server error."


async def test_metrics_count_tokens_and_finished_requests(client: httpx.AsyncClient) -> None:
    await client.post("/chat/completions", json={"messages": USER, "n": 2})

    metrics = (await client.get("http://app/metrics")).text

    assert 'vllm:generation_tokens_total{model_name="m"} 4.0' in metrics
    assert 'vllm:prompt_tokens_total{model_name="m"} 3.0' in metrics
    assert 'vllm:request_success_total{finished_reason="stop",model_name="m"} 2.0' in metrics
    assert 'vllm:time_to_first_token_seconds_count{model_name="m"} 1.0' in metrics


@pytest.mark.model
async def test_the_real_embedded_model_streams_through_the_app() -> None:
    engine = EmbeddedEngine(default_model_path(), context_length=512)
    body = {
        "messages": [{"role": "user", "content": "Name a colour."}],
        "max_completion_tokens": 8,
        "seed": 1,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    try:
        async with client_for(engine) as client:
            text = (await client.post("/chat/completions", json=body)).text
    finally:
        await engine.aclose()

    chunks = [json.loads(d.removeprefix("data: ")) for d in text.split("\n\n")[:-2] if d]
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content.strip()
    usage = chunks[-1]["usage"]
    assert 0 < usage["completion_tokens"] <= 8
    assert usage["prompt_tokens"] > 3
