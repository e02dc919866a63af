"""A fake vLLM server for tests: vLLM's HTTP API over a :class:`FakeEngine`, with faults.

It runs musekit's OpenAI-compatible app (the one ``musekit serve`` uses) with
uvicorn on 127.0.0.1, on a free port, in a background thread, and can be told to
fail the way a real vLLM server fails: slow answers, 503 or 429 with
``Retry-After``, 400/404/422 errors, a connection dropped mid-stream, a malformed
chunk, a stream that stalls, a busy ``/metrics``, ``/health`` down. See docs/testing-plugins.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Self, cast

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from musekit.engine.types import ChatRequest
from musekit.testing.fake_engine import FakeEngine, Reply, split_tokens
from musekit_server.openai_app import ServerMetrics, create_app, error_response

_DEFAULT_MESSAGES = {
    400: "Invalid request.",
    404: "The model does not exist.",
    422: "Unprocessable request.",
    429: "Too many requests.",
    500: "The engine died.",
    503: "The server is busy: too many requests are waiting. Try again shortly.",
}


@dataclass(frozen=True)
class _HttpError:
    status: int
    message: str
    retry_after: float | None


@dataclass(frozen=True)
class _StreamFault:
    after: int  # SSE events sent before the fault
    kind: str  # "disconnect", "malformed" or "stall"
    seconds: float = 0.0  # how long a stall lasts


class _Drop(BaseException):
    """Raised through the app's ``send`` to drop the connection (past its error handlers)."""


def prompt_tokens(request: ChatRequest) -> int:
    """The fake server's prompt length: words, as :class:`FakeEngine` counts them."""
    return sum(len(split_tokens(m.content)) for m in request.messages)


class FakeVLLM:
    """vLLM's OpenAI-compatible API on ``127.0.0.1``, answered by a :class:`FakeEngine`.

    Use it as a context manager (``with`` or ``async with``); ``base_url`` ends in
    ``/v1``. Replies, ``latency`` (before the first token) and ``token_delay`` are
    the fake engine's (``fake.engine``). Requests longer than ``max_model_len``
    words get vLLM's 400. ``requests`` holds every chat-completion body received,
    as parsed JSON; ``aborted`` counts streams whose client went away.
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        default: Reply = "ok",
        latency: float = 0.0,
        token_delay: float = 0.0,
        model: str = "fake-model",
        max_model_len: int = 4096,
        api_key: str | None = None,
    ) -> None:
        self.engine = FakeEngine(
            replies, default=default, latency=latency, token_delay=token_delay, model=model
        )
        self.model = model
        self.max_model_len = max_model_len
        app = create_app(
            self.engine,
            served_model_name=model,
            max_model_len=max_model_len,
            api_key=api_key,
            count_tokens=prompt_tokens,
        )
        self.metrics: ServerMetrics = app.state.metrics
        self.requests: list[dict[str, Any]] = []
        self.healthy = True
        self._faults: deque[_HttpError | _StreamFault] = deque()
        self._asgi = _Faults(app, self)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # --- faults ----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` chat requests with vLLM's error JSON and ``status``."""
        text = message or _DEFAULT_MESSAGES.get(status, "Error.")
        self._faults.extend([_HttpError(status, text, retry_after)] * times)

    def disconnect_after(self, events: int, *, times: int = 1) -> None:
        """Drop the connection of the next ``times`` streams after ``events`` SSE events."""
        self._faults.extend([_StreamFault(events, "disconnect")] * times)

    def malformed_after(self, events: int, *, times: int = 1) -> None:
        """Send a chunk that is not JSON after ``events`` SSE events of the next streams."""
        self._faults.extend([_StreamFault(events, "malformed")] * times)

    def stall_after(self, events: int, seconds: float, *, times: int = 1) -> None:
        """Go silent for ``seconds`` after ``events`` SSE events of the next streams."""
        self._faults.extend([_StreamFault(events, "stall", seconds)] * times)

    def set_metrics(
        self,
        *,
        waiting: float | None = None,
        running: float | None = None,
        kv_cache_usage: float | None = None,
    ) -> None:
        """Pin ``/metrics`` gauges (``None`` leaves one as it is); :meth:`clear_metrics` unpins."""
        values = {
            "vllm:num_requests_waiting": waiting,
            "vllm:num_requests_running": running,
            "vllm:kv_cache_usage_perc": kv_cache_usage,
        }
        self.metrics.overrides.update({k: v for k, v in values.items() if v is not None})

    def clear_metrics(self) -> None:
        """Report the real gauges again."""
        self.metrics.overrides.clear()

    @property
    def aborted(self) -> int:
        """Streams whose client disconnected before the end."""
        return self.metrics.aborted

    def _next_fault(self) -> _HttpError | _StreamFault | None:
        return self._faults.popleft() if self._faults else None

    # --- running -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root URL (``/health`` and ``/metrics`` live here)."""
        if not self._port:
            raise RuntimeError("The fake vLLM server is not running.")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The OpenAI API's base URL, ending in ``/v1``."""
        return f"{self.url}/v1"

    def start(self) -> None:
        """Start serving (in a background thread); returns once the port is open."""
        config = uvicorn.Config(
            self._asgi,
            host="127.0.0.1",
            port=0,
            log_config=None,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=5,  # vLLM closes idle connections after 5 s
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-vllm", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The fake vLLM server did not start.")
            time.sleep(0.005)
        self._port = self._server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self._port = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)


