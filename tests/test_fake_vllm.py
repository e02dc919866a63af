"""The test kit's fake vLLM server, over real HTTP on loopback: vLLM's wire format and faults."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from musekit.testing import FakeVLLM
from musekit.testing.fake_vllm import fake_vllm_process

USER = [{"role": "user", "content": "write about snow"}]


@pytest.fixture
def server() -> Iterator[FakeVLLM]:
    with FakeVLLM(["Soft white snow", "Cold quiet night"], model="tiny") as fake:
        yield fake


@pytest.fixture
def client(server: FakeVLLM) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        yield http


def events(text: str) -> list[str]:
    """The data of each server-sent event."""
    return [line.removeprefix("data: ") for line in text.split("\n\n") if line]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_stream_has_vllm_chunks_with_n_choices_a_usage_chunk_and_done(
    client: httpx.Client,
) -> None:
    body = {"model": "tiny", "messages": USER, "n": 2, "stream": True}
    response = client.post(
        "/chat/completions", json={**body, "stream_options": {"include_usage": True}}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    data = events(response.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert {c["model"] for c in chunks} == {"tiny"}
    *choice_chunks, usage = chunks
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}
    texts: dict[int, str] = {0: "", 1: ""}
    finished: dict[int, str] = {}
    for chunk in choice_chunks:
        (choice,) = chunk["choices"]
        texts[choice["index"]] += choice["delta"].get("content", "")
        if choice["finish_reason"]:
            finished[choice["index"]] = choice["finish_reason"]
    assert texts == {0: "Soft white snow", 1: "Cold quiet night"}
    assert finished == {0: "stop", 1: "stop"}
    assert choice_chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}


def test_no_usage_chunk_unless_asked(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json={"messages": USER, "stream": True})

    chunks = [json.loads(d) for d in events(response.text)[:-1]]
    assert all(chunk["choices"] for chunk in chunks)
    assert all("usage" not in chunk for chunk in chunks)


def test_models_lists_the_served_name_and_max_model_len(client: httpx.Client) -> None:
    (card,) = client.get("/models").json()["data"]

    assert (card["id"], card["max_model_len"]) == ("tiny", 4096)


def test_every_chat_body_is_recorded_as_sent(server: FakeVLLM, client: httpx.Client) -> None:
    body = {"messages": USER, "seed": 7, "guided_json": {"type": "object"}}
    client.post("/chat/completions", json=body)

    assert server.requests == [body]
    assert server.engine.requests[0].sampling.seed == 7


def test_fail_next_answers_with_vllm_error_json_then_recovers(
    server: FakeVLLM, client: httpx.Client
) -> None:
    server.fail_next(503, times=2, retry_after=2)

    statuses = [client.post("/chat/completions", json={"messages": USER}) for _ in range(3)]

    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].headers["retry-after"] == "2"
    error = statuses[0].json()["error"]
    assert (error["type"], error["code"]) == ("ServiceUnavailableError", 503)
    assert "busy" in error["message"]


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "BadRequestError"), (404, "NotFoundError"), (422, "UnprocessableEntityError"),
     (429, "RateLimitError")],
)  # fmt: skip
def test_injected_errors_carry_the_status_and_type(
    server: FakeVLLM, client: httpx.Client, status: int, kind: str
) -> None:
    server.fail_next(status, message="nope")

    response = client.post("/chat/completions", json={"messages": USER})

    assert response.status_code == status
    assert response.json() == {
        "error": {"message": "nope", "type": kind, "param": None, "code": status}
    }


def test_disconnect_after_drops_the_connection_mid_stream(
    server: FakeVLLM, client: httpx.Client
) -> None:
    server.disconnect_after(2)
    received: list[str] = []

    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", json={"messages": USER, "stream": True}) as r,
    ):
        received.extend(line for line in r.iter_lines() if line)

    assert len(received) == 2
    assert "[DONE]" not in received
    assert client.post("/chat/completions", json={"messages": USER}).status_code == 200


def test_malformed_after_sends_a_chunk_that_is_not_json(
    server: FakeVLLM, client: httpx.Client
) -> None:
    server.malformed_after(1)

    data = events(client.post("/chat/completions", json={"messages": USER, "stream": True}).text)

    json.loads(data[0])
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[1])


def test_stall_after_goes_silent_mid_stream_then_carries_on(
    server: FakeVLLM, client: httpx.Client
) -> None:
    server.stall_after(1, 0.6)
    arrivals: list[float] = []

    with client.stream("POST", "/chat/completions", json={"messages": USER, "stream": True}) as r:
        for line in r.iter_lines():
            if line:
                arrivals.append(time.monotonic())

    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert gaps[0] >= 0.5
    assert max(gaps[1:]) < 0.3
    assert client.post("/chat/completions", json={"messages": USER}).status_code == 200


def test_metrics_can_be_pinned_and_health_taken_down(server: FakeVLLM) -> None:
    server.set_metrics(waiting=12, kv_cache_usage=0.97)
    server.healthy = False

    metrics = httpx.get(f"{server.url}/metrics").text
    health = httpx.get(f"{server.url}/health")

    assert 'vllm:num_requests_waiting{model_name="tiny"} 12.0' in metrics
    assert 'vllm:kv_cache_usage_perc{model_name="tiny"} 0.97' in metrics
    assert 'vllm:num_requests_running{model_name="tiny"} 0.0' in metrics
    assert health.status_code == 503
    server.clear_metrics()
    server.healthy = True
    assert (
        'vllm:num_requests_waiting{model_name="tiny"} 0.0'
        in httpx.get(f"{server.url}/metrics").text
    )
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_a_prompt_longer_than_max_model_len_gets_vllms_400() -> None:
    with FakeVLLM(max_model_len=5) as server:
        long = [{"role": "user", "content": "one two three four five six"}]
        response = httpx.post(f"{server.base_url}/chat/completions", json={"messages": long})

        assert response.status_code == 400
        message = response.json()["error"]["message"]
        assert "maximum context length is 5 tokens" in message
        assert "6 input tokens" in message
        assert server.engine.requests == []


def test_max_tokens_are_clamped_to_the_room_left_and_finish_with_length() -> None:
    with FakeVLLM(default="a b c d e f g h", max_model_len=6) as server:
        short = [{"role": "user", "content": "one two"}]
        body = {"messages": short, "max_completion_tokens": 100}
        (choice,) = httpx.post(f"{server.base_url}/chat/completions", json=body).json()["choices"]

    assert choice["message"]["content"] == "a b c d "
    assert choice["finish_reason"] == "length"


def test_a_client_that_leaves_mid_stream_stops_the_generation() -> None:
    with FakeVLLM(default="word " * 500, token_delay=0.01) as server:
        with (
            httpx.Client(base_url=server.base_url) as client,
            client.stream(
                "POST", "/chat/completions", json={"messages": USER, "stream": True}
            ) as r,
        ):
            lines = r.iter_lines()
            next(lines)
            next(lines)
        wait_for(lambda: server.aborted == 1)
        running = 'vllm:num_requests_running{model_name="fake-model"} 0.0'
        wait_for(lambda: running in httpx.get(f"{server.url}/metrics").text)


def test_an_api_key_guards_v1_only() -> None:
    with FakeVLLM(api_key="s3cret") as server:
        refused = httpx.get(f"{server.base_url}/models")
        allowed = httpx.get(f"{server.base_url}/models", headers={"Authorization": "Bearer s3cret"})
        health = httpx.get(f"{server.url}/health")

    assert (refused.status_code, refused.json()) == (401, {"error": "Unauthorized"})
    assert allowed.status_code == 200
    assert health.status_code == 200


async def test_it_runs_under_async_with() -> None:
    async with FakeVLLM(["hello"]) as server, httpx.AsyncClient() as client:
        response = await client.post(f"{server.base_url}/chat/completions", json={"messages": USER})

    assert response.json()["choices"][0]["message"]["content"] == "hello"
    with pytest.raises(RuntimeError, match="not running"):
        server.url  # noqa: B018 - the property raises once stopped


def test_the_pytest_fixture_gives_a_running_server(fake_vllm: FakeVLLM) -> None:
    reply: dict[str, Any] = httpx.post(
        f"{fake_vllm.base_url}/chat/completions", json={"messages": USER}
    ).json()

    assert reply["choices"][0]["message"]["content"] == "ok"


def test_a_fake_server_runs_in_a_process_of_its_own() -> None:
    with fake_vllm_process("--reply", "from afar", "--max-model-len", "64") as base_url:
        (card,) = httpx.get(f"{base_url}/models").json()["data"]
        reply = httpx.post(f"{base_url}/chat/completions", json={"messages": USER}).json()

    assert card["max_model_len"] == 64
    assert reply["choices"][0]["message"]["content"] == "from afar"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/models")
