"""Character Card data: one model for V3 (a superset of V2), and the V2/V3 JSON forms.

Unknown keys are kept, at the top level and inside ``data``, so a card read and
written again loses nothing (the V2 and V3 specs ask readers to preserve them);
``extensions`` and ``character_book`` are carried as they came.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, PrivateAttr, ValidationError

from musekit.spec import field_problems

V2_SPEC: Final = "chara_card_v2"
V3_SPEC: Final = "chara_card_v3"

#: Fields only V3 has; a V2 export leaves them out.
V3_ONLY_FIELDS = (
    "assets",
    "nickname",
    "creator_notes_multilingual",
    "source",
    "group_only_greetings",
    "creation_date",
    "modification_date",
)

#: What the V3 spec asks a V2 copy written beside a V3 card (a PNG's ``chara`` chunk) to
#: say in its creator notes; a reader trims it off again.
BACKFILL_NOTE = (
    "This character card is Character Card V3, but it is loaded as a Character Card V2. "
    "Please use a Character Card V3 compatible application to use this character card "
    "properly.\n\n"
)

Version = Literal["v2", "v3"]


class CardError(ValueError):
    """A card that cannot be read; the message says what is wrong, for the user."""


class CardData(BaseModel):
    """The ``data`` of a card: the V2 fields, the V3 additions, and any unknown keys."""

    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = Field(default_factory=list)
    character_book: dict[str, JsonValue] | None = None
    tags: list[str] = Field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    extensions: dict[str, JsonValue] = Field(default_factory=dict)
    # V3 additions.
    assets: list[dict[str, JsonValue]] | None = None
    nickname: str | None = None
    creator_notes_multilingual: dict[str, str] | None = None
    source: list[str] | None = None
    group_only_greetings: list[str] = Field(default_factory=list)
    creation_date: int | float | None = None
    modification_date: int | float | None = None


class Card(BaseModel):
    """A Character Card, held in its V3 form whatever version it was read from.

    :attr:`read_as` says which version it was read from (``"v3"`` for a new card).
    """

    model_config = ConfigDict(extra="allow")

    spec: Literal["chara_card_v3"] = V3_SPEC
    spec_version: str = "3.0"
    data: CardData
    _read_as: Version = PrivateAttr("v3")

    @property
    def read_as(self) -> Version:
        """The version the card was read from."""
        return self._read_as

    def to_v3(self) -> dict[str, Any]:
        """The card as V3 JSON (``chara_card_v3``), unknown keys included."""
        return self.model_dump(mode="json") | {"data": _data_json(self.data, v2=False)}

    def to_v2(self, *, backfill: bool = False) -> dict[str, Any]:
        """The card as V2 JSON (``chara_card_v2``), without the V3-only fields.

        ``backfill`` marks it as the V2 copy of a V3 card (the spec's note in
        ``creator_notes``), as a PNG's ``chara`` chunk is.
        """
        data = _data_json(self.data, v2=True)
        if backfill:
            data["creator_notes"] = BACKFILL_NOTE + data["creator_notes"]
        return self.model_dump(mode="json") | {
            "spec": V2_SPEC,
            "spec_version": "2.0",
            "data": data,
        }


_UNSET_OMITTED = ("character_book", *(f for f in V3_ONLY_FIELDS if f != "group_only_greetings"))


def _data_json(data: CardData, *, v2: bool) -> dict[str, Any]:
    """``data`` as JSON: optional fields that are unset are left out rather than null."""
    dumped = data.model_dump(mode="json")
    for key in _UNSET_OMITTED:
        if dumped.get(key) is None:
            dumped.pop(key, None)
    if v2:
        for key in V3_ONLY_FIELDS:
            dumped.pop(key, None)
    return dumped


def card_from_json(document: Any) -> Card:
    """A :class:`Card` from parsed JSON, V3 or V2 (read into the V3 form).

    Raises :class:`CardError` saying what is missing or of the wrong type.
    """
    if not isinstance(document, dict):
        raise CardError("A character card must be a JSON object.")
    spec = document.get("spec")
    if spec not in (V3_SPEC, V2_SPEC):
        shown = "missing" if spec is None else f"'{str(spec)[:40]}'"
        raise CardError(f"The card's spec is {shown}; expected 'chara_card_v3' or 'chara_card_v2'.")
    version: Version = "v3" if spec == V3_SPEC else "v2"
    data = document.get("data")
    if not isinstance(data, dict):
        raise CardError(f"The {version.upper()} card has no 'data' object.")
    if version == "v2":
        notes = data.get("creator_notes")
        if isinstance(notes, str) and notes.startswith(BACKFILL_NOTE):
            data = {**data, "creator_notes": notes.removeprefix(BACKFILL_NOTE)}
        document = {**document, "spec": V3_SPEC, "spec_version": "3.0"}
    try:
        card = Card.model_validate(
            {**document, "spec_version": str(document.get("spec_version", "3.0")), "data": data}
        )
    except ValidationError as exc:
        problems = "; ".join(str(p) for p in field_problems(exc, unknown="unknown field"))
        raise CardError(f"The {version.upper()} card is invalid: {problems}.") from None
    card._read_as = version
    return card
