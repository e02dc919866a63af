"""A generated avatar: the character's initials on a colour drawn from the name."""

from __future__ import annotations

import colorsys
import hashlib
import io

from PIL import Image, ImageDraw, ImageFont

SIZE = 256


def initials(name: str) -> str:
    """Up to two initials: of the first and last words of ``name`` ("?" when it has none)."""
    words = [word for word in name.split() if word[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def colour(name: str) -> tuple[int, int, int]:
    """A background colour drawn from ``name``: the same name always gets the same colour;
    dark enough for white initials to read."""
    digest = hashlib.sha256(name.strip().casefold().encode()).digest()
    hue = digest[0] / 256
    saturation = 0.45 + digest[1] / 256 * 0.3
    value = 0.45 + digest[2] / 256 * 0.2
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def avatar_png(name: str) -> bytes:
    """A square PNG avatar for ``name``: initials centred on its colour."""
    image = Image.new("RGB", (SIZE, SIZE), colour(name))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=SIZE * 0.42)
    draw.text((SIZE / 2, SIZE / 2), initials(name), fill=(255, 255, 255), font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
