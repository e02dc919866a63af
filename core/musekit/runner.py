"""The runner: invocation -> permission -> validation -> plugin -> result."""

from __future__ import annotations

import asyncio
import logging
import time

from musekit.context import Context, IdeaSource, Turn
from musekit.engine.base import Engine
from musekit.engine.budget import BudgetedEngine, DeltaCallback
from musekit.errors import CommandTimeout, MusekitError, PermissionDenied, PluginFailure
from musekit.guards.permissions import check_permissions
from musekit.invocation import Invocation
from musekit.plugins import PluginHost, RegisteredCommand
from musekit.result import Metrics, Result
from musekit.status import StatusCallback, status_reporter

logger = logging.getLogger("musekit.runner")


class Runner:
    """Runs commands from any front end against one engine.

    Every failure reaches the caller as a :class:`MusekitError` whose message is
    safe to show; anything else a plugin raises is logged and replaced by a
    :class:`PluginFailure` naming the plugin.
    """

    def __init__(self, host: PluginHost, engine: Engine) -> None:
        self.host = host
        self.engine = engine

    async def run(
        self,
        invocation: Invocation,
        *,
        on_delta: DeltaCallback | None = None,
        on_status: StatusCallback | None = None,
        history: tuple[Turn, ...] = (),
        ideas: IdeaSource | None = None,
    ) -> Result:
        """Run one invocation and return its result; ``history`` is its conversation so far,
        ``ideas`` loads the ideas already produced there (``ctx.earlier_ideas()``)."""
        command = self.host.command(invocation.command)
        denial = check_permissions(self.host, invocation, command.spec)
        if denial is not None:
            raise PermissionDenied(denial)
        params = command.spec.validate_params(invocation.params)
        engine = BudgetedEngine(
            self.engine,
            command.spec.limits,
            on_delta,
            affinity=invocation.conversation or command.plugin,
        )
        ctx = Context(
            invocation=invocation,
            spec=command.spec,
            engine=engine,
            settings=self.host.plugin_settings(command.plugin),
            logger=logging.LoggerAdapter(
                logging.getLogger(f"musekit.plugin.{command.plugin}"),
                {"invocation_id": invocation.id},
            ),
            on_status=on_status,
            history=history,
            ideas=ideas,
        )
        started = time.perf_counter()
        deadline = asyncio.timeout(command.spec.limits.max_seconds)
        try:
            with status_reporter(on_status):
                async with deadline:
                    result = await command.handler(ctx, params)
        except asyncio.CancelledError:
            ctx.cancelled.set()
            raise
        except MusekitError:
            raise
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                raise CommandTimeout(
                    f"The '{command.spec.name}' command ran past its limit of "
                    f"{command.spec.limits.max_seconds:g} seconds."
                ) from None
            self._log_failure(invocation, command, exc)
            raise PluginFailure(command.plugin, command.spec.name) from None
        if not isinstance(result, Result):
            logger.error(
                "plugin %r returned %s instead of a Result [invocation %s]",
                command.plugin,
                type(result).__name__,
                invocation.id,
            )
            raise PluginFailure(command.plugin, command.spec.name)
        return result.model_copy(
            update={
                "command": command.spec.name,
                "invocation_id": invocation.id,
                "warnings": [*result.warnings, *engine.warnings],
                "metrics": Metrics(
                    prompt_tokens=engine.usage.prompt_tokens,
                    completion_tokens=engine.usage.completion_tokens,
                    seconds=round(time.perf_counter() - started, 3),
                    engine=self.engine.name,
                    model=self.engine.model,
                ),
            }
        )

    @staticmethod
    def _log_failure(invocation: Invocation, command: RegisteredCommand, exc: Exception) -> None:
        # The exception's type and place are logged; its text may hold user data or
        # secrets, so it only goes out at DEBUG level, with the traceback.
        logger.error(
            "plugin raised %s in command %r of plugin %r [invocation %s]",
            type(exc).__name__,
            command.spec.name,
            command.plugin,
            invocation.id,
        )
        logger.debug("traceback of invocation %s", invocation.id, exc_info=exc)
