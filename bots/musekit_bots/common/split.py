"""Split text into chunks that fit a platform's message limit.

Chunks break at the last paragraph boundary (a blank line) that fits, else the
last line break, else the last space, else hard at the limit. Joining the chunks
gives back the text exactly: nothing is lost, nothing is reordered, and the
separator stays at the end of the chunk it closes.
"""

from __future__ import annotations

#: Boundaries tried in order, strongest first.
_BOUNDARIES = ("\n\n", "\n", " ")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters.

    ``"".join(split_text(text, limit)) == text`` always holds; an empty text gives
    no chunks. Raises ``ValueError`` if ``limit`` is below 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        chunks.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        chunks.append(rest)
    return chunks


def _cut_point(text: str, limit: int) -> int:
    """Where to end the next chunk of ``text``: just after the strongest boundary that fits."""
    window = text[:limit]
    for boundary in _BOUNDARIES:
        found = window.rfind(boundary, 0, limit - len(boundary) + 1)
        if found > 0:
            return found + len(boundary)
    return limit
