"""The store: one SQL implementation (SQLAlchemy Core, async) for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from musekit.invocation import Invocation
from musekit.result import Result
from musekit.store import schema as t
from musekit.store.engine import writing
from musekit.store.errors import InvalidInput, NotFound
from musekit.store.failures import translated
from musekit.store.records import STATUSES, Delivery, IdeaRecord, InvocationRecord, Status


class Store:
    """Invocations, conversations, brainstorm ideas and votes, and undelivered results.

    Open one with :func:`musekit.store.open_store`; every method is a coroutine, and
    every time given or returned is timezone-aware (returned in UTC).
    """

    def __init__(self, engine: AsyncEngine, *, where: str, memory: bool = False) -> None:
        self._engine = engine
        self.where = where
        """The database URL with its password masked: safe to show."""
        sqlite_db = engine.dialect.name == "sqlite"
        # One writer at a time in this process (SQLite has one write lock); an in-memory
        # database has a single connection, which reads must not share with a write either.
        self._write_lock: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if sqlite_db else nullcontext()
        )
        self._read_lock = self._write_lock if memory else nullcontext()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every connection."""
        await self._engine.dispose()

    # Invocations -------------------------------------------------------------------------------

    async def record_start(self, invocation: Invocation, *, started_at: datetime) -> None:
        """Record an invocation as running: who, where, which command with which parameters."""
        invoker = invocation.invoker
        row = {
            "id": invocation.id,
            "command": invocation.command,
            "params": to_jsonable_python(invocation.params, fallback=str),
            "user_id": invoker.user_id,
            "display_name": invoker.display_name,
            "roles": list(invoker.roles),
            "platform": invocation.platform,
            "channel": invocation.channel,
            "conversation": invocation.conversation,
            "status": "running",
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "timings": {},
            "started_at": _aware(started_at, "started_at"),
        }
        async with self._write() as conn:
            await conn.execute(t.invocations.insert().values(row))

    async def record_finish(
        self,
        invocation_id: str,
        *,
        status: Status,
        result: Result | None = None,
        error: str | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        timings: dict[str, float] | None = None,
        finished_at: datetime,
    ) -> None:
        """Record how an invocation ended. ``error`` is the user-safe message only."""
        if status not in STATUSES or status == "running":
            raise InvalidInput(f"'{status}' is not a finished status; use one of {_FINISHED}.")
        if prompt_tokens < 0 or completion_tokens < 0:
            raise InvalidInput("Token counts cannot be negative.")
        values = {
            "status": status,
            "result": None if result is None else result.model_dump(mode="json"),
            "error": error,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "timings": dict(timings or {}),
            "finished_at": _aware(finished_at, "finished_at"),
        }
        await self._update(invocation_id, values)

    async def get(self, invocation_id: str) -> InvocationRecord | None:
        """One invocation, or ``None`` if there is none with that id."""
        async with self._read() as conn:
            query = t.invocations.select().where(t.invocations.c.id == invocation_id)
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _invocation(row)

    async def history(
        self,
        *,
        user: str | None = None,
        channel: str | None = None,
        command: str | None = None,
        platform: str | None = None,
        limit: int = 20,
        before: datetime | None = None,
    ) -> list[InvocationRecord]:
        """Invocations newest first, filtered by any of user, channel, command, platform;
        ``before`` pages back (only those started earlier)."""
        _positive(limit)
        query = t.invocations.select()
        for column, value in (
            (t.invocations.c.user_id, user),
            (t.invocations.c.channel, channel),
            (t.invocations.c.command, command),
            (t.invocations.c.platform, platform),
        ):
            if value is not None:
                query = query.where(column == value)
        if before is not None:
            query = query.where(t.invocations.c.started_at < _aware(before, "before"))
        return await self._invocations(query, newest_first=True, limit=limit)

    async def conversation(self, conversation: str, *, limit: int = 20) -> list[InvocationRecord]:
        """The last ``limit`` invocations of a conversation (a thread), oldest first."""
        _positive(limit)
        query = t.invocations.select().where(t.invocations.c.conversation == conversation)
        return (await self._invocations(query, newest_first=True, limit=limit))[::-1]

    async def tokens_used(self, user_id: str, *, since: datetime) -> int:
        """Prompt and completion tokens of the user's invocations started at ``since`` or later."""
        total = sa.func.coalesce(
            sa.func.sum(t.invocations.c.prompt_tokens + t.invocations.c.completion_tokens), 0
        )
        query = sa.select(total).where(
            t.invocations.c.user_id == user_id,
            t.invocations.c.started_at >= _aware(since, "since"),
        )
        async with self._read() as conn:
            return int((await conn.execute(query)).scalar_one())

    # Brainstorm ideas and votes ----------------------------------------------------------------

    async def add_ideas(self, invocation_id: str, ideas: list[str]) -> list[int]:
        """Keep an invocation's ideas (after any it already has); their ids, in order."""
        if not ideas:
            return []
        async with self._write() as conn:
            await self._require(conn, invocation_id)
            last = await conn.execute(
                sa.select(sa.func.max(t.ideas.c.position)).where(
                    t.ideas.c.invocation_id == invocation_id
                )
            )
            start = (last.scalar_one() or 0) + 1
            now = datetime.now(UTC)
            rows = [
                {
                    "invocation_id": invocation_id,
                    "position": start + i,
                    "text": text,
                    "created_at": now,
                }
                for i, text in enumerate(ideas)
            ]
            query = t.ideas.insert().returning(t.ideas.c.id, sort_by_parameter_order=True)
            return list((await conn.execute(query, rows)).scalars())

    async def vote(self, idea_id: int, user_id: str, value: int) -> None:
        """Vote +1 or -1 on an idea; a user's new vote on an idea replaces their old one."""
        if value not in (1, -1):
            raise InvalidInput(f"A vote is +1 or -1, not {value}.")
        row = {"idea_id": idea_id, "user_id": user_id, "value": value}
        async with self._write() as conn:
            found = await conn.execute(sa.select(t.ideas.c.id).where(t.ideas.c.id == idea_id))
            if found.first() is None:
                raise NotFound(f"No idea {idea_id} in the store.")
            dialect = postgresql if self.dialect == "postgresql" else sqlite
            upsert = dialect.insert(t.votes).values(**row, voted_at=datetime.now(UTC))
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[t.votes.c.idea_id, t.votes.c.user_id],
                    set_={"value": upsert.excluded.value, "voted_at": upsert.excluded.voted_at},
                )
            )

    async def ideas(self, invocation_id: str) -> list[IdeaRecord]:
        """An invocation's ideas in order, each with its up and down votes."""
        async with self._read() as conn:
            return await _ideas_where(conn, t.ideas.c.invocation_id == invocation_id)

    async def earlier_ideas(self, invocation: Invocation, *, limit: int = 200) -> list[IdeaRecord]:
        """The last ``limit`` ideas of other invocations where ``invocation`` runs, newest
        first: on its platform, in its channel or its conversation; with neither, its user's
        own (a CLI's, say)."""
        _positive(limit)
        i = t.invocations.c
        if invocation.channel is not None:
            where = i.channel == invocation.channel
            if invocation.conversation is not None:
                where = sa.or_(where, i.conversation == invocation.conversation)
        elif invocation.conversation is not None:
            where = i.conversation == invocation.conversation
        else:
            where = sa.and_(
                i.channel.is_(None),
                i.conversation.is_(None),
                i.user_id == invocation.invoker.user_id,
            )
        scope = sa.select(i.id).where(
            i.platform == invocation.platform, i.id != invocation.id, where
        )
        async with self._read() as conn:
            return await _ideas_where(
                conn, t.ideas.c.invocation_id.in_(scope), newest_first=True, limit=limit
            )

    # Delivery to chat platforms ----------------------------------------------------------------

    async def keep_undelivered(
        self, invocation_id: str, *, platform: str, destination: str, reason: str
    ) -> None:
        """Keep a result the chat platform did not take, with where it was going and why."""
        values = {
            "delivered": False,
            "delivery_platform": platform,
            "delivery_destination": destination,
            "delivery_reason": reason,
        }
        await self._update(invocation_id, values)

    async def undelivered(self, *, platform: str | None = None) -> list[InvocationRecord]:
        """Results waiting for delivery (to ``platform``, if given), oldest first."""
        query = t.invocations.select().where(t.invocations.c.delivered.is_(False))
        if platform is not None:
            query = query.where(t.invocations.c.delivery_platform == platform)
        return await self._invocations(query, newest_first=False)

    async def mark_delivered(self, invocation_id: str) -> None:
        """Record that a kept result has reached its destination."""
        await self._update(invocation_id, {"delivered": True})

    # A user's data, retention ------------------------------------------------------------------

    async def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything kept about a user, as JSON-able data: their invocations (oldest first),
        the ideas of those invocations with vote totals, and the votes they cast."""
        query = t.invocations.select().where(t.invocations.c.user_id == user_id)
        records = await self._invocations(query, newest_first=False)
        mine = sa.select(t.invocations.c.id).where(t.invocations.c.user_id == user_id)
        async with self._read() as conn:
            idea_records = await _ideas_where(conn, t.ideas.c.invocation_id.in_(mine))
            cast_votes = await conn.execute(
                sa.select(t.votes.c.idea_id, t.votes.c.value, t.votes.c.voted_at)
                .where(t.votes.c.user_id == user_id)
                .order_by(t.votes.c.voted_at, t.votes.c.idea_id)
            )
            vote_rows = [dict(row) for row in cast_votes.mappings()]
        return {
            "user_id": user_id,
            "exported_at": datetime.now(UTC).isoformat(),
            "invocations": [record.model_dump(mode="json") for record in records],
            "ideas": [idea.model_dump(mode="json") for idea in idea_records],
            "votes": to_jsonable_python(vote_rows),
        }

    async def delete_user(self, user_id: str) -> int:
        """Delete everything kept about a user (their invocations, those invocations' ideas
        with every vote on them, and the votes they cast); the number of rows removed."""
        async with self._write() as conn:
            removed = await _delete(conn, t.votes.delete().where(t.votes.c.user_id == user_id))
            mine = sa.select(t.invocations.c.id).where(t.invocations.c.user_id == user_id)
            return removed + await _delete_invocations(conn, mine)

    async def prune(self, *, older_than: datetime) -> int:
        """Delete invocations started before ``older_than``, with their ideas and votes;
        the number of rows removed."""
        cutoff = _aware(older_than, "older_than")
        async with self._write() as conn:
            old = sa.select(t.invocations.c.id).where(t.invocations.c.started_at < cutoff)
            return await _delete_invocations(conn, old)

    # Plumbing ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        with translated(self.where):
            async with self._read_lock, self._engine.connect() as conn, conn.begin():
                yield conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        with translated(self.where):
            async with self._write_lock, self._engine.connect() as plain:
                conn = await writing(plain)
                async with conn.begin():
                    yield conn

    async def _invocations(
        self, query: sa.Select[Any], *, newest_first: bool, limit: int | None = None
    ) -> list[InvocationRecord]:
        order = [t.invocations.c.started_at, t.invocations.c.id]
        query = query.order_by(*(c.desc() for c in order) if newest_first else order).limit(limit)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_invocation(row) for row in rows]

    async def _update(self, invocation_id: str, values: dict[str, Any]) -> None:
        async with self._write() as conn:
            query = t.invocations.update().where(t.invocations.c.id == invocation_id).values(values)
            if (await conn.execute(query)).rowcount == 0:
                raise _no_invocation(invocation_id)

    @staticmethod
    async def _require(conn: AsyncConnection, invocation_id: str) -> None:
        query = sa.select(t.invocations.c.id).where(t.invocations.c.id == invocation_id)
        if (await conn.execute(query)).first() is None:
            raise _no_invocation(invocation_id)


_FINISHED = ", ".join(s for s in STATUSES if s != "running")


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be a timezone-aware time (UTC, say), not a naive one.")
    return value


def _positive(limit: int) -> None:
    if limit < 1:
        raise InvalidInput(f"The limit must be at least 1, not {limit}.")


def _no_invocation(invocation_id: str) -> NotFound:
    return NotFound(f"No invocation '{invocation_id}' in the store.")


def _invocation(row: sa.RowMapping) -> InvocationRecord:
    delivery = None
    if row["delivery_destination"] is not None:
        delivery = Delivery(
            platform=row["delivery_platform"],
            destination=row["delivery_destination"],
            reason=row["delivery_reason"] or "",
        )
    result = row["result"]
    return InvocationRecord(
        id=row["id"],
        command=row["command"],
        params=row["params"],
        user_id=row["user_id"],
        display_name=row["display_name"],
        roles=tuple(row["roles"]),
        platform=row["platform"],
        channel=row["channel"],
        conversation=row["conversation"],
        status=cast(Status, row["status"]),
        # JSON mode, so that attachments' base64 text becomes bytes again.
        result=None if result is None else Result.model_validate_json(json.dumps(result)),
        error=row["error"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        timings=row["timings"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        delivered=row["delivered"],
        delivery=delivery,
    )


async def _ideas_where(
    conn: AsyncConnection,
    condition: sa.ColumnElement[bool],
    *,
    newest_first: bool = False,
    limit: int | None = None,
) -> list[IdeaRecord]:
    up = sa.func.count(t.votes.c.value).filter(t.votes.c.value > 0)
    down = sa.func.count(t.votes.c.value).filter(t.votes.c.value < 0)
    ideas = t.ideas.c
    order = (ideas.id.desc(),) if newest_first else (ideas.invocation_id, ideas.position)
    query = (
        sa.select(*t.ideas.c, up.label("up"), down.label("down"))
        .select_from(t.ideas.outerjoin(t.votes, t.votes.c.idea_id == t.ideas.c.id))
        .where(condition)
        .group_by(*t.ideas.c)
        .order_by(*order)
        .limit(limit)
    )
    rows = (await conn.execute(query)).mappings().all()
    return [IdeaRecord.model_validate(dict(row)) for row in rows]


async def _delete(conn: AsyncConnection, statement: sa.Delete) -> int:
    return (await conn.execute(statement)).rowcount


async def _delete_invocations(conn: AsyncConnection, which: sa.Select[Any]) -> int:
    """Delete the invocations ``which`` selects (ids), their ideas and the votes on those."""
    their_ideas = sa.select(t.ideas.c.id).where(t.ideas.c.invocation_id.in_(which))
    removed = await _delete(conn, t.votes.delete().where(t.votes.c.idea_id.in_(their_ideas)))
    removed += await _delete(conn, t.ideas.delete().where(t.ideas.c.invocation_id.in_(which)))
    return removed + await _delete(
        conn, t.invocations.delete().where(t.invocations.c.id.in_(which))
    )
