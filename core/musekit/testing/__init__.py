"""A test kit for plugin authors: a fake engine, fixtures, and a conformance check."""

from musekit.testing.fake_engine import FakeEngine, Reply, split_tokens

__all__ = ["FakeEngine", "Reply", "split_tokens"]
