"""What the Slack bot does once a request is acknowledged: run, stream, deliver, keep.

Every command runs through the :class:`~musekit.service.CommandService`, so
permission rules, quotas and cooldowns apply as everywhere else. A run posts a
placeholder (starting a thread, or in the thread it was asked in), updates it
at a bounded cadence while the command streams, and replaces it with the
result's Block Kit messages; files go to the thread. When Slack refuses the
result, it stays in the store (``/muse history``). Nothing here lets exception
text or a token reach Slack or a log line: failures are logged by the Web API
method and Slack's error code only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from musekit.engine.types import Delta
from musekit.invocation import Invocation, Invoker
from musekit.result import Result
from musekit.service import CommandService
from musekit.store.errors import NotFound, StoreError
from musekit.store.records import InvocationRecord
from musekit_bots.common.actions import Action, ShowVariation, Vote
from musekit_bots.common.cadence import EditBudget, Progress, ProgressUpdater
from musekit_bots.slack.blocks import (
    Message,
    escape,
    progress_message,
    result_messages,
    variation_messages,
)
from musekit_bots.slack.settings import SlackSettings

logger = logging.getLogger("musekit.bots.slack")

PLATFORM = "slack"

#: Seconds background work waits, at most, for the HTTP requests in flight to be answered.
ACK_FIRST_WAIT = 0.5

#: The block id of a result's vote buttons (blocks.py): the invocation whose ideas they are.
_IDEAS_BLOCK = re.compile(r"musekit_ideas_([A-Za-z0-9_-]+)_[0-9]+")

_NOT_IN_CHANNEL = "I can't post in this channel. Invite me to it (`/invite @{name}`) and try again."


@dataclass(frozen=True)
class Destination:
    """Where a run's messages go, and who asked; ``thread_ts`` None starts a new thread."""

    team_id: str
    channel_id: str
    user_id: str
    thread_ts: str | None = None
    response_url: str | None = None
    user_name: str = ""


def conversation_key(team_id: str, channel_id: str, thread_ts: str) -> str:
    """The store's conversation of a Slack thread."""
    return f"{PLATFORM}:{team_id}:{channel_id}:{thread_ts}"


def thread_of(conversation: str | None) -> tuple[str, str] | None:
    """The (channel, thread ts) of a conversation key this bot wrote, if it is one."""
    parts = (conversation or "").split(":")
    if len(parts) != 4 or parts[0] != PLATFORM:
        return None
    return parts[2], parts[3]


