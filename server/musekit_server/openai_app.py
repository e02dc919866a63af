"""An OpenAI-compatible HTTP API over any musekit engine, in vLLM 0.33's wire format.

``POST /v1/chat/completions`` (streamed as server-sent events or whole),
``GET /v1/models``, ``GET /health`` and ``GET /metrics`` (Prometheus, ``vllm:*``
names). Errors are vLLM's JSON, ``{"error": {"message", "type", "param",
"code"}}``, with vLLM's status codes. ``musekit serve`` runs it over the embedded
engine; the test kit's fake vLLM server runs it over a :class:`FakeEngine`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from http import HTTPStatus
from typing import Any, Literal, TypeVar

import anyio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from musekit.engine.base import Engine
from musekit.engine.types import ChatRequest, Delta, Message, Sampling, StreamEvent, Usage
from musekit.errors import EngineBusy, EngineUnavailable, MusekitError, PromptTooLong
from musekit.observability.metrics import render as render_metrics

logger = logging.getLogger("musekit.server")

_T = TypeVar("_T")

#: Counts a request's prompt tokens, to refuse prompts longer than ``max_model_len``.
TokenCounter = Callable[[ChatRequest], int]

_ERROR_TYPES = {
    400: "BadRequestError",
    404: "NotFoundError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


def error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    """vLLM's error JSON for ``status``."""
    kind = _ERROR_TYPES.get(status, HTTPStatus(status).phrase)
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def error_response(
    status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A vLLM error response."""
    return JSONResponse(error_body(status, message, param), status_code=status, headers=headers)


class _Problem(Exception):
    """A request the server refuses before generating: becomes an error response."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.response = error_response(status, message, param)


# --- request body ----------------------------------------------------------------------


class _Part(BaseModel):
    type: Literal["text"]
    text: str


class _Message(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[_Part]

    def to_message(self) -> Message:
        text = (
            self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        )
        return Message(role="system" if self.role == "developer" else self.role, content=text)


class _JsonSchema(BaseModel):
    name: str = "response"
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class _ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JsonSchema | None = None

    def schema_or_none(self) -> dict[str, Any] | None:
        if self.type == "json_schema":
            if self.json_schema is None:
                raise ValueError("json_schema is required when type is 'json_schema'")
            return self.json_schema.schema_
        return {"type": "object"} if self.type == "json_object" else None


class _StreamOptions(BaseModel):
    include_usage: bool = False


class _Body(BaseModel):
    """The chat-completions fields musekit honours; others are ignored, as vLLM does."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[_Message] = Field(min_length=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    min_p: float = Field(0.0, ge=0.0, le=1.0)
    top_k: int | None = None
    repetition_penalty: float | None = Field(None, gt=0.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    max_completion_tokens: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=128)
    response_format: _ResponseFormat | None = None
    stream: bool = False
    stream_options: _StreamOptions | None = None
    priority: int = 0
    cache_salt: str | None = None

    @field_validator("top_k")
    @classmethod
    def _top_k(cls, value: int | None) -> int | None:
        if value is not None and value < -1:
            raise ValueError("must be -1 or 0 (disabled) or at least 1")
        return value if value is not None and value > 0 else None

    def to_request(self, max_tokens: int) -> ChatRequest:
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        schema = self.response_format.schema_or_none() if self.response_format else None
        return ChatRequest(
            messages=tuple(m.to_message() for m in self.messages),
            sampling=Sampling(
                temperature=self.temperature,
                top_p=self.top_p,
                min_p=self.min_p,
                top_k=self.top_k,
                repetition_penalty=self.repetition_penalty,
                seed=self.seed,
                stop=stop,
                max_tokens=max_tokens,
            ),
            n=self.n,
            json_schema=schema,
            priority=self.priority,
            cache_salt=self.cache_salt,
        )


def _validation_message(exc: ValidationError) -> str:
    """What is wrong, by field, without echoing the values sent."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "Invalid request: " + "; ".join(parts)


# --- metrics ---------------------------------------------------------------------------


class ServerMetrics:
    """The ``vllm:*`` metrics this server exports, in a registry of its own.

    ``running`` counts requests that have produced their first token, ``waiting``
    those admitted and not yet started. ``override`` pins a gauge to a value (the
    fake vLLM server uses it to stage a busy server); ``aborted`` counts requests
    whose client went away before the end.
    """

    def __init__(self, model: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.running = 0
        self.waiting = 0
        self.kv_cache_usage = 0.0
        self.aborted = 0
        self.overrides: dict[str, float] = {}
        labels = {"model_name": model}
        gauges = {
            "vllm:num_requests_running": ("Requests generating now.", lambda: self.running),
            "vllm:num_requests_waiting": ("Requests waiting to start.", lambda: self.waiting),
            "vllm:kv_cache_usage_perc": ("KV-cache usage, 0 to 1.", lambda: self.kv_cache_usage),
        }
        for name, (doc, read) in gauges.items():
            gauge = Gauge(name, doc, ["model_name"], registry=self.registry)
            gauge.labels(**labels).set_function(self._reader(name, read))
        self.success = Counter(
            "vllm:request_success",
            "Finished sequences, by finish reason.",
            ["model_name", "finished_reason"],
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Prompt tokens.", ["model_name"], registry=self.registry
        ).labels(**labels)
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Generated tokens.", ["model_name"], registry=self.registry
        ).labels(**labels)
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds",
            "Time to first token.",
            ["model_name"],
            registry=self.registry,
        ).labels(**labels)
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds",
            "Request latency, end to end.",
            ["model_name"],
            registry=self.registry,
        ).labels(**labels)
        self._model = model

    def _reader(self, name: str, read: Callable[[], float]) -> Callable[[], float]:
        return lambda: self.overrides.get(name, read())

    def finished(self, reason: str) -> None:
        self.success.labels(model_name=self._model, finished_reason=reason).inc()


