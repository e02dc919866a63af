"""A musekit :class:`~musekit.result.Result` as Discord messages, within Discord's limits.

The title and sections become message text, split at 2,000 characters on
paragraph, line and word boundaries (nothing cut off); fields, warnings and what
the result cost go in one embed within the embed limits; attachments become
files, at most 10 a message. The last message carries the buttons.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import discord

from musekit.result import Attachment, Result, ResultField, Section, Variation
from musekit_bots.common.cadence import Progress
from musekit_bots.common.split import split_text

#: Discord's limits on one message.
MAX_CONTENT = 2000
MAX_FILES = 10
MAX_EMBED_TOTAL = 6000
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048

#: What a result with nothing to show says.
EMPTY = "(The command returned nothing to show.)"

#: What a deferred response shows until the first progress edit.
THINKING = "musekit is thinking…"


@dataclass
class Outgoing:
    """One Discord message to send: text, embeds and files (kept as bytes until sent)."""

    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    def files(self) -> list[discord.File]:
        """Fresh file objects for one send (a discord.File can be read only once)."""
        return [to_file(a) for a in self.attachments]


def to_file(attachment: Attachment) -> discord.File:
    """A result's attachment as a Discord file."""
    return discord.File(
        io.BytesIO(attachment.data),
        filename=attachment.filename,
        description=attachment.description[:1024] or None,
    )


def render_result(result: Result, *, size_limit: int | None = None) -> list[Outgoing]:
    """The messages that show ``result``; files over ``size_limit`` bytes are named, not sent."""
    notes: list[str] = []
    files: list[Attachment] = []
    for attachment in result.attachments:
        if size_limit is not None and len(attachment.data) > size_limit:
            notes.append(
                f"{attachment.filename} is over this channel's upload limit; "
                "it is kept with the result (/muse-history)."
            )
        else:
            files.append(attachment)
    body = _text(result.title, result.sections)
    footer = _footer(result)
    embed = _embed(result.fields, [*result.warnings, *notes], footer)
    return _messages(body, embed, files)


def render_variation(result: Result, index: int) -> list[Outgoing]:
    """Variation ``index`` of ``result`` (0 is the best of the other takes)."""
    variation: Variation = result.variations[index]
    title = f"{result.title} (variation {index + 1} of {len(result.variations)})"
    body = _text(title, variation.sections)
    return _messages(body, _embed(variation.fields, [], None), [])


def render_progress(progress: Progress) -> str:
    """What a response shows while the command runs: the status line and the text so far.

    Shows the end of the streamed text when it is longer than a message.
    """
    status = f"*{progress.status}*" if progress.status else THINKING
    text = progress.text.strip()
    if not text:
        return status
    room = MAX_CONTENT - len(status) - 2
    if len(text) > room:
        text = "…" + text[-(room - 1) :]
    return f"{status}\n\n{text}"


def _text(title: str, sections: list[Section]) -> str:
    parts = [f"**{title}**"] if title else []
    for section in sections:
        body = _styled(section)
        parts.append(f"**{section.heading}**\n{body}" if section.heading else body)
    return "\n\n".join(parts)


def _styled(section: Section) -> str:
    if section.style == "code":
        return f"```\n{section.body}\n```"
    if section.style == "quote":
        return "\n".join(f"> {line}" for line in section.body.split("\n"))
    return section.body


def _footer(result: Result) -> str | None:
    metrics = result.metrics
    parts = [p for p in (metrics.model,) if p]
    tokens = metrics.prompt_tokens + metrics.completion_tokens
    if tokens:
        parts.append(f"{tokens} tokens")
    if metrics.seconds:
        parts.append(f"{metrics.seconds:.1f} s")
    return " · ".join(parts) or None


def _embed(
    fields: list[ResultField], warnings: list[str], footer: str | None
) -> discord.Embed | None:
    """One embed of fields, warnings and footer, within every embed limit; None if empty."""
    if not fields and not warnings and not footer:
        return None
    embed = discord.Embed()
    total = 0
    if warnings:
        description = _clip("\n".join(f"⚠ {w}" for w in warnings), MAX_EMBED_DESCRIPTION)
        embed.description = description
        total += len(description)
    if footer:
        footer = _clip(footer, MAX_FOOTER)
        embed.set_footer(text=footer)
        total += len(footer)
    for item in fields[:MAX_EMBED_FIELDS]:
        name = _clip(item.name or "-", MAX_FIELD_NAME)
        value = _clip(item.value or "-", MAX_FIELD_VALUE)
        if total + len(name) + len(value) > MAX_EMBED_TOTAL:
            break
        embed.add_field(name=name, value=value, inline=len(value) <= 40)
        total += len(name) + len(value)
    return embed


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _messages(body: str, embed: discord.Embed | None, files: list[Attachment]) -> list[Outgoing]:
    messages = [Outgoing(content=chunk) for chunk in split_text(body, MAX_CONTENT)]
    if not messages:  # Discord refuses an empty message
        messages.append(Outgoing(content="" if embed or files else EMPTY))
    last = messages[-1]
    if embed is not None:
        last.embeds.append(embed)
    batches = [files[i : i + MAX_FILES] for i in range(0, len(files), MAX_FILES)]
    if batches:
        last.attachments.extend(batches[0])
        messages.extend(Outgoing(attachments=batch) for batch in batches[1:])
    return messages
