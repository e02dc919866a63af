"""Where a command's progress and result go: the interaction's response, or a channel.

An :class:`InteractionSurface` edits the deferred response and sends followups
while the interaction token lives (15 minutes). When the token has expired,
or Discord says it is gone, it falls back to ordinary channel messages
(:class:`ChannelSurface`). When Discord takes neither, :class:`DeliveryFailed`
says where the result was going and why, in words safe to store and log.
Every message goes out with ``AllowedMentions.none()``: model output pings nobody.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import discord

from musekit_bots.discord.render import Outgoing

logger = logging.getLogger("musekit.discord")

NO_MENTIONS = discord.AllowedMentions.none()

#: Discord's error codes for an interaction token that is no longer valid.
_TOKEN_GONE = {10015, 10062, 50027}


class DeliveryFailed(Exception):
    """Discord did not take a result; ``reason`` is safe to store and show."""

    def __init__(self, destination: str, reason: str) -> None:
        super().__init__(reason)
        self.destination = destination
        self.reason = reason


class Surface(Protocol):
    """Somewhere a running command shows its progress and then its result."""

    @property
    def size_limit(self) -> int | None:
        """The largest file this surface takes, in bytes, if known."""

    async def progress(self, text: str) -> None:
        """Show ``text`` as the command's progress (replacing the last progress)."""

    async def deliver(self, messages: list[Outgoing], view: discord.ui.View | None) -> None:
        """Show the result; the last message gets ``view``. Raises :class:`DeliveryFailed`."""

    async def private(self, text: str) -> None:
        """Tell only the invoking user ``text`` (where the platform allows)."""


class ChannelSurface:
    """Ordinary messages in a channel or thread: a progress message edited, then the result."""

    def __init__(
        self,
        channel: discord.abc.Messageable,
        destination: str,
        *,
        reply_to: discord.Message | None = None,
        size_limit: int | None = None,
    ) -> None:
        self.channel = channel
        self.destination = destination
        self.reply_to = reply_to
        self.size_limit = size_limit
        self._message: discord.Message | None = None

    async def progress(self, text: str) -> None:
        if self._message is None:
            self._message = await self.channel.send(
                text, allowed_mentions=NO_MENTIONS, **self._reply()
            )
        else:
            await self._message.edit(content=text, allowed_mentions=NO_MENTIONS)

    async def deliver(self, messages: list[Outgoing], view: discord.ui.View | None) -> None:
        try:
            for number, outgoing in enumerate(messages, start=1):
                buttons = view if number == len(messages) and view is not None else None
                if number == 1 and self._message is not None:
                    await self._message.edit(
                        content=outgoing.content,
                        embeds=outgoing.embeds,
                        attachments=outgoing.files(),
                        view=buttons,
                        allowed_mentions=NO_MENTIONS,
                    )
                    continue
                extra: dict[str, Any] = {}
                if buttons is not None:
                    extra["view"] = buttons
                if number == 1 and self.reply_to is not None:
                    extra["reference"] = self.reply_to
                await self.channel.send(
                    outgoing.content or None,
                    embeds=outgoing.embeds,
                    files=outgoing.files(),
                    allowed_mentions=NO_MENTIONS,
                    **extra,
                )
        except discord.HTTPException as exc:
            raise DeliveryFailed(self.destination, refusal(exc)) from None

    async def private(self, text: str) -> None:
        try:
            await self.channel.send(text, allowed_mentions=NO_MENTIONS, **self._reply())
        except discord.HTTPException as exc:
            logger.warning("a notice to %s failed: %s", self.destination, refusal(exc))

    def _reply(self) -> dict[str, Any]:
        return {} if self.reply_to is None else {"reference": self.reply_to}


class InteractionSurface:
    """The interaction's deferred response, then followups; a channel once the token is gone."""

    def __init__(self, interaction: discord.Interaction, fallback: ChannelSurface) -> None:
        self.interaction = interaction
        self.fallback = fallback
        self.size_limit = interaction.filesize_limit
        self._token_gone = False

    @property
    def usable(self) -> bool:
        """Whether the interaction token can still be used."""
        return not self._token_gone and not self.interaction.is_expired()

    async def progress(self, text: str) -> None:
        if not self.usable:
            return  # progress is not worth a channel message
        try:
            await self.interaction.edit_original_response(
                content=text, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            self._note(exc)
            raise

    async def deliver(self, messages: list[Outgoing], view: discord.ui.View | None) -> None:
        sent = 0
        if self.usable:
            try:
                for number, outgoing in enumerate(messages, start=1):
                    buttons = view if number == len(messages) else None
                    if number == 1:
                        await self.interaction.edit_original_response(
                            content=outgoing.content,
                            embeds=outgoing.embeds,
                            attachments=outgoing.files(),
                            view=buttons,
                            allowed_mentions=NO_MENTIONS,
                        )
                    else:
                        send_view: dict[str, Any] = {} if buttons is None else {"view": buttons}
                        await self.interaction.followup.send(
                            outgoing.content,
                            embeds=outgoing.embeds,
                            files=outgoing.files(),
                            allowed_mentions=NO_MENTIONS,
                            wait=True,
                            **send_view,
                        )
                    sent = number
                return
            except discord.HTTPException as exc:
                self._note(exc)
                if not self._token_gone:
                    raise DeliveryFailed(self.fallback.destination, refusal(exc)) from None
        await self.fallback.deliver(messages[sent:], view)

    async def private(self, text: str) -> None:
        if self.usable:
            try:
                # A deferred response is public and a first followup would replace it, so the
                # public "thinking" message goes first; then the note is a message of its own.
                await self.interaction.delete_original_response()
                await self.interaction.followup.send(
                    text, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
                return
            except discord.HTTPException as exc:
                self._note(exc)
                if not self._token_gone:
                    logger.warning("an ephemeral notice failed: %s", refusal(exc))
                    return
        await self.fallback.private(text)

    def _note(self, exc: discord.HTTPException) -> None:
        if exc.code in _TOKEN_GONE or exc.status == 401:
            self._token_gone = True
            logger.info("the interaction token is gone; using channel messages")


def refusal(exc: discord.HTTPException) -> str:
    """Why Discord refused a request, from its status and error code only (never its text)."""
    return f"Discord refused the message (HTTP {exc.status}, code {exc.code})"
