"""A local fake of Discord's REST API, and the gateway payloads Discord documents, for tests.

:class:`FakeDiscord` is a real HTTP server on 127.0.0.1 (starlette in uvicorn, in
a background thread). Point discord.py at it (``MUSEKIT_DISCORD_API_BASE_URL``,
which sets ``discord.http.Route.BASE``) and it answers the calls the bot makes:
login, command sync, interaction callbacks, followups and edits of the
original response, channel messages and threads. It records each call with the
time it arrived, and can play a dead interaction token (after Discord's 15
minutes) or a channel the bot may not post in.

The ``*_payload`` functions build the gateway dispatches (INTERACTION_CREATE,
MESSAGE_CREATE) that tests feed to the client's own parser
(``client._connection.parse_interaction_create``), or send through a
:class:`FakeGateway` to a bot that connected to it. ``python -m
musekit_bots.discord.testing`` serves the fake API on its own and prints its URL.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import aiohttp
import aiohttp.web
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: The application and bot user the fake answers as.
APPLICATION_ID = 1100000000000000001
BOT_USER_ID = 1100000000000000002
GUILD_ID = 1200000000000000001
CHANNEL_ID = 1300000000000000001

_DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count(1)


def snowflake(at: float | None = None) -> int:
    """A fresh Discord id, made at ``at`` (Unix seconds; default now)."""
    ms = int((time.time() if at is None else at) * 1000)
    return ((ms - _DISCORD_EPOCH_MS) << 22) | (next(_counter) % (1 << 22))


@dataclass(frozen=True)
class Call:
    """One request the bot made: what, where, its JSON body and files, and when it arrived."""

    method: str
    path: str
    body: dict[str, Any]
    files: dict[str, bytes]
    at: float

    @property
    def content(self) -> str:
        """The message text the call sent (empty if none)."""
        return str(self.body.get("content") or "")

    @property
    def custom_ids(self) -> list[str]:
        """The custom ids of the buttons the call sent."""
        rows = self.body.get("components") or []
        return [c["custom_id"] for row in rows for c in row.get("components", [])]


@dataclass
class FakeDiscord:
    """Discord's REST API on loopback, recording every call (see the module docstring).

    ``dead_tokens`` are answered as expired interactions, ``forbidden_channels`` refuse
    messages (403, Missing Permissions), ``refuse_login`` refuses the bot token, and
    ``gateway_url`` (a :class:`FakeGateway`'s) is handed out at ``GET /gateway/bot``.
    """

    calls: list[Call] = field(default_factory=list)
    dead_tokens: set[str] = field(default_factory=set)
    forbidden_channels: set[int] = field(default_factory=set)
    refuse_login: bool = False
    gateway_url: str | None = None
    clock: Callable[[], float] = time.monotonic
    _messages: dict[str, int] = field(default_factory=dict)  # token -> original response id
    _threads: set[int] = field(default_factory=set)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _port: int = 0

    @property
    def url(self) -> str:
        """The REST base, for ``discord.http.Route.BASE``."""
        if not self._port:
            raise RuntimeError("the fake Discord API is not running")
        return f"http://127.0.0.1:{self._port}/api/v10"

    def expire(self, token: str) -> None:
        """Answer every later use of an interaction token as Discord does after 15 minutes."""
        self.dead_tokens.add(token)

    def original_message_id(self, token: str) -> int | None:
        """The id of the response message a defer with ``token`` created."""
        return self._messages.get(token)

    def find(self, method: str, fragment: str) -> list[Call]:
        """The calls with ``method`` whose path contains ``fragment``, in order."""
        return [c for c in self.calls if c.method == method and fragment in c.path]

    async def wait_for(
        self, method: str, fragment: str, count: int = 1, within: float = 5
    ) -> list[Call]:
        """Wait until ``count`` matching calls have arrived; returns them all."""
        deadline = time.monotonic() + within
        while len(found := self.find(method, fragment)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} {method} *{fragment}* calls, got {len(found)}: "
                    + ", ".join(f"{c.method} {c.path}" for c in self.calls)
                )
            await asyncio.sleep(0.005)
        return found

    # Serving -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start serving in a background thread; returns once the port is open."""
        app = Starlette(
            routes=[
                Route("/api/v10/{path:path}", self._handle, methods=_METHODS),
                Route("/_fake/calls", self._recorded, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_config=None,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=75,  # connections stay open between a bot's calls, as at Discord
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-discord", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The fake Discord API did not start.")
            time.sleep(0.005)
        self._port = self._server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self._port = 0

    def serve(self) -> None:
        """Serve until interrupted, printing the REST base first (``python -m`` this module)."""
        self.start()
        print(self.url, flush=True)
        try:
            while self._thread is not None and self._thread.is_alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # Answers -----------------------------------------------------------------------------------

    async def _recorded(self, request: Request) -> Response:
        """The calls so far whose path contains ``?fragment=``, for a fake in another process
        (times are ``time.monotonic()``, which every process on the machine shares)."""
        fragment = request.query_params.get("fragment", "")
        calls = [
            {"method": c.method, "path": c.path, "body": c.body, "at": c.at}
            for c in self.calls
            if fragment in c.path
        ]
        return JSONResponse(calls)

    async def _handle(self, request: Request) -> Response:
        at = self.clock()
        path = "/" + request.path_params["path"]
        body, files = await _read_body(request)
        self.calls.append(Call(request.method, path, body, files, at))
        parts = path.strip("/").split("/")
        answer = self._answer(request.method, parts, body)
        if answer is None:
            return Response(status_code=204)
        status, payload = answer
        return JSONResponse(payload, status_code=status)

    def _answer(
        self, method: str, parts: list[str], body: dict[str, Any]
    ) -> tuple[int, Any] | None:
        match method, parts:
            case "GET", ["users", "@me"]:
                if self.refuse_login:
                    return 401, {"code": 0, "message": "401: Unauthorized"}
                return 200, _user(BOT_USER_ID, "musekit", bot=True)
            case "GET", ["oauth2", "applications", "@me"]:
                return 200, _application()
            case "GET", ["gateway", "bot"] if self.gateway_url is not None:
                limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
                return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}
            case "PUT", ["applications", _, "commands"] | [
                "applications",
                _,
                "guilds",
                _,
                "commands",
            ]:
                app = {"application_id": str(APPLICATION_ID), "version": "1"}
                return 200, [{**c, **app, "id": str(snowflake())} for c in body["list"]]
            case "POST", ["interactions", interaction_id, token, "callback"]:
                return self._callback(interaction_id, token, body)
            case _, ["webhooks", _, token, *rest]:
                return self._webhook(method, token, rest, body)
            case "POST", ["channels", channel_id, "messages"]:
                if int(channel_id) in self.forbidden_channels:
                    return 403, {"code": 50013, "message": "Missing Permissions"}
                return 200, message(int(channel_id), body, snowflake())
            case "PATCH", ["channels", channel_id, "messages", message_id]:
                return 200, message(int(channel_id), body, int(message_id))
            case "POST", ["channels", channel_id, "messages", message_id, "threads"]:
                return self._thread_from(int(channel_id), int(message_id), body)
        return 404, {"code": 0, "message": "404: Not Found"}

    def _callback(self, interaction_id: str, token: str, body: dict[str, Any]) -> tuple[int, Any]:
        if token in self.dead_tokens:
            return 404, {"code": 10062, "message": "Unknown interaction"}
        kind = body["type"]
        flags = (body.get("data") or {}).get("flags") or 0
        interaction: dict[str, Any] = {"id": interaction_id, "type": 2}
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):  # a message, or a deferred one: the response message exists now
            message_id = snowflake()
            self._messages[token] = message_id
            interaction |= {
                "response_message_id": str(message_id),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(flags & 64),
            }
            if kind == 4:
                resource["message"] = message(CHANNEL_ID, body.get("data") or {}, message_id)
        return 200, {"interaction": interaction, "resource": resource}

    def _webhook(
        self, method: str, token: str, rest: list[str], body: dict[str, Any]
    ) -> tuple[int, Any] | None:
        if token in self.dead_tokens:
            return 401, {"code": 50027, "message": "Invalid Webhook Token"}
        if method == "DELETE":
            return None
        if rest == ["messages", "@original"]:
            message_id = self._messages.get(token, snowflake())
        elif rest[:1] == ["messages"]:
            message_id = int(rest[1])
        else:
            message_id = snowflake()
        return 200, message(CHANNEL_ID, body, message_id, webhook=True)

    def _thread_from(
        self, channel_id: int, message_id: int, body: dict[str, Any]
    ) -> tuple[int, Any]:
        if message_id in self._threads:
            return 400, {
                "code": 160004,
                "message": "A thread has already been created for this message",
            }
        self._threads.add(message_id)
        return 201, thread(message_id, channel_id, str(body.get("name", "thread")))


class FakeGateway:
    """Discord's gateway on loopback (an aiohttp websocket server in a background thread).

    It says HELLO, answers IDENTIFY with READY (recording the IDENTIFY) and heartbeats
    with ACKs, and sends the dispatches a test gives :meth:`dispatch`, as plain text
    frames. Give its :attr:`url` to :class:`FakeDiscord` (``gateway_url``), which hands
    it out at ``GET /gateway/bot`` as Discord does.
    """

    def __init__(self) -> None:
        self.identifies: list[dict[str, Any]] = []
        self._sockets: list[aiohttp.web.WebSocketResponse] = []
        self._sequence = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: aiohttp.web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """The websocket URL."""
        return f"ws://127.0.0.1:{self._port}/"

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an op 0 dispatch (``INTERACTION_CREATE``...) to every connected client."""
        if self._loop is None:
            raise RuntimeError("the fake gateway is not running")
        asyncio.run_coroutine_threadsafe(self._send_all(event, data), self._loop).result(5)

    def start(self) -> None:
        """Start serving in a background thread; returns once the port is open."""
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = aiohttp.web.Application()
            app.router.add_get("/", self._session)
            self._runner = aiohttp.web.AppRunner(app)
            loop.run_until_complete(self._runner.setup())
            site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self._port = self._runner.addresses[0][1]
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-discord-gateway", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("The fake Discord gateway did not start.")

    def stop(self) -> None:
        """Close the connections, stop serving and wait for the thread to end."""
        if self._loop is not None and self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = self._thread = None

    async def _session(self, request: aiohttp.web.Request) -> aiohttp.web.WebSocketResponse:
        socket = aiohttp.web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for frame in socket:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            if payload["op"] == 2:
                self.identifies.append(payload["d"])
                await self._send(socket, "READY", self._ready(payload["d"]))
            elif payload["op"] == 1:
                await socket.send_str(json.dumps({"op": 11}))
        self._sockets.remove(socket)
        return socket

    def _ready(self, identify: dict[str, Any]) -> dict[str, Any]:
        return {
            "v": 10,
            "user": _user(BOT_USER_ID, "musekit", bot=True),
            "guilds": [],
            "session_id": "fake-session",
            "resume_gateway_url": self.url,
            "application": {"id": str(APPLICATION_ID), "flags": 0},
            "shard": identify.get("shard", [0, 1]),
        }

    async def _send(self, socket: aiohttp.web.WebSocketResponse, event: str, data: Any) -> None:
        self._sequence += 1
        frame = {"op": 0, "t": event, "s": self._sequence, "d": data}
        await socket.send_str(json.dumps(frame))

    async def _send_all(self, event: str, data: dict[str, Any]) -> None:
        for socket in list(self._sockets):
            await self._send(socket, event, data)

    async def _close_all(self) -> None:
        for socket in list(self._sockets):
            await socket.close()


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def _read_body(request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON body, or a multipart body's ``payload_json`` and files."""
    raw = await request.body()
    kind = request.headers.get("content-type", "")
    if not raw:
        return {}, {}
    if kind.startswith("multipart/form-data"):
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + kind.encode() + b"\r\n\r\n" + raw
        )
        body: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            if name == "payload_json":
                body = json.loads(data)
            else:
                files[str(part.get_filename() or name)] = data
        return body, files
    parsed_json = json.loads(raw)
    return (parsed_json if isinstance(parsed_json, dict) else {"list": parsed_json}), {}


