"""An engine wrapper that holds a command to its limits and meters what it uses."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from musekit.engine.base import Engine
from musekit.engine.types import ChatRequest, Completion, Delta, StreamEvent, Usage
from musekit.spec import Limits

#: Receives every streamed delta, so a front end can show text as it arrives.
DeltaCallback = Callable[[Delta], None]


class BudgetedEngine(Engine):
    """Clamps tokens and samples to a command's :class:`Limits`; sums usage; forwards deltas.

    Requests without an ``affinity`` get the invocation's (its conversation, else its plugin).
    """

    def __init__(
        self,
        inner: Engine,
        limits: Limits,
        on_delta: DeltaCallback | None = None,
        affinity: str | None = None,
    ) -> None:
        self.inner = inner
        self.limits = limits
        self.on_delta = on_delta
        self.affinity = affinity
        self.usage = Usage()
        self.warnings: list[str] = []
        self.name = inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    def _clamp(self, request: ChatRequest) -> ChatRequest:
        max_tokens = min(request.sampling.max_tokens, self.limits.max_output_tokens)
        n = min(request.n, self.limits.max_samples)
        if n < request.n:
            self._warn(f"asked for {request.n} samples; the limit is {n}")
        changes: dict[str, object] = {}
        if max_tokens < request.sampling.max_tokens:
            changes["sampling"] = request.sampling.model_copy(update={"max_tokens": max_tokens})
        if n < request.n:
            changes["n"] = n
        if request.affinity is None and self.affinity is not None:
            changes["affinity"] = self.affinity
        return request.model_copy(update=changes) if changes else request

    def _warn(self, warning: str) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)

    async def complete(self, request: ChatRequest) -> Completion:
        # Clamp first: the collected completion has exactly the samples that were generated.
        request = self._clamp(request)
        if self.on_delta is not None:  # someone watches the text arrive: go through stream()
            return await super().complete(request)
        completion = await self.inner.complete(request)
        self.usage = self.usage + completion.usage
        return completion

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        async with aclosing(self.inner.stream(self._clamp(request))) as events:
            async for event in events:
                if isinstance(event, Usage):
                    self.usage = self.usage + event
                elif self.on_delta is not None:
                    self.on_delta(event)
                yield event
