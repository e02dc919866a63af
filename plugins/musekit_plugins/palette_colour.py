"""Colour arithmetic for palettes, on ColorAide: contrast, difference, lightness moves.

* Contrast is WCAG 2.1's ratio of relative luminances, 1:1 to 21:1; body text needs
  :data:`MIN_CONTRAST` (4.5:1, success criterion 1.4.3, level AA).
* Difference is CIEDE2000 (ΔE00, on CIELAB with sRGB's D65 white): about 2.3 is the
  smallest difference most people notice side by side; :data:`MIN_DIFFERENCE` (5) is
  one anyone sees at a glance, so the swatches of a palette read as different colours
  (a surface a shade off its background, as design systems make them, is about 5 to 7).
* Lightness is moved in OKLCH, which keeps hue and chroma as they are (within the sRGB
  gamut), so a mended colour is recognisably the same colour, lighter or darker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coloraide import Color

MIN_CONTRAST = 4.5
MIN_DIFFERENCE = 5.0

#: OKLCH lightness step when searching for a lighter or darker colour.
STEP = 0.005

HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _color(value: str) -> Color:
    # ColorAide takes about 0.25 s to import: only a palette run pays it, not every
    # `musekit` command that loads the plugins.
    from coloraide import Color

    return Color(value)


def is_hex(value: str) -> bool:
    """Whether ``value`` is a colour written ``#RRGGBB``."""
    return bool(HEX.fullmatch(value))


@lru_cache(maxsize=8192)
def contrast(one: str, other: str) -> float:
    """The WCAG 2.1 contrast ratio of two ``#RRGGBB`` colours (1 to 21)."""
    return float(_color(one).contrast(_color(other), method="wcag21"))


@lru_cache(maxsize=8192)
def difference(one: str, other: str) -> float:
    """The CIEDE2000 colour difference of two ``#RRGGBB`` colours."""
    return float(_color(one).delta_e(_color(other), method="2000"))


@lru_cache(maxsize=8192)
def lightness(colour: str) -> float:
    """The colour's OKLCH lightness, 0 (black) to 1 (white)."""
    return float(_color(colour).convert("oklch")["lightness"])


@lru_cache(maxsize=8192)
def with_lightness(colour: str, value: float) -> str:
    """``colour`` at OKLCH lightness ``value`` (hue and chroma kept, fitted to sRGB)."""
    moved = _color(colour).convert("oklch")
    moved["lightness"] = min(max(value, 0.0), 1.0)
    return str(moved.convert("srgb").fit("srgb").to_string(hex=True, upper=True))


def nearest_lightness(colour: str, fits: Callable[[str], bool]) -> str | None:
    """The colour nearest ``colour`` in lightness, lighter or darker, for which ``fits``
    holds (``colour`` itself if it does); ``None`` if no lightness fits."""
    if fits(colour):
        return colour
    start = lightness(colour)
    steps = round(1 / STEP) + 1
    for step in range(1, steps):
        for value in (start - step * STEP, start + step * STEP):
            if 0.0 <= value <= 1.0:
                moved = with_lightness(colour, value)
                if fits(moved):
                    return moved
    return None


def readable_on(backgrounds: Sequence[str]) -> Callable[[str], bool]:
    """A test that a colour has at least :data:`MIN_CONTRAST` on every one of ``backgrounds``."""
    return lambda colour: all(contrast(colour, back) >= MIN_CONTRAST for back in backgrounds)


def apart_from(others: Sequence[str]) -> Callable[[str], bool]:
    """A test that a colour differs by at least :data:`MIN_DIFFERENCE` from each of ``others``."""
    return lambda colour: all(difference(colour, other) >= MIN_DIFFERENCE for other in others)


def all_of(*tests: Callable[[str], bool]) -> Callable[[str], bool]:
    """A test that a colour passes every one of ``tests``."""
    return lambda colour: all(test(colour) for test in tests)
