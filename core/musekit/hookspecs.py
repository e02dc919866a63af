"""The hooks a musekit plugin can implement.

Every hook receives a ``register`` callback: the host knows which plugin
supplied what, refuses name clashes, and can add arguments later without
breaking plugins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from musekit.context import Context
    from musekit.invocation import Invocation
    from musekit.result import Result
    from musekit.spec import CommandSpec

hookspec = pluggy.HookspecMarker("musekit")
hookimpl = pluggy.HookimplMarker("musekit")

#: Runs a command: ``async def handler(ctx, params) -> Result``.
CommandHandler = Callable[["Context", Any], Awaitable["Result"]]

#: Looks at an invocation before it runs; returns a reason to deny it, or ``None``.
PermissionCheck = Callable[["Invocation", "CommandSpec"], "str | None"]


class RegisterCommand(Protocol):
    def __call__(self, spec: CommandSpec, handler: CommandHandler) -> None: ...


class RegisterPermissionCheck(Protocol):
    def __call__(self, check: PermissionCheck) -> None: ...


class RegisterSettings(Protocol):
    def __call__(self, model: type[BaseModel]) -> None: ...


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Register commands: call ``register(spec, handler)`` once for each."""


@hookspec
def register_permission_checks(
    register: RegisterPermissionCheck, settings: BaseModel | None
) -> None:
    """Register checks that can deny an invocation before it runs, given this plugin's settings."""


@hookspec
def register_settings(register: RegisterSettings) -> None:
    """Register the pydantic model that validates this plugin's settings section."""
