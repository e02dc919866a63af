"""The command service: what every front end (CLI, Slack, Discord) calls to run a command.

:meth:`CommandService.submit` records the invocation, applies the guard rails
(permission rules, then per-user and per-channel limits), loads the
conversation's history, runs the command, neutralises mass mentions in the
result, stores its ideas (``data["ideas"]``, each given its store id), records how
it ended and updates the metrics. It always returns an
:class:`Outcome` (or, when its task is cancelled, records ``cancelled`` and lets
the cancellation through): a crashing plugin, a timeout or a failing store never
lose the outcome. See docs/guard-rails.md and docs/observability.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, TypeVar

from musekit.context import EarlierIdea, Turn
from musekit.engine.budget import DeltaCallback
from musekit.engine.types import Delta
from musekit.errors import (
    CommandTimeout,
    EngineError,
    MusekitError,
    PermissionDenied,
    SettingsError,
    UsageError,
)
from musekit.guards.hygiene import neutralise_result, neutralise_text
from musekit.guards.limits import Admission, Limiter, LimitReached
from musekit.guards.permissions import check_permissions
from musekit.invocation import Invocation
from musekit.observability.logs import invocation_scope
from musekit.observability.metrics import ServiceMetrics, default_metrics
from musekit.result import Result
from musekit.runner import Runner
from musekit.status import StatusCallback
from musekit.store.errors import StoreError

if TYPE_CHECKING:
    from musekit.engine.base import Engine
    from musekit.plugins import PluginHost
    from musekit.settings import Settings
    from musekit.store import Store

logger = logging.getLogger("musekit.service")

#: How an invocation ended.
OutcomeStatus = Literal["ok", "error", "denied", "cancelled", "timeout"]

#: Earlier turns of a conversation a command sees, at most.
HISTORY_TURNS = 20

#: Earlier ideas of a channel or conversation a command sees, at most (newest first).
EARLIER_IDEAS = 200

#: The plugin whose permission rules must load for anything to run.
RULES_PLUGIN = "rules"

_UNEXPECTED = "musekit failed unexpectedly; the error was logged."

_T = TypeVar("_T")


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended: its result, or a message safe to show the user.

    ``private`` marks a message for the invoking user alone (a denial, a usage
    error); ``error`` is the user-safe error itself, for front ends that map it
    (the CLI's exit codes).
    """

    invocation_id: str
    status: OutcomeStatus
    result: Result | None = None
    message: str | None = None
    private: bool = False
    error: MusekitError | None = None


@dataclass
class _Clock:
    """When an invocation was submitted, started running, and got its first token."""

    submitted: float
    started: float | None = None
    first_token: float | None = None

    def timings(self, now: float) -> dict[str, float]:
        times = {"queue": self.started, "first_token": self.first_token, "total": now}
        return {k: round(v - self.submitted, 6) for k, v in times.items() if v is not None}


