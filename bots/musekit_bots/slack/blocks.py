"""Results as Slack Block Kit messages, within Slack's limits, pinging no one.

Every text from a result is escaped for mrkdwn (``&``, ``<``, ``>``), so model
output can never form a mention (``<@U123>``, ``<!channel>``) or a link
(``<https://...|label>``); messages are sent with link unfurling off. A section's
text stays within 3,000 characters and a message within 50 blocks (and
:data:`MAX_MESSAGE_CHARS`); a longer result is split into several messages, at
paragraph, line or word boundaries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from musekit.result import Result, ResultField, Section, Variation
from musekit_bots.common.actions import Regenerate, ShowVariation, Vote, encode
from musekit_bots.common.cadence import Progress
from musekit_bots.common.split import split_text

#: Characters in one section block's text.
MAX_SECTION_CHARS = 3000
#: Blocks in one message.
MAX_BLOCKS = 50
#: Characters of all blocks of one message, at most: our own margin under Slack's size limits.
MAX_MESSAGE_CHARS = 12_000
#: Fields in one section, and characters in one field.
MAX_FIELDS, MAX_FIELD_CHARS = 10, 2000
#: Buttons in one actions block.
MAX_BUTTONS = 25

#: Every action_id of a musekit button starts with this (Bolt routes on it).
ACTION_PREFIX = "musekit"

Block = dict[str, Any]


@dataclass
class Message:
    """One Slack message: its blocks and the plain ``text`` notifications show."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """Arguments for chat.postMessage / chat.update: no unfurling, no name linking."""
        return {
            "text": self.text,
            "blocks": self.blocks,
            "unfurl_links": False,
            "unfurl_media": False,
            "link_names": False,
            "parse": "none",
        }


def escape(text: str) -> str:
    """``text`` safe in mrkdwn: no mention, channel ping or link can form from it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def result_messages(result: Result, *, controls: bool = True) -> list[Message]:
    """The result as one or more messages; buttons (regenerate, variations, votes) on the last."""
    blocks = [_mrkdwn(f"*{escape(_one_line(result.title))}*")]
    for section in result.sections:
        blocks += section_blocks(section)
    blocks += _field_blocks(result.fields)
    blocks += [_context(f"⚠️ {escape(w)}") for w in result.warnings]
    if controls and result.invocation_id:
        blocks += _idea_buttons(result)
        blocks.append(_control_buttons(result.invocation_id, bool(result.variations)))
    return _pack(blocks, text=_fallback(result.title))


def variation_messages(result: Result, index: int) -> list[Message]:
    """Variation ``index`` of ``result``, with a button for the next one if there is one."""
    variation: Variation = result.variations[index]
    count = len(result.variations)
    title = f"{_one_line(result.title)} (variation {index + 1} of {count})"
    blocks = [_mrkdwn(f"*{escape(title)}*")]
    for section in variation.sections:
        blocks += section_blocks(section)
    blocks += _field_blocks(variation.fields)
    if index + 1 < count and result.invocation_id:
        action = ShowVariation(result.invocation_id, index + 1)
        blocks.append(_actions("controls", [_button("Next variation", action)]))
    return _pack(blocks, text=_fallback(title))


def progress_message(title: str, progress: Progress) -> Message:
    """A placeholder showing the status line and the end of the draft streamed so far."""
    head = f"*{escape(_one_line(title))}*\n_{escape(progress.status or 'Working…')}_"
    tail = _escaped_tail(progress.text, MAX_SECTION_CHARS - len(head) - 2)
    text = f"{head}\n{tail}" if tail else head
    return Message(text=_fallback(title), blocks=[_mrkdwn(text)])


