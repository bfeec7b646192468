"""One-line error messages about values read from users' files: a damaged file can hold anything (a megabyte string,
a list nested a thousand deep, a 4000-digit number), and the message that quotes it must stay one readable line."""
from __future__ import annotations

import reprlib
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxlevel = 2


def short_repr(value: Any) -> str:
    """``repr(value)`` with long strings and numbers cut in the middle and containers cut after 4 items and 2 levels:
    ``'aaaaaaaaaaaaaaaaa...aaaaaaaaaaaaaaaaaa'``, ``[[...], [...], ...]``. Newlines are escaped, as repr does."""
    return _REPR.repr(value)
