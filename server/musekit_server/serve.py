"""`musekit serve`: vLLM on a GPU host, the embedded engine elsewhere, one protocol for clients.

Either way the server speaks vLLM's OpenAI-compatible API, and once it is ready
the command prints the settings that point musekit's bots at it.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Literal

from musekit.errors import EngineUnavailable, UsageError
from musekit.settings import ServeSettings, Settings, env_name
from musekit_server.process import start, stop, wait_until_ready
from musekit_server.vllm import build_launch, find_vllm

ServeEngine = Literal["vllm", "embedded"]

#: Where NVIDIA's driver lists the GPUs it drives.
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def serve(settings: Settings) -> None:
    """Run the configured server until Ctrl-C or SIGTERM."""
    check_exposure(settings.serve)
    vllm = find_vllm()
    if choose_engine(settings.serve.engine, vllm=vllm, gpu=gpu_present()) == "vllm":
        if vllm is None:
            raise EngineUnavailable(
                "serve.engine is 'vllm', but vLLM is not installed here. On a GPU host, "
                "`pip install 'musekit[vllm]'`; elsewhere set serve.engine to 'embedded' or "
                "'auto' (MUSEKIT_SERVE__ENGINE)."
            )
        serve_vllm(settings.serve, vllm)
    else:
        from musekit_server.embedded import serve_embedded

        key = settings.serve.api_key is not None
        serve_embedded(settings, lambda model: announce(base_url(settings.serve), model, key))
        print("musekit serve: stopped.", file=sys.stderr, flush=True)


def choose_engine(setting: str, *, vllm: str | None, gpu: bool) -> ServeEngine:
    """vLLM if asked for, or under 'auto' where it is installed and a GPU is present."""
    if setting == "vllm" or (setting == "auto" and vllm is not None and gpu):
        return "vllm"
    return "embedded"


def gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU (the driver lists one), or an AMD one (ROCm)."""
    nvidia = NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir())
    return nvidia or Path("/dev/kfd").exists()


def check_exposure(settings: ServeSettings) -> None:
    """Refuse to listen beyond this machine without an API key: the model would be open to all."""
    if settings.api_key is None and not is_loopback(settings.host):
        raise UsageError(
            f"serve.host is '{settings.host}', which other machines can reach: set "
            f"serve.api_key ({env_name('serve.api_key')}) so only your clients can use the "
            "model, or listen on 127.0.0.1."
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def serve_vllm(settings: ServeSettings, executable: str) -> None:
    """Start `vllm serve`, wait until it is ready, announce it, and stop it with this command."""
    launch = build_launch(settings, executable)
    print(f"musekit serve: starting {shlex.join(launch.argv)}", file=sys.stderr, flush=True)
    with _sigterm_as_interrupt():
        process = start(launch.argv, launch.env)
        try:
            if launch.headless:
                print(
                    "musekit serve: vLLM worker node started; the head node "
                    f"({settings.vllm.data_parallel_address}) serves the API.",
                    flush=True,
                )
            else:
                local = "127.0.0.1" if _is_wildcard(settings.host) else display_host(settings.host)
                wait_until_ready(
                    process, f"http://{local}:{settings.port}/health", settings.startup_timeout
                )
                announce(base_url(settings), launch.served_model_name, settings.api_key is not None)
            code = process.wait()
        except KeyboardInterrupt:
            code = 0
        finally:
            stop(process)
    if code != 0:
        raise EngineUnavailable(f"vLLM stopped with exit code {code}; its output above says why.")
    print("musekit serve: stopped.", file=sys.stderr, flush=True)


def announce(url: str, model: str, needs_key: bool) -> None:
    """Print where the server is and the settings that point musekit's bots at it."""
    urls = json.dumps([url])
    lines = [
        f"musekit serve: serving '{model}' at {url}",
        "Point the bots at it with these settings:",
        f"  {env_name('engine.backend')}=openai",
        f"  {env_name('engine.openai.base_urls')}={shlex.quote(urls)}",
        f"  {env_name('engine.openai.model')}={shlex.quote(model)}",
    ]
    if needs_key:
        lines.append(f"  {env_name('engine.openai.api_key')}=<the key in serve.api_key>")
    lines.append("Ctrl-C stops the server.")
    print("\n".join(lines), flush=True)


def base_url(settings: ServeSettings) -> str:
    """The ``/v1`` URL clients use."""
    return f"http://{display_host(settings.host)}:{settings.port}/v1"


def display_host(host: str) -> str:
    """The host as clients write it: this machine's name for a wildcard address."""
    if _is_wildcard(host):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a container stopping) stops the server as Ctrl-C does."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
