"""What a failed attempt means: which musekit error, whether to retry, and how long to wait.

Retried (with jittered exponential backoff, or the server's ``Retry-After``):
connection errors, 429 and 503. Never retried: 400, 404, 422 and other refusals,
and never once a token has reached the caller. Messages are written for the
user: the server's own error text is not shown (it may echo the prompt).
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from dataclasses import dataclass

import httpx

from musekit.errors import EngineBusy, EngineError, EngineUnavailable, MusekitError, PromptTooLong

#: How vLLM (and llama.cpp) word a prompt that does not fit the context window.
_CONTEXT = re.compile(r"maximum context length|maximum model length|context window", re.I)
_RETRIED_STATUSES = frozenset({429, 503})
_WORD = re.compile(r"\w{1,40}")  # an error type worth showing: a class name, nothing else


@dataclass(frozen=True)
class Failure:
    """A failed attempt: the error to raise, and whether it may be retried."""

    error: MusekitError
    retry: bool = False
    retry_after: float | None = None
    replica_fault: bool = True  # counts toward the replica's circuit breaker


def from_status(response: httpx.Response, body: bytes, model: str) -> Failure:
    """The failure an error response stands for."""
    status = response.status_code
    message, kind = _error_fields(body)
    label = f"{status} {kind}" if kind else str(status)
    if status in _RETRIED_STATUSES:
        busy = EngineBusy("The model server is busy. Try again in a moment.")
        return Failure(busy, retry=True, retry_after=retry_after(response), replica_fault=False)
    if status == 400 and _CONTEXT.search(message):
        too_long = PromptTooLong(
            "The text is too long for the model's context window. Shorten it and try again."
        )
        return Failure(too_long, replica_fault=False)
    if status in (401, 403):
        return Failure(
            EngineUnavailable(
                "The model server refused musekit's credentials: check engine.openai.api_key "
                "(MUSEKIT_ENGINE__OPENAI__API_KEY)."
            ),
            replica_fault=False,
        )
    if status == 404:
        return Failure(
            EngineUnavailable(
                f"The model server does not serve a model named '{model}': check "
                "engine.openai.model (MUSEKIT_ENGINE__OPENAI__MODEL)."
            ),
            replica_fault=False,
        )
    if status < 500:
        refused = EngineError(f"The model server refused the request ({label}).")
        return Failure(refused, replica_fault=False)
    return Failure(EngineError(f"The model server failed to answer ({label})."))


def in_stream(error: object) -> Failure:
    """The failure for an error object the server sent inside a stream."""
    code = error.get("code") if isinstance(error, dict) else None
    if code == 503:
        return Failure(EngineBusy("The model server is busy. Try again in a moment."))
    return Failure(EngineError("The model server failed in the middle of the answer."))


def unreachable(base_url: str) -> Failure:
    """A connection that could not be made or broke before any answer: retried."""
    where = httpx.URL(base_url).copy_with(username=None, password=None)
    return Failure(
        EngineUnavailable(
            f"Cannot reach the model server at {where}; is it running? (engine.openai.base_urls)"
        ),
        retry=True,
    )


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (a number or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int, base: float, cap: float, server_says: float | None) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): full jitter, or ``Retry-After``
    plus up to 10% so that clients told the same time do not return together."""
    if server_says is not None:
        return server_says * random.uniform(1.0, 1.1)
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def _error_fields(body: bytes) -> tuple[str, str]:
    """vLLM's error ``message`` and ``type``; empty when the body is something else."""
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return "", ""
    if not isinstance(error, dict):
        return str(error), ""
    kind = str(error.get("type", ""))
    return str(error.get("message", "")), kind if _WORD.fullmatch(kind) else ""
