"""Errors whose messages are safe to show a user.

Every error musekit raises towards a front end is a :class:`MusekitError`. Its
``message`` is written for the person who typed the command: it never contains
exception text from a library, a traceback or a secret. Front ends show
``message`` and nothing else; ``exit_code`` tells the CLI how to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MusekitError(Exception):
    """Base of all user-facing errors; ``message`` is safe to show anyone."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(MusekitError):
    """The user asked for something that cannot be done as asked (exit code 2)."""

    exit_code = 2


class CommandNotFound(UsageError):
    """No enabled plugin provides the command."""

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        hint = f" Available commands: {', '.join(sorted(known))}." if known else ""
        super().__init__(f"Unknown command '{name}'.{hint}")
        self.name = name


class CommandUnavailable(MusekitError):
    """The command's plugin failed to load (bad settings, say); the message says why."""

    def __init__(self, name: str, plugin: str, reason: str) -> None:
        super().__init__(f"The '{name}' command is unavailable: plugin '{plugin}' {reason}.")
        self.name = name
        self.plugin = plugin


@dataclass(frozen=True)
class FieldProblem:
    """One invalid parameter: which field, and what it must be."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class InvalidParameters(UsageError):
    """Parameters failed the command's spec; each problem names its field."""

    def __init__(self, command: str, problems: Sequence[FieldProblem]) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Invalid parameters for '{command}':\n{lines}")
        self.command = command
        self.problems = tuple(problems)


class PermissionDenied(UsageError):
    """A permission check refused the invocation."""


class SettingsError(UsageError):
    """A setting has a wrong value; the message names the setting."""


class EngineError(MusekitError):
    """The language model could not produce an answer."""


class EngineBusy(EngineError):
    """The engine's queue is full; try again shortly."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached or could not be started."""


class PromptTooLong(EngineError):
    """The prompt does not fit the model's context window."""


class CommandTimeout(MusekitError):
    """The command ran past its time limit."""


class PluginFailure(MusekitError):
    """A plugin raised an unexpected error; the message names the plugin only."""

    def __init__(self, plugin: str, command: str) -> None:
        super().__init__(
            f"The '{command}' command (plugin '{plugin}') failed unexpectedly. "
            "The error was logged; please report it to the plugin's authors."
        )
        self.plugin = plugin
        self.command = command
