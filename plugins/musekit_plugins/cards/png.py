"""PNG chunks: read the text chunks a card lives in, and write them into an image.

A small reader of our own rather than an image library's: it checks each chunk's
length and CRC, so a damaged file gets an error that says where it is damaged.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from musekit_plugins.cards.model import CardError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HEADER = struct.Struct(">I4s")


@dataclass(frozen=True)
class Chunk:
    """One PNG chunk: its four-letter type and its data."""

    kind: bytes
    data: bytes

    def encode(self) -> bytes:
        """The chunk as it is written: length, type, data, CRC."""
        crc = zlib.crc32(self.kind + self.data)
        return _HEADER.pack(len(self.data), self.kind) + self.data + struct.pack(">I", crc)


def is_png(raw: bytes) -> bool:
    """True when ``raw`` starts with the PNG signature."""
    return raw.startswith(SIGNATURE)


def chunks(raw: bytes) -> Iterator[Chunk]:
    """The chunks of a PNG file, in order, up to ``IEND``; :class:`CardError` when damaged."""
    if not is_png(raw):
        raise CardError("The file is not a PNG image (its signature is wrong).")
    offset = len(SIGNATURE)
    number = 0
    while True:
        number += 1
        if offset + _HEADER.size > len(raw):
            raise CardError(f"The PNG is cut short: chunk {number} is missing (no IEND chunk).")
        length, kind = _HEADER.unpack_from(raw, offset)
        start = offset + _HEADER.size
        end = start + length
        if end + 4 > len(raw):
            raise CardError(
                f"The PNG is cut short inside chunk {number} ({_name(kind)}): it claims "
                f"{length} bytes of data (and a checksum), and the file ends "
                f"{len(raw) - start} bytes in."
            )
        data = raw[start:end]
        (crc,) = struct.unpack_from(">I", raw, end)
        if zlib.crc32(kind + data) != crc:
            raise CardError(
                f"The PNG is damaged: chunk {number} ({_name(kind)}) fails its CRC check."
            )
        yield Chunk(kind, data)
        if kind == b"IEND":
            return
        offset = end + 4


def text_chunks(raw: bytes) -> dict[str, str]:
    """The ``tEXt`` chunks of a PNG as keyword -> text (the first of each keyword)."""
    texts: dict[str, str] = {}
    for chunk in chunks(raw):
        if chunk.kind != b"tEXt":
            continue
        keyword, separator, text = chunk.data.partition(b"\0")
        if not separator:
            raise CardError("The PNG has a damaged text chunk (no keyword separator).")
        texts.setdefault(keyword.decode("latin-1"), text.decode("latin-1"))
    return texts


def with_text_chunks(raw: bytes, texts: Mapping[str, str]) -> bytes:
    """``raw`` with ``texts`` as ``tEXt`` chunks before ``IEND``, replacing any text chunks
    of the same keywords; the image itself is untouched."""
    keywords = {keyword.encode("latin-1") for keyword in texts}
    kept = [c for c in chunks(raw) if not (_is_text(c) and _keyword(c) in keywords)]
    added = [
        Chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))
        for keyword, text in texts.items()
    ]
    ordered = kept[:-1] + added + kept[-1:]  # kept[-1] is IEND
    return SIGNATURE + b"".join(chunk.encode() for chunk in ordered)


def _is_text(chunk: Chunk) -> bool:
    return chunk.kind in (b"tEXt", b"zTXt", b"iTXt")


def _keyword(chunk: Chunk) -> bytes:
    return chunk.data.partition(b"\0")[0]


def _name(kind: bytes) -> str:
    return repr(kind.decode("latin-1")) if kind.isalpha() else "of an unknown type"
