"""Transcription rules of the ICDAR 2015 protocol: normalisation, the "is a word" filter, edit distance, lexicons.

Normalisation (SPEC §2): remove one trailing ``'s`` or ``'S``, then strip leading and trailing characters from
``'!?.:,*"()·[]/-`` and spaces. Comparison is case-insensitive (``str.casefold``), so ``"Tokyo's"`` and ``"TOKYO"``
are equal.

A "word" (word spotting only) is a text that, once normalised, has at least 3 characters, every one a letter
(``str.isalpha``) or ``-``. This is what the RRC Challenge 4 script's ``include_in_dictionary`` accepts for Latin
text; ``str.isalpha`` also accepts letters of other scripts, which that script's fixed code-point ranges did not.

Lexicon snapping replaces a predicted text with the lexicon word nearest to it by edit distance (Levenshtein,
unit costs), comparing normalised case-folded forms; ties go to the word that comes first in the lexicon file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import EvaluationError

#: Characters stripped from both ends of a transcription before comparison (spaces too).
STRIP_CHARACTERS = "'!?.:,*\"()·[]/-"
#: Minimum length of a "word" for word spotting.
MIN_WORD_LENGTH = 3


def normalize_text(text: str) -> str:
    """Removes one trailing ``'s``/``'S`` and strips :data:`STRIP_CHARACTERS` and spaces from both ends."""
    if text.endswith(("'s", "'S")):
        text = text[:-2]
    return text.strip(STRIP_CHARACTERS + " ")


def comparison_key(text: str) -> str:
    """The form two transcriptions are compared in: normalised and case-folded."""
    return normalize_text(text).casefold()


def texts_match(ground_truth: str, prediction: str) -> bool:
    """True when both texts are equal after normalisation, ignoring case."""
    return comparison_key(ground_truth) == comparison_key(prediction)


def is_word(text: str) -> bool:
    """True when the normalised text has >= 3 characters, each a letter or ``-`` (the word-spotting filter)."""
    word = normalize_text(text)
    return len(word) >= MIN_WORD_LENGTH and all(ch.isalpha() or ch == "-" for ch in word)


def edit_distance(source: str, target: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions, each costing 1)."""
    if len(source) < len(target):
        source, target = target, source
    previous = list(range(len(target) + 1))
    for i, source_char in enumerate(source, start=1):
        current = [i]
        for j, target_char in enumerate(target, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (source_char != target_char)))
        previous = current
    return previous[-1]


def edit_distances_to_words(query: str, word_codes: np.ndarray, word_lengths: np.ndarray) -> np.ndarray:
    """Levenshtein distances from ``query`` to many words at once.

    Args:
        query: the text to compare.
        word_codes: ``[W, L]`` int32 code points of the words, padded with -1 past each word's length.
        word_lengths: ``[W]`` number of characters of each word.

    Returns:
        ``[W]`` int distances.
    """
    num_words, max_length = word_codes.shape
    # previous[:, j]: distance between the first i characters of the query and the first j of each word.
    previous = np.broadcast_to(np.arange(max_length + 1), (num_words, max_length + 1)).copy()
    for i, char in enumerate(query, start=1):
        substitution_cost = (word_codes != ord(char)).astype(np.int64)
        current = np.empty_like(previous)
        current[:, 0] = i
        diagonal_or_up = np.minimum(previous[:, 1:] + 1, previous[:, :-1] + substitution_cost)
        # Insertions chain along j, so that part of the recurrence has to run column by column.
        for j in range(1, max_length + 1):
            current[:, j] = np.minimum(diagonal_or_up[:, j - 1], current[:, j - 1] + 1)
        previous = current
    return previous[np.arange(num_words), word_lengths]


