"""The replica pool: routing by affinity, failover, breakers, backpressure.

Pool tests run real HTTP servers on 127.0.0.1 that answer ``/health`` and
``/metrics`` as vLLM does; a replica that is down is a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from musekit.engine.openai.backpressure import Limits, Load, WaitLine, ordinal, parse_load
from musekit.engine.openai.breaker import BreakerState, CircuitBreaker
from musekit.engine.openai.engine import OpenAIEngine
from musekit.engine.openai.pool import EndpointPool
from musekit.engine.openai.routing import HashRing, Router
from musekit.engine.types import ChatRequest, Message
from musekit.errors import EngineBusy, EngineUnavailable
from musekit.settings import OpenAISettings
from musekit.status import status_reporter
from musekit.testing import FakeVLLM

URLS = [f"http://10.0.0.{i}:8000/v1" for i in range(1, 5)]
KEYS = [f"conversation-{i}" for i in range(4000)]


def test_a_key_always_routes_to_the_same_replica_in_every_ring() -> None:
    first, second = HashRing(URLS), HashRing(list(reversed(URLS)))
    assert all(first.preference(k) == second.preference(k) for k in KEYS[:200])


def test_preference_lists_every_replica_once() -> None:
    ring = HashRing(URLS)
    for key in KEYS[:200]:
        assert sorted(ring.preference(key)) == sorted(URLS)


def test_keys_spread_evenly_over_replicas() -> None:
    ring = HashRing(URLS)
    owners = collections.Counter(ring.preference(k)[0] for k in KEYS)
    share = len(KEYS) / len(URLS)
    assert set(owners) == set(URLS)
    assert all(0.75 * share <= n <= 1.25 * share for n in owners.values()), owners


def test_adding_a_replica_moves_only_its_share_of_keys() -> None:
    before, after = HashRing(URLS), HashRing([*URLS, "http://10.0.0.9:8000/v1"])
    moved = [k for k in KEYS if before.preference(k)[0] != after.preference(k)[0]]
    assert all(after.preference(k)[0] == "http://10.0.0.9:8000/v1" for k in moved)
    assert 0.12 * len(KEYS) <= len(moved) <= 0.28 * len(KEYS)  # about 1/5


def test_removing_a_replica_moves_only_its_own_keys() -> None:
    before, after = HashRing(URLS), HashRing(URLS[1:])
    moved = [k for k in KEYS if before.preference(k)[0] != after.preference(k)[0]]
    assert all(before.preference(k)[0] == URLS[0] for k in moved)
    assert all(after.preference(k)[0] == before.preference(k)[1] for k in moved)


def test_requests_without_affinity_take_turns() -> None:
    router = Router(URLS)
    firsts = [router.order(None)[0] for _ in range(8)]
    assert firsts == URLS + URLS


async def test_failover_skips_excluded_replicas_then_gives_up() -> None:
    async with httpx.AsyncClient() as client:
        pool = EndpointPool(OpenAISettings(base_urls=URLS), client)
        tried: set[str] = set()
        for _ in URLS:
            endpoint = await pool.acquire("conversation-1", frozenset(tried))
            assert endpoint.base_url not in tried
            tried.add(endpoint.base_url)
        with pytest.raises(EngineUnavailable, match="tried 4 replicas"):
            await pool.acquire("conversation-1", frozenset(tried))


# --- circuit breaker ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failures=3, cooldown=10, clock=Clock())
    for ok in (False, False, True, False, False):
        breaker.record(ok=ok)
    assert breaker.state is BreakerState.CLOSED
    breaker.record(ok=False)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.available()


def test_breaker_lets_one_trial_through_after_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=10, clock=clock)
    breaker.record(ok=False)
    clock.now += 9.9
    assert not breaker.available()
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.available()
    breaker.admit()
    assert not breaker.available()  # one trial at a time
    breaker.record(ok=True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.available()


def test_a_failed_trial_opens_the_breaker_for_another_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown=10, clock=clock)
    for _ in range(3):
        breaker.record(ok=False)
    clock.now += 10
    breaker.admit()
    breaker.record(ok=False)
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    assert breaker.available()


def test_a_trial_that_never_reports_frees_its_slot_after_a_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=10, clock=clock)
    breaker.record(ok=False)
    clock.now += 10
    breaker.admit()
    clock.now += 9
    assert not breaker.available()
    clock.now += 1
    assert breaker.available()


def test_health_probes_open_the_breaker_and_allow_a_trial_at_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown=10, clock=clock)
    breaker.probe(healthy=False)
    assert breaker.state is BreakerState.OPEN
    clock.now += 1
    breaker.probe(healthy=True)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.admit()
    breaker.record(ok=True)
    assert breaker.state is BreakerState.CLOSED
    breaker.probe(healthy=True)
    assert breaker.state is BreakerState.CLOSED


# --- metrics -----------------------------------------------------------------------------

# A vLLM 0.x /metrics page (data parallel, two engines), trimmed: process metrics,
# gauges, a counter with its _created sample and a histogram.
VLLM_METRICS = """\
# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 12345.0
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-8B"} 48.0
vllm:num_requests_running{engine="1",model_name="Qwen/Qwen3-8B"} 51.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-8B"} 7.0
vllm:num_requests_waiting{engine="1",model_name="Qwen/Qwen3-8B"} 5.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-8B"} 0.6125
vllm:kv_cache_usage_perc{engine="1",model_name="Qwen/Qwen3-8B"} 0.8375
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen3-8B"} 482130.0
vllm:prefix_cache_queries_created{engine="0",model_name="Qwen/Qwen3-8B"} 1.7532e+09
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.01",model_name="Qwen/Qwen3-8B"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="Qwen/Qwen3-8B"} 97.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="Qwen/Qwen3-8B"} 97.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="Qwen/Qwen3-8B"} 21.4
"""


def test_load_sums_waiting_over_engines_and_takes_the_fullest_kv_cache() -> None:
    assert parse_load(VLLM_METRICS) == Load(waiting=12.0, kv_cache_usage=0.8375)


def test_a_page_without_vllm_metrics_or_not_prometheus_gives_an_unknown_load() -> None:
    assert parse_load("# TYPE up gauge\nup 1.0\n") == Load()
    assert parse_load("<html>Not Found</html>") == Load()


def test_limits_say_when_a_replica_is_full_and_how_much_room_is_left() -> None:
    limits = Limits(max_waiting=16, max_kv_cache_usage=0.9)
    assert limits.room(Load(waiting=12, kv_cache_usage=0.5)) == 4
    assert limits.room(Load(waiting=16, kv_cache_usage=0.5)) == 0
    assert limits.room(Load(waiting=0, kv_cache_usage=0.9)) == 0
    assert limits.room(Load()) is None
    assert limits.full(Load(kv_cache_usage=0.95))
    assert not limits.full(Load())


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_ordinals(n: int, text: str) -> None:
    assert ordinal(n) == text


# --- the wait line -----------------------------------------------------------------------


class Statuses:
    """Status lines each task reports, by task name."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = collections.defaultdict(list)

    async def run(self, name: str, wait: Callable[[], Any]) -> Any:
        with status_reporter(self.lines[name].append):
            return await wait()