# --- streaming -------------------------------------------------------------------------


class _EventStream(StreamingResponse):
    """Server-sent events that stop (closing the engine's stream) when the client leaves."""

    def __init__(
        self,
        events: AsyncGenerator[str, None],
        source: AsyncGenerator[StreamEvent, None],
        on_disconnect: Callable[[], None],
    ) -> None:
        super().__init__(
            events, media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )
        self._events = events
        self._source = source  # the engine's stream, closed whatever happens
        self._on_disconnect = on_disconnect
        self._over = False  # sent in full, or the client left

    def _client_left(self) -> None:
        if not self._over:
            self._over = True
            self._on_disconnect()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        failure: Exception | None = None  # raised after the task group, not inside a group
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                self._client_left()
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                await self._send_all(send)
            except OSError:  # the client went away while we were sending
                self._client_left()
            except Exception as exc:
                failure = exc
            finally:
                await self._events.aclose()
                await self._source.aclose()
                group.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _send_all(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        async for event in self._events:
            await send({"type": "http.response.body", "body": event.encode(), "more_body": True})
        self._over = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _Chunks:
    """Formats one request's ``chat.completion.chunk`` events (a cheap template per token)."""

    def __init__(self, request_id: str, created: int, model: str) -> None:
        head = {"id": request_id, "object": "chat.completion.chunk", "created": created}
        self._head = json.dumps({**head, "model": model}, separators=(",", ":"))[:-1]
        self._choice = "data: " + self._head + ',"choices":[{"index":'

    def role(self, index: int) -> str:
        return (
            f'{self._choice}{index},"delta":{{"role":"assistant","content":""}},'
            '"logprobs":null,"finish_reason":null}]}\n\n'
        )

    def content(self, index: int, text: str) -> str:
        return (
            f'{self._choice}{index},"delta":{{"content":{json.dumps(text)}}},'
            '"logprobs":null,"finish_reason":null}]}\n\n'
        )

    def finish(self, index: int, reason: str) -> str:
        return (
            f'{self._choice}{index},"delta":{{}},"logprobs":null,'
            f'"finish_reason":"{reason}","stop_reason":null}}]}}\n\n'
        )

    def usage(self, usage: Usage) -> str:
        counts = json.dumps(_usage(usage), separators=(",", ":"))
        return f'data: {self._head},"choices":[],"usage":{counts}}}\n\n'

    @staticmethod
    def error(status: int, message: str) -> str:
        return f"data: {json.dumps(error_body(status, message))}\n\n"


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "total_tokens": usage.total_tokens,
        "completion_tokens": usage.completion_tokens,
    }


def _finish_reason(delta: Delta) -> str:
    return "abort" if delta.finish_reason == "cancelled" else str(delta.finish_reason)


def _engine_error(exc: MusekitError, max_model_len: int) -> tuple[int, str]:
    """The status and message for an engine's refusal."""
    if isinstance(exc, PromptTooLong):
        return 400, (
            f"This model's maximum context length is {max_model_len} tokens, and the request "
            "does not fit it. Please reduce the length of the input messages."
        )
    if isinstance(exc, EngineBusy):
        return 503, "The server is busy: its waiting line is full. Try again shortly."
    if isinstance(exc, EngineUnavailable):
        return 500, "The model engine is not running."
    return 500, exc.message


