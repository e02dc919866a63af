"""What each server serves, read once from ``/v1/models``, and whether a prompt can fit.

vLLM lists its served model names with ``max_model_len``; llama.cpp's server
lists the model without it (then no length check is made here). A prompt is
refused before sending when it *cannot* fit: its characters divided by
:data:`MAX_CHARS_PER_TOKEN` (more than any tokenizer packs into a token on
average in real text) already exceed ``max_model_len``. Closer cases are left to
the server, whose "too long" refusal gives the same message.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from musekit.engine.types import ChatRequest
from musekit.errors import EngineUnavailable, PromptTooLong

#: A lower bound on tokens is characters / this: no tokenizer averages more per token.
MAX_CHARS_PER_TOKEN = 6


@dataclass(frozen=True)
class Served:
    """The model to ask a server for, and its context window (``None``: not reported)."""

    model: str
    max_model_len: int | None


class Catalog:
    """Served models per base URL, fetched on first use and kept (one fetch at a time)."""

    def __init__(self, client: httpx.AsyncClient, model: str | None, timeout: float) -> None:
        self._client = client
        self._model = model
        self._timeout = timeout
        self._known: dict[str, Served] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def served(self, base_url: str, headers: dict[str, str]) -> Served:
        """What ``base_url`` serves; raises ``httpx.HTTPError`` when it cannot be reached."""
        known = self._known.get(base_url)
        if known is not None:
            return known
        async with self._locks.setdefault(base_url, asyncio.Lock()):
            if base_url not in self._known:
                response = await self._client.get(
                    f"{base_url}/models", headers=headers, timeout=self._timeout
                )
                self._known[base_url] = self._choose(response)
            return self._known[base_url]

    def forget(self, base_url: str) -> None:
        """Read ``/v1/models`` again next time (the server answered "no such model")."""
        self._known.pop(base_url, None)

    def _choose(self, response: httpx.Response) -> Served:
        if response.status_code in (401, 403):
            raise EngineUnavailable(
                "The model server refused musekit's credentials: check engine.openai.api_key "
                "(MUSEKIT_ENGINE__OPENAI__API_KEY)."
            )
        try:
            response.raise_for_status()
            cards = {str(card["id"]): card for card in response.json()["data"]}
        except (httpx.HTTPStatusError, ValueError, KeyError, TypeError):
            raise EngineUnavailable(
                "The model server did not list its models at /v1/models "
                "(is engine.openai.base_urls right, ending in /v1?)."
            ) from None
        name = self._model if self._model is not None else next(iter(cards), None)
        if name is None or name not in cards:
            listed = ", ".join(sorted(cards)) or "none"
            raise EngineUnavailable(
                f"The model server does not serve '{name}'; it serves: {listed}. Set "
                "engine.openai.model (MUSEKIT_ENGINE__OPENAI__MODEL) to one of them."
            )
        length = cards[name].get("max_model_len")
        return Served(name, length if isinstance(length, int) else None)


def check_fits(request: ChatRequest, served: Served) -> None:
    """Refuse, before sending, a prompt that cannot fit the server's context window."""
    if served.max_model_len is None:
        return
    chars = sum(len(m.content) for m in request.messages)
    if chars // MAX_CHARS_PER_TOKEN >= served.max_model_len:
        raise PromptTooLong(
            f"The text is too long for the model: about {chars:,} characters, and the model "
            f"reads at most {served.max_model_len:,} tokens. Shorten it and try again."
        )
