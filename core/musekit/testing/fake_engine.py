"""A deterministic engine for tests: scripted replies, recorded requests, injected faults."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable

from musekit.engine.base import Engine
from musekit.engine.types import ChatRequest, Delta, FinishReason, StreamEvent, Usage

#: A reply is fixed text, or a function of the request and the sample index.
Reply = str | Callable[[ChatRequest, int], str]

_TOKEN = re.compile(r"\S+\s*|\s+")


def split_tokens(text: str) -> list[str]:
    """The fake engine's tokens: each word with the whitespace after it."""
    return _TOKEN.findall(text)


class FakeEngine(Engine):
    """Answers from a script instead of a model, and records every request.

    Replies are consumed in order, one per sample; when the script runs out,
    ``default`` is used. A reply function gets the request and the sample index;
    if it raises, the request fails mid-stream. Tokens are words: a reply longer
    than ``max_tokens`` is cut and finishes with ``"length"``. ``latency`` is
    waited before the first token and ``token_delay`` between tokens.
    ``fail_next(error)`` makes the next request raise ``error`` instead.
    """

    name = "fake"

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        default: Reply = "ok",
        latency: float = 0.0,
        token_delay: float = 0.0,
        model: str = "fake-model",
    ) -> None:
        self._script: deque[Reply] = deque(replies)
        self.default = default
        self.latency = latency
        self.token_delay = token_delay
        self._model = model
        self.requests: list[ChatRequest] = []
        self._failures: deque[BaseException] = deque()

    @property
    def model(self) -> str:
        return self._model

    def script(self, *replies: Reply) -> None:
        """Queue more replies."""
        self._script.extend(replies)

    def fail_next(self, error: BaseException, times: int = 1) -> None:
        """Make the next ``times`` requests raise ``error``."""
        self._failures.extend([error] * times)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        self.requests.append(request)
        if self._failures:
            raise self._failures.popleft()
        if self.latency:
            await asyncio.sleep(self.latency)
        prompt_tokens = sum(len(split_tokens(m.content)) for m in request.messages)
        completion_tokens = 0
        for index in range(request.n):
            reply = self._script.popleft() if self._script else self.default
            text = reply(request, index) if callable(reply) else reply
            tokens = split_tokens(text)
            finish: FinishReason = "stop"
            if len(tokens) > request.sampling.max_tokens:
                tokens, finish = tokens[: request.sampling.max_tokens], "length"
            for token in tokens:
                if self.token_delay:
                    await asyncio.sleep(self.token_delay)
                yield Delta(index=index, text=token)
            completion_tokens += len(tokens)
            yield Delta(index=index, finish_reason=finish)
        yield Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