class SlackBot:
    """Runs commands for Slack users and delivers their results; one per process."""

    def __init__(
        self, service: CommandService, settings: SlackSettings, client: AsyncWebClient
    ) -> None:
        self.service = service
        self.settings = settings
        self.client = client
        self._budgets: dict[str, EditBudget] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._requests = 0
        self._acked = asyncio.Event()
        self._acked.set()

    # Background work -----------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the ack; kept until done, and any crash logged (type only)."""
        task = asyncio.get_running_loop().create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the work in progress (at shutdown, so results are delivered or kept)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def request_started(self) -> None:
        """An HTTP request from Slack is being answered (see :meth:`spawn`)."""
        self._requests += 1
        self._acked.clear()

    def request_finished(self) -> None:
        """An HTTP request from Slack has been answered."""
        self._requests -= 1
        if self._requests == 0:
            self._acked.set()

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        # Acks first: work waits (a little, at most) while requests are being answered, so a
        # burst of commands is acked before their work competes for the event loop.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._acked.wait(), ACK_FIRST_WAIT)
        try:
            await work
        except Exception as exc:
            logger.error("a Slack task failed: %s", type(exc).__name__)
            logger.debug("traceback", exc_info=exc)

    # Running a command ---------------------------------------------------------------------------

    async def run(self, command: str, params: dict[str, Any], where: Destination) -> None:
        """Run ``command`` for the user: placeholder, progress, then result or private note."""
        title = self._title(command, params)
        placeholder = await self._post(
            where.channel_id, where.thread_ts, progress_message(title, Progress("Starting…", ""))
        )
        if placeholder is None:
            await self.tell(where, _NOT_IN_CHANNEL.format(name=self.settings.app_name))
            return
        thread = where.thread_ts or placeholder
        invocation = Invocation(
            command=command,
            params=params,
            invoker=Invoker(user_id=where.user_id, display_name=where.user_name),
            platform=PLATFORM,
            channel=where.channel_id,
            conversation=conversation_key(where.team_id, where.channel_id, thread),
        )

        async def show(progress: Progress) -> None:
            await self.call(
                "chat.update",
                raise_errors=True,
                channel=where.channel_id,
                ts=placeholder,
                **progress_message(title, progress).payload(),
            )

        updater = ProgressUpdater(
            show, interval=self.settings.update_interval, budget=self._budget(where.team_id)
        )

        def on_delta(delta: Delta) -> None:
            if delta.index == 0 and delta.text:
                updater.add(delta.text)

        try:
            outcome = await self.service.submit(invocation, on_delta, updater.status)
        finally:
            await updater.stop()
        if outcome.result is None:
            await self.call("chat.delete", channel=where.channel_id, ts=placeholder)
            await self.tell(where, outcome.message or "The command did not finish.")
            return
        self._budget(where.team_id).take_anyway()
        await self.deliver(outcome.result, replace(where, thread_ts=thread), placeholder)

    async def deliver(self, result: Result, where: Destination, placeholder: str | None) -> None:
        """Post ``result`` in ``where``'s thread (replacing ``placeholder``), files included;
        whatever Slack refuses is kept in the store and the user told how to get it."""
        messages = result_messages(result)
        refused: list[str] = []
        first, rest = messages[0], messages[1:]
        posted = placeholder is not None and await self.call(
            "chat.update", channel=where.channel_id, ts=placeholder, **first.payload()
        )
        if not posted:  # a failed update falls back to a new message
            posted = await self._post(where.channel_id, where.thread_ts, first) is not None
            if posted and placeholder is not None:
                await self.call("chat.delete", channel=where.channel_id, ts=placeholder)
        if not posted:
            refused.append("the result")
        for message in rest:
            if await self._post(where.channel_id, where.thread_ts, message) is None:
                refused.append("a continuation")
        if result.attachments and not await self._upload(result, where):
            refused.append("its files")
        if refused:
            await self._keep(result.invocation_id, where, "Slack refused " + ", ".join(refused))

    async def _upload(self, result: Result, where: Destination) -> bool:
        uploads = [
            {"content": a.data, "filename": a.filename, "title": a.description or a.filename}
            for a in result.attachments
        ]
        try:
            await self.client.files_upload_v2(
                channel=where.channel_id, thread_ts=where.thread_ts, file_uploads=uploads
            )
        except Exception as exc:
            _log_failure("files_upload_v2", exc)
            return False
        return True

    async def _keep(self, invocation_id: str, where: Destination, reason: str) -> None:
        destination = f"{where.channel_id}/{where.thread_ts or ''}"
        try:
            await self.service.store.keep_undelivered(
                invocation_id, platform=PLATFORM, destination=destination, reason=reason
            )
        except StoreError as exc:
            logger.error("could not keep an undelivered result: %s", exc.message)
            return
        await self.tell(
            where,
            f"I couldn't post all of your result here ({reason}). It is kept: "
            f"`/{self.settings.umbrella_command} history {invocation_id}` shows it.",
        )

    # Buttons -------------------------------------------------------------------------------------

    async def press(self, action: Action, where: Destination, block_id: str) -> None:
        """Do what a result's button says."""
        if isinstance(action, Vote):
            await self._vote(action, where, block_id)
            return
        record = await self._record(action.invocation_id, where, own=False)
        if record is None:
            return
        thread = thread_of(record.conversation)
        if thread is not None:
            where = replace(where, channel_id=thread[0], thread_ts=thread[1])
        result = record.result
        if isinstance(action, ShowVariation) and result is not None and result.variations:
            if action.index >= len(result.variations):
                await self.tell(where, "There are no more variations.")
                return
            for message in variation_messages(result, action.index):
                if await self._post(where.channel_id, where.thread_ts, message) is None:
                    await self.tell(where, "Slack refused the variation; please try again.")
                    return
            return
        # Regenerate, or variations of a result that has none (convention 2).
        await self.run(record.command, dict(record.params), where)

    async def _vote(self, vote: Vote, where: Destination, block_id: str) -> None:
        store = self.service.store
        try:
            await store.vote(vote.idea_id, where.user_id, vote.value)
        except NotFound:
            await self.tell(where, "That idea is no longer kept, so it can't be voted on.")
            return
        except StoreError as exc:
            await self.tell(where, f"Your vote was not recorded: {exc.message}")
            return
        lines = [f"Your {'👍' if vote.value == 1 else '👎'} is recorded."]
        found = _IDEAS_BLOCK.fullmatch(block_id)
        if found is not None:
            ideas = await store.ideas(found.group(1))
            ideas.sort(key=lambda idea: (-idea.score, idea.position))
            lines.append("Ranking so far:")
            lines += [
                f"{n}. {_short(idea.text)} (👍 {idea.up} · 👎 {idea.down})"
                for n, idea in enumerate(ideas[:10], start=1)
            ]
        await self.tell(where, "\n".join(lines))

    # Thread replies ------------------------------------------------------------------------------

    async def refine(self, text: str, where: Destination) -> None:
        """A reply in a thread this bot started: run the thread's command again on the reply,
        with the thread's history (convention 3). Other threads are left alone."""
        if where.thread_ts is None or not text.strip():
            return
        key = conversation_key(where.team_id, where.channel_id, where.thread_ts)
        turns = await self.service.store.conversation(key, limit=20)
        if not turns:
            return
        first = turns[0]
        command = self.service.runner.host.commands.get(first.command)
        if command is None:
            return
        text_param = command.spec.text_param
        if text_param is None:
            await self.tell(where, f"A reply can't refine `{first.command}`: it takes no text.")
            return
        await self.run(first.command, {**first.params, text_param: text}, where)

    # History -------------------------------------------------------------------------------------

    async def history(self, where: Destination, invocation_id: str | None) -> None:
        """The user's recent and undelivered results, or one of them in full (privately)."""
        store = self.service.store
        if invocation_id:
            record = await self._record(invocation_id, where, own=True)
            if record is None:
                return
            if record.result is None:
                await self.tell(where, f"`{record.id}` has no result ({record.status}).")
                return
            for message in result_messages(record.result, controls=False):
                if not await self._ephemeral(where, message):
                    return
            if record.delivered is False:
                await store.mark_delivered(record.id)
            return
        kept = [r for r in await store.undelivered(platform=PLATFORM) if r.user_id == where.user_id]
        recent = await store.history(user=where.user_id, platform=PLATFORM, limit=10)
        lines = []
        if kept:
            lines.append("Results that could not be posted:")
            lines += [_history_line(r) for r in kept]
        lines.append("Your recent commands:" if recent else "You have no commands here yet.")
        lines += [_history_line(r) for r in recent]
        lines.append(f"`/{self.settings.umbrella_command} history ID` shows one in full.")
        await self.tell(where, "\n".join(lines))

    async def _record(
        self, invocation_id: str, where: Destination, *, own: bool
    ) -> InvocationRecord | None:
        """A Slack invocation the user may use (their own; for buttons, any in the channel),
        or None after telling them there is none: someone else's is as good as missing."""
        record = await self.service.store.get(invocation_id)
        usable = record is not None and record.platform == PLATFORM
        if usable and record is not None:
            mine = record.user_id == where.user_id
            usable = mine or (not own and record.channel == where.channel_id)
        if not usable or record is None:
            await self.tell(where, f"There is no result `{invocation_id}` of yours.")
            return None
        return record

    # Talking to Slack ----------------------------------------------------------------------------

    async def tell(self, where: Destination, text: str) -> None:
        """A private note to the user: through the response URL when there is one (it works
        where the bot is not a member), else as an ephemeral message."""
        await self._ephemeral(where, Message(text=escape(text)))

    async def _ephemeral(self, where: Destination, message: Message) -> bool:
        if where.response_url:
            try:
                response = await AsyncWebhookClient(where.response_url).send(
                    text=message.text,
                    blocks=message.blocks or None,
                    response_type="ephemeral",
                    replace_original=False,  # a button's result stays as it is
                )
                if response.status_code == 200:
                    return True
                logger.warning("response_url refused a message: HTTP %d", response.status_code)
            except Exception as exc:
                _log_failure("response_url", exc)
        return await self.call(
            "chat.postEphemeral",
            channel=where.channel_id,
            user=where.user_id,
            thread_ts=where.thread_ts,
            text=message.text,
            blocks=message.blocks or None,
        )

    async def _post(self, channel: str, thread_ts: str | None, message: Message) -> str | None:
        """Post a message; its ts, or None if Slack refused it."""
        try:
            response = await self.client.api_call(
                "chat.postMessage",
                json=_without_none(channel=channel, thread_ts=thread_ts, **message.payload()),
            )
        except Exception as exc:
            _log_failure("chat.postMessage", exc)
            return None
        ts = response.get("ts")
        return ts if isinstance(ts, str) else None

    async def call(self, method: str, *, raise_errors: bool = False, **args: Any) -> bool:
        """Call a Web API method; False if it failed (or raise, for progress edits)."""
        try:
            await self.client.api_call(method, json=_without_none(**args))
        except Exception as exc:
            if raise_errors:
                raise
            _log_failure(method, exc)
            return False
        return True

    def _budget(self, team_id: str) -> EditBudget:
        budget = self._budgets.get(team_id)
        if budget is None:
            budget = self._budgets[team_id] = EditBudget(self.settings.updates_per_minute)
        return budget

    def _title(self, command: str, params: dict[str, Any]) -> str:
        found = self.service.runner.host.commands.get(command)  # gone: the service says so
        text_param = found.spec.text_param if found is not None else None
        text = params.get(text_param) if text_param else None
        return f"{command}: {_short(str(text))}" if text else command


def _without_none(**args: Any) -> dict[str, Any]:
    return {k: v for k, v in args.items() if v is not None}


def _log_failure(method: str, exc: Exception) -> None:
    """Log a failed Slack call by method and Slack's error code (or the exception's type)."""
    if isinstance(exc, SlackApiError):
        code = exc.response.get("error") if exc.response is not None else None
        logger.warning("Slack %s failed: %s", method, code if isinstance(code, str) else "error")
    else:
        logger.warning("Slack %s failed: %s", method, type(exc).__name__)


def _history_line(record: InvocationRecord) -> str:
    when = record.started_at.strftime("%Y-%m-%d %H:%M")
    return f"• `{record.id}` {record.command} · {record.status} · {when} UTC"


def _short(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
