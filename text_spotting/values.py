"""What the readers of users' files (JSON, YAML) accept as an integer or a number: one definition for all of them."""
from __future__ import annotations

import math
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