def _escaped_tail(text: str, room: int) -> str:
    """The end of ``text``, escaped, in at most ``room`` characters (cut before escaping, so
    no entity is cut in half)."""
    keep = room
    while keep > 0:
        tail = escape(text[-keep:])
        if len(text) > keep:
            tail = "…" + tail
        if len(tail) <= room:
            return tail
        keep = min(keep - 1, keep * room // len(tail))  # as much shorter as it grew
    return ""


def notice(text: str) -> Message:
    """A short message of ours (an error, a confirmation), escaped."""
    return Message(text=escape(text)[:MAX_SECTION_CHARS], blocks=[])


def section_blocks(section: Section) -> list[Block]:
    """A section as blocks: its heading, then its body in pieces of at most 3,000 characters."""
    blocks = []
    if section.heading:
        blocks.append(_mrkdwn(f"*{escape(_one_line(section.heading))}*"))
    blocks += [_mrkdwn(text) for text in _fit(section.body, _formatter(section))]
    return blocks


def _formatter(section: Section) -> Callable[[str], str]:
    if section.style == "code":
        return lambda text: f"```\n{escape(text)}\n```"
    if section.style == "quote":
        return lambda text: "\n".join(f"> {escape(line)}" for line in text.split("\n"))
    return escape


def _fit(text: str, render: Callable[[str], str]) -> list[str]:
    """``text`` in pieces whose rendering fits a section, split at the best boundaries."""
    if not text.strip():
        return []
    pieces: list[str] = []
    for chunk in split_text(text, MAX_SECTION_CHARS):
        rendered = render(chunk)
        if len(rendered) <= MAX_SECTION_CHARS:
            pieces.append(rendered)
            continue
        # Escaping made it longer: split this chunk again, as much smaller as it grew.
        limit = max(1, len(chunk) * MAX_SECTION_CHARS // len(rendered) - 16)
        pieces += _fit_with(chunk, render, limit)
    return pieces


def _fit_with(text: str, render: Callable[[str], str], limit: int) -> list[str]:
    pieces = []
    for chunk in split_text(text, limit):
        rendered = render(chunk)
        if len(rendered) > MAX_SECTION_CHARS:
            pieces += _fit_with(chunk, render, max(1, limit // 2))
        else:
            pieces.append(rendered)
    return pieces


def _field_blocks(fields: list[ResultField]) -> list[Block]:
    texts = [_field_text(f) for f in fields]
    return [
        {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in batch]}
        for batch in _batches(texts, MAX_FIELDS)
    ]


def _field_text(result_field: ResultField) -> str:
    text = f"*{escape(_one_line(result_field.name))}*\n{escape(result_field.value)}"
    return text if len(text) <= MAX_FIELD_CHARS else text[: MAX_FIELD_CHARS - 1] + "…"


def _idea_buttons(result: Result) -> list[Block]:
    """👍/👎 buttons for each stored idea (convention 1), 24 buttons to a block."""
    ideas = result.data.get("ideas")
    if not isinstance(ideas, list):
        return []
    buttons = []
    for number, idea in enumerate(ideas, start=1):
        idea_id = idea.get("id") if isinstance(idea, dict) else None
        if not isinstance(idea_id, int) or isinstance(idea_id, bool):
            continue
        buttons.append(_button(f"👍 {number}", Vote(idea_id, 1)))
        buttons.append(_button(f"👎 {number}", Vote(idea_id, -1)))
    return [
        _actions(f"ideas_{result.invocation_id}_{n}", batch)
        for n, batch in enumerate(_batches(buttons, MAX_BUTTONS - 1))
    ]


def _control_buttons(invocation_id: str, has_variations: bool) -> Block:
    buttons = [_button("🔁 Regenerate", Regenerate(invocation_id))]
    if has_variations:
        buttons.append(_button("🎲 Variations", ShowVariation(invocation_id, 0)))
    return _actions("controls", buttons)


def _button(label: str, action: Regenerate | ShowVariation | Vote) -> Block:
    value = encode(action)
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
        "action_id": f"{ACTION_PREFIX}_{value}",
    }


def _actions(block_id: str, elements: list[Block]) -> Block:
    return {"type": "actions", "block_id": f"{ACTION_PREFIX}_{block_id}", "elements": elements}


def _mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}]}


def _pack(blocks: list[Block], *, text: str) -> list[Message]:
    """Blocks into messages of at most 50 blocks and :data:`MAX_MESSAGE_CHARS` characters."""
    messages = [Message(text=text)]
    size = 0
    for block in blocks:
        weight = _chars(block)
        current = messages[-1]
        if current.blocks and (
            len(current.blocks) >= MAX_BLOCKS or size + weight > MAX_MESSAGE_CHARS
        ):
            messages.append(Message(text=text))
            current, size = messages[-1], 0
        current.blocks.append(block)
        size += weight
    return messages


def _chars(block: Block) -> int:
    if "text" in block and isinstance(block["text"], dict):
        return len(block["text"]["text"])
    if "fields" in block:
        return sum(len(f["text"]) for f in block["fields"])
    if block.get("type") == "context":
        return sum(len(e["text"]) for e in block["elements"])
    return 200  # an actions block: labels and values


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _fallback(title: str) -> str:
    return escape(_one_line(title)) or "musekit"
