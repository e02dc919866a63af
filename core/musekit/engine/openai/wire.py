"""The chat-completions wire format: request bodies per server dialect, streamed chunks back.

Two dialects, chosen by configuration (``engine.openai.dialect``), never guessed:

* ``vllm`` (vLLM 0.33, ``musekit serve``): structured output as ``response_format``
  ``json_schema``; ``n`` samples in one request, streamed with their choice index;
  ``max_completion_tokens``; vLLM's extra sampling fields, ``priority`` and
  ``cache_salt``. Never the removed ``guided_*`` fields.
* ``llama-cpp`` (``llama_cpp.server``): ``response_format`` ``{"type": "json_object",
  "schema": ...}``, ``max_tokens``, ``repeat_penalty``; no ``n`` (one sample per call).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from musekit.engine.types import ChatRequest, Delta, FinishReason, Usage
from musekit.errors import EngineError

Dialect = Literal["vllm", "llama-cpp"]

_FINISH: dict[str, FinishReason] = {"length": "length", "abort": "cancelled"}


def chat_body(request: ChatRequest, model: str, dialect: Dialect) -> dict[str, Any]:
    """The streaming ``/v1/chat/completions`` body for ``request`` (``affinity`` stays here)."""
    sampling = request.sampling
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
    }
    optional: dict[str, Any] = {
        "min_p": sampling.min_p or None,
        "top_k": sampling.top_k,
        "seed": sampling.seed,
        "stop": list(sampling.stop) or None,
    }
    if dialect == "vllm":
        body |= {
            "stream_options": {"include_usage": True},
            "max_completion_tokens": sampling.max_tokens,
            "n": request.n,
        }
        optional |= {
            "repetition_penalty": sampling.repetition_penalty,
            "priority": request.priority,
            "cache_salt": request.cache_salt,
        }
        if request.json_schema is not None:
            schema = {"name": "response", "schema": request.json_schema, "strict": True}
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        body["max_tokens"] = sampling.max_tokens
        optional["repeat_penalty"] = sampling.repetition_penalty
        if request.json_schema is not None:
            body["response_format"] = {"type": "json_object", "schema": request.json_schema}
    body |= {key: value for key, value in optional.items() if value is not None}
    return body


class ChunkReader:
    """Turns the ``data:`` payloads of one streamed response into engine events.

    Choices are told apart by their ``index`` (``offset`` is added, for a sample
    fetched by a call of its own). :meth:`end` checks that every one of ``n``
    choices finished and returns the usage: the server's usage chunk, or, when
    the server sent none, one token per content chunk.
    """

    def __init__(self, n: int, offset: int = 0) -> None:
        self.n = n
        self.offset = offset
        self.done = False
        self._finished: set[int] = set()
        self._usage: Usage | None = None
        self._chunks = 0

    def read(self, data: str) -> list[Delta]:
        """The deltas in one payload; ``[DONE]`` marks the end."""
        if data == "[DONE]":
            self.done = True
            return []
        # One call per token: this is the hot path of every answer.
        try:
            chunk = json.loads(data)
            if "error" in chunk:
                raise StreamFailed(chunk["error"])
            usage = chunk.get("usage")
            if usage:
                self._usage = Usage(
                    prompt_tokens=int(usage["prompt_tokens"]),
                    completion_tokens=int(usage["completion_tokens"]),
                )
            deltas = []
            for choice in chunk["choices"]:
                text = choice["delta"].get("content") or ""
                reason = choice.get("finish_reason")
                if reason is None:
                    if text:
                        self._chunks += 1
                        deltas.append(Delta(choice["index"] + self.offset, text))
                    continue
                index = int(choice["index"])
                self._finished.add(index)
                self._chunks += bool(text)
                deltas.append(Delta(index + self.offset, text, _FINISH.get(reason, "stop")))
            return deltas
        except (ValueError, TypeError, KeyError, AttributeError):
            raise EngineError(
                "The model server sent a streamed chunk musekit cannot read "
                "(is engine.openai.dialect right for this server?)."
            ) from None

    def end(self) -> Usage:
        """The usage, once the stream is over; an error if it ended too soon."""
        if not self.done:
            raise StreamBroken("The model server's reply ended before it was complete.")
        if len(self._finished) != self.n:
            raise EngineError(
                f"The model server returned {len(self._finished)} of the {self.n} samples asked "
                "for (is engine.openai.dialect right for this server?)."
            )
        return self._usage or Usage(completion_tokens=self._chunks)


class StreamBroken(EngineError):
    """The stream stopped without its end: the connection broke."""


class StreamFailed(Exception):
    """The server reported an error inside the stream; carries its error object."""

    def __init__(self, error: object) -> None:
        super().__init__("error in stream")
        self.error = error
