"""What the store hands back: invocation and idea records (frozen, timezone-aware UTC)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, JsonValue

from musekit.result import Result

Status = Literal["running", "ok", "error", "denied", "cancelled", "timeout"]

#: Every status, in the order they are documented.
STATUSES: tuple[Status, ...] = ("running", "ok", "error", "denied", "cancelled", "timeout")


class Delivery(BaseModel):
    """Where a chat result was meant to go, and why it has not got there (yet)."""

    model_config = ConfigDict(frozen=True)

    platform: str
    destination: str
    reason: str


class InvocationRecord(BaseModel):
    """One invocation as stored: who, where, what, how it ended, what it cost.

    ``delivered`` is ``None`` for a result no chat platform was to receive, ``False``
    while it waits for delivery (``delivery`` says where to), ``True`` once delivered.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    command: str
    params: dict[str, JsonValue]
    user_id: str
    display_name: str
    roles: tuple[str, ...] = ()
    platform: str
    channel: str | None
    conversation: str | None
    status: Status
    result: Result | None
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    timings: dict[str, float]
    started_at: AwareDatetime
    finished_at: AwareDatetime | None
    delivered: bool | None
    delivery: Delivery | None = None

    @property
    def tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


class IdeaRecord(BaseModel):
    """A brainstorm idea with its vote totals."""

    model_config = ConfigDict(frozen=True)

    id: int
    invocation_id: str
    position: int
    text: str
    up: int
    down: int
    created_at: AwareDatetime

    @property
    def score(self) -> int:
        """Up votes minus down votes."""
        return self.up - self.down
