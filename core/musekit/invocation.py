"""Who asked for what, where: the platform-neutral record a front end hands the runner."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Invoker(BaseModel):
    """The person (or program) running a command."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    display_name: str = ""
    roles: tuple[str, ...] = ()


class Invocation(BaseModel):
    """One request to run a command with raw, not yet validated, parameters."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    command: str
    params: dict[str, Any] = Field(default_factory=dict)
    invoker: Invoker = Invoker(user_id="local")
    platform: str = "cli"
    channel: str | None = None
    conversation: str | None = None