class _ClientLeft(Exception):
    """The client disconnected before the answer was ready."""


async def _unless_client_leaves(receive: Receive, work: Awaitable[_T]) -> _T:
    """``work``'s result; if the client disconnects first, ``work`` is cancelled."""
    job = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(receive))
    try:
        done, _ = await asyncio.wait({job, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        job.cancel()
        raise
    finally:
        watcher.cancel()
    if job in done:
        return job.result()
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await job
    raise _ClientLeft


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# --- the app -------------------------------------------------------------------------


class _Server:
    def __init__(
        self,
        engine: Engine,
        served_model_name: str,
        max_model_len: int,
        api_key: str | None,
        count_tokens: TokenCounter | None,
        registries: Sequence[CollectorRegistry],
    ) -> None:
        self.engine = engine
        self.registries = registries
        self.model = served_model_name
        self.max_model_len = max_model_len
        self.api_key = api_key
        self.count_tokens = count_tokens
        self.metrics = ServerMetrics(served_model_name)
        self.created = int(time.time())

    async def health(self, request: Request) -> Response:
        return Response(status_code=200)

    async def metrics_page(self, request: Request) -> Response:
        page = render_metrics([self.metrics.registry, *self.registries])
        return Response(page, media_type=CONTENT_TYPE_LATEST)

    async def models(self, request: Request) -> Response:
        if refusal := self._unauthorized(request):
            return refusal
        card = {
            "id": self.model,
            "object": "model",
            "created": self.created,
            "owned_by": "musekit",
            "root": self.model,
            "parent": None,
            "max_model_len": self.max_model_len,
        }
        return JSONResponse({"object": "list", "data": [card]})

    def _unauthorized(self, request: Request) -> Response | None:
        if self.api_key is None:
            return None
        sent = request.headers.get("authorization", "")
        if secrets.compare_digest(sent.encode(), f"Bearer {self.api_key}".encode()):
            return None
        return JSONResponse({"error": "Unauthorized"}, status_code=401)

    async def chat(self, request: Request) -> Response:
        if refusal := self._unauthorized(request):
            return refusal
        try:
            body, chat = await self._parse(request)
        except _Problem as problem:
            return problem.response
        started = time.perf_counter()
        self.metrics.waiting += 1
        events = self.engine.stream(chat)
        try:
            first = await _unless_client_leaves(request.receive, anext(events, None))
        except MusekitError as exc:
            await events.aclose()
            self.metrics.finished("error")
            return error_response(*_engine_error(exc, self.max_model_len))
        except _ClientLeft:
            await events.aclose()
            self._aborted()
            return Response(status_code=499)  # nobody reads it
        finally:
            self.metrics.waiting -= 1
        self.metrics.ttft.observe(time.perf_counter() - started)
        request_id = f"chatcmpl-{secrets.token_hex(16)}"
        generated = self._generate(events, first, started)
        if not body.stream:
            try:
                whole = self._whole(generated, request_id, chat.n)
                return await _unless_client_leaves(request.receive, whole)
            except _ClientLeft:
                self._aborted()
                return Response(status_code=499)
        usage = body.stream_options is not None and body.stream_options.include_usage
        chunks = _Chunks(request_id, int(time.time()), self.model)
        return _EventStream(self._sse(generated, chunks, chat.n, usage), events, self._aborted)

    def _aborted(self) -> None:
        self.metrics.aborted += 1

    async def _parse(self, request: Request) -> tuple[_Body, ChatRequest]:
        try:
            raw = await request.json()
        except ValueError:
            raise _Problem(400, "Invalid request: the body is not valid JSON.") from None
        try:
            body = _Body.model_validate(raw)
            if body.model is not None and body.model != self.model:
                raise _Problem(404, f"The model `{body.model}` does not exist.", "model")
            chat = body.to_request(1)
        except ValidationError as exc:
            raise _Problem(400, _validation_message(exc)) from None
        except ValueError as exc:  # a response_format without its schema
            raise _Problem(400, f"Invalid request: {exc}.", "response_format") from None
        wanted = body.max_completion_tokens or body.max_tokens
        prompt = self.count_tokens(chat) if self.count_tokens else 0
        if prompt >= self.max_model_len:
            raise _Problem(
                400,
                f"This model's maximum context length is {self.max_model_len} tokens. However, "
                f"your request has {prompt} input tokens. Please reduce the length of the input "
                "messages.",
                "messages",
            )
        room = self.max_model_len - prompt  # like vLLM: clamp, and finish with "length"
        return body, chat.with_sampling(max_tokens=min(wanted or room, room))

    async def _generate(
        self, events: AsyncGenerator[StreamEvent, None], first: StreamEvent | None, started: float
    ) -> AsyncGenerator[StreamEvent, None]:
        """The engine's events, ``first`` included, keeping the metrics."""
        self.metrics.running += 1
        try:
            async with aclosing(events):
                event = first
                while event is not None:
                    if isinstance(event, Usage):
                        self.metrics.prompt_tokens.inc(event.prompt_tokens)
                        self.metrics.generation_tokens.inc(event.completion_tokens)
                    elif event.finish_reason is not None:
                        self.metrics.finished(_finish_reason(event))
                    yield event
                    event = await anext(events, None)
        finally:
            self.metrics.running -= 1
            self.metrics.e2e.observe(time.perf_counter() - started)

    async def _sse(
        self,
        events: AsyncGenerator[StreamEvent, None],
        chunks: _Chunks,
        n: int,
        include_usage: bool,
    ) -> AsyncGenerator[str, None]:
        async with aclosing(events):
            for index in range(n):
                yield chunks.role(index)
            try:
                async for event in events:
                    if isinstance(event, Usage):
                        if include_usage:
                            yield chunks.usage(event)
                    elif event.finish_reason is not None:
                        if event.text:
                            yield chunks.content(event.index, event.text)
                        yield chunks.finish(event.index, _finish_reason(event))
                    elif event.text:
                        yield chunks.content(event.index, event.text)
            except MusekitError as exc:
                yield chunks.error(*_engine_error(exc, self.max_model_len))
            except Exception as exc:
                _log_failure(exc)
                yield chunks.error(500, "Internal server error.")
        yield "data: [DONE]\n\n"

    async def _whole(
        self, events: AsyncGenerator[StreamEvent, None], request_id: str, n: int
    ) -> Response:
        texts: dict[int, list[str]] = {i: [] for i in range(n)}
        reasons: dict[int, str] = {}
        usage = Usage()
        try:
            async with aclosing(events):
                async for event in events:
                    if isinstance(event, Usage):
                        usage = event
                        continue
                    texts.setdefault(event.index, []).append(event.text)
                    if event.finish_reason is not None:
                        reasons[event.index] = _finish_reason(event)
        except MusekitError as exc:
            return error_response(*_engine_error(exc, self.max_model_len))
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": "".join(parts), "tool_calls": []},
                "logprobs": None,
                "finish_reason": reasons.get(i, "stop"),
                "stop_reason": None,
            }
            for i, parts in sorted(texts.items())
        ]
        return JSONResponse(
            {
                "id": request_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": choices,
                "usage": _usage(usage),
            }
        )


