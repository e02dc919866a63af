"""The embedded engine: a GGUF model run in process by llama.cpp (llama-cpp-python).

llama.cpp generates one request at a time, so requests run on a single worker
thread, first come first served; the event loop never blocks. At most
``max_queue`` requests wait behind the running one; past that, callers get
:class:`EngineBusy` at once instead of piling up.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from musekit.engine.base import Engine
from musekit.engine.types import ChatRequest, Delta, FinishReason, StreamEvent, Usage
from musekit.errors import EngineBusy, EngineError, EngineUnavailable, PromptTooLong

if TYPE_CHECKING:
    from llama_cpp import Llama

_DONE = object()


class EmbeddedEngine(Engine):
    """Runs a GGUF model with llama.cpp in a worker thread."""

    name = "embedded"

    def __init__(
        self,
        model_path: Path,
        *,
        context_length: int = 2048,
        threads: int | None = None,
        max_queue: int = 16,
    ) -> None:
        self.model_path = model_path
        self.context_length = context_length
        self.threads = threads or os.cpu_count() or 1
        self.max_queue = max_queue
        self._llama: Llama | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="musekit-llama")
        self._admitted = 0

    @property
    def model(self) -> str:
        return self.model_path.stem

    async def load(self) -> None:
        """Load the model now (otherwise the first request loads it)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ensure_loaded)

    def _ensure_loaded(self) -> Llama:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise EngineUnavailable(
                    "The embedded engine needs llama-cpp-python: `pip install llama-cpp-python`."
                ) from None
            try:
                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.context_length,
                    n_threads=self.threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError):
                raise EngineUnavailable(
                    f"The model file '{self.model_path.name}' could not be loaded "
                    "(is it a GGUF file?)."
                ) from None
        return self._llama

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        if self._admitted > self.max_queue:
            raise EngineBusy(
                f"The model is busy ({self._admitted} requests in line). Try again in a moment."
            )
        self._admitted += 1
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(events.put_nowait, item)

        job = loop.run_in_executor(self._executor, self._generate, request, emit, stop)
        job.add_done_callback(self._release)
        try:
            while (item := await events.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, Delta | Usage)
                yield item
        finally:
            stop.set()

    def _release(self, _job: asyncio.Future[None]) -> None:
        self._admitted -= 1

    def _generate(
        self, request: ChatRequest, emit: Callable[[object], None], stop: threading.Event
    ) -> None:
        """Worker thread: generate every sample, emitting deltas, then usage, then _DONE."""
        try:
            if stop.is_set():
                return
            llama = self._ensure_loaded()
            usage = Usage()
            for index in range(request.n):
                usage = usage + self._sample(llama, request, index, emit, stop)
            emit(usage)
        except EngineError as exc:
            emit(exc)
        except ValueError as exc:
            emit(_translate_value_error(exc, self.context_length))
        except Exception:
            emit(EngineError("The embedded model failed while generating."))
        finally:
            emit(_DONE)

    def _sample(
        self,
        llama: Llama,
        request: ChatRequest,
        index: int,
        emit: Callable[[object], None],
        stop: threading.Event,
    ) -> Usage:
        sampling = request.sampling
        kwargs: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "min_p": sampling.min_p,
            "top_k": sampling.top_k or 0,
            "repeat_penalty": sampling.repetition_penalty or 1.0,
            "max_tokens": sampling.max_tokens,
            "stop": list(sampling.stop) or None,
            # Like vLLM: sample i of a seeded request uses seed + i.
            "seed": None if sampling.seed is None else sampling.seed + index,
        }
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        messages: list[Any] = [m.model_dump() for m in request.messages]
        chunks = cast(
            Iterator[Any], llama.create_chat_completion(messages=messages, stream=True, **kwargs)
        )
        generated = 0
        finish: FinishReason = "stop"
        for chunk in chunks:
            if stop.is_set():
                finish = "cancelled"
                break
            choice = chunk["choices"][0]
            text = choice["delta"].get("content") or ""
            if text:
                generated += 1
                emit(Delta(index=index, text=text))
            if choice.get("finish_reason") == "length":
                finish = "length"
        emit(Delta(index=index, finish_reason=finish))
        prompt_tokens = max(llama.n_tokens - generated, 0)
        return Usage(prompt_tokens=prompt_tokens, completion_tokens=generated)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _translate_value_error(exc: ValueError, context_length: int) -> EngineError:
    """llama.cpp reports an over-long prompt as a ValueError; anything else is generic."""
    if "exceed context window" in str(exc):
        return PromptTooLong(
            f"The request is too long for the model's context window of {context_length} "
            "tokens. Shorten the text, or raise engine.context_length."
        )
    return EngineError("The embedded model refused the request.")
