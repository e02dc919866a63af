"""The embedded engine: a GGUF model run in process by llama.cpp (llama-cpp-python).

llama.cpp is not thread-safe, so one worker thread runs every request, first come
first served, and the event loop never waits on it. At most ``max_queue`` requests
wait behind the running one; past that, callers get :class:`EngineBusy` at once.
``llama_cpp`` is imported only when the model loads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from musekit.engine.base import Engine
from musekit.engine.types import ChatRequest, Delta, FinishReason, StreamEvent, Usage
from musekit.errors import EngineBusy, EngineError, EngineUnavailable, PromptTooLong

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

logger = logging.getLogger("musekit.engine.embedded")

_DONE = object()
_SEEDS = 2**32  # llama.cpp seeds are unsigned 32-bit


@dataclass
class _Meter:
    """What the model did for the current sample: prompt size, tokens generated.

    Setting ``stop`` ends generation before the next token.
    """

    stop: threading.Event = field(default_factory=threading.Event)
    prompt_tokens: int = 0
    generated: int = 0

    def start(self, stop: threading.Event) -> None:
        """Meter a new sample, which ``stop`` cancels."""
        self.stop = stop
        self.prompt_tokens = self.generated = 0


@dataclass(eq=False)
class _Job:
    """One request as the worker thread sees it."""

    request: ChatRequest
    emit: Callable[[object], None]
    stop: threading.Event = field(default_factory=threading.Event)
    started: bool = False


class EmbeddedEngine(Engine):
    """Runs a GGUF model with llama.cpp in one worker thread.

    ``stream`` tags deltas with their choice index; sample ``i`` of a seeded request
    uses ``seed + i`` (as vLLM does) and repeats exactly whatever ran before it; an
    unseeded request draws a fresh seed and reuses the cached prompt prefix.
    Usage counts the prompt once and the generated tokens of every sample.
    """

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
        self.threads = threads or _available_cpus()
        self.max_queue = max_queue
        self._llama: Llama | None = None
        self._meter = _Meter()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="musekit-llama")
        self._jobs: set[_Job] = set()
        self._closed = False

    @property
    def model(self) -> str:
        return self.model_path.stem

    @property
    def pending(self) -> int:
        """Requests admitted and not yet finished: the running one and those waiting."""
        return len(self._jobs)

    async def load(self) -> None:
        """Load the model now (otherwise the first request loads it)."""
        self._check_open()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._ensure_loaded)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        self._check_open()
        if len(self._jobs) > self.max_queue:
            raise EngineBusy(
                "The model is busy with other requests and its waiting line is full. "
                "Try again in a moment."
            )
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[object] = asyncio.Queue()
        job = _Job(request, emit=_threadsafe_put(loop, events))
        self._jobs.add(job)
        work = loop.run_in_executor(self._executor, self._run, job)

        def finished(_: object) -> None:
            self._jobs.discard(job)
            events.put_nowait(_DONE)

        work.add_done_callback(finished)
        try:
            while (item := await events.get()) is not _DONE:
                yield cast(Delta, item)
            usage = work.result()  # raises what the worker raised
            if usage is not None:
                yield usage
        finally:
            job.stop.set()
            if not job.started:  # a cancelled request stops waiting at once
                self._jobs.discard(job)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineUnavailable("The embedded engine has been shut down.")

    # --- worker thread -------------------------------------------------------------

    def _run(self, job: _Job) -> Usage | None:
        """Generate every sample of ``job``; ``None`` if it was cancelled while waiting."""
        if job.stop.is_set():
            return None
        job.started = True
        llama = self._ensure_loaded()
        grammar = _grammar(job.request.json_schema)
        base_seed = job.request.sampling.seed
        if base_seed is None:
            base_seed = secrets.randbits(32)
        usage = Usage()
        for index in range(job.request.n):
            sample = self._sample(llama, job, index, (base_seed + index) % _SEEDS, grammar)
            # The prompt counts once (samples share its cache, as in vLLM).
            usage = Usage(
                prompt_tokens=sample.prompt_tokens,
                completion_tokens=usage.completion_tokens + sample.completion_tokens,
            )
            if job.stop.is_set():
                break
        return usage

    def _ensure_loaded(self) -> Llama:
        if self._llama is None:
            started = time.perf_counter()
            self._llama = _load_llama(
                self._meter,
                model_path=str(self.model_path),
                n_ctx=self.context_length,
                n_threads=self.threads,
                verbose=False,
            )
            logger.info(
                "loaded model %s in %.2f s", self.model_path.name, time.perf_counter() - started
            )
        return self._llama

    def _sample(
        self, llama: Llama, job: _Job, index: int, seed: int, grammar: LlamaGrammar | None
    ) -> Usage:
        """Stream one sample to the job's listener; return its usage."""
        sampling = job.request.sampling
        self._meter.start(job.stop)
        if sampling.seed is not None:
            # Reusing the cached prompt prefix changes the numerics slightly, so a
            # seeded sample evaluates its prompt afresh to repeat exactly.
            llama.reset()  # type: ignore[no-untyped-call]
        logger.debug("generating sample %d of %d", index + 1, job.request.n)
        finish: FinishReason = "stop"
        try:
            for chunk in _chat_chunks(llama, job.request, seed, grammar):
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    job.emit(Delta(index=index, text=text))
                if choice["finish_reason"] == "length":
                    finish = "length"
        except ValueError as exc:
            raise _refusal(exc, self.context_length) from exc
        except Exception as exc:
            raise EngineError("The embedded model failed while generating.") from exc
        job.emit(Delta(index=index, finish_reason="cancelled" if job.stop.is_set() else finish))
        return Usage(
            prompt_tokens=self._meter.prompt_tokens, completion_tokens=self._meter.generated
        )

    def _unload(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None

    async def aclose(self) -> None:
        """Stop every request (each within a token), free the model and the worker."""
        if self._closed:
            return
        self._closed = True
        for job in list(self._jobs):
            job.stop.set()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._unload)
        self._executor.shutdown(wait=False)


