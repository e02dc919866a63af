"""What a running command gets from the host."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from musekit.engine.base import Engine
from musekit.engine.types import Message
from musekit.invocation import Invocation
from musekit.spec import CommandSpec
from musekit.status import StatusCallback


class Turn(BaseModel):
    """An earlier command of the same conversation: what was asked, and the result's text."""

    model_config = ConfigDict(frozen=True)

    command: str
    params: dict[str, Any]
    text: str


class EarlierIdea(BaseModel):
    """An idea already produced where the command runs (its channel or conversation),
    with the id the store gave it: the number people vote on and refer to (#3)."""

    model_config = ConfigDict(frozen=True)

    id: int
    text: str


#: Loads the earlier ideas of an invocation's channel or conversation, newest first.
IdeaSource = Callable[[], Awaitable[Sequence[EarlierIdea]]]


@dataclass
class Context:
    """The engine, settings, caller and tools of one command run.

    ``engine`` is already held to the command's limits; ``settings`` is the
    plugin's validated settings model (or ``None``); ``cancelled`` is set when
    the user cancels, in addition to the task being cancelled; ``history`` holds the
    conversation's earlier turns, oldest first (empty outside a conversation);
    ``ideas`` loads the ideas already produced there (see :meth:`earlier_ideas`).
    """

    invocation: Invocation
    spec: CommandSpec
    engine: Engine
    settings: BaseModel | None
    logger: logging.LoggerAdapter[logging.Logger]
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    on_status: StatusCallback | None = None
    history: tuple[Turn, ...] = ()
    ideas: IdeaSource | None = None

    async def earlier_ideas(self) -> tuple[EarlierIdea, ...]:
        """Ideas already produced in this invocation's channel or conversation, newest
        first, with their store ids; empty when the command runs without a store.

        A brainstorm uses them to avoid repeating itself and to find the idea a user
        asks to develop ("more like #3"). They are loaded when asked for, not before.
        """
        return () if self.ideas is None else tuple(await self.ideas())

    def history_messages(self) -> list[Message]:
        """The conversation so far as chat messages: each earlier turn's request (its
        parameters as ``name: value`` lines) as a ``user`` message and its result's text
        as the ``assistant`` reply, oldest first.

        Put them between the system prompt and the new request: a reply in a result's
        thread ("make it darker") then revises what came before.
        """
        messages: list[Message] = []
        for turn in self.history:
            asked = "\n".join(f"{name}: {value}" for name, value in turn.params.items())
            messages.append(Message(role="user", content=asked or turn.command))
            messages.append(Message(role="assistant", content=turn.text))
        return messages

    def status(self, message: str) -> None:
        """Tell the user what the command is doing now."""
        if self.on_status is not None:
            self.on_status(message)
