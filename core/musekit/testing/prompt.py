"""Rendering a chat request as plain text, for assertions and snapshots."""

from __future__ import annotations

from musekit.engine.types import ChatRequest


def render_prompt(request: ChatRequest) -> str:
    """The request's messages as readable text: a ``[role]`` line, then the content.

    Messages are separated by a blank line and contents are kept byte for byte,
    so the text is stable enough to compare with a stored snapshot.
    """
    return "\n\n".join(f"[{message.role}]\n{message.content}" for message in request.messages)
