"""Output hygiene: text from a model must never mention everyone in a chat channel.

Mass mentions are rewritten to ``@`` + a zero-width space + the name, which
reads the same and notifies nobody on any platform: ``@everyone`` and ``@here``
(Discord, and Slack with ``link_names``), Slack's ``<!channel>``, ``<!here>``
and ``<!everyone>`` (with or without a ``|label``), and Discord role mentions
``<@&123>`` (which become plain ``@role``). Rewriting is idempotent.
"""

from __future__ import annotations

import re

from musekit.result import Result, ResultField, Section

ZERO_WIDTH_SPACE = "\u200b"

_SLACK = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>", re.IGNORECASE)
_DISCORD_ROLE = re.compile(r"<@&\d+>")
_AT = re.compile(r"@(everyone|here|channel)", re.IGNORECASE)


def neutralise_text(text: str) -> str:
    """``text`` with every mass mention made harmless."""
    text = _SLACK.sub(lambda m: f"@{m.group(1)}", text)
    text = _DISCORD_ROLE.sub("@role", text)
    return _AT.sub(lambda m: f"@{ZERO_WIDTH_SPACE}{m.group(1)}", text)


def neutralise_result(result: Result) -> Result:
    """A copy of ``result`` with every text a platform shows neutralised: title, sections,
    fields, warnings and variations (attachments and ``data`` are left as they are)."""
    return result.model_copy(
        update={
            "title": neutralise_text(result.title),
            "sections": _sections(result.sections),
            "fields": _fields(result.fields),
            "warnings": [neutralise_text(w) for w in result.warnings],
            "variations": [
                v.model_copy(
                    update={"sections": _sections(v.sections), "fields": _fields(v.fields)}
                )
                for v in result.variations
            ],
        }
    )


def _sections(sections: list[Section]) -> list[Section]:
    return [
        s.model_copy(
            update={
                "heading": None if s.heading is None else neutralise_text(s.heading),
                "body": neutralise_text(s.body),
            }
        )
        for s in sections
    ]


def _fields(fields: list[ResultField]) -> list[ResultField]:
    return [
        f.model_copy(update={"name": neutralise_text(f.name), "value": neutralise_text(f.value)})
        for f in fields
    ]