# Payloads ---------------------------------------------------------------------------------------


def _timestamp() -> str:
    return datetime.now(UTC).isoformat()


def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


def _application() -> dict[str, Any]:
    return {
        "id": str(APPLICATION_ID),
        "name": "musekit",
        "icon": None,
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": _user(1, "owner"),
        "verify_key": "0" * 64,
        "flags": 0,
    }


def message(
    channel_id: int, body: dict[str, Any], message_id: int, *, webhook: bool = False
) -> dict[str, Any]:
    """A message object as Discord returns it, for a message the bot sent with ``body``."""
    data: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": 0,
        "content": body.get("content") or "",
        "author": _user(BOT_USER_ID, "musekit", bot=True),
        "attachments": [],
        "embeds": body.get("embeds") or [],
        "components": body.get("components") or [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "timestamp": _timestamp(),
        "edited_timestamp": None,
        "flags": body.get("flags") or 0,
    }
    if webhook:
        data["webhook_id"] = str(APPLICATION_ID)
        data["application_id"] = str(APPLICATION_ID)
    return data


def thread(thread_id: int, parent_id: int, name: str) -> dict[str, Any]:
    """A public thread object."""
    return {
        "id": str(thread_id),
        "type": 11,
        "guild_id": str(GUILD_ID),
        "parent_id": str(parent_id),
        "name": name,
        "owner_id": str(BOT_USER_ID),
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": _timestamp(),
            "locked": False,
        },
    }


