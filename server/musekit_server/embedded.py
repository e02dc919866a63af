"""Serving the embedded engine behind the OpenAI-compatible API, where vLLM cannot run.

The port is bound first (a port in use is a clear error at once), then the model
loads (a bad model path fails here, not on the first request), then the connect
information is printed and uvicorn serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from contextlib import suppress

import uvicorn

from musekit.engine.embedded import EmbeddedEngine
from musekit.engine.factory import create_engine
from musekit.errors import EngineUnavailable
from musekit.observability.metrics import default_metrics
from musekit.settings import Settings
from musekit_server.openai_app import create_app

#: Seconds a stopping server lets open streams finish before it closes them.
SHUTDOWN_GRACE_S = 5


def serve_embedded(settings: Settings, ready: Callable[[str], None]) -> None:
    """Serve until stopped; ``ready(served_model_name)`` once clients can connect."""
    with suppress(KeyboardInterrupt):  # Ctrl-C is how a server is stopped
        asyncio.run(_serve(settings, ready))


async def _serve(settings: Settings, ready: Callable[[str], None]) -> None:
    serve = settings.serve
    engine = create_engine(settings.engine.model_copy(update={"backend": "embedded"}))
    assert isinstance(engine, EmbeddedEngine)
    listener = _bind(serve.host, serve.port)  # before the model loads: a busy port fails fast
    try:
        await engine.load()
        name = serve.served_model_name or engine.model
        app = create_app(
            engine,
            served_model_name=name,
            max_model_len=engine.context_length,
            api_key=serve.api_key.get_secret_value() if serve.api_key else None,
            registries=[default_metrics().registry],
        )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
            )
        )
        ready(name)
        await server.serve(sockets=[listener])
    finally:
        listener.close()
        await engine.aclose()


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a clear error (port in use, unknown address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise EngineUnavailable(
            f"serve.host: '{host}' is not an address of this machine."
        ) from None
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise EngineUnavailable(
                f"Port {port} on {host} is already in use: stop what uses it, or choose another "
                "with serve.port (MUSEKIT_SERVE__PORT)."
            ) from None
        raise EngineUnavailable(
            f"Could not listen on {host}:{port} ({exc.strerror or type(exc).__name__})."
        ) from None
    return listener
