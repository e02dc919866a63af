"""Running the permission checks plugins registered, and the message a denial shows."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from musekit.invocation import Invocation
    from musekit.plugins import PluginHost
    from musekit.spec import CommandSpec

logger = logging.getLogger("musekit.guards")

#: The reason shown when a check raised: a broken check denies, it never lets anything through.
CHECK_FAILED = "a permission check failed, so the command was not run"


def check_permissions(host: PluginHost, invocation: Invocation, spec: CommandSpec) -> str | None:
    """The denial message if any registered check refuses the invocation, else ``None``."""
    for plugin, check in host.permission_checks:
        try:
            reason = check(invocation, spec)
        except Exception as exc:
            # The type only: the exception's text may hold user data or secrets.
            logger.error(
                "permission check of %r raised %s in command %r [invocation %s]",
                plugin,
                type(exc).__name__,
                spec.name,
                invocation.id,
            )
            logger.debug("traceback of the permission check of %r", plugin, exc_info=exc)
            reason = CHECK_FAILED
        if reason is not None:
            return denial_message(invocation, spec.name, reason)
    return None


def denial_message(invocation: Invocation, command: str, reason: str) -> str:
    """``You can't run 'poem' in #general: <reason>.`` (no channel on the CLI)."""
    where = f" in {channel_label(invocation.channel)}" if invocation.channel else ""
    return f"You can't run '{command}'{where}: {reason.rstrip('.')}."


def channel_label(channel: str) -> str:
    """A channel as users write it: ``#general``."""
    return channel if channel.startswith("#") else f"#{channel}"
