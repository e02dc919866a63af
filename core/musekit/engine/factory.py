"""Building the configured engine."""

from __future__ import annotations

from musekit.engine.base import Engine
from musekit.engine.models import resolve_model_path
from musekit.settings import EngineSettings


def create_engine(settings: EngineSettings) -> Engine:
    """The engine the settings ask for: embedded llama.cpp, or OpenAI-compatible servers."""
    if settings.backend == "openai":
        from musekit.engine.openai.engine import OpenAIEngine

        return OpenAIEngine(settings.openai)
    from musekit.engine.embedded import EmbeddedEngine

    return EmbeddedEngine(
        resolve_model_path(settings.model_path),
        context_length=settings.context_length,
        threads=settings.threads,
        max_queue=settings.max_queue,
    )