def _chat_chunks(
    llama: Llama, request: ChatRequest, seed: int, grammar: LlamaGrammar | None
) -> Iterator[Any]:
    """llama-cpp-python's stream of chat-completion chunks for one sample of ``request``."""
    sampling = request.sampling
    chunks = llama.create_chat_completion(
        messages=[cast(Any, m.model_dump()) for m in request.messages],
        stream=True,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        min_p=sampling.min_p,
        top_k=sampling.top_k or 0,
        repeat_penalty=sampling.repetition_penalty or 1.0,
        max_tokens=sampling.max_tokens,
        stop=list(sampling.stop),
        seed=seed,
        grammar=grammar,
    )
    return cast(Iterator[Any], chunks)


def _threadsafe_put(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object]
) -> Callable[[object], None]:
    """A callable the worker uses to hand deltas to the event loop's queue."""

    def put(item: object) -> None:
        with suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    return put


def _available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _load_llama(meter: _Meter, **params: Any) -> Llama:
    """A ``llama_cpp.Llama`` that records in ``meter`` what each completion uses.

    llama-cpp-python reports usage only for non-streamed completions, so generation
    is metered at the token level: the prompt's length, and each sampled token except
    an end-of-generation one (exactly what its own usage counts). Setting the meter's
    ``stop`` event ends generation before the next token.
    """
    try:
        import llama_cpp
    except ImportError:
        raise EngineUnavailable(
            "The embedded engine needs llama-cpp-python: `pip install llama-cpp-python`."
        ) from None

    class MeteredLlama(llama_cpp.Llama):
        def generate(
            self, tokens: Sequence[int], *args: Any, **kwargs: Any
        ) -> Generator[int, Sequence[int] | None, None]:
            meter.prompt_tokens = len(tokens)
            vocab = llama_cpp.llama_model_get_vocab(self.model)
            for token in super().generate(tokens, *args, **kwargs):
                if meter.stop.is_set():
                    return
                if not llama_cpp.llama_vocab_is_eog(vocab, token):
                    meter.generated += 1
                yield token

    try:
        return MeteredLlama(**params)
    except (ValueError, RuntimeError, OSError) as exc:
        raise EngineUnavailable(
            f"The model file '{params['model_path']}' could not be loaded: it is missing, "
            "or not a valid GGUF model file."
        ) from exc


# llama-cpp-python's schema converter lets raw control characters (a newline...) into
# JSON strings, which makes the output invalid JSON; llama.cpp's own converter keeps
# them out, as this rule does.
_LOOSE_CHAR = r'char ::= [^"\\] |'
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] |'


def _grammar(schema: dict[str, Any] | None) -> LlamaGrammar | None:
    """llama.cpp's grammar for a JSON schema (``None`` without one); unsupported -> error."""
    if schema is None:
        return None
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema)).replace(_LOOSE_CHAR, _JSON_CHAR)
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except Exception as exc:
        raise EngineError(
            "The embedded engine cannot constrain output to this JSON schema "
            "(it uses a construct llama.cpp's grammar converter does not support)."
        ) from exc


_TOO_LONG = re.compile(r"Requested tokens \((\d+)\) exceed context window")


def _refusal(exc: ValueError, context_length: int) -> EngineError:
    """llama.cpp reports an over-long prompt as a ValueError; anything else is generic."""
    match = _TOO_LONG.search(str(exc))
    if match is None:
        return EngineError("The embedded model refused the request.")
    return PromptTooLong(
        f"The request is {match.group(1)} tokens long, which does not fit the model's "
        f"context window of {context_length} tokens. Shorten the text, or raise "
        "engine.context_length (MUSEKIT_ENGINE__CONTEXT_LENGTH)."
    )
