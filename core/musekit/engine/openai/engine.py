"""The engine that talks to OpenAI-compatible servers: vLLM, ``musekit serve``, llama.cpp.

One pooled ``httpx.AsyncClient`` (keep-alive expiry under vLLM's 5 s idle
close) streams every request; its events are read from the body's bytes
(:mod:`.sse`). Timeouts are separate: connecting, the first
token, the gap between tokens, and an optional overall limit, so a long answer
that keeps streaming is never cut off. Failed attempts are retried as
:mod:`.failures` says, on another replica where the pool has one
(:class:`~musekit.engine.openai.pool.EndpointPool` chooses replicas). Closing the
stream (a cancelled command) closes the connection, and the server aborts the
generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

import httpx

from musekit.engine.base import Engine
from musekit.engine.openai.catalog import Catalog, Served, check_fits
from musekit.engine.openai.failures import (
    Failure,
    backoff,
    from_status,
    in_stream,
    unreachable,
)
from musekit.engine.openai.pool import Endpoint, EndpointPool
from musekit.engine.openai.sse import EventDecoder
from musekit.engine.openai.watchdog import Watchdog
from musekit.engine.openai.wire import ChunkReader, StreamBroken, StreamFailed, chat_body
from musekit.engine.types import ChatRequest, StreamEvent, Usage
from musekit.errors import EngineError
from musekit.settings import OpenAISettings


class _Failed(Exception):
    """An attempt failed; the loop in :meth:`OpenAIEngine._call` decides what next."""

    def __init__(self, failure: Failure) -> None:
        super().__init__("attempt failed")
        self.failure = failure


class OpenAIEngine(Engine):
    """An :class:`Engine` over the OpenAI chat-completions API, in vLLM's dialect or llama.cpp's."""

    name = "openai"

    def __init__(self, settings: OpenAISettings) -> None:
        self.settings = settings
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_idle_connections,
                keepalive_expiry=settings.keepalive_expiry,
            ),
            # Reads are timed here, per token: httpx's read timeout would also cut off
            # a server that is still queueing the request.
            timeout=httpx.Timeout(settings.connect_timeout, read=None, pool=None),
        )
        # Probes and /v1/models go on connections of their own: an idle connection kept
        # fresh by a probe would be handed to every request of a burst at once by
        # httpcore (1.0.9), each retried in turn, at a high CPU cost.
        self._control = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=2 * len(settings.base_urls),
                keepalive_expiry=settings.keepalive_expiry,
            ),
            timeout=httpx.Timeout(settings.connect_timeout),
        )
        self._pool = EndpointPool(settings, self._control)
        self._catalog = Catalog(self._control, settings.model, settings.connect_timeout)
        self._headers = (
            {}
            if settings.api_key is None
            else {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
        )
        self._started = False
        self._model = settings.model or ""

    @property
    def model(self) -> str:
        """The served model name: configured, or discovered by the first request."""
        return self._model

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        if request.n > 1 and self.settings.dialect == "llama-cpp":
            return self._one_by_one(request)
        return self._call(request)

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self._control.aclose()
        await self._client.aclose()

    async def _one_by_one(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """``n`` samples from a server without ``n``: one call each, sample ``i`` with seed+i."""
        usage = Usage()
        seed = request.sampling.seed
        for index in range(request.n):
            single = request.with_sampling(seed=None if seed is None else seed + index)
            async with aclosing(self._call(single.model_copy(update={"n": 1}), index)) as events:
                async for event in events:
                    if isinstance(event, Usage):
                        usage += event
                    else:
                        yield event
        yield usage

    async def _call(
        self, request: ChatRequest, offset: int = 0
    ) -> AsyncGenerator[StreamEvent, None]:
        """One request, retried (before any token) as the failure allows."""
        if not self._started:
            self._started = True
            await self._pool.start()
        failed: set[str] = set()
        attempt = 0
        while True:
            endpoint = await self._pool.acquire(request.affinity, frozenset(failed))
            ok = True
            delivered = False
            try:
                served = await self._served(endpoint)
                check_fits(request, served)
                body = chat_body(request, served.model, self.settings.dialect)
                exchange = self._exchange(endpoint, body, ChunkReader(request.n, offset), served)
                async with aclosing(exchange) as events:
                    async for event in events:
                        delivered = True
                        yield event
                return
            except _Failed as failed_attempt:
                failure = failed_attempt.failure
                ok = not failure.replica_fault
                attempt += 1
                wait = backoff(
                    attempt, self.settings.retry_backoff, self.settings.max_retry_wait,
                    failure.retry_after,
                )  # fmt: skip
                if (
                    delivered
                    or not failure.retry
                    or attempt > self.settings.retries
                    or wait > self.settings.max_retry_wait * 1.1
                ):
                    raise failure.error from None
                if failure.replica_fault:
                    failed.add(endpoint.base_url)
                    if len(failed) == len(self._pool.endpoints):
                        failed.clear()  # every replica failed once: try them all again
            finally:
                self._pool.release(endpoint, ok=ok)
            await asyncio.sleep(wait)

    async def _served(self, endpoint: Endpoint) -> Served:
        try:
            served = await self._catalog.served(endpoint.base_url, self._headers)
        except httpx.TransportError:
            raise _Failed(unreachable(endpoint.base_url)) from None
        self._model = served.model
        return served

    async def _exchange(
        self, endpoint: Endpoint, body: dict[str, Any], reader: ChunkReader, served: Served
    ) -> AsyncGenerator[StreamEvent, None]:
        """One HTTP exchange: its deltas as they stream, then its usage."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        end = started + settings.request_timeout if settings.request_timeout else math.inf
        watchdog = Watchdog(loop, min(started + settings.first_token_timeout, end))
        request = self._client.build_request(
            "POST", f"{endpoint.base_url}/chat/completions", json=body, headers=self._headers
        )
        first = True
        try:
            response = await watchdog.wait(self._client.send(request, stream=True))
        except TimeoutError:
            watchdog.close()
            raise self._timed_out(first=True, end=end) from None
        except httpx.TransportError:
            watchdog.close()
            raise _Failed(unreachable(endpoint.base_url)) from None
        try:
            if response.status_code != 200:
                raise _Failed(await self._refusal(response, endpoint, served, watchdog))
            if "text/event-stream" not in response.headers.get("content-type", ""):
                raise EngineError(_NOT_SSE)
            decoder = EventDecoder()
            # The body as sent when it is not compressed (one generator less per chunk). An
            # async generator: closed here on every path, never left to the collector.
            identity = response.headers.get("content-encoding", "identity") == "identity"
            read = response.aiter_raw if identity else response.aiter_bytes
            raw = cast(AsyncGenerator[bytes, None], read())
            async with aclosing(raw) as chunks:
                watchdog.reading()
                async for chunk in chunks:
                    watchdog.idle()
                    tokens = False
                    for data in decoder.feed(chunk):
                        deltas = reader.read(data)
                        if deltas:
                            tokens = True
                            for delta in deltas:
                                yield delta
                        if reader.done:
                            break
                    if tokens:
                        first = False
                        watchdog.expires = min(loop.time() + settings.idle_timeout, end)
                    if reader.done:
                        await _drain(chunks, watchdog)
                        break
                    watchdog.reading()
            yield reader.end()
        except asyncio.CancelledError:
            if watchdog.caused():
                raise self._timed_out(first=first, end=end) from None
            raise
        except TimeoutError:
            raise self._timed_out(first=first, end=end) from None
        except (httpx.TransportError, StreamBroken):
            raise _Failed(_broken()) from None
        except StreamFailed as failed:
            raise _Failed(in_stream(failed.error)) from None
        except EngineError as exc:
            raise _Failed(Failure(exc)) from None
        finally:
            watchdog.close()
            await response.aclose()

    async def _refusal(
        self, response: httpx.Response, endpoint: Endpoint, served: Served, watchdog: Watchdog
    ) -> Failure:
        try:
            body = await watchdog.wait(response.aread())
        except (TimeoutError, httpx.TransportError):
            body = b""
        if response.status_code == 404:
            self._catalog.forget(endpoint.base_url)
        return from_status(response, body, served.model)

    def _timed_out(self, *, first: bool, end: float) -> _Failed:
        settings = self.settings
        if asyncio.get_running_loop().time() >= end:
            message = f"The model server did not finish within {settings.request_timeout:g} s."
        elif first:
            message = (
                f"The model server did not start answering within "
                f"{settings.first_token_timeout:g} s (engine.openai.first_token_timeout)."
            )
        else:
            message = (
                f"The model server stopped sending in the middle of the answer (nothing for "
                f"{settings.idle_timeout:g} s, engine.openai.idle_timeout)."
            )
        return _Failed(Failure(EngineError(message)))


#: Seconds to wait for the end of a body after its ``[DONE]``.
_DRAIN_SECONDS = 1.0


async def _drain(chunks: AsyncIterator[bytes], watchdog: Watchdog) -> None:
    """Read the body's end after ``[DONE]``, so that the connection goes back to the pool
    (a closed, unfinished response closes its connection). A server that keeps the body
    open costs a connection, not the answer."""
    watchdog.expires = asyncio.get_running_loop().time() + _DRAIN_SECONDS
    with contextlib.suppress(TimeoutError, httpx.TransportError):
        while await watchdog.wait(anext(chunks, None)) is not None:
            pass


_NOT_SSE = "The model server did not answer with a stream of events (is it OpenAI-compatible?)."


def _broken() -> Failure:
    return Failure(
        EngineError("The connection to the model server broke before the answer was complete."),
        retry=True,
    )