def _member(user_id: int, name: str, roles: tuple[int, ...]) -> dict[str, Any]:
    return {
        "user": _user(user_id, name),
        "roles": [str(r) for r in roles],
        "joined_at": _timestamp(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": "2147483647",
    }


def _channel(channel_id: int, channel_type: int, name: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(channel_id),
        "type": channel_type,
        "guild_id": str(GUILD_ID),
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "flags": 0,
    }
    if channel_type in (10, 11, 12):  # a thread
        data |= thread(channel_id, CHANNEL_ID, name)
    return data


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _interaction(
    kind: int,
    data: dict[str, Any],
    *,
    user_id: int,
    channel_id: int,
    channel_type: int,
    channel_name: str,
    roles: tuple[int, ...],
    interaction_id: int | None,
    token: str | None,
) -> dict[str, Any]:
    interaction_id = interaction_id or snowflake()
    return {
        "id": str(interaction_id),
        "application_id": str(APPLICATION_ID),
        "type": kind,
        "data": data,
        "guild_id": str(GUILD_ID),
        "guild": {"id": str(GUILD_ID), "features": [], "locale": "en-US"},
        "channel_id": str(channel_id),
        "channel": _channel(channel_id, channel_type, channel_name),
        "member": _member(user_id, f"user{user_id}", roles),
        "token": token or f"token-{interaction_id}",
        "version": 1,
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": "2147483647",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD_ID)},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
    }


def slash_payload(
    command: str,
    options: dict[str, Any] | None = None,
    *,
    user_id: int = 42,
    channel_id: int = CHANNEL_ID,
    channel_type: int = 0,
    channel_name: str = "writers-room",
    roles: tuple[int, ...] = (),
    interaction_id: int | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """INTERACTION_CREATE for a slash command (type 2) in a guild text channel (or thread)."""
    data = {
        "id": str(snowflake()),
        "name": command,
        "type": 1,
        "options": [
            {"name": name, "type": _option_type(value), "value": value}
            for name, value in (options or {}).items()
        ],
    }
    return _interaction(
        2,
        data,
        user_id=user_id,
        channel_id=channel_id,
        channel_type=channel_type,
        channel_name=channel_name,
        roles=roles,
        interaction_id=interaction_id,
        token=token,
    )


def button_payload(
    custom_id: str,
    pressed_on: dict[str, Any],
    *,
    user_id: int = 42,
    channel_id: int = CHANNEL_ID,
    token: str | None = None,
) -> dict[str, Any]:
    """INTERACTION_CREATE for a button (type 3) pressed on the message ``pressed_on``."""
    data = {"custom_id": custom_id, "component_type": 2}
    payload = _interaction(
        3,
        data,
        user_id=user_id,
        channel_id=channel_id,
        channel_type=0,
        channel_name="writers-room",
        roles=(),
        interaction_id=None,
        token=token,
    )
    payload["message"] = pressed_on
    return payload


def message_payload(
    channel_id: int, content: str, *, user_id: int = 42, bot: bool = False
) -> dict[str, Any]:
    """MESSAGE_CREATE: someone wrote ``content`` in a guild channel or thread."""
    return {
        "id": str(snowflake()),
        "channel_id": str(channel_id),
        "guild_id": str(GUILD_ID),
        "type": 0,
        "content": content,
        "author": _user(user_id, f"user{user_id}", bot=bot),
        "member": {
            "roles": [],
            "joined_at": _timestamp(),
            "deaf": False,
            "mute": False,
            "flags": 0,
        },
        "attachments": [],
        "embeds": [],
        "components": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "timestamp": _timestamp(),
        "edited_timestamp": None,
        "flags": 0,
    }


if __name__ == "__main__":
    FakeDiscord().serve()
