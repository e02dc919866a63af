"""musekit's pytest plugin (entry point ``pytest11``): fixtures for plugin authors."""

from __future__ import annotations

import pytest

from musekit.testing.fake_engine import FakeEngine


@pytest.fixture
def fake_engine() -> FakeEngine:
    """A fresh :class:`FakeEngine` that answers "ok" until scripted otherwise."""
    return FakeEngine()
