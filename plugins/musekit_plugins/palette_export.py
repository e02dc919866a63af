"""A palette as files: a PNG swatch (Pillow) and CSS custom properties."""

from __future__ import annotations

import io
import re

from PIL import Image, ImageDraw, ImageFont

from musekit_plugins.palette_check import Palette
from musekit_plugins.palette_colour import contrast

SWATCH_WIDTH = 160
SWATCH_HEIGHT = 200
LABEL_MARGIN = 10


def swatch_png(palette: Palette) -> bytes:
    """A row of swatches, each labelled with its role and colour in black or white,
    whichever reads better on it."""
    image = Image.new("RGB", (SWATCH_WIDTH * len(palette.colours), SWATCH_HEIGHT), "#FFFFFF")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for index, (role, colour) in enumerate(palette.colours):
        left = index * SWATCH_WIDTH
        draw.rectangle((left, 0, left + SWATCH_WIDTH - 1, SWATCH_HEIGHT - 1), fill=colour)
        ink = max(("#000000", "#FFFFFF"), key=lambda candidate: contrast(candidate, colour))
        label = f"{role}\n{colour}"
        draw.multiline_text(
            (left + LABEL_MARGIN, SWATCH_HEIGHT - 4 * LABEL_MARGIN), label, fill=ink, font=font
        )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def css(palette: Palette) -> str:
    """The palette as CSS custom properties on ``:root``: ``--color-<role>: #RRGGBB;``."""
    name = re.sub(r"[^\w ,.'&-]", "", palette.name)
    lines = [f"/* {name} */", ":root {"]
    lines += [f"  --color-{role}: {colour};" for role, colour in palette.colours]
    lines.append("}")
    return "\n".join(lines) + "\n"
