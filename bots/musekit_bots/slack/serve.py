"""Running the Slack bot: HTTP mode (Bolt behind Starlette and uvicorn) or Socket Mode."""

from __future__ import annotations

import logging

import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from musekit.errors import SettingsError
from musekit.service import CommandService
from musekit.settings import Settings
from musekit.store.retention import prune_expired
from musekit_bots.slack.app import build_app
from musekit_bots.slack.bot import SlackBot
from musekit_bots.slack.settings import ENV_PREFIX, SlackSettings

logger = logging.getLogger("musekit.bots.slack")

#: Where Slack posts commands, events and interactions in HTTP mode (Bolt's default path).
EVENTS_PATH = "/slack/events"


def web_client(settings: SlackSettings) -> AsyncWebClient:
    """The Web API client: the configured base URL, and retries when Slack says 429."""
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    client = AsyncWebClient(token=token, base_url=settings.api_base_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def http_app(bot: SlackBot, app: AsyncApp) -> Starlette:
    """Bolt at :data:`EVENTS_PATH` (POST), as an ASGI app.

    A slash command whose signature checks out is acknowledged at once, before Bolt
    (which verifies it again) dispatches it as background work: the ack never waits
    behind other requests' processing. Everything else (events, interactions, and any
    request whose signature does not check out, which Bolt refuses with 401) goes
    through Bolt before the response. ``bot`` hears of each request, so its work waits
    for the acks in flight.
    """
    secret = bot.settings.signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret is not None else None

    async def events(request: Request) -> Response:
        bot.request_started()
        try:
            body = await request.body()
            headers = dict(request.headers)
            fast = verifier is not None and _is_slash_command(headers, body)
            if fast and verifier is not None and verifier.is_valid_request(body, headers):
                bot.spawn(_dispatch(app, body, headers))
                return Response(status_code=200)
            return to_starlette_response(await app.async_dispatch(_bolt_request(body, headers)))
        finally:
            bot.request_finished()

    return Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"])])


def _is_slash_command(headers: dict[str, str], body: bytes) -> bool:
    form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    return form and b"command=" in body and not body.startswith(b"payload=")


async def _dispatch(app: AsyncApp, body: bytes, headers: dict[str, str]) -> None:
    response = await app.async_dispatch(_bolt_request(body, headers))
    if response.status != 200:
        logger.warning("Slack request dispatch answered HTTP %d after the ack", response.status)


def _bolt_request(body: bytes, headers: dict[str, str]) -> AsyncBoltRequest:
    return AsyncBoltRequest(body=body.decode(), headers=headers)  # type: ignore[arg-type]


def socket_mode_handler(app: AsyncApp, settings: SlackSettings) -> AsyncSocketModeHandler:
    """Bolt's Socket Mode handler (aiohttp) for the app, with the app-level token."""
    if settings.app_token is None:
        raise SettingsError(f"Socket Mode needs {ENV_PREFIX}APP_TOKEN (docs/slack.md).")
    return AsyncSocketModeHandler(app, settings.app_token.get_secret_value())


def check(settings: SlackSettings, *, http: bool) -> None:
    """Refuse to start without what the mode needs, naming the missing variable."""
    missing = []
    if settings.bot_token is None:
        missing.append(f"{ENV_PREFIX}BOT_TOKEN")
    if http and settings.signing_secret is None:
        missing.append(f"{ENV_PREFIX}SIGNING_SECRET")
    if not http and settings.app_token is None:
        missing.append(f"{ENV_PREFIX}APP_TOKEN")
    if missing:
        mode = "HTTP mode" if http else "Socket Mode"
        raise SettingsError(
            f"The Slack bot in {mode} needs {' and '.join(missing)} (docs/slack.md)."
        )


async def run_bot(core: Settings, settings: SlackSettings, *, http: bool) -> None:
    """Run until cancelled (Ctrl-C); work in progress then finishes, delivered or kept."""
    check(settings, http=http)
    # slack_sdk's debug lines carry response URLs (short-lived credentials) and whole
    # messages: never logged, even with --debug.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, logger.getEffectiveLevel()))
    service = await CommandService.from_settings(core)
    bot = SlackBot(service, settings, web_client(settings))
    try:
        await prune_expired(service.store, core.store)
        app = build_app(bot)
        if http:
            config = uvicorn.Config(
                http_app(bot, app), host=settings.host, port=settings.port, log_level="warning"
            )
            print(f"Slack bot listening on http://{settings.host}:{settings.port}{EVENTS_PATH}")
            await uvicorn.Server(config).serve()
        else:
            handler = socket_mode_handler(app, settings)
            print("Slack bot connecting in Socket Mode")
            await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await bot.drain()
        await service.aclose()
