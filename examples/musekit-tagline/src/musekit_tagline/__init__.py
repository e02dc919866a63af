"""musekit-tagline: a musekit plugin that writes short taglines for a product or project.

musekit loads this module through the ``musekit.plugins`` entry point named
``tagline``; ``MUSEKIT_API`` says which musekit plugin API versions it supports.
"""

from __future__ import annotations

from musekit import hookimpl
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit_tagline.command import SPEC, TaglineParams, TaglineSettings, run_tagline

__version__ = "0.1.0"

MUSEKIT_API = (1,)

__all__ = ["MUSEKIT_API", "SPEC", "TaglineParams", "TaglineSettings", "run_tagline"]


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    """Provide the ``tagline`` command."""
    register(SPEC, run_tagline)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    """Validate the ``plugin_config.tagline`` settings section."""
    register(TaglineSettings)
