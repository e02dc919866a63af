"""Building the configured engine."""

from __future__ import annotations

from musekit.engine.base import Engine
from musekit.engine.models import resolve_model_path
from musekit.settings import EngineSettings


def create_engine(settings: EngineSettings) -> Engine:
    """The engine the settings ask for (today: the embedded llama.cpp engine)."""
    from musekit.engine.embedded import EmbeddedEngine

    return EmbeddedEngine(
        resolve_model_path(settings.model_path),
        context_length=settings.context_length,
        threads=settings.threads,
        max_queue=settings.max_queue,
    )