class Lexicon:
    """A word list that predicted texts snap to (nearest word by edit distance, ties to the earliest word).

    Args:
        words: the words in file order; surrounding whitespace is removed and blank entries are skipped.
        source: where the words came from (a file path), used in messages.
    """

    def __init__(self, words: Iterable[str], source: str = "") -> None:
        self.words = [word.strip() for word in words if word.strip()]
        self.source = source
        keys = [comparison_key(word) for word in self.words]
        self._first_index_of_key: dict[str, int] = {}
        for index, key in enumerate(keys):
            self._first_index_of_key.setdefault(key, index)
        # Words grouped by length: |len(a) - len(b)| bounds their edit distance from below, so a search can stop
        # at the first group that cannot beat the best word found so far.
        indices_by_length: dict[int, list[int]] = {}
        for index, key in enumerate(keys):
            indices_by_length.setdefault(len(key), []).append(index)
        self._groups: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for length, indices in indices_by_length.items():
            codes = np.array([[ord(ch) for ch in keys[index]] for index in indices], dtype=np.int32)
            self._groups[length] = (np.array(indices), codes.reshape(len(indices), length))
        self._snapped: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        return f"Lexicon({len(self.words)} words{', from ' + self.source if self.source else ''})"

    def nearest(self, text: str) -> str:
        """The lexicon word nearest to ``text``; ``text`` itself when the lexicon is empty or ``text`` normalises
        to nothing (there is nothing to compare)."""
        key = comparison_key(text)
        if not self.words or not key:
            return text
        if key in self._first_index_of_key:
            return self.words[self._first_index_of_key[key]]
        if key not in self._snapped:
            self._snapped[key] = self.words[self._nearest_index(key)]
        return self._snapped[key]

    def _nearest_index(self, key: str) -> int:
        best_distance, best_index = len(key) + max(self._groups) + 1, len(self.words)
        for length in sorted(self._groups, key=lambda length: abs(length - len(key))):
            if abs(length - len(key)) > best_distance:
                break  # every remaining group is at least this far away
            indices, codes = self._groups[length]
            distances = edit_distances_to_words(key, codes, np.full(len(indices), length))
            nearest = int(distances.min())
            index = int(indices[distances == nearest].min())
            if (nearest, index) < (best_distance, best_index):
                best_distance, best_index = nearest, index
        return best_index


def snap_to_lexicon(texts: Sequence[str], lexicon: Lexicon | None) -> list[str]:
    """Each non-empty text replaced by its nearest lexicon word (texts unchanged without a lexicon)."""
    if lexicon is None:
        return list(texts)
    return [lexicon.nearest(text) if text.strip() else text for text in texts]


def load_lexicon(path: str | Path) -> Lexicon:
    """Reads a lexicon: UTF-8 (BOM allowed), one word per line, blank lines ignored."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise EvaluationError(f"{path}: lexicon file not found") from None
    except UnicodeDecodeError as error:
        raise EvaluationError(f"{path}: lexicon is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise EvaluationError(f"{path}: cannot read lexicon: {error.strerror}") from None
    return Lexicon(lines, source=str(path))


def per_image_lexicon_path(lexicon_dir: str | Path, image_file_name: str) -> Path:
    """ICDAR "strong" lexicon file of one image: ``voc_<image stem>.txt`` (``voc_img_12.txt`` for ``img_12.jpg``)."""
    return Path(lexicon_dir) / f"voc_{Path(image_file_name).stem}.txt"


def load_lexicon_dir(lexicon_dir: str | Path, image_file_names: Sequence[str]) -> list[Lexicon]:
    """One lexicon per image from ``lexicon_dir/voc_<image stem>.txt``; every image must have its file."""
    lexicon_dir = Path(lexicon_dir)
    if not lexicon_dir.is_dir():
        raise EvaluationError(f"{lexicon_dir}: lexicon directory not found")
    paths = [per_image_lexicon_path(lexicon_dir, name) for name in image_file_names]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise EvaluationError(
            f"{lexicon_dir}: no per-image lexicon for {len(missing)} of {len(paths)} images "
            f"(first missing: {missing[0].name})")
    return [load_lexicon(path) for path in paths]
