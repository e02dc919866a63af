"""The tables, for SQLite and PostgreSQL alike (SQLAlchemy Core).

This is the latest schema: a fresh database is created from it, and each change to it
comes with a step in :mod:`musekit.store.migrations` that brings older databases here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out: ``timestamptz`` on PostgreSQL, UTC text on SQLite."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("times given to the store must be timezone-aware")
        utc = value.astimezone(UTC)
        # SQLite compares times as text: every stored time is naive UTC in one format.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

invocations = sa.Table(
    "invocations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("command", sa.String(100), nullable=False),
    sa.Column("params", _json(), nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("roles", _json(), nullable=False),
    sa.Column("platform", sa.String(50), nullable=False),
    sa.Column("channel", sa.String(200)),
    sa.Column("conversation", sa.String(200)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("result", _json()),
    sa.Column("error", sa.Text),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("timings", _json(), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("delivered", sa.Boolean),
    sa.Column("delivery_platform", sa.String(50)),
    sa.Column("delivery_destination", sa.String(200)),
    sa.Column("delivery_reason", sa.Text),
    # History filters (newest first) and the per-user token window.
    sa.Index("ix_invocations_started_at", "started_at"),
    sa.Index("ix_invocations_user_started", "user_id", "started_at"),
    sa.Index("ix_invocations_channel_started", "channel", "started_at"),
    sa.Index("ix_invocations_command_started", "command", "started_at"),
    sa.Index("ix_invocations_platform_started", "platform", "started_at"),
    sa.Index("ix_invocations_conversation_started", "conversation", "started_at"),
    sa.Index("ix_invocations_delivered", "delivered", "delivery_platform"),
)

ideas = sa.Table(
    "ideas",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "invocation_id",
        sa.String(64),
        sa.ForeignKey("invocations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_ideas_invocation", "invocation_id", "position"),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column(
        "idea_id",
        sa.Integer,
        sa.ForeignKey("ideas.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("value", sa.SmallInteger, nullable=False),
    sa.Column("voted_at", UTCDateTime, nullable=False),
    sa.Index("ix_votes_user", "user_id"),
)
