"""The engine layer: one async interface over the embedded model and vLLM."""

from musekit.engine.base import Engine
from musekit.engine.types import (
    ChatRequest,
    Choice,
    Completion,
    Delta,
    FinishReason,
    Message,
    Sampling,
    StreamEvent,
    Usage,
)

__all__ = [
    "ChatRequest",
    "Choice",
    "Completion",
    "Delta",
    "Engine",
    "FinishReason",
    "Message",
    "Sampling",
    "StreamEvent",
    "Usage",
]