class CommandService:
    """Runs invocations for front ends through recording, guard rails, runner and metrics."""

    def __init__(
        self,
        runner: Runner,
        store: Store,
        *,
        limiter: Limiter | None = None,
        metrics: ServiceMetrics | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        from musekit.settings import LimitsSettings

        self.runner = runner
        self.store = store
        self.limiter = limiter or Limiter(LimitsSettings())
        self.metrics = metrics or default_metrics()
        self._clock = clock

    @classmethod
    async def from_settings(
        cls,
        settings: Settings,
        *,
        host: PluginHost | None = None,
        engine: Engine | None = None,
        store: Store | None = None,
    ) -> CommandService:
        """A service over the installed plugins, the configured engine and store.

        Raises :class:`SettingsError` if the permission rules are invalid: nothing runs
        unguarded. Close it with :meth:`aclose`.
        """
        from musekit.app import create_runner, load_host
        from musekit.store import open_store

        host = host or load_host(settings)
        rules = host.plugins.get(RULES_PLUGIN)
        if rules is not None and rules.status == "failed":
            raise SettingsError(
                f"The permission rules did not load, so no command may run: plugin "
                f"'{RULES_PLUGIN}' {rules.error}."
            )
        runner = create_runner(settings, engine=engine, host=host)
        try:
            store = store or await open_store(settings.store)
        except BaseException:
            await runner.engine.aclose()
            raise
        return cls(runner, store, limiter=Limiter(settings.limits))

    async def aclose(self) -> None:
        """Close the engine and the store."""
        try:
            await self.runner.engine.aclose()
        finally:
            await self.store.close()

    async def submit(
        self,
        invocation: Invocation,
        on_delta: DeltaCallback | None = None,
        on_status: StatusCallback | None = None,
    ) -> Outcome:
        """Run one invocation to its outcome; every outcome ends recorded in the store."""
        with invocation_scope(invocation.id):
            clock = _Clock(self._clock())
            command = self._label(invocation.command)
            try:
                started = self.store.record_start(invocation, started_at=datetime.now(UTC))
                await self._store("record_start", started)
                outcome = await self._run(invocation, command, clock, on_delta, on_status)
            except asyncio.CancelledError:
                cancelled = Outcome(invocation.id, "cancelled", message="Cancelled.")
                await asyncio.shield(self._finish(invocation, command, cancelled, clock))
                raise
            except Exception as exc:  # a bug, in a plugin's check or here: logged, not lost
                logger.error("the service failed: %s", type(exc).__name__)
                logger.debug("traceback", exc_info=exc)
                outcome = Outcome(invocation.id, "error", message=_UNEXPECTED)
            await self._finish(invocation, command, outcome, clock)
            return outcome

    async def _run(
        self,
        invocation: Invocation,
        command: str,
        clock: _Clock,
        on_delta: DeltaCallback | None,
        on_status: StatusCallback | None,
    ) -> Outcome:
        try:
            admission = await self._admit(invocation)
        except MusekitError as exc:
            return _failed(invocation, exc)
        try:
            history = await self._history(invocation)
            clock.started = self._clock()
            self.metrics.in_flight.labels(command).inc()
            try:
                result = await self.runner.run(
                    invocation,
                    on_delta=self._watch(clock, on_delta),
                    on_status=on_status,
                    history=history,
                    ideas=lambda: self._earlier_ideas(invocation),
                )
            finally:
                self.metrics.in_flight.labels(command).dec()
        except MusekitError as exc:
            if isinstance(exc, EngineError):
                self.metrics.engine_errors.labels(type(exc).__name__).inc()
            return _failed(invocation, exc)
        finally:
            admission.release()
        result = await self._keep_ideas(invocation, neutralise_result(result))
        return Outcome(invocation.id, "ok", result=result)

    async def _admit(self, invocation: Invocation) -> Admission:
        """Permission rules, then limits; raises the user-safe error that refuses it."""
        spec = self.runner.host.command(invocation.command).spec
        denial = check_permissions(self.runner.host, invocation, spec)
        if denial is not None:
            self.metrics.limit_denials.labels("permission").inc()
            raise PermissionDenied(denial)
        try:
            return await self.limiter.admit(invocation, self._tokens_used)
        except LimitReached as exc:
            self.metrics.limit_denials.labels(exc.kind).inc()
            raise

    async def _tokens_used(self, user_id: str, since: datetime) -> int:
        return await self.store.tokens_used(user_id, since=since)

    async def _history(self, invocation: Invocation) -> tuple[Turn, ...]:
        if invocation.conversation is None:
            return ()
        records = await self._store(
            "conversation",
            self.store.conversation(invocation.conversation, limit=HISTORY_TURNS + 1),
        )
        return tuple(
            Turn(command=r.command, params=r.params, text=r.result.text)
            for r in records or ()
            if r.id != invocation.id and r.status == "ok" and r.result is not None
        )[-HISTORY_TURNS:]

    async def _earlier_ideas(self, invocation: Invocation) -> list[EarlierIdea]:
        """The ideas already produced where the invocation runs (none if the store fails)."""
        records = await self._store(
            "earlier_ideas", self.store.earlier_ideas(invocation, limit=EARLIER_IDEAS)
        )
        return [EarlierIdea(id=r.id, text=r.text) for r in records or ()]

    async def _keep_ideas(self, invocation: Invocation, result: Result) -> Result:
        """Store the result's ``data["ideas"]`` (their texts neutralised) and write each
        one's store id into it, so votes and "more like #3" can name it."""
        ideas = result.data.get("ideas")
        if not isinstance(ideas, list) or not ideas:
            return result
        objects = [i for i in ideas if isinstance(i, dict) and isinstance(i.get("text"), str)]
        if len(objects) != len(ideas):
            logger.warning("result data 'ideas' is not a list of objects with a text; not stored")
            return result
        kept = [{**idea, "text": neutralise_text(str(idea["text"]))} for idea in objects]
        texts = [str(idea["text"]) for idea in kept]
        ids = await self._store("add_ideas", self.store.add_ideas(invocation.id, texts))
        if ids is not None:
            kept = [{**idea, "id": idea_id} for idea, idea_id in zip(kept, ids, strict=True)]
        return result.model_copy(update={"data": {**result.data, "ideas": kept}})

    def _watch(self, clock: _Clock, on_delta: DeltaCallback | None) -> DeltaCallback:
        """Notes the first token's time, then passes each delta on."""

        def watch(delta: Delta) -> None:
            if clock.first_token is None and delta.text:
                clock.first_token = self._clock()
            if on_delta is not None:
                on_delta(delta)

        return watch

    async def _finish(
        self, invocation: Invocation, command: str, outcome: Outcome, clock: _Clock
    ) -> None:
        """Record the outcome (a failure is logged, never raised) and count it."""
        timings = clock.timings(self._clock())
        metrics = outcome.result.metrics if outcome.result is not None else None
        prompt = metrics.prompt_tokens if metrics else 0
        completion = metrics.completion_tokens if metrics else 0
        await self._store(
            "record_finish",
            self.store.record_finish(
                invocation.id,
                status=outcome.status,
                result=outcome.result,
                error=outcome.message,
                prompt_tokens=prompt,
                completion_tokens=completion,
                timings=timings,
                finished_at=datetime.now(UTC),
            ),
        )
        m = self.metrics
        m.invocations.labels(command, outcome.status).inc()
        m.total_seconds.labels(command).observe(timings["total"])
        if "queue" in timings:
            m.queue_seconds.labels(command).observe(timings["queue"])
        if "first_token" in timings:
            m.first_token_seconds.labels(command).observe(timings["first_token"])
        m.tokens.labels(command, "prompt").inc(prompt)
        m.tokens.labels(command, "completion").inc(completion)
        logger.info(
            "%s %s in %.3f s (%d tokens)",
            command,
            outcome.status,
            timings["total"],
            prompt + completion,
        )

    async def _store(self, operation: str, work: Awaitable[_T]) -> _T | None:
        """Await a store operation; a failure is logged and counted, never raised."""
        try:
            return await work
        except Exception as exc:
            self.metrics.store_errors.labels(operation).inc()
            # A StoreError's message is written to be safe; other exception text may not be.
            detail = exc.message if isinstance(exc, StoreError) else type(exc).__name__
            logger.error("store %s failed: %s", operation, detail)
            logger.debug("traceback", exc_info=exc)
            return None

    def _label(self, command: str) -> str:
        """The command's metrics label: its name if it exists (unknown names are unbounded)."""
        return command if command in self.runner.host.commands else "unknown"


def _failed(invocation: Invocation, exc: MusekitError) -> Outcome:
    if isinstance(exc, (PermissionDenied, LimitReached)):
        status: OutcomeStatus = "denied"
    elif isinstance(exc, CommandTimeout):
        status = "timeout"
    else:
        status = "error"
    private = isinstance(exc, UsageError)
    return Outcome(invocation.id, status, message=exc.message, private=private, error=exc)
