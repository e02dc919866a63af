"""Testing the Slack bot offline: a fake Slack Web API on loopback, and signed requests.

:class:`FakeSlack` answers the Web API methods the bot uses (chat.postMessage,
chat.update, files_upload_v2's three steps, views.open, auth.test...) as Slack
documents them, records every call, and can be told to fail a method with a
Slack error code. :func:`signed_headers` signs a request body the way Slack
does (v0, HMAC-SHA256 with the signing secret), and the ``*_body`` helpers
build the payloads Slack sends for slash commands, button presses and events.
Used by the tests and by ``bench/slack_ack.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from aiohttp import WSMsgType, web
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp


@contextlib.asynccontextmanager
async def serve_loopback(app: ASGIApp) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1 (a free port) in this event loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="error", lifespan="off", backlog=2048)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it stopped
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Call:
    """One request the fake received: the Web API method (or ``upload``/``response_url``)."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    """A fake Slack Web API: ``async with FakeSlack() as slack:`` then ``slack.api_url``."""

    def __init__(self, *, team_id: str = "T0001", bot_user_id: str = "UBOT") -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.calls: list[Call] = []
        self.url = ""
        self._failures: dict[str, list[str]] = {}
        self._numbers = itertools.count(1)
        self._changed = asyncio.Event()
        self._server: contextlib.AbstractAsyncContextManager[str] | None = None
        self._socket_runner: web.AppRunner | None = None
        self._socket_url = ""
        self._sockets: list[web.WebSocketResponse] = []

    @property
    def api_url(self) -> str:
        """The Web API base URL to give the bot (``api_base_url``)."""
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        """A response URL (as in a slash command's payload) that this fake records."""
        return f"{self.url}/respond/{name}"

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self._failures.setdefault(method, []).extend([error] * times)

    def called(self, method: str) -> list[Call]:
        """The calls of ``method`` so far, in order."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, *, within: float = 5.0) -> list[Call]:
        """Wait until ``method`` was called ``count`` times; fails after ``within`` seconds."""
        deadline = time.monotonic() + within
        while len(self.called(method)) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                seen = sorted({c.method for c in self.calls})
                raise AssertionError(
                    f"{method} called {len(self.called(method))} times, not "
                    f"{count}, in {within} s (calls: {seen})"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 0.05))
        return self.called(method)

    async def __aenter__(self) -> FakeSlack:
        app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["POST", "GET"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                Route("/respond/{name}", self._respond, methods=["POST"]),
            ]
        )
        self._server = serve_loopback(app)
        self.url = await self._server.__aenter__()
        socket_app = web.Application()
        socket_app.router.add_get("/link", self._socket)
        self._socket_runner = web.AppRunner(socket_app)
        await self._socket_runner.setup()
        site = web.TCPSite(self._socket_runner, "127.0.0.1", 0)
        await site.start()
        port = self._socket_runner.addresses[0][1]
        self._socket_url = f"ws://127.0.0.1:{port}/link"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for connection in self._sockets:
            await connection.close()
        if self._socket_runner is not None:
            await self._socket_runner.cleanup()
        if self._server is not None:
            await self._server.__aexit__(None, None, None)

    # Socket Mode -------------------------------------------------------------------------------

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], *, within: float = 5.0
    ) -> str:
        """Send a Socket Mode envelope (``slash_commands``, ``interactive``, ``events_api``)
        to the connected app; its envelope id, which the app's ack carries back."""
        deadline = time.monotonic() + within
        while not self._sockets:
            if time.monotonic() > deadline:
                raise AssertionError("no app connected in Socket Mode")
            await asyncio.sleep(0.01)
        envelope_id = uuid.uuid4().hex
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        connection = web.WebSocketResponse()
        await connection.prepare(request)
        self._sockets.append(connection)
        await connection.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}}
        )
        async for message in connection:
            if message.type == WSMsgType.TEXT:
                self._record("socket_ack", json.loads(message.data), {})
        return connection

    def _record(self, method: str, args: dict[str, Any], response: dict[str, Any]) -> None:
        self.calls.append(Call(method, args, response))
        self._changed.set()

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = await _arguments(request)
        failures = self._failures.get(method)
        if failures:
            answer = {"ok": False, "error": failures.pop(0)}
        else:
            answer = {"ok": True, **self._answer(method, args)}
        self._record(method, args, answer)
        return JSONResponse(answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        number = next(self._numbers)
        if method == "auth.test":
            return {
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": "musekit",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": "BBOT",
            }
        if method == "apps.connections.open":
            return {"url": self._socket_url}
        if method == "chat.postMessage":
            ts = f"1700000000.{number:06d}"
            return {"channel": args.get("channel"), "ts": ts, "message": {**args, "ts": ts}}
        if method == "chat.update":
            return {"channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"message_ts": f"1700000000.{number:06d}"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{number:06d}"
            return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = json.loads(str(args.get("files", "[]")))
            return {"files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}
        return {}

    async def _upload(self, request: Request) -> Response:
        body = await request.body()
        self._record("upload", {"file_id": request.path_params["file_id"], "bytes": body}, {})
        return Response("OK - uploaded", media_type="text/plain")

    async def _respond(self, request: Request) -> Response:
        args = {"name": request.path_params["name"], **await request.json()}
        self._record("response_url", args, {})
        return Response("ok", media_type="text/plain")


async def _arguments(request: Request) -> dict[str, Any]:
    """A Web API call's arguments: a JSON body, or form fields and query parameters."""
    body = (await request.body()).decode()
    if request.headers.get("content-type", "").startswith("application/json"):
        data = json.loads(body or "{}")
        return data if isinstance(data, dict) else {}
    args: dict[str, Any] = dict(urllib.parse.parse_qsl(body))
    args.update({k: v for k, v in request.query_params.items() if k not in args})
    return args


# Requests as Slack sends them ------------------------------------------------------------------


def signed_headers(
    secret: str,
    body: str,
    *,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """Headers Slack sends with ``body``: the v0 signature of ``v0:{timestamp}:{body}``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }


def slash_command_body(
    command: str,
    text: str,
    *,
    response_url: str,
    user_id: str = "U0001",
    channel_id: str = "C0001",
    team_id: str = "T0001",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> str:
    """The form body of a slash command, with the fields Slack documents."""
    return urllib.parse.urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": team_id,
            "team_domain": "fake",
            "channel_id": channel_id,
            "channel_name": "writers-room",
            "user_id": user_id,
            "user_name": "ada",
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def block_action_body(
    value: str,
    *,
    action_id: str,
    block_id: str,
    message_ts: str,
    response_url: str,
    thread_ts: str | None = None,
    user_id: str = "U0001",
    channel_id: str = "C0001",
    team_id: str = "T0001",
) -> str:
    """The form body of a button press (``payload`` JSON of type ``block_actions``)."""
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": "result"}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "username": "ada", "team_id": team_id},
        "api_app_id": "A0001",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "channel": {"id": channel_id, "name": "writers-room"},
        "message": message,
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": "button"},
                "action_ts": str(time.time()),
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def message_event_body(
    text: str,
    *,
    event_id: str,
    thread_ts: str | None,
    ts: str,
    user_id: str = "U0001",
    channel_id: str = "C0001",
    team_id: str = "T0001",
) -> str:
    """The JSON body of an Events API ``message`` event (a reply in a thread if ``thread_ts``)."""
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel_id,
        "user": user_id,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": team_id,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": "UBOT", "is_bot": True}],
        }
    )
