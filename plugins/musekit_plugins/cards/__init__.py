"""Character Cards (V2 and V3): read them from JSON or PNG, write them as JSON and PNG.

* :func:`read_card` takes a file's bytes (JSON, or a PNG with a ``ccv3`` or ``chara``
  text chunk; ``ccv3`` is preferred) and gives a :class:`Card` in its V3 form;
  :func:`card_file` turns a parameter's text (the JSON itself, or a base64 file) into
  those bytes.
* :func:`card_json` writes V3 or V2 JSON; :func:`card_png` writes a PNG holding both
  (``ccv3``: base64 of the V3 JSON; ``chara``: the V2 form for older readers).

A card that cannot be read raises :class:`CardError`, whose message says what is
wrong in words a user can act on.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from musekit_plugins.cards.avatar import avatar_png
from musekit_plugins.cards.model import (
    BACKFILL_NOTE,
    V3_ONLY_FIELDS,
    Card,
    CardData,
    CardError,
    Version,
    card_from_json,
)
from musekit_plugins.cards.png import is_png, text_chunks, with_text_chunks

__all__ = [
    "BACKFILL_NOTE",
    "V3_ONLY_FIELDS",
    "Card",
    "CardData",
    "CardError",
    "Version",
    "avatar_png",
    "card_file",
    "card_from_json",
    "card_json",
    "card_png",
    "is_png",
    "read_card",
]

_DATA_URL = "data:"


def read_card(raw: bytes) -> Card:
    """A card from a file's bytes: a PNG card, or V3/V2 JSON."""
    if is_png(raw):
        return _from_png(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CardError("The card is neither a PNG image nor UTF-8 JSON text.") from None
    return _from_json_text(text, "The card")


def card_file(text: str) -> bytes:
    """The card file a parameter's text stands for: the card's JSON itself, or a PNG or
    JSON card file in base64 (a ``data:`` URL's base64 too). Read it with :func:`read_card`."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return stripped.encode()
    if stripped.startswith(_DATA_URL):
        stripped = stripped.partition(",")[2]
    try:
        return base64.b64decode("".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CardError(
            "The card must be a card's JSON text, or a PNG or JSON card file in base64."
        ) from None


def card_json(card: Card, version: Version = "v3") -> bytes:
    """The card as a UTF-8 JSON file, in V3 or V2 form."""
    document = card.to_v3() if version == "v3" else card.to_v2()
    return _dumps(document).encode()


def card_png(card: Card, image: bytes | None = None) -> bytes:
    """The card in a PNG: ``image`` (a PNG, say the one a card was read from; its old card
    chunks are replaced) or a generated avatar, with ``ccv3`` and ``chara`` chunks."""
    return with_text_chunks(
        image if image is not None else avatar_png(card.data.name),
        {"ccv3": _b64(card.to_v3()), "chara": _b64(card.to_v2(backfill=True))},
    )


def _from_png(raw: bytes) -> Card:
    texts = text_chunks(raw)
    for keyword in ("ccv3", "chara"):
        if keyword in texts:
            try:
                decoded = base64.b64decode(texts[keyword], validate=True).decode("utf-8-sig")
            except (binascii.Error, ValueError):
                raise CardError(
                    f"The PNG's '{keyword}' chunk is not base64 of UTF-8 text."
                ) from None
            return _from_json_text(decoded, f"The PNG's '{keyword}' chunk")
    raise CardError("The PNG holds no character card (it has no 'ccv3' or 'chara' text chunk).")


def _from_json_text(text: str, what: str) -> Card:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CardError(
            f"{what} is not valid JSON (it breaks at line {exc.lineno}, column {exc.colno})."
        ) from None
    return card_from_json(document)


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


def _b64(document: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(document, ensure_ascii=False).encode()).decode("ascii")
