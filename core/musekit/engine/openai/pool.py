"""The replicas behind the OpenAI-compatible engine, and which one serves a request.

:class:`EndpointPool` is the seam between the engine and its servers. The engine
asks it for a replica per attempt (:meth:`EndpointPool.acquire`) and says how the
attempt went (:meth:`EndpointPool.release`). Choosing a replica:

1. Replicas in the order the request's affinity hashes to (:mod:`.routing`), so a
   conversation or plugin keeps hitting the same prefix cache; round-robin for
   requests without affinity. Replicas that already failed this request
   (``exclude``) and replicas whose circuit breaker is open (:mod:`.breaker`) are
   skipped; when none is left, :class:`EngineUnavailable` at once.
2. The first of those with room (:mod:`.backpressure`). A request leaves its
   preferred replica for another one with room rather than queue: one cold prefix
   cache costs a prefill, far less than waiting behind a full queue.
3. When every one of them is full, the request waits its turn in a bounded local
   line, or gets :class:`EngineBusy`.

While running (:meth:`EndpointPool.start`), the pool probes each replica's
``/health`` and reads its ``/metrics`` at the configured intervals. The
``llama-cpp`` dialect's server has neither, and it cuts off the answer it is
streaming whenever another request arrives: its ``/v1/models`` is probed only
while the replica's breaker is open (no answer of ours is running there), and
its load is not known.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from musekit.engine.openai.backpressure import UNKNOWN, Limits, Load, WaitLine, parse_load
from musekit.engine.openai.breaker import BreakerState, CircuitBreaker
from musekit.engine.openai.routing import Router
from musekit.errors import EngineUnavailable
from musekit.settings import OpenAISettings


@dataclass(eq=False)
class Endpoint:
    """One replica: its base URL (ending in ``/v1``), breaker and last known load."""

    base_url: str
    breaker: CircuitBreaker
    load: Load = field(default=UNKNOWN)


class EndpointPool:
    """Chooses a replica per request attempt; watches every replica's health and load."""

    def __init__(self, settings: OpenAISettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client
        self._endpoints = {
            url: Endpoint(url, CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown))
            for url in dict.fromkeys(url.rstrip("/") for url in settings.base_urls)
        }
        self._router = Router(list(self._endpoints))
        self._limits = Limits(settings.max_waiting, settings.max_kv_cache_usage)
        self._line = WaitLine(settings.max_local_queue, settings.queue_timeout)
        self._headers = (
            {}
            if settings.api_key is None
            else {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
        )
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every replica, in the order the settings list them."""
        return tuple(self._endpoints.values())

    async def acquire(
        self, affinity: str | None, exclude: frozenset[str] = frozenset()
    ) -> Endpoint:
        """The replica for the next attempt of a request, skipping those in ``exclude``.

        May wait in line for a full server (reporting the place in line); raises
        :class:`EngineBusy` past the line's length or wait, and
        :class:`EngineUnavailable` when no replica is left to try.
        """
        candidates = self._candidates(affinity, exclude)
        roomy = self._with_room(candidates)
        if roomy and not self._line:
            return self._take(roomy[0])
        await self._line.join()
        candidates = self._candidates(affinity, exclude)
        return self._take((self._with_room(candidates) or candidates)[0])

    def release(self, endpoint: Endpoint, *, ok: bool) -> None:
        """How an attempt on ``endpoint`` went: ``ok=False`` after a connection error,
        a 5xx or a broken stream, which counts toward the replica's breaker."""
        endpoint.breaker.record(ok=ok)
        self._fail_waiters_if_down()

    async def start(self) -> None:
        """Begin probing ``/health`` and reading ``/metrics`` in the background."""
        if self._tasks:
            return
        self._watch(self._settings.health_interval, self._probe_all)
        if self._settings.dialect == "vllm":
            self._watch(self._settings.metrics_interval, self._read_loads)

    async def aclose(self) -> None:
        """Stop the background probes."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _candidates(self, affinity: str | None, exclude: frozenset[str]) -> list[Endpoint]:
        order = [self._endpoints[url] for url in self._router.order(affinity) if url not in exclude]
        candidates = [e for e in order if e.breaker.available()]
        if not candidates:
            raise self._none_left()
        return candidates

    def _none_left(self) -> EngineUnavailable:
        count = len(self._endpoints)
        return EngineUnavailable(
            f"The model server is not answering; tried {count} "
            f"replica{'' if count == 1 else 's'}. Try again shortly."
        )

    def _with_room(self, candidates: list[Endpoint]) -> list[Endpoint]:
        return [e for e in candidates if not self._limits.full(e.load)]

    def _take(self, endpoint: Endpoint) -> Endpoint:
        endpoint.breaker.admit()
        return endpoint

    def _fail_waiters_if_down(self) -> None:
        if self._line and not any(e.breaker.available() for e in self._endpoints.values()):
            self._line.fail(self._none_left())

    def _watch(self, interval: float, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` every ``interval`` seconds in a task of its own, outside any
        command's context (no status lines of the command that started the pool)."""

        async def every() -> None:
            while True:
                await work()
                await asyncio.sleep(interval)

        self._tasks.append(asyncio.create_task(every(), context=contextvars.Context()))

    async def _probe_all(self) -> None:
        endpoints = [
            e
            for e in self._endpoints.values()
            if self._settings.dialect == "vllm" or e.breaker.state is not BreakerState.CLOSED
        ]
        await asyncio.gather(*(self._probe(e) for e in endpoints))
        self._fail_waiters_if_down()

    async def _probe(self, endpoint: Endpoint) -> None:
        if self._settings.dialect == "vllm":
            url = endpoint.base_url.removesuffix("/v1") + "/health"
        else:
            url = endpoint.base_url + "/models"
        try:
            response = await self._get(url)
        except httpx.PoolTimeout:
            return  # every connection is busy streaming answers: nothing learnt of the server
        except httpx.HTTPError:
            endpoint.breaker.probe(healthy=False)
            return
        endpoint.breaker.probe(healthy=response.status_code == 200)

    async def _read_loads(self) -> None:
        await asyncio.gather(*(self._read_load(e) for e in self._endpoints.values()))
        self._grant_turns()

    async def _read_load(self, endpoint: Endpoint) -> None:
        url = endpoint.base_url.removesuffix("/v1") + "/metrics"
        try:
            response = await self._get(url)
        except httpx.PoolTimeout:
            return
        except httpx.HTTPError:
            endpoint.load = UNKNOWN
            return
        endpoint.load = parse_load(response.text) if response.status_code == 200 else UNKNOWN

    async def _get(self, url: str) -> httpx.Response:
        """A probe's GET, sent once more if the server closed the connection as it went: a
        kept-alive connection the server timed out just then (its idle clock runs ahead of
        ours while this loop is busy), which says nothing of its health."""
        timeout = self._settings.probe_timeout
        try:
            return await self._client.get(url, headers=self._headers, timeout=timeout)
        except httpx.RemoteProtocolError:
            return await self._client.get(url, headers=self._headers, timeout=timeout)

    def _grant_turns(self) -> None:
        """Let as many waiters go as the available replicas have room for now."""
        if not self._line:
            return
        rooms = [
            self._limits.room(e.load) for e in self._endpoints.values() if e.breaker.available()
        ]
        self._line.grant(None if None in rooms else sum(r for r in rooms if r is not None))