async def until(condition: Callable[[], bool]) -> None:
    """Wait (briefly, bounded) for a condition the background work makes true."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_waiters_report_their_place_and_move_up_in_order() -> None:
    line, statuses = WaitLine(limit=8, timeout=5), Statuses()
    tasks = {}
    for name in ("a", "b", "c"):
        tasks[name] = asyncio.create_task(statuses.run(name, line.join))
        await until(lambda n=name: len(statuses.lines[n]) == 1)
    line.grant(1)
    await tasks["a"]
    await until(lambda: len(statuses.lines["c"]) == 2)
    assert statuses.lines == {
        "a": ["waiting for the model server: 1st in line"],
        "b": [
            "waiting for the model server: 2nd in line",
            "waiting for the model server: 1st in line",
        ],
        "c": [
            "waiting for the model server: 3rd in line",
            "waiting for the model server: 2nd in line",
        ],
    }
    assert not tasks["b"].done()
    line.grant(None)
    await asyncio.gather(tasks["b"], tasks["c"])
    assert len(line) == 0


async def test_past_the_line_limit_a_request_is_busy_at_once() -> None:
    line = WaitLine(limit=2, timeout=5)
    waiting = [asyncio.create_task(line.join()) for _ in range(2)]
    await until(lambda: len(line) == 2)
    with pytest.raises(EngineBusy, match="busy and 2 commands are already waiting"):
        await line.join()
    line.grant(None)
    await asyncio.gather(*waiting)


async def test_with_no_line_a_request_is_busy_at_once() -> None:
    with pytest.raises(EngineBusy) as busy:
        await WaitLine(limit=0, timeout=5).join()
    assert busy.value.message == "The model server is busy. Try again shortly."


async def test_a_wait_past_the_timeout_is_busy_and_leaves_the_line() -> None:
    line, statuses = WaitLine(limit=8, timeout=0.05), Statuses()
    first = asyncio.create_task(statuses.run("a", line.join))
    await until(lambda: len(line) == 1)
    second = asyncio.create_task(statuses.run("b", line.join))
    with pytest.raises(EngineBusy, match=r"no turn came within 0\.05 s"):
        await first
    await until(lambda: statuses.lines["b"][-1] == "waiting for the model server: 1st in line")
    with pytest.raises(EngineBusy):
        await second
    assert len(line) == 0


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    line = WaitLine(limit=8, timeout=5)
    first = asyncio.create_task(line.join())
    second = asyncio.create_task(line.join())
    await until(lambda: len(line) == 2)
    first.cancel()
    await until(lambda: len(line) == 1)
    line.grant(1)
    await second


# --- the pool, over real servers ---------------------------------------------------------


@asynccontextmanager
async def fake_servers(count: int) -> AsyncIterator[list[FakeVLLM]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(FakeVLLM()) for _ in range(count)]


class LlamaCppShaped:
    """A server on 127.0.0.1 with llama_cpp.server's probe surface: ``/v1/models``, no
    ``/health``, no ``/metrics``."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                found = self.path == "/v1/models"
                body = b'{"object": "list", "data": []}' if found else b'{"detail": "Not Found"}'
                self.send_response(200 if found else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def closed_port_url() -> str:
    """The URL of a replica that is down: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


FAST = {"health_interval": 0.02, "metrics_interval": 0.02, "probe_timeout": 1.0}


@asynccontextmanager
async def running_pool(urls: list[str], **settings: Any) -> AsyncIterator[EndpointPool]:
    async with httpx.AsyncClient() as client:
        pool = EndpointPool(OpenAISettings(base_urls=urls, **{**FAST, **settings}), client)
        await pool.start()
        try:
            yield pool
        finally:
            await pool.aclose()


def affinity_preferring(url: str, urls: list[str]) -> str:
    """An affinity key whose first choice among ``urls`` is ``url``."""
    ring = HashRing(urls)
    return next(k for k in KEYS if ring.preference(k)[0] == url)


async def test_one_affinity_stays_on_one_replica_and_the_rest_take_turns() -> None:
    async with fake_servers(3) as fakes, running_pool([f.base_url for f in fakes]) as pool:
        urls = [f.base_url for f in fakes]
        chosen = set()
        for _ in range(20):
            endpoint = await pool.acquire("conversation-7")
            chosen.add(endpoint.base_url)
            pool.release(endpoint, ok=True)
        assert chosen == {HashRing(urls).preference("conversation-7")[0]}
        spread = collections.Counter([(await pool.acquire(None)).base_url for _ in range(30)])
        assert spread == dict.fromkeys(urls, 10)


async def test_a_replica_refusing_connections_is_skipped_after_a_health_probe() -> None:
    async with fake_servers(1) as (live,):
        dead = closed_port_url()
        urls = [dead, live.base_url]
        key = affinity_preferring(dead, urls)
        async with running_pool(urls) as pool:
            down = next(e for e in pool.endpoints if e.base_url == dead)
            await until(lambda: not down.breaker.available())
            for _ in range(5):
                assert (await pool.acquire(key)).base_url == live.base_url


async def test_failover_after_failed_attempts_then_the_breaker_opens() -> None:
    first, second = URLS[:2]
    key = affinity_preferring(first, URLS[:2])
    async with httpx.AsyncClient() as client:  # not started: request outcomes alone drive it
        pool = EndpointPool(OpenAISettings(base_urls=URLS[:2], breaker_failures=2), client)
        for _ in range(2):
            endpoint = await pool.acquire(key)
            assert endpoint.base_url == first
            pool.release(endpoint, ok=False)
            retry = await pool.acquire(key, exclude=frozenset({endpoint.base_url}))
            assert retry.base_url == second
            pool.release(retry, ok=True)
        assert (await pool.acquire(key)).base_url == second


async def test_fail_fast_while_every_replica_is_down_and_recover_by_health_probe() -> None:
    async with fake_servers(2) as fakes, running_pool([f.base_url for f in fakes]) as pool:
        for fake in fakes:
            fake.healthy = False
        await until(lambda: not any(e.breaker.available() for e in pool.endpoints))
        started = time.perf_counter()
        with pytest.raises(EngineUnavailable) as failure:
            await pool.acquire("conversation-1")
        assert time.perf_counter() - started < 0.05
        assert failure.value.message == (
            "The model server is not answering; tried 2 replicas. Try again shortly."
        )
        fakes[1].healthy = True
        await until(lambda: pool.endpoints[1].breaker.available())
        endpoint = await pool.acquire("conversation-1")
        assert endpoint.base_url == fakes[1].base_url
        pool.release(endpoint, ok=True)
        assert pool.endpoints[1].breaker.state is BreakerState.CLOSED
        assert pool.endpoints[0].breaker.state is BreakerState.OPEN


async def test_probes_waiting_for_a_free_connection_do_not_mark_the_server_down() -> None:
    async with (
        FakeVLLM() as fake,
        httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client,
        client.stream("GET", f"{fake.url}/health"),  # holds the only connection
    ):
        settings = OpenAISettings(base_urls=[fake.base_url], **{**FAST, "probe_timeout": 0.05})
        pool = EndpointPool(settings, client)
        await pool.start()
        try:
            await asyncio.sleep(0.3)
            assert pool.endpoints[0].breaker.state is BreakerState.CLOSED
        finally:
            await pool.aclose()


class ClosesReusedConnections:
    """A replica that answers the first request of each connection and closes the connection
    when a second one comes: its keep-alive timer always fires just as a request arrives."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self._listener.accept()
                threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            for answered in (False, True):
                request = b""
                while b"\r\n\r\n" not in request:
                    request += connection.recv(4096) or b"\r\n\r\n"
                if answered:
                    self.dropped += 1
                    return
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def close(self) -> None:
        self._listener.close()


async def test_a_connection_the_server_closes_as_a_probe_reuses_it_is_not_a_failure() -> None:
    server = ClosesReusedConnections()
    try:
        # One connection at a time, so every health probe after the first goes on a reused
        # one (/metrics is read once, at the start).
        settings = OpenAISettings(base_urls=[server.base_url], **{**FAST, "metrics_interval": 60})
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
            pool = EndpointPool(settings, client)
            await pool.start()
            try:
                await until(lambda: server.dropped >= 5)
                assert pool.endpoints[0].breaker.state is BreakerState.CLOSED
            finally:
                await pool.aclose()
    finally:
        server.close()


async def test_llama_cpp_servers_are_probed_on_their_model_list_only_while_down() -> None:
    # llama_cpp.server cuts off a streaming answer when another request arrives: a
    # replica that works is left alone; one whose breaker opened is probed to recover.
    server = LlamaCppShaped()
    try:
        async with running_pool([server.base_url], dialect="llama-cpp") as pool:
            breaker = pool.endpoints[0].breaker
            await asyncio.sleep(FAST["health_interval"] * 5)
            assert server.paths == []  # working: left alone
            while breaker.state is BreakerState.CLOSED:
                pool.release(await pool.acquire(None), ok=False)
            await until(breaker.available)  # a probe found it healthy: one trial may go
            assert server.paths.count("/v1/models") >= 1
            pool.release(await pool.acquire(None), ok=True)  # the trial request succeeds
            assert breaker.state is BreakerState.CLOSED
            probes = len(server.paths)
            await asyncio.sleep(FAST["health_interval"] * 5)
            assert len(server.paths) == probes
        assert set(server.paths) == {"/v1/models"}
        async with running_pool([server.base_url], dialect="vllm") as pool:
            await until(lambda: pool.endpoints[0].breaker.state is BreakerState.OPEN)
    finally:
        server.stop()


async def test_the_pool_reads_each_replicas_load_from_its_metrics() -> None:
    async with fake_servers(2) as (busy, idle):
        busy.set_metrics(waiting=12, kv_cache_usage=0.8375)
        async with running_pool([busy.base_url, idle.base_url]) as pool:
            await until(lambda: pool.endpoints[0].load == Load(12.0, 0.8375))
            await until(lambda: pool.endpoints[1].load == Load(0.0, 0.0))


async def test_a_full_replica_sends_its_affinity_to_another_with_room() -> None:
    async with fake_servers(2) as (busy, idle):
        urls = [busy.base_url, idle.base_url]
        key = affinity_preferring(busy.base_url, urls)
        busy.set_metrics(waiting=16)
        async with running_pool(urls, max_waiting=16) as pool:
            await until(lambda: pool.endpoints[0].load.waiting == 16)
            statuses = Statuses()
            endpoint = await statuses.run("a", lambda: pool.acquire(key))
            assert endpoint.base_url == idle.base_url
            assert statuses.lines["a"] == []
            busy.set_metrics(waiting=15)
            await until(lambda: pool.endpoints[0].load.waiting == 15)
            assert (await pool.acquire(key)).base_url == busy.base_url


async def test_when_every_replica_is_full_requests_wait_in_line_and_go_in_order() -> None:
    async with fake_servers(2) as fakes:
        for fake in fakes:
            fake.set_metrics(waiting=40)
        urls = [f.base_url for f in fakes]
        async with running_pool(urls, max_waiting=16, max_local_queue=3) as pool:
            await until(lambda: all(e.load.waiting == 40 for e in pool.endpoints))
            statuses, went = Statuses(), []

            async def command(name: str) -> str:
                endpoint = await pool.acquire("conversation-1")
                went.append(name)
                return endpoint.base_url

            tasks = []
            for name in ("a", "b", "c"):
                tasks.append(asyncio.create_task(statuses.run(name, lambda n=name: command(n))))
                await until(lambda n=name: len(statuses.lines[n]) == 1)
            with pytest.raises(EngineBusy, match="busy and 3 commands are already waiting"):
                await pool.acquire("conversation-2")
            fakes[1].set_metrics(waiting=15)  # room for one more at each read of /metrics
            assert await asyncio.gather(*tasks) == [fakes[1].base_url] * 3
        assert went == ["a", "b", "c"]
        line = "waiting for the model server: {} in line".format
        assert statuses.lines == {
            "a": [line("1st")],
            "b": [line("2nd"), line("1st")],
            "c": [line("3rd"), line("2nd"), line("1st")],
        }


async def test_waiters_fail_fast_once_every_replica_is_down() -> None:
    async with fake_servers(1) as (fake,):
        fake.set_metrics(kv_cache_usage=0.99)
        async with running_pool([fake.base_url], max_kv_cache_usage=0.95) as pool:
            await until(lambda: pool.endpoints[0].load.kv_cache_usage == 0.99)
            waiter = asyncio.create_task(pool.acquire("conversation-1"))
            await asyncio.sleep(0.05)
            assert not waiter.done()
            fake.healthy = False
            with pytest.raises(EngineUnavailable, match="not answering; tried 1 replica\\."):
                await waiter


# --- with the engine ---------------------------------------------------------------------


async def test_the_engine_keeps_an_affinity_on_one_replica_and_fails_over_when_it_stops() -> None:
    async with FakeVLLM(default="from a") as a, FakeVLLM(default="from b") as b:
        urls = [a.base_url, b.base_url]
        ask = ChatRequest(
            messages=(Message(role="user", content="write about snow"),),
            affinity=affinity_preferring(a.base_url, urls),
        )
        engine = OpenAIEngine(OpenAISettings(base_urls=urls, retry_backoff=0.01, **FAST))
        try:
            assert [await engine.generate(ask) for _ in range(3)] == ["from a"] * 3
            await asyncio.to_thread(a.stop)
            assert [await engine.generate(ask) for _ in range(3)] == ["from b"] * 3
        finally:
            await engine.aclose()
        assert (len(a.requests), len(b.requests)) == (3, 3)