class _Faults:
    """ASGI middleware: records chat bodies and applies the next injected fault."""

    def __init__(self, app: ASGIApp, fake: FakeVLLM) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] == "http" and path == "/health" and not self.fake.healthy:
            await error_response(503, "The engine is not healthy.")(scope, receive, send)
            return
        if scope["type"] != "http" or path != "/v1/chat/completions":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        with contextlib.suppress(ValueError):  # the app answers a body that is not JSON
            self.fake.requests.append(json.loads(body))
        fault = self.fake._next_fault()
        if isinstance(fault, _HttpError):
            headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
            response = error_response(fault.status, fault.message, headers=headers)
            await response(scope, receive, send)
            return
        replay = _replay(body, receive)
        try:
            await self.app(scope, replay, send if fault is None else _faulty_send(send, fault))
        except* _Drop:
            pass  # uvicorn closes a connection whose response did not complete


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _faulty_send(send: Send, fault: _StreamFault) -> Send:
    events = 0

    async def faulty(message: Message) -> None:
        nonlocal events
        if message["type"] == "http.response.body" and message.get("body"):
            if events == fault.after:
                if fault.kind == "disconnect":
                    raise _Drop
                if fault.kind == "stall":
                    await asyncio.sleep(fault.seconds)
                else:
                    message = {**message, "body": b"data: {not json\n\n"}
            events += 1
        await send(message)

    return faulty


@contextlib.contextmanager
def fake_vllm_process(*options: str) -> Iterator[str]:
    """A fake vLLM server in a process of its own, as vLLM runs; yields its ``base_url``.

    ``options`` are ``python -m musekit.testing.fake_vllm`` options (``--reply``,
    ``--latency``...). Benchmarks use it, so the server's work is not the client's.
    """
    command = [sys.executable, "-m", "musekit.testing.fake_vllm", *options]
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdin=pipe, stdout=pipe, text=True) as proc:
        stdin, stdout = cast(IO[str], proc.stdin), cast(IO[str], proc.stdout)
        try:
            base_url = stdout.readline().strip()
            if not base_url:
                raise RuntimeError("The fake vLLM server process did not start.")
            yield base_url
        finally:
            stdin.close()
            proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    """``python -m musekit.testing.fake_vllm``: serve until stdin closes; prints ``base_url``."""
    import argparse

    parser = argparse.ArgumentParser(description="A fake vLLM server on 127.0.0.1.")
    parser.add_argument("--reply", default="ok", help="what every sample answers")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before a reply")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument("--max-model-len", type=int, default=4096)
    args = parser.parse_args(argv)
    server = FakeVLLM(
        default=args.reply,
        latency=args.latency,
        token_delay=args.token_delay,
        max_model_len=args.max_model_len,
    )
    with server:
        print(server.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