def create_app(
    engine: Engine,
    *,
    served_model_name: str,
    max_model_len: int,
    api_key: str | None = None,
    count_tokens: TokenCounter | None = None,
    registries: Sequence[CollectorRegistry] = (),
) -> Starlette:
    """The OpenAI-compatible app over ``engine``.

    ``api_key``, if set, guards ``/v1`` only (``/health`` and ``/metrics`` stay
    open, as in vLLM). ``count_tokens``, if given, lets the server refuse a prompt
    longer than ``max_model_len`` with vLLM's 400 and clamp ``max_tokens`` to the
    room left; otherwise the engine's own refusal is reported. The app's
    :class:`ServerMetrics` is ``app.state.metrics``; ``/metrics`` shows
    ``registries`` after it (musekit's own ``musekit_*`` metrics, say).
    """
    server = _Server(engine, served_model_name, max_model_len, api_key, count_tokens, registries)
    app = Starlette(
        routes=[
            Route("/health", server.health, methods=["GET"]),
            Route("/metrics", server.metrics_page, methods=["GET"]),
            Route("/v1/models", server.models, methods=["GET"]),
            Route("/v1/chat/completions", server.chat, methods=["POST"]),
        ],
        exception_handlers={Exception: _internal_error},
    )
    app.state.metrics = server.metrics
    return app


async def _internal_error(request: Request, exc: Exception) -> Response:
    _log_failure(exc)
    return error_response(500, "Internal server error.")


def _log_failure(exc: Exception) -> None:
    """The exception's type only; its traceback with debug logging on."""
    logger.error(
        "request failed: %s", type(exc).__name__, exc_info=logger.isEnabledFor(logging.DEBUG)
    )
