"""Running the vLLM server process: start it, wait until it is ready, stop it cleanly.

vLLM's own output goes straight to this terminal (its log says why a model failed
to load). Readiness is vLLM's ``/health`` answering 200: its port opens only once
the engine has loaded the model.
"""

from __future__ import annotations

import os
import subprocess
import time

import httpx

from musekit.errors import EngineUnavailable

#: How long a stopping vLLM gets to finish before it is killed.
STOP_GRACE_S = 30.0
_POLL_S = 0.25


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the server with these variables added to this process's environment."""
    try:
        return subprocess.Popen(argv, env={**os.environ, **env})
    except OSError as exc:
        raise EngineUnavailable(
            f"'{argv[0]}' could not be started ({exc.strerror or type(exc).__name__})."
        ) from exc


def wait_until_ready(
    process: subprocess.Popen[bytes],
    health_url: str,
    timeout: float,
) -> None:
    """Return once ``health_url`` answers 200; a clear error if the process ends or time runs out.

    On an error the process has been stopped.
    """
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            code = process.poll()
            if code is not None:
                raise EngineUnavailable(
                    f"vLLM exited with code {code} before it was ready; its output above says why."
                )
            try:
                if client.get(health_url).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet: the model is still loading
            if time.monotonic() >= deadline:
                stop(process)
                raise EngineUnavailable(
                    f"vLLM was not ready after {timeout:g} s ({health_url} did not answer 200); "
                    "it has been stopped. Raise serve.startup_timeout "
                    "(MUSEKIT_SERVE__STARTUP_TIMEOUT) if the model needs longer to load."
                )
            time.sleep(_POLL_S)


def stop(process: subprocess.Popen[bytes], grace: float = STOP_GRACE_S) -> int:
    """Ask the process to stop (SIGTERM), kill it after ``grace`` seconds; its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
