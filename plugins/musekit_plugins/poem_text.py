"""Poem text as the model writes it and as the checker reads it: cleaning, lines, line edits."""

from __future__ import annotations

import re

_PREAMBLE = re.compile(
    r"^(here('s| is| are)|sure|certainly|of course|okay)\b"
    r"|\b(poem|haiku|tanka|limerick|sonnet|villanelle|couplets?|verse)\b[^.!?]*:$",
    re.IGNORECASE,
)
_TITLE = re.compile(r"^(#+ .*|\*\*[^*]+\*\*|title:.*)$", re.IGNORECASE)
_AFTERWORD = re.compile(
    r"^(this (poem|haiku|tanka|limerick|sonnet|villanelle|verse)|i hope|note:|explanation)",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"^(\*\*|\*|__|_)(.+)\1$")
_QUOTES = {'"': '"', "“": "”", "'": "'"}


def clean_poem(text: str) -> str:
    """The poem alone: no preamble ("Here is a haiku:"), title, afterword, fences,
    markdown emphasis or wrapping quotes; single blank lines between stanzas."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if not line.startswith("```")]
    while lines and (not lines[0] or _PREAMBLE.search(lines[0]) or _TITLE.match(lines[0])):
        lines.pop(0)
    for index in range(1, len(lines)):
        if not lines[index - 1] and _AFTERWORD.match(lines[index]):
            del lines[index:]
            break
    lines = [_EMPHASIS.sub(r"\2", line.removeprefix("> ")) for line in lines]
    lines = _unquoted(lines)
    poem = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return poem.strip()


def _unquoted(lines: list[str]) -> list[str]:
    """Lines without quotes wrapping every line, or else the whole poem."""
    filled = [index for index, line in enumerate(lines) if line]
    if not filled:
        return lines
    first, last = lines[filled[0]], lines[filled[-1]]
    close = _QUOTES.get(first[:1])
    if close is None or not last.endswith(close) or (len(filled) == 1 and len(first) < 2):
        return lines
    if all(lines[i][:1] == first[0] and lines[i].endswith(close) for i in filled):
        return [line[1:-1] if line else line for line in lines]
    unquoted = list(lines)
    unquoted[filled[0]] = unquoted[filled[0]][1:]
    unquoted[filled[-1]] = unquoted[filled[-1]][:-1]
    return unquoted


_LINE_LABEL = re.compile(r"^(new )?line \d+\s*[:.)-]\s*", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def answer_lines(answer: str) -> list[str]:
    """The lines of an answer that wrote some lines of a poem, without "Line 3:" labels,
    quotes or markdown."""
    lines = (clean_poem(_LINE_LABEL.sub("", line)) for line in clean_poem(answer).splitlines())
    return [line for line in lines if line]


def put_line(text: str, index: int, line: str) -> str:
    """``text`` with its ``index``-th non-blank line (0-based) replaced by ``line``, or with
    ``line`` added at the end when the poem has only ``index`` lines."""
    rows = text.split("\n")
    filled = [number for number, row in enumerate(rows) if row.strip()]
    if index < len(filled):
        rows[filled[index]] = line
    elif index == len(filled):
        rows.append(line)
    else:
        raise ValueError(f"the poem has {len(filled)} lines; line {index + 1} cannot be added")
    return "\n".join(rows).strip()


def poem_lines(text: str) -> list[str]:
    """The non-blank lines of a poem, as the checker numbers them."""
    return [row.strip() for row in text.splitlines() if row.strip()]


def last_word(line: str) -> str:
    """The line's last word (where its rhyme is), or ``""``."""
    found = _WORD.findall(line)
    return found[-1] if found else ""
