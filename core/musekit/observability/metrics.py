"""Prometheus metrics of the command service, in a registry of musekit's own.

Every name starts with ``musekit_``, so they sit beside vLLM's ``vllm:*`` on one
``/metrics`` page. A process has one :func:`default_metrics`; ``musekit serve``
serves it, and a bot serves it with :func:`start_metrics_server` or mounts
:func:`metrics_app`. See docs/observability.md.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from starlette.types import Receive, Scope, Send

#: Latency buckets in seconds: creative commands take from well under a second to minutes.
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)


class ServiceMetrics:
    """The service's counters, histograms and gauges (label ``command`` is a command name)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.invocations = Counter(
            "musekit_invocations",
            "Invocations that ended, by command and outcome.",
            ["command", "outcome"],
            registry=r,
        )
        self.queue_seconds = Histogram(
            "musekit_queue_seconds",
            "From submission to the plugin starting: recording, guard rails, history.",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.first_token_seconds = Histogram(
            "musekit_first_token_seconds",
            "From submission to the first token streamed by the engine.",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.total_seconds = Histogram(
            "musekit_invocation_seconds",
            "From submission to the outcome.",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "musekit_tokens",
            "Tokens used by finished commands, by command and kind (prompt, completion).",
            ["command", "kind"],
            registry=r,
        )
        self.in_flight = Gauge(
            "musekit_in_flight", "Commands running now.", ["command"], registry=r
        )
        self.limit_denials = Counter(
            "musekit_limit_denials",
            "Invocations refused by a guard rail, by kind.",
            ["kind"],
            registry=r,
        )
        self.engine_errors = Counter(
            "musekit_engine_errors",
            "Commands that ended with an engine error, by kind.",
            ["kind"],
            registry=r,
        )
        self.store_errors = Counter(
            "musekit_store_errors",
            "Store operations that failed (the outcome still reached the caller).",
            ["operation"],
            registry=r,
        )

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


@functools.cache
def default_metrics() -> ServiceMetrics:
    """This process's metrics: what services record by default and what ``/metrics`` shows."""
    return ServiceMetrics()


def render(registries: Sequence[CollectorRegistry]) -> bytes:
    """Several registries on one page (their metric names must not overlap)."""
    return b"".join(generate_latest(registry) for registry in registries)


class MetricsApp:
    """An ASGI app that answers every HTTP request with the metrics page; mount it at
    ``/metrics`` in a bot's web app. By default it shows :func:`default_metrics`."""

    def __init__(self, registries: Sequence[CollectorRegistry] | None = None) -> None:
        self.registries = registries or (default_metrics().registry,)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = render(self.registries)
        headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def start_metrics_server(
    port: int, host: str = "127.0.0.1", registry: CollectorRegistry | None = None
) -> tuple[WSGIServer, threading.Thread]:
    """Serve the metrics (by default :func:`default_metrics`) over HTTP from a daemon thread.

    Any path answers. Port 0 picks a free port: ``server.server_port``. Stop it with
    ``server.shutdown()``. It listens on loopback unless told otherwise.
    """
    return start_http_server(port, host, registry or default_metrics().registry)
