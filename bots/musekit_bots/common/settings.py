"""Loading a chat front end's own settings (``MUSEKIT_<NAME>_...`` variables), with errors
that name the variable and never show its value."""

from __future__ import annotations

import os
from typing import TypeVar

from dotenv import dotenv_values
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from musekit.errors import SettingsError
from musekit.spec import field_problems

S = TypeVar("S", bound=BaseSettings)


def load_front_end_settings(model: type[S], prefix: str, platform: str) -> S:
    """``model`` read from the environment and ``.env``; an unknown ``prefix`` variable or a
    bad value raises :class:`SettingsError` naming the variable (never its value)."""
    unknown = sorted(
        {
            name
            for name in [*os.environ, *dotenv_values(".env")]
            if name.upper().startswith(prefix)
            and name[len(prefix) :].lower() not in model.model_fields
        }
    )
    if unknown:
        known = ", ".join(prefix + field.upper() for field in model.model_fields)
        raise SettingsError(f"Unknown {platform} setting {', '.join(unknown)}; they are {known}.")
    try:
        return model()
    except ValidationError as exc:
        lines = [
            # A problem with several settings together names its variables itself.
            f"  - {p.problem}"
            if p.field == "(parameters)"
            else f"  - {prefix}{p.field.partition('.')[0].upper()}: {p.problem}"
            for p in field_problems(exc, "unknown setting")
        ]
        raise SettingsError(f"Invalid {platform} settings:\n" + "\n".join(lines)) from None
