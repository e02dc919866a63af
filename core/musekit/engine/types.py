"""The data that crosses the engine interface: requests, streamed deltas, completions.

The shapes follow the OpenAI chat-completions API as vLLM serves it, so a request
maps onto vLLM's body field for field (``max_tokens`` becomes
``max_completion_tokens``, ``json_schema`` becomes ``response_format``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled"]


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class Sampling(BaseModel):
    """Sampling parameters; ``None`` leaves the engine's default."""

    model_config = ConfigDict(frozen=True)

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    min_p: float = Field(0.0, ge=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1)
    repetition_penalty: float | None = Field(None, gt=0.0)
    seed: int | None = None
    stop: tuple[str, ...] = ()
    max_tokens: int = Field(256, ge=1)


class ChatRequest(BaseModel):
    """A chat completion request: messages, sampling, ``n`` samples, optional JSON schema."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[Message, ...] = Field(min_length=1)
    sampling: Sampling = Sampling()
    n: int = Field(1, ge=1)
    json_schema: dict[str, Any] | None = None
    priority: int | None = Field(None, description="vLLM scheduling priority (lower runs first).")
    cache_salt: str | None = Field(None, description="Keeps prefix-cache entries per tenant.")
    affinity: str | None = Field(
        None,
        description="Routing key (conversation or plugin): requests with the same key go to the "
        "same replica, for prefix-cache hits. Not sent to the server.",
    )

    def with_sampling(self, **changes: Any) -> ChatRequest:
        """A copy with some sampling parameters replaced."""
        return self.model_copy(update={"sampling": self.sampling.model_copy(update=changes)})


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of streamed text for choice ``index``; the last carries ``finish_reason``.

    A plain dataclass, not a pydantic model: one is made for every token.
    """

    index: int = 0
    text: str = ""
    finish_reason: FinishReason | None = None


class Usage(BaseModel):
    """Token counts for a whole request (all choices)."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


StreamEvent = Delta | Usage
"""What :meth:`Engine.stream` yields: text deltas, and one :class:`Usage` at the end."""


class Choice(BaseModel):
    """One finished sample."""

    model_config = ConfigDict(frozen=True)

    index: int
    text: str
    finish_reason: FinishReason

    @property
    def truncated(self) -> bool:
        """True when the sample stopped at the token limit rather than by itself."""
        return self.finish_reason == "length"


class Completion(BaseModel):
    """All samples of a request, in index order, with usage and the model's name."""

    model_config = ConfigDict(frozen=True)

    choices: tuple[Choice, ...]
    usage: Usage = Field(default_factory=Usage)
    model: str = ""

    @property
    def text(self) -> str:
        """The first sample's text."""
        return self.choices[0].text
