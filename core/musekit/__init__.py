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
    "Result": "musekit.result",
    "Section": "musekit.result",
    "ResultField": "musekit.result",
    "Attachment": "musekit.result",
    "Metrics": "musekit.result",
    "Invocation": "musekit.invocation",
    "Invoker": "musekit.invocation",
    "Runner": "musekit.runner",
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
    from musekit.context import Context
    from musekit.engine import (
        ChatRequest,
        Choice,
        Completion,
        Delta,
        Engine,
        Message,
        Sampling,
        Usage,
    )
    from musekit.errors import (
        EngineBusy,
        EngineError,
        EngineUnavailable,
        InvalidParameters,
        MusekitError,
        PermissionDenied,
        PromptTooLong,
        UsageError,
    )
    from musekit.hookspecs import CommandHandler, PermissionCheck, hookimpl
    from musekit.invocation import Invocation, Invoker
    from musekit.plugins import API_VERSION, PluginHost
    from musekit.result import Attachment, Metrics, Result, ResultField, Section
    from musekit.runner import Runner
    from musekit.spec import CommandSpec, Example, Limits, Params


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'musekit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
