"""What a button on a result does, written into the button itself.

A button carries a short value (Slack's ``value``, up to 2,000 characters;
Discord's ``custom_id``, up to 100) that says what to do when it is pressed,
so a bot needs no memory of the buttons it has shown:

- ``mk:regen:<invocation id>``: run the same command again (convention 2);
- ``mk:var:<invocation id>:<n>``: show the result's variation ``n`` (no engine call);
- ``mk:vote:<idea id>:up`` / ``:down``: vote on a brainstorm idea (convention 1).

:func:`decode` refuses anything else with :class:`InvalidAction`, so a forged or
stale value does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: The longest encoded value: Discord's custom_id limit, the smaller of the two platforms'.
MAX_LENGTH = 100

_PREFIX = "mk"
_INVOCATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NUMBER = re.compile(r"^[0-9]{1,18}$")
_VOTES = ("up", "down")


class InvalidAction(ValueError):
    """A button value that is not one this module wrote."""


@dataclass(frozen=True)
class Regenerate:
    """Run the invocation's command again, with the same parameters and conversation."""

    invocation_id: str


@dataclass(frozen=True)
class ShowVariation:
    """Show variation ``index`` (0 = the best) of the invocation's result."""

    invocation_id: str
    index: int


@dataclass(frozen=True)
class Vote:
    """A vote of +1 or -1 on a stored idea."""

    idea_id: int
    value: Literal[1, -1]


Action = Regenerate | ShowVariation | Vote


def encode(action: Action) -> str:
    """The button value for ``action``; raises :class:`InvalidAction` for bad ids."""
    match action:
        case Regenerate(invocation_id):
            value = f"{_PREFIX}:regen:{_checked_id(invocation_id)}"
        case ShowVariation(invocation_id, index):
            if index < 0:
                raise InvalidAction("a variation index cannot be negative")
            value = f"{_PREFIX}:var:{_checked_id(invocation_id)}:{index}"
        case Vote(idea_id, vote):
            if idea_id < 0:
                raise InvalidAction("an idea id cannot be negative")
            value = f"{_PREFIX}:vote:{idea_id}:{'up' if vote == 1 else 'down'}"
    if len(value) > MAX_LENGTH:
        raise InvalidAction(f"a button value must fit {MAX_LENGTH} characters")
    return value


def decode(value: str) -> Action:
    """The action a button value says; raises :class:`InvalidAction` if it is not one."""
    if len(value) > MAX_LENGTH:
        raise InvalidAction("the button value is too long")
    parts = value.split(":")
    if len(parts) < 3 or parts[0] != _PREFIX:
        raise InvalidAction("not a musekit button")
    kind, args = parts[1], parts[2:]
    if kind == "regen" and len(args) == 1:
        return Regenerate(_checked_id(args[0]))
    if kind == "var" and len(args) == 2 and _NUMBER.fullmatch(args[1]):
        return ShowVariation(_checked_id(args[0]), int(args[1]))
    if kind == "vote" and len(args) == 2 and _NUMBER.fullmatch(args[0]) and args[1] in _VOTES:
        return Vote(int(args[0]), 1 if args[1] == "up" else -1)
    raise InvalidAction("an unknown or malformed musekit button")


def _checked_id(invocation_id: str) -> str:
    if not _INVOCATION_ID.fullmatch(invocation_id):
        raise InvalidAction("an invocation id is 1-64 letters, digits, '_' or '-'")
    return invocation_id
