"""Logs that say which invocation they belong to, as text or one JSON object a line.

The service binds the invocation id for the duration of a command
(:func:`invocation_scope`); a filter on the handler puts it on every record,
whichever layer logged it (service, runner, engine, plugin). Nothing here logs
user text: that rule is kept by the code that logs (see docs/observability.md).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Literal

LogFormat = Literal["text", "json"]

#: What a record carries when it was logged outside any invocation.
NO_INVOCATION = "-"

_current: ContextVar[str | None] = ContextVar("musekit_invocation_id", default=None)

_TEXT_FORMAT = "%(levelname)s %(name)s [%(invocation_id)s]: %(message)s"


def current_invocation_id() -> str | None:
    """The id of the invocation the running code works for, if any."""
    return _current.get()


@contextmanager
def invocation_scope(invocation_id: str) -> Iterator[None]:
    """Tag every log record made inside the block (and in tasks it starts) with the id."""
    token = _current.set(invocation_id)
    try:
        yield
    finally:
        _current.reset(token)


class InvocationIdFilter(logging.Filter):
    """Sets ``record.invocation_id`` from the current scope, unless the logger set one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "invocation_id", None) is None:
            record.invocation_id = _current.get() or NO_INVOCATION
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, invocation_id.

    A record's exception adds ``exc_type`` and, only for DEBUG records, ``traceback``
    (exception text may hold user data or secrets).
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "invocation_id": getattr(record, "invocation_id", None) or NO_INVOCATION,
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            if record.levelno <= logging.DEBUG:
                entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class LogHandler(logging.Handler):
    """Writes each record as a line to ``stream``, or to whatever ``sys.stderr`` is then."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self.target = stream
        self.addFilter(InvocationIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self.target or sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def configure_logging(
    level: str, log_format: LogFormat = "text", stream: IO[str] | None = None
) -> LogHandler:
    """Log every record at ``level`` or above to ``stream`` (stderr), as text or JSON lines.

    Replaces the handler an earlier call installed; other handlers are left alone.
    """
    handler = LogHandler(stream)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, LogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
