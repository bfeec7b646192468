"""What the readers of users' files (JSON, YAML) accept as an integer or a number, and what every tool accepts as
an image size: one definition for all of them."""
from __future__ import annotations

import math
import re
from typing import Any


def is_int(value: Any) -> bool:
    """An int that is not a bool (YAML's and JSON's true/false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """A finite int or float, not a bool: NaN, infinities and integers too large for a float (JSON allows 10**400)
    are not."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


MIN_IMAGE_SIDE = 32


def parse_size(text: str) -> tuple[int, int]:
    """``"640x384"`` -> ``(640, 384)`` (width, height), each at least 32 pixels; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 640x384")
    width, height = int(match.group(1)), int(match.group(2))
    if width < MIN_IMAGE_SIDE or height < MIN_IMAGE_SIDE:
        raise ValueError(f"size {text!r}: width and height must be at least {MIN_IMAGE_SIDE} pixels")
    return width, height
