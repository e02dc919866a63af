"""A test kit for plugin authors: a fake engine, a kit to run commands, a conformance check.

Names load on first use, so the pytest plugin (loaded in every pytest run where
musekit is installed) stays light. See docs/testing-plugins.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "FakeEngine": "musekit.testing.fake_engine",
    "Reply": "musekit.testing.fake_engine",
    "split_tokens": "musekit.testing.fake_engine",
    "FakeVLLM": "musekit.testing.fake_vllm",
    "Invoke": "musekit.testing.kit",
    "Kit": "musekit.testing.kit",
    "Outcome": "musekit.testing.kit",
    "PluginLoadError": "musekit.testing.kit",
    "make_kit": "musekit.testing.kit",
    "run_sync": "musekit.testing.kit",
    "render_prompt": "musekit.testing.prompt",
    "Problem": "musekit.testing.conformance",
    "SECRET": "musekit.testing.conformance",
    "acheck_conformance": "musekit.testing.conformance",
    "assert_conforms": "musekit.testing.conformance",
    "check_conformance": "musekit.testing.conformance",
}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:
    from musekit.testing.conformance import SECRET as SECRET
    from musekit.testing.conformance import Problem as Problem
    from musekit.testing.conformance import acheck_conformance as acheck_conformance
    from musekit.testing.conformance import assert_conforms as assert_conforms
    from musekit.testing.conformance import check_conformance as check_conformance
    from musekit.testing.fake_engine import FakeEngine as FakeEngine
    from musekit.testing.fake_engine import Reply as Reply
    from musekit.testing.fake_engine import split_tokens as split_tokens
    from musekit.testing.fake_vllm import FakeVLLM as FakeVLLM
    from musekit.testing.kit import Invoke as Invoke
    from musekit.testing.kit import Kit as Kit
    from musekit.testing.kit import Outcome as Outcome
    from musekit.testing.kit import PluginLoadError as PluginLoadError
    from musekit.testing.kit import make_kit as make_kit
    from musekit.testing.kit import run_sync as run_sync
    from musekit.testing.prompt import render_prompt as render_prompt


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'musekit.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
