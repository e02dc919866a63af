"""Character Cards: V2/V3 JSON and PNG read and written, unknown keys kept, clear errors.

The fixtures were written by hand from the fields of the V2 and V3 specs; a PNG from
another app is made with Pillow's own text-chunk writer, not ours.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from musekit_plugins.cards import (
    BACKFILL_NOTE,
    Card,
    CardData,
    CardError,
    avatar_png,
    card_file,
    card_json,
    card_png,
    read_card,
)
from musekit_plugins.cards.avatar import colour, initials
from musekit_plugins.cards.png import chunks, text_chunks

FIXTURES = Path(__file__).parent / "fixtures" / "cards"


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return document


def made_card() -> Card:
    return Card(
        data=CardData(
            name="Zoë Achterberg",
            description="A bell-ringer who can hear lies.",
            personality="Blunt, kind.",
            tags=["bells", "mystery"],
            nickname="Zo",
            group_only_greetings=["*Zoë rings twice.*"],
            creation_date=1_700_000_000,
            extensions={"example_app": {"depth": 2}},
        ),
        x_exporter="kept",
    )


def b64(document: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def pillow_png(texts: dict[str, str]) -> bytes:
    """A PNG written by Pillow with these tEXt chunks, as another app would write one."""
    info = PngImagePlugin.PngInfo()
    for keyword, text in texts.items():
        info.add_text(keyword, text)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def test_a_v3_card_from_the_spec_imports_and_writes_back_unchanged() -> None:
    document = fixture("v3_spec_example.json")
    card = read_card((FIXTURES / "v3_spec_example.json").read_bytes())
    assert card.read_as == "v3"
    assert card.data.name == "Marguerite Oyelaran"
    assert card.data.nickname == "Margo"
    assert card.data.group_only_greetings == ["*{{char}} counts the visitors twice.*"]
    assert card.data.assets is not None
    assert card.data.assets[0]["uri"] == "ccdefault:"
    assert card.data.creation_date == 1_700_000_000
    assert card.to_v3() == document  # every key, unknown ones included


def test_a_v2_card_from_the_spec_imports_and_writes_back_unchanged() -> None:
    document = fixture("v2_spec_example.json")
    card = read_card((FIXTURES / "v2_spec_example.json").read_bytes())
    assert card.read_as == "v2"
    assert card.data.name == "Seraph Quill"
    assert card.data.alternate_greetings[1] == "*{{char}} knocks three times, in meter.*"
    assert card.data.character_book is not None
    assert card.data.group_only_greetings == []  # V3's required field, filled in
    assert card.to_v2() == document
    v3 = card.to_v3()
    assert v3["spec"] == "chara_card_v3"
    assert v3["data"]["extensions"] == document["data"]["extensions"]
    assert v3["data"]["x_future_field"] == "unknown keys in data must survive"
    assert v3["x_exporter"] == document["x_exporter"]


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_json_round_trip_keeps_the_data(version: str) -> None:
    card = made_card()
    again = read_card(card_json(card, version))  # type: ignore[arg-type]
    assert again.read_as == version
    if version == "v3":
        assert again.to_v3() == card.to_v3()
    else:
        assert again.to_v2() == card.to_v2()
        assert again.data.nickname is None  # V2 has no nickname: documented loss
        assert again.data.name == "Zoë Achterberg"
        assert again.data.extensions == {"example_app": {"depth": 2}}


def test_png_round_trip_keeps_the_v3_card_and_carries_a_v2_copy() -> None:
    card = made_card()
    png = card_png(card)
    assert read_card(png).to_v3() == card.to_v3()
    texts = text_chunks(png)
    assert json.loads(base64.b64decode(texts["ccv3"])) == card.to_v3()
    v2 = json.loads(base64.b64decode(texts["chara"]))
    assert v2["spec"] == "chara_card_v2"
    assert v2["data"]["creator_notes"].startswith(BACKFILL_NOTE)
    # An older reader that knows only 'chara' gets the V2 card, the backfill note trimmed.
    only_v2 = read_card(pillow_png({"chara": texts["chara"]}))
    assert only_v2.read_as == "v2"
    assert only_v2.to_v2() == card.to_v2()
    # Pillow reads our PNG: a 256x256 image with both chunks.
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.size == (256, 256)
    assert set(image.text) >= {"ccv3", "chara"}  # type: ignore[attr-defined]


def test_a_png_card_from_another_app_imports_and_ccv3_wins_over_chara() -> None:
    v2 = fixture("v2_spec_example.json")
    v3 = fixture("v3_spec_example.json")
    assert read_card(pillow_png({"chara": b64(v2)})).to_v2() == v2
    both = read_card(pillow_png({"chara": b64(v2), "ccv3": b64(v3)}))
    assert both.read_as == "v3"
    assert both.to_v3() == v3


def test_rewriting_a_png_card_keeps_its_image_and_replaces_its_card() -> None:
    original = pillow_png({"chara": b64(fixture("v2_spec_example.json")), "Comment": "hi"})
    card = read_card(original)
    card.data.description = "Older now."
    rewritten = card_png(card, original)
    assert read_card(rewritten).data.description == "Older now."
    kept = [c for c in chunks(original) if c.kind in (b"IHDR", b"IDAT")]
    assert [c for c in chunks(rewritten) if c.kind in (b"IHDR", b"IDAT")] == kept
    assert text_chunks(rewritten)["Comment"] == "hi"
    assert sum(c.kind == b"tEXt" for c in chunks(rewritten)) == 3  # Comment, ccv3, chara


def test_card_file_takes_json_text_or_a_base64_file() -> None:
    card = made_card()
    png = card_png(card)
    as_json = card_json(card).decode()
    assert read_card(card_file(as_json)).to_v3() == card.to_v3()
    assert card_file(base64.b64encode(png).decode()) == png
    assert card_file("data:image/png;base64," + base64.b64encode(png).decode()) == png


def damaged_crc(png: bytes) -> bytes:
    """``png`` with one byte of its first chunk's data changed (so its CRC fails)."""
    position = 8 + 8  # signature, then IHDR's length and type
    return png[:position] + bytes([png[position] ^ 0xFF]) + png[position + 1 :]


