"""What a running command gets from the host."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from musekit.engine.base import Engine
from musekit.invocation import Invocation
from musekit.spec import CommandSpec
from musekit.status import StatusCallback


class Turn(BaseModel):
    """An earlier command of the same conversation: what was asked, and the result's text."""

    model_config = ConfigDict(frozen=True)

    command: str
    params: dict[str, Any]
    text: str


@dataclass
class Context:
    """The engine, settings, caller and tools of one command run.

    ``engine`` is already held to the command's limits; ``settings`` is the
    plugin's validated settings model (or ``None``); ``cancelled`` is set when
    the user cancels, in addition to the task being cancelled; ``history`` holds the
    conversation's earlier turns, oldest first (empty outside a conversation).
    """

    invocation: Invocation
    spec: CommandSpec
    engine: Engine
    settings: BaseModel | None
    logger: logging.LoggerAdapter[logging.Logger]
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    on_status: StatusCallback | None = None
    history: tuple[Turn, ...] = ()

    def status(self, message: str) -> None:
        """Tell the user what the command is doing now."""
        if self.on_status is not None:
            self.on_status(message)
