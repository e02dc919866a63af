"""musekit: a plugin SDK for creative-writing commands run by language models.

The public API is importable from here; names load on first use, so the CLI
starts fast. See docs/sdk.md for a guided tour.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "musekit.hookspecs",
    "CommandHandler": "musekit.hookspecs",
    "PermissionCheck": "musekit.hookspecs",
    "CommandSpec": "musekit.spec",
    "Params": "musekit.spec",
    "Limits": "musekit.spec",
    "Example": "musekit.spec",
    "Context": "musekit.context",
    "Turn": "musekit.context",
    "EarlierIdea": "musekit.context",
    "Result": "musekit.result",
    "Section": "musekit.result",
    "ResultField": "musekit.result",
    "Attachment": "musekit.result",
    "Metrics": "musekit.result",
    "Variation": "musekit.result",
    "Invocation": "musekit.invocation",
    "Invoker": "musekit.invocation",
    "Runner": "musekit.runner",
    "report_status": "musekit.status",
    "PluginHost": "musekit.plugins",
    "API_VERSION": "musekit.plugins",
    "Engine": "musekit.engine",
    "ChatRequest": "musekit.engine",
    "Message": "musekit.engine",
    "Sampling": "musekit.engine",
    "Completion": "musekit.engine",
    "Choice": "musekit.engine",
    "Delta": "musekit.engine",
    "Usage": "musekit.engine",
    "MusekitError": "musekit.errors",
    "UsageError": "musekit.errors",
    "InvalidParameters": "musekit.errors",
    "PermissionDenied": "musekit.errors",
    "EngineError": "musekit.errors",
    "EngineBusy": "musekit.errors",
    "EngineUnavailable": "musekit.errors",
    "PromptTooLong": "musekit.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from musekit.context import (
        Context as Context,
    )
    from musekit.context import (
        EarlierIdea as EarlierIdea,
    )
    from musekit.context import (
        Turn as Turn,
    )
    from musekit.engine import (
        ChatRequest as ChatRequest,
    )
    from musekit.engine import (
        Choice as Choice,
    )
    from musekit.engine import (
        Completion as Completion,
    )
    from musekit.engine import (
        Delta as Delta,
    )
    from musekit.engine import (
        Engine as Engine,
    )
    from musekit.engine import (
        Message as Message,
    )
    from musekit.engine import (
        Sampling as Sampling,
    )
    from musekit.engine import (
        Usage as Usage,
    )
    from musekit.errors import (
        EngineBusy as EngineBusy,
    )
    from musekit.errors import (
        EngineError as EngineError,
    )
    from musekit.errors import (
        EngineUnavailable as EngineUnavailable,
    )
    from musekit.errors import (
        InvalidParameters as InvalidParameters,
    )
    from musekit.errors import (
        MusekitError as MusekitError,
    )
    from musekit.errors import (
        PermissionDenied as PermissionDenied,
    )
    from musekit.errors import (
        PromptTooLong as PromptTooLong,
    )
    from musekit.errors import (
        UsageError as UsageError,
    )
    from musekit.hookspecs import (
        CommandHandler as CommandHandler,
    )
    from musekit.hookspecs import (
        PermissionCheck as PermissionCheck,
    )
    from musekit.hookspecs import (
        hookimpl as hookimpl,
    )
    from musekit.invocation import (
        Invocation as Invocation,
    )
    from musekit.invocation import (
        Invoker as Invoker,
    )
    from musekit.plugins import (
        API_VERSION as API_VERSION,
    )
    from musekit.plugins import (
        PluginHost as PluginHost,
    )
    from musekit.result import (
        Attachment as Attachment,
    )
    from musekit.result import (
        Metrics as Metrics,
    )
    from musekit.result import (
        Result as Result,
    )
    from musekit.result import (
        ResultField as ResultField,
    )
    from musekit.result import (
        Section as Section,
    )
    from musekit.result import (
        Variation as Variation,
    )
    from musekit.runner import (
        Runner as Runner,
    )
    from musekit.spec import (
        CommandSpec as CommandSpec,
    )
    from musekit.spec import (
        Example as Example,
    )
    from musekit.spec import (
        Limits as Limits,
    )
    from musekit.spec import (
        Params as Params,
    )
    from musekit.status import (
        report_status as report_status,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'musekit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