def text_chunk(keyword: str, text: bytes) -> bytes:
    data = keyword.encode() + b"\0" + text
    return (
        struct.pack(">I", len(data))
        + b"tEXt"
        + data
        + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    )


def with_chunk(png: bytes, chunk: bytes) -> bytes:
    """``png`` with ``chunk`` inserted before IEND (the last 12 bytes)."""
    return png[:-12] + chunk + png[-12:]


PLAIN_PNG = pillow_png({})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            PLAIN_PNG[:50],
            "The PNG is cut short inside chunk 2 ('IDAT'): it claims 20 bytes of data (and a "
            "checksum), and the file ends 9 bytes in.",
        ),
        (PLAIN_PNG[:-12], "The PNG is cut short: chunk 3 is missing (no IEND chunk)."),
        (damaged_crc(PLAIN_PNG), "The PNG is damaged: chunk 1 ('IHDR') fails its CRC check."),
        (PLAIN_PNG, "The PNG holds no character card (it has no 'ccv3' or 'chara' text chunk)."),
        (
            with_chunk(PLAIN_PNG, text_chunk("ccv3", b"not base64!")),
            "The PNG's 'ccv3' chunk is not base64 of UTF-8 text.",
        ),
        (
            with_chunk(PLAIN_PNG, text_chunk("chara", base64.b64encode(b'{"spec": '))),
            "The PNG's 'chara' chunk is not valid JSON (it breaks at line 1, column 10).",
        ),
        (b'{"spec": "chara_card_v3", "data": {"name": "A",}}', "is not valid JSON (it breaks at"),
        (b"\xff\xfe\x00junk", "The card is neither a PNG image nor UTF-8 JSON text."),
        (b"[1, 2]", "A character card must be a JSON object."),
        (
            b'{"name": "Old V1 card"}',
            "The card's spec is missing; expected 'chara_card_v3' or 'chara_card_v2'.",
        ),
        (
            b'{"spec": "chara_card_v9", "data": {}}',
            "The card's spec is 'chara_card_v9'; expected 'chara_card_v3' or 'chara_card_v2'.",
        ),
        (b'{"spec": "chara_card_v2"}', "The V2 card has no 'data' object."),
        (
            b'{"spec": "chara_card_v3", "data": {"description": "no name"}}',
            "The V3 card is invalid: data.name: Field required.",
        ),
        (
            b'{"spec": "chara_card_v2", "data": {"name": "A", "tags": "not a list"}}',
            "The V2 card is invalid: data.tags: Input should be a valid list.",
        ),
    ],
)
def test_a_damaged_card_gets_a_specific_error(raw: bytes, message: str) -> None:
    with pytest.raises(CardError) as caught:
        read_card(raw)
    assert message in str(caught.value)


def test_a_parameter_that_is_neither_json_nor_base64_gets_a_clear_error() -> None:
    with pytest.raises(CardError, match="must be a card's JSON text, or a PNG or JSON card file"):
        card_file("my-card.png")


def test_the_avatar_shows_the_initials_on_the_name_s_colour() -> None:
    assert initials("Zoë van Achterberg") == "ZA"
    assert initials("Hollis") == "H"
    assert initials("  ") == "?"
    assert colour("Hollis Marrow") == colour("hollis marrow")
    colours = {colour(name) for name in ("Ada", "Bea", "Cal", "Dov", "Eko", "Fen")}
    assert len(colours) == 6
    image = Image.open(io.BytesIO(avatar_png("Hollis Marrow"))).convert("RGB")
    assert image.getpixel((2, 2)) == colour("Hollis Marrow")
    # The initials are drawn in white at the centre, not left blank.
    assert (255, 255, 255) in {c for _, c in image.getcolors(maxcolors=65536) or []}
