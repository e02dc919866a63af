"""The replicas behind the OpenAI-compatible engine, and which one serves a request.

:class:`EndpointPool` is the seam between the engine and its servers: the engine
asks it for an endpoint per attempt (:meth:`EndpointPool.acquire`) and reports how
the attempt went (:meth:`EndpointPool.release`). Requests with the same affinity go
to the same replica (prefix-cache hits); a replica that failed for a request is
skipped on the retry (failover).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from musekit.engine.openai.routing import Router
from musekit.errors import EngineUnavailable
from musekit.settings import OpenAISettings


@dataclass(eq=False)
class Endpoint:
    """One replica: its base URL (ending in ``/v1``)."""

    base_url: str


class EndpointPool:
    """Chooses a replica per request attempt."""

    def __init__(self, settings: OpenAISettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client
        urls = [url.rstrip("/") for url in settings.base_urls]
        self._endpoints = {url: Endpoint(url) for url in urls}
        self._router = Router(list(self._endpoints))

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every replica, in the order the settings list them."""
        return tuple(self._endpoints.values())

    async def acquire(
        self, affinity: str | None, exclude: frozenset[str] = frozenset()
    ) -> Endpoint:
        """The replica for the next attempt of a request, skipping those in ``exclude``.

        Raises :class:`EngineUnavailable` when no replica is left to try.
        """
        for url in self._router.order(affinity):
            if url not in exclude:
                return self._endpoints[url]
        raise EngineUnavailable(
            f"The model server is not answering; tried {len(self._endpoints)} "
            f"replica{'s' if len(self._endpoints) != 1 else ''}. Try again shortly."
        )

    def release(self, endpoint: Endpoint, *, ok: bool) -> None:
        """Report how an attempt on ``endpoint`` went (``ok=False``: connection error, 5xx)."""

    async def start(self) -> None:
        """Begin watching the replicas."""

    async def aclose(self) -> None:
        """Stop watching the replicas."""
