"""The buttons on a result: regenerate, variations, votes on ideas, continue in a thread.

Each button's ``custom_id`` says what it does (:mod:`musekit_bots.common.actions`,
plus ``mk:thread:<invocation id>`` for Discord's threads), so buttons keep
working after the bot restarts: discord.py matches them as dynamic items, with
no view kept in memory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Self

import discord

from musekit.result import Result
from musekit_bots.common.actions import (
    Action,
    InvalidAction,
    Regenerate,
    ShowVariation,
    Vote,
    decode,
    encode,
)

if TYPE_CHECKING:
    from musekit_bots.discord.bot import MuseBot

#: Vote buttons for this many ideas at most (four rows of two ideas, up and down).
MAX_VOTED_IDEAS = 8

_THREAD_PREFIX = "mk:thread:"


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"mk:(regen|var|vote):.+"
):
    """A button whose custom id is an encoded :data:`~musekit_bots.common.actions.Action`."""

    def __init__(
        self,
        action: Action | None,
        *,
        label: str,
        style: discord.ButtonStyle,
        row: int,
        custom_id: str | None = None,
    ) -> None:
        custom_id = encode(action) if action is not None else custom_id
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id, row=row))
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        custom_id = match.group(0)
        try:
            action: Action | None = decode(custom_id)
        except InvalidAction:
            action = None  # a forged or stale button: answered, never acted on
        label = getattr(item, "label", None) or "?"
        return cls(
            action, label=label, style=discord.ButtonStyle.secondary, row=0, custom_id=custom_id
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        if self.action is None:
            await bot.on_stale_button(interaction)
        else:
            await bot.on_action(interaction, self.action)


class ThreadButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"mk:thread:(?P<id>[A-Za-z0-9_-]{1,64})",
):
    """Opens (or points to) the result's thread, where replies refine it."""

    def __init__(self, invocation_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Continue in a thread",
                style=discord.ButtonStyle.secondary,
                custom_id=_THREAD_PREFIX + invocation_id,
                row=0,
            )
        )
        self.invocation_id = invocation_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls(match.group("id"))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _bot(interaction).on_thread_button(interaction, self.invocation_id)


def result_view(invocation_id: str, result: Result, *, thread: bool) -> discord.ui.View:
    """Buttons for a result: regenerate, variations, a thread (if asked), votes on its ideas."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        ActionButton(
            Regenerate(invocation_id), label="Regenerate", style=discord.ButtonStyle.primary, row=0
        )
    )
    view.add_item(
        ActionButton(
            ShowVariation(invocation_id, 0),
            label="Variations",
            style=discord.ButtonStyle.secondary,
            row=0,
        )
    )
    if thread:
        view.add_item(ThreadButton(invocation_id))
    for number, idea_id in enumerate(idea_ids(result)[:MAX_VOTED_IDEAS], start=1):
        row = 1 + (number - 1) // 2
        view.add_item(
            ActionButton(
                Vote(idea_id, 1), label=f"👍 {number}", style=discord.ButtonStyle.success, row=row
            )
        )
        view.add_item(
            ActionButton(
                Vote(idea_id, -1), label=f"👎 {number}", style=discord.ButtonStyle.danger, row=row
            )
        )
    return view


def variation_view(invocation_id: str, index: int, count: int) -> discord.ui.View:
    """Buttons under a variation: the next one (if any), and regenerate."""
    view = discord.ui.View(timeout=None)
    if index + 1 < count:
        view.add_item(
            ActionButton(
                ShowVariation(invocation_id, index + 1),
                label="Next variation",
                style=discord.ButtonStyle.secondary,
                row=0,
            )
        )
    view.add_item(
        ActionButton(
            Regenerate(invocation_id), label="Regenerate", style=discord.ButtonStyle.primary, row=0
        )
    )
    return view


def idea_ids(result: Result) -> list[int]:
    """The stored ids of a result's ideas (convention 1), in order."""
    ideas = result.data.get("ideas")
    if not isinstance(ideas, list):
        return []
    found: list[int] = []
    for idea in ideas:
        number = idea.get("id") if isinstance(idea, dict) else None
        if isinstance(number, int) and not isinstance(number, bool):
            found.append(number)
    return found


def invocation_of(message: discord.Message | None) -> str | None:
    """The invocation a result message shows, read from its regenerate button."""
    if message is None:
        return None
    for row in message.components:
        for component in getattr(row, "children", []):
            custom_id = getattr(component, "custom_id", None)
            if not custom_id:
                continue
            try:
                action = decode(custom_id)
            except InvalidAction:
                continue
            if isinstance(action, Regenerate):
                return action.invocation_id
    return None


def _bot(interaction: discord.Interaction) -> MuseBot:
    from musekit_bots.discord.bot import MuseBot

    client = interaction.client
    if not isinstance(client, MuseBot):
        raise TypeError("musekit's buttons need the musekit bot")
    return client
