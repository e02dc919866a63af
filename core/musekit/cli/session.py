"""Running a command from the CLI: settings, logging, streaming, output and exit codes.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or parameters, 130 cancelled.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from musekit.engine.types import Delta
from musekit.errors import MusekitError
from musekit.invocation import Invocation
from musekit.result import Result
from musekit.settings import Settings, load_settings

if TYPE_CHECKING:
    from musekit.plugins import PluginHost

stdout = Console()
stderr = Console(stderr=True)


def fail(message: str, code: int, *, as_json: bool = False, kind: str = "error") -> NoReturn:
    """Report an error (as JSON on stdout for scripts) and exit."""
    if as_json:
        print(json.dumps({"error": {"type": kind, "message": message}}))
    else:
        stderr.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


@contextmanager
def guarded(*, debug: bool, as_json: bool = False) -> Iterator[None]:
    """Turn every failure into a clear message and an exit code; tracebacks only with debug."""
    try:
        yield
    except KeyboardInterrupt:
        fail("Cancelled.", 130, as_json=as_json, kind="Cancelled")
    except MusekitError as exc:
        if debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        fail(exc.message, exc.exit_code, as_json=as_json, kind=type(exc).__name__)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        fail(
            f"musekit failed unexpectedly ({type(exc).__name__}). "
            "Run again with --debug for details.",
            1,
            as_json=as_json,
            kind="InternalError",
        )


def load_settings_or_exit(*, debug: bool = False) -> Settings:
    """Settings, or a clear error naming the bad setting and exit code 2.

    Also sets up logging: at the ``log_level`` setting, or DEBUG with ``--debug``, in the
    ``log_format`` setting's format.
    """
    with guarded(debug=False):
        from musekit.observability.logs import configure_logging

        settings = load_settings()
        configure_logging("DEBUG" if debug else settings.log_level, settings.log_format)
        return settings
    raise AssertionError("unreachable")  # pragma: no cover


def execute(
    command: str,
    params: dict[str, Any],
    *,
    as_json: bool = False,
    output_dir: Path | None = None,
    debug: bool = False,
    host: PluginHost | None = None,
) -> None:
    """Run one command with raw parameters and print its result.

    ``host`` is the plugin host already loaded to build the command line, if any.
    """
    settings = load_settings_or_exit(debug=debug)
    with guarded(debug=debug, as_json=as_json):
        invocation = Invocation(command=command, params=params)
        result = asyncio.run(_run(settings, invocation, as_json, host))
        if output_dir is not None:
            saved = save_attachments(result, output_dir)
            for path in saved:
                stderr.print(f"saved {path}", highlight=False)
        if as_json:
            print(result.model_dump_json(indent=2))
        else:
            from musekit.render.terminal import render_result

            render_result(result, stdout)


async def _run(
    settings: Settings, invocation: Invocation, quiet: bool, host: PluginHost | None
) -> Result:
    """Run through the command service, so the run is guarded and recorded (`musekit history`)."""
    from musekit.service import CommandService

    service = await CommandService.from_settings(settings, host=host)
    try:
        if quiet or not stderr.is_terminal:
            outcome = await service.submit(invocation)
        else:
            with _LiveDraft() as live:
                outcome = await service.submit(invocation, on_delta=live.add, on_status=live.status)
    finally:
        await service.aclose()
    if outcome.result is not None:
        return outcome.result
    raise outcome.error or MusekitError(outcome.message or "The command failed.")


class _LiveDraft:
    """A spinner until the first text arrives, then the draft as it streams (transient)."""

    def __init__(self) -> None:
        self.message = "Loading the model and thinking…"
        self.draft: list[str] = []
        self.live = Live(self._render(), console=stderr, transient=True, refresh_per_second=12)

    def __enter__(self) -> _LiveDraft:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def add(self, delta: Delta) -> None:
        if delta.index == 0 and delta.text:
            self.draft.append(delta.text)
            self.live.update(self._render())

    def status(self, message: str) -> None:
        self.message = message
        self.live.update(self._render())

    def _render(self) -> Spinner:
        tail = "\n".join("".join(self.draft).splitlines()[-8:])
        text = Text(self.message)
        if tail:
            text.append("\n" + tail, style="dim")
        return Spinner("dots", text=text)


def save_attachments(result: Result, output_dir: Path) -> list[Path]:
    """Write each attachment into ``output_dir`` (created if needed); return the paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for attachment in result.attachments:
        path = output_dir / attachment.filename
        path.write_bytes(attachment.data)
        paths.append(path)
    return paths


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
