"""Logs: the invocation id on every line from every layer, JSON on request, nothing private."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MUSEKIT_SCRIPT
from pydantic import Field

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    Invocation,
    Message,
    Params,
    Result,
    Section,
    hookimpl,
)
from musekit.observability.logs import (
    NO_INVOCATION,
    LogHandler,
    configure_logging,
    current_invocation_id,
    invocation_scope,
)
from musekit.plugins import PluginHost
from musekit.runner import Runner
from musekit.service import CommandService
from musekit.store import open_store
from musekit.testing import FakeEngine, FakeVLLM

API_KEY = "sk-live-d0n0tl0g-4417"
USER_TEXT = "zebra quokka lantern"
plugin_log = logging.getLogger("mkt_logging_plugin")


class TextParams(Params):
    text: str = Field(description="Free text.")


async def chatty(ctx: Context, params: TextParams) -> Result:
    """Logs through its context logger and a module logger, then asks the engine."""
    ctx.logger.info("drafting")
    await asyncio.sleep(0.01)
    plugin_log.info("checking the draft")
    request = ChatRequest(messages=(Message(role="user", content=params.text),))
    return Result(title="t", sections=[Section(body=await ctx.engine.generate(request))])


class Chatty:
    MUSEKIT_API = (1,)

    @hookimpl
    def register_commands(self, register: Any) -> None:
        spec = CommandSpec(name="chatty", description="Logs.", params=TextParams, text_param="text")
        register(spec, chatty)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG and up, as JSON lines, in a buffer."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("DEBUG", "json", buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


async def test_every_layer_logs_with_the_id_of_the_invocation_it_works_for(
    captured: io.StringIO, tmp_path: Path
) -> None:
    host = PluginHost()
    host.add(Chatty(), name="chatty")
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    service = CommandService(Runner(host, FakeEngine()), store)
    first, second = (Invocation(command="chatty", params={"text": "x"}) for _ in range(2))

    await asyncio.gather(service.submit(first), service.submit(second))
    await store.close()

    entries = lines(captured)
    tagged = {
        (e["logger"], e["message"], e["invocation_id"])
        for e in entries
        if e["logger"] in ("musekit.plugin.chatty", "mkt_logging_plugin", "musekit.service")
    }
    for invocation in (first, second):
        assert ("musekit.plugin.chatty", "drafting", invocation.id) in tagged
        assert ("mkt_logging_plugin", "checking the draft", invocation.id) in tagged
        assert ("musekit.service", "chatty ok", invocation.id) in {
            (lg, m.partition(" in ")[0], i) for lg, m, i in tagged
        }
    assert {"time", "level", "logger", "message", "invocation_id"} <= set(entries[0])


def test_the_id_is_set_only_inside_the_scope() -> None:
    assert current_invocation_id() is None
    with invocation_scope("abc123"):
        assert current_invocation_id() == "abc123"
    assert current_invocation_id() is None


def test_text_lines_carry_the_id_in_brackets() -> None:
    buffer = io.StringIO()
    handler = LogHandler(buffer)
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(name)s [%(invocation_id)s]: %(message)s")
    )
    record = logging.LogRecord("musekit.x", logging.WARNING, __file__, 1, "slow", None, None)

    handler.handle(record)
    with invocation_scope("f00d"):
        handler.handle(logging.LogRecord("musekit.x", logging.INFO, __file__, 1, "hi", None, None))

    assert buffer.getvalue().splitlines() == [
        f"WARNING musekit.x [{NO_INVOCATION}]: slow",
        "INFO musekit.x [f00d]: hi",
    ]


def test_json_lines_name_an_exception_type_and_keep_its_traceback_for_debug(
    captured: io.StringIO,
) -> None:
    log = logging.getLogger("musekit.test")
    try:
        raise ValueError(f"token {API_KEY}")
    except ValueError as exc:
        log.error("it failed: %s", type(exc).__name__, exc_info=exc)
        log.debug("details", exc_info=exc)

    error, debug = lines(captured)
    assert (error["exc_type"], "traceback" in error) == ("ValueError", False)
    assert API_KEY not in json.dumps(error)
    assert debug["exc_type"] == "ValueError"
    assert API_KEY in debug["traceback"]  # DEBUG is for whoever debugs, not for operators


# The real CLI: a secret API key and distinctive user text, logged at INFO -----------------


@pytest.fixture
def server() -> Iterator[FakeVLLM]:
    with FakeVLLM(api_key=API_KEY, default="A gentle reply.") as fake:
        yield fake


def run_cli(
    server: FakeVLLM, tmp_path: Path, *args: str, level: str = "INFO"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEKIT_")}
    env.update(
        MUSEKIT_ENGINE__BACKEND="openai",
        MUSEKIT_ENGINE__OPENAI__BASE_URLS=json.dumps([server.base_url]),
        MUSEKIT_ENGINE__OPENAI__API_KEY=API_KEY,
        MUSEKIT_ENGINE__OPENAI__RETRIES="0",
        MUSEKIT_LOG_LEVEL=level,
        MUSEKIT_LOG_FORMAT="json",
        MUSEKIT_STORE__URL=f"sqlite:///{tmp_path / 'store.db'}",
    )
    return subprocess.run(
        [str(MUSEKIT_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_no_secret_and_no_user_text_reach_the_logs_at_info(
    server: FakeVLLM, tmp_path: Path
) -> None:
    runs = [run_cli(server, tmp_path, "run", "write", USER_TEXT)]
    server.fail_next(503, message=f"busy with '{USER_TEXT}'")
    runs.append(run_cli(server, tmp_path, "run", "write", USER_TEXT))
    server.malformed_after(2)
    runs.append(run_cli(server, tmp_path, "run", "write", "--tone", "wry", USER_TEXT))
    server.fail_next(400, message=f"cannot do '{USER_TEXT}' with key {API_KEY}")
    runs.append(run_cli(server, tmp_path, "run", "write", USER_TEXT))

    assert [r.returncode for r in runs] == [0, 1, 1, 1]
    entries = [
        json.loads(line) for r in runs for line in r.stderr.splitlines() if line.startswith("{")
    ]
    service = [e for e in entries if e["logger"] == "musekit.service"]
    assert [e["message"].partition(" in ")[0] for e in service] == [
        "write ok",
        "write error",
        "write error",
        "write error",
    ]
    assert all(e["invocation_id"] != NO_INVOCATION for e in service)
    # The engine's HTTP requests (logged by httpx) carry the id of the invocation they serve.
    first = [json.loads(line) for line in runs[0].stderr.splitlines()]
    chat = [e for e in first if e["logger"] == "httpx" and "/chat/completions" in e["message"]]
    assert [e["invocation_id"] for e in chat] == [service[0]["invocation_id"]]
    logged = "\n".join(r.stderr for r in runs)
    for word in USER_TEXT.split():
        assert word not in logged.lower()
    assert API_KEY not in logged
