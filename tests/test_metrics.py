"""musekit's Prometheus metrics, scraped over loopback as Prometheus would."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import MUSEKIT_SCRIPT
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from musekit import ChatRequest, EngineBusy, Invocation, Invoker
from musekit.engine.types import StreamEvent
from musekit.guards.limits import Limiter
from musekit.observability.metrics import MetricsApp, ServiceMetrics, start_metrics_server
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.settings import LimitsSettings
from musekit.store import Store, open_store
from musekit.testing import FakeEngine, FakeVLLM, make_kit
from musekit_server.openai_app import create_app

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(page: str) -> Samples:
    """Every sample on a metrics page: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await open_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


@pytest.fixture
def metrics() -> Iterator[tuple[ServiceMetrics, str]]:
    """Fresh service metrics served over HTTP on a free loopback port: (metrics, URL)."""
    own = ServiceMetrics()
    server, thread = start_metrics_server(0, registry=own.registry)
    yield own, f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_the_service_counts_outcomes_latency_tokens_denials_and_engine_errors(
    store: Store, metrics: tuple[ServiceMetrics, str]
) -> None:
    own, url = metrics
    engine = FakeEngine(default="three short words")
    kit = make_kit(engine=engine)
    service = CommandService(
        Runner(kit.host, engine),
        store,
        limiter=Limiter(LimitsSettings(user_cooldown=60)),
        metrics=own,
    )

    def write(user: str) -> Invocation:
        return Invocation(command="write", params={"prompt": "rain"}, invoker=Invoker(user_id=user))

    await service.submit(write("U1"))
    await service.submit(write("U2"))
    await service.submit(write("U1"))  # cooling down
    engine.fail_next(EngineBusy("The model server is busy. Try again in a moment."))
    await service.submit(write("U3"))
    samples = await scrape(url)

    ok = {"command": "write", "outcome": "ok"}
    assert value(samples, "musekit_invocations_total", **ok) == 2
    assert value(samples, "musekit_invocations_total", command="write", outcome="denied") == 1
    assert value(samples, "musekit_invocations_total", command="write", outcome="error") == 1
    assert value(samples, "musekit_limit_denials_total", kind="user_cooldown") == 1
    assert value(samples, "musekit_engine_errors_total", kind="EngineBusy") == 1
    completion = value(samples, "musekit_tokens_total", command="write", kind="completion")
    assert completion == 2 * 3
    prompt = value(samples, "musekit_tokens_total", command="write", kind="prompt")
    assert prompt is not None
    assert prompt > 0
    assert value(samples, "musekit_invocation_seconds_count", command="write") == 4
    assert value(samples, "musekit_queue_seconds_count", command="write") == 3  # one never ran
    assert value(samples, "musekit_first_token_seconds_count", command="write") == 2
    assert value(samples, "musekit_in_flight", command="write") == 0


class Gate(FakeEngine):
    """Answers slowly; ``arrived`` is set once ``expected`` requests are in."""

    def __init__(self, expected: int) -> None:
        super().__init__(latency=0.5)
        self.expected = expected
        self.arrived = asyncio.Event()

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        if len(self.requests) + 1 >= self.expected:
            self.arrived.set()
        async for event in super().stream(request):
            yield event


async def test_the_in_flight_gauge_shows_commands_while_they_run(
    store: Store, metrics: tuple[ServiceMetrics, str]
) -> None:
    own, url = metrics
    engine = Gate(expected=3)
    service = CommandService(Runner(make_kit(engine=engine).host, engine), store, metrics=own)
    tasks = [
        asyncio.create_task(
            service.submit(
                Invocation(command="write", params={"prompt": "x"}, invoker=Invoker(user_id=u))
            )
        )
        for u in ("U1", "U2", "U3")
    ]
    await engine.arrived.wait()

    during = await scrape(url)
    await asyncio.gather(*tasks)
    after = await scrape(url)

    assert value(during, "musekit_in_flight", command="write") == 3
    assert value(after, "musekit_in_flight", command="write") == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """An ASGI app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: ASGIApp) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


async def test_a_bot_can_mount_the_metrics_in_its_own_web_app() -> None:
    own = ServiceMetrics()
    own.limit_denials.labels("channel_rate").inc(4)
    app = Starlette(routes=[Route("/metrics", MetricsApp([own.registry]))])

    with Served(app) as url:
        samples = await scrape(f"{url}/metrics")

    assert value(samples, "musekit_limit_denials_total", kind="channel_rate") == 4


async def test_the_openai_app_serves_musekit_metrics_beside_vllms() -> None:
    own = ServiceMetrics()
    own.invocations.labels("write", "ok").inc()
    app = create_app(
        FakeEngine(), served_model_name="m", max_model_len=512, registries=[own.registry]
    )

    with Served(app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            await client.post(
                "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
            )
            samples = parse((await client.get("/metrics")).text)

    assert value(samples, "musekit_invocations_total", command="write", outcome="ok") == 1
    assert value(samples, "vllm:request_success_total", model_name="m", finished_reason="stop") == 1


async def test_the_fake_vllm_server_metrics_stay_vllms_own() -> None:
    async with FakeVLLM() as fake, httpx.AsyncClient() as client:
        page = (await client.get(f"{fake.url}/metrics")).text

    names = {family.name for family in text_string_to_metric_families(page)}
    assert "vllm:num_requests_waiting" in names
    assert not any(name.startswith("musekit_") for name in names)


@pytest.mark.model
def test_musekit_serve_shows_musekit_metrics_on_its_metrics_page(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEKIT_")}
    env.update(
        MUSEKIT_SERVE__ENGINE="embedded", MUSEKIT_SERVE__PORT=str(port), MUSEKIT_ENGINE__THREADS="1"
    )
    process = subprocess.Popen(
        [str(MUSEKIT_SCRIPT), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while "Ctrl-C stops the server." not in process.stdout.readline():
            assert time.monotonic() < deadline
            assert process.poll() is None
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    finally:
        process.kill()

    names = {family.name for family in text_string_to_metric_families(page)}
    assert {"vllm:num_requests_running", "musekit_invocations", "musekit_in_flight"} <= names
