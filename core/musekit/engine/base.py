"""The engine interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from contextlib import aclosing

from musekit.engine.types import (
    ChatRequest,
    Choice,
    Completion,
    FinishReason,
    StreamEvent,
    Usage,
)


class Engine(ABC):
    """An async chat-completion engine.

    Backends implement :meth:`stream`; :meth:`complete` collects the stream, so the
    two can never disagree.
    """

    #: Short name shown in ``musekit doctor`` and in result metrics.
    name: str = "engine"

    @property
    def model(self) -> str:
        """The name of the model this engine serves."""
        return ""

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        """Yield :class:`Delta` events tagged with their choice index, then one :class:`Usage`.

        Every choice ends with a delta carrying its ``finish_reason``. Closing the
        iterator early (or cancelling the task) stops generation.
        """

    async def complete(self, request: ChatRequest) -> Completion:
        """Generate ``request.n`` samples and return them whole."""
        texts: dict[int, list[str]] = {i: [] for i in range(request.n)}
        finish: dict[int, FinishReason] = {}
        usage = Usage()
        async with aclosing(self.stream(request)) as events:
            async for event in events:
                if isinstance(event, Usage):
                    usage = event
                    continue
                texts.setdefault(event.index, []).append(event.text)
                if event.finish_reason is not None:
                    finish[event.index] = event.finish_reason
        choices = tuple(
            Choice(index=i, text="".join(parts), finish_reason=finish.get(i, "stop"))
            for i, parts in sorted(texts.items())
        )
        return Completion(choices=choices, usage=usage, model=self.model)

    async def generate(self, request: ChatRequest) -> str:
        """Generate one sample and return its text."""
        completion = await self.complete(request.model_copy(update={"n": 1}))
        return completion.text

    async def aclose(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release the engine's resources."""
