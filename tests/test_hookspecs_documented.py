"""Every hook in musekit.hookspecs is documented in docs/sdk.md with its exact signature."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from musekit import hookspecs

SDK_DOC = Path(__file__).parents[1] / "docs" / "sdk.md"


def hooks() -> dict[str, Callable[..., Any]]:
    """The functions marked ``@hookspec`` in musekit.hookspecs."""
    return {
        name: value
        for name, value in vars(hookspecs).items()
        if inspect.isfunction(value) and hasattr(value, "musekit_spec")
    }


def signature(function: Callable[..., Any]) -> str:
    """``name(arg: Type, ...) -> Return`` as written in the source (annotations unevaluated)."""
    sig = inspect.signature(function)
    args = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{function.__name__}({args}) -> {sig.return_annotation}"


def documented_hooks() -> dict[str, str]:
    """Hook name -> the signature in its ``### `...` `` heading in the Hooks section."""
    text = SDK_DOC.read_text(encoding="utf-8")
    section = text.split("\n## Hooks\n", 1)[1].split("\n## ", 1)[0]
    return {
        match.group(2): match.group(1)
        for match in re.finditer(r"^### `((\w+)\(.*\).*)`$", section, flags=re.MULTILINE)
    }


def test_the_hookspec_module_defines_hooks() -> None:
    assert set(hooks()) >= {"register_commands"}


@pytest.mark.parametrize("name", sorted(hooks()))
def test_hook_is_documented_with_its_exact_signature(name: str) -> None:
    documented = documented_hooks()
    assert name in documented, f"docs/sdk.md has no '### `{name}(...)`' heading under ## Hooks"
    assert documented[name] == signature(hooks()[name])


@pytest.mark.parametrize("name", sorted(hooks()))
def test_hook_has_a_one_line_docstring(name: str) -> None:
    doc = inspect.getdoc(hooks()[name])
    assert doc
    assert "\n" not in doc


def test_every_documented_hook_exists() -> None:
    assert set(documented_hooks()) <= set(hooks())
