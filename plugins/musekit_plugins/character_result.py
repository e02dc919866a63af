"""The character command's output: the card built from a sheet, its files, the result."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from musekit import Attachment, Result, ResultField, Section
from musekit_plugins.cards import Card, CardData, card_json, card_png
from musekit_plugins.character_sheet import LABELS, SheetReport, sheet_text

Origin = Literal["card", "conversation"]


@dataclass(frozen=True)
class Base:
    """A character to evolve: its card, the PNG it came in (kept as its image), where from."""

    card: Card
    image: bytes | None
    origin: Origin


@dataclass(frozen=True)
class Outcome:
    """How the sheet was reached: the report of the reply used, the repair rounds run,
    and the changes made by rule (none when the model's reply passed)."""

    report: SheetReport
    repair_rounds: int
    fixed_by_rule: tuple[str, ...]

    @property
    def model_passed(self) -> bool:
        return not self.fixed_by_rule and self.report.passed

    def summary(self) -> str:
        rounds = f"{self.repair_rounds} repair round{'s' if self.repair_rounds != 1 else ''}"
        if self.model_passed:
            return "valid" + (f" after {rounds}" if self.repair_rounds else " on the first reply")
        return f"fixed by rule after {rounds} ({len(self.fixed_by_rule)} changes)"

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": True,
            "model_passed": self.model_passed,
            "repair_rounds": self.repair_rounds,
            "fixed_by_rule": list(self.fixed_by_rule),
            "problems": list(self.report.problems),
        }


def build_card(sheet: Mapping[str, Any], base: Base | None, concept: str) -> Card:
    """A new card from ``sheet``, or ``base``'s card with the sheet's fields written over
    (everything else, extensions and unknown keys included, kept)."""
    now = int(time.time())
    if base is None:
        return Card(
            data=CardData(
                **sheet,
                creator_notes=f"Made with musekit from the concept: {concept}",
                creation_date=now,
                modification_date=now,
            )
        )
    data = base.card.data.model_copy(update={**sheet, "modification_date": now})
    return base.card.model_copy(update={"data": data})


def card_sheet(card: Card) -> dict[str, Any]:
    """The card's fields a sheet shows (those with a value), in sheet order."""
    values = card.data.model_dump()
    return {key: values[key] for key in LABELS if values.get(key)}


def character_result(
    card: Card,
    *,
    written: Sequence[str],
    outcome: Outcome,
    base: Base | None,
) -> Result:
    """The character as a sheet, its card as three files (V3 PNG, V3 JSON, V2 JSON)."""
    sheet = card_sheet(card)
    stem = file_stem(card.data.name)
    warnings = []
    if outcome.fixed_by_rule:
        warnings.append(
            "The model's reply did not pass the checks, so it was fixed by rule: "
            + "; ".join(outcome.fixed_by_rule)
            + "."
        )
    fields = [
        ResultField(name="fields written", value=", ".join(("name", *written))),
        ResultField(name="schema", value=outcome.summary()),
    ]
    if base is not None:
        fields.append(ResultField(name="evolved from", value=f"the {base.origin}'s card"))
    return Result(
        title=card.data.name,
        sections=[Section(body=sheet_text(sheet))],
        fields=fields,
        attachments=[
            Attachment(
                filename=f"{stem}.png",
                media_type="image/png",
                data=card_png(card, base.image if base else None),
                description="Character Card V3 PNG (with a V2 copy for older apps)",
            ),
            Attachment(
                filename=f"{stem}.card.json",
                media_type="application/json",
                data=card_json(card, "v3"),
                description="Character Card V3 JSON",
            ),
            Attachment(
                filename=f"{stem}.v2.json",
                media_type="application/json",
                data=card_json(card, "v2"),
                description="Character Card V2 JSON",
            ),
        ],
        warnings=warnings,
        data={
            "character": sheet,
            "card": card.to_v3(),
            "schema_report": outcome.to_json(),
            "evolved_from": base.origin if base else None,
        },
    )


def file_stem(name: str) -> str:
    """A safe file name from a character's name: ``"Zoë O'Hara"`` -> ``"zoe-o-hara"``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return stem or "character"
