"""The result document: what a command produces, for any front end to render."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

SectionStyle = Literal["prose", "verse", "code", "quote"]


class Section(BaseModel):
    """A block of text; ``verse`` keeps line breaks exactly."""

    heading: str | None = None
    body: str
    style: SectionStyle = "prose"


class ResultField(BaseModel):
    """A short labelled value, such as ``form: haiku (5-7-5 ok)``."""

    name: str
    value: str


class Attachment(BaseModel):
    """A file that comes with a result (a card PNG, a JSON export...)."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    filename: str
    media_type: str
    data: bytes
    description: str = ""

    @field_validator("filename")
    @classmethod
    def _safe_filename(cls, value: str) -> str:
        if not _SAFE_FILENAME.fullmatch(value) or ".." in value:
            raise ValueError("use letters, digits, '.', '_' and '-' only, no path")
        return value


class Metrics(BaseModel):
    """What producing the result cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    engine: str = ""
    model: str = ""


class Variation(BaseModel):
    """Another take on the same request, ranked below the result's own: for "variations"
    and "regenerate" in a front end, without running the command again."""

    sections: list[Section]
    fields: list[ResultField] = Field(default_factory=list)
    data: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        """All section bodies, separated by blank lines."""
        return _joined(self.sections)


class Result(BaseModel):
    """A platform-neutral result: title, sections, fields, attachments, metrics, warnings.

    ``data`` holds structured details for programs (a form report, say) that front ends
    need not show; ``variations`` holds the other takes, best first.
    """

    title: str
    sections: list[Section] = Field(default_factory=list)
    fields: list[ResultField] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    metrics: Metrics = Field(default_factory=Metrics)
    data: dict[str, JsonValue] = Field(default_factory=dict)
    variations: list[Variation] = Field(default_factory=list)
    command: str = ""
    invocation_id: str = ""

    @property
    def text(self) -> str:
        """All section bodies, separated by blank lines: the result as plain text."""
        return _joined(self.sections)


def _joined(sections: list[Section]) -> str:
    return "\n\n".join(section.body for section in sections)
