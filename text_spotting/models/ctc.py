"""CTC words <-> class ids, and greedy decoding, as pure functions (SPEC §4, CTC kind: 0 = blank, 1.. = the
alphabet in order)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .text_codec import check_alphabet

BLANK_INDEX = 0


class CTCCodec:
    """Encodes words into CTC targets and decodes per-frame class ids back into words.

    Args:
        alphabet: the characters the recognizer reads, each once (class ``i + 1`` is ``alphabet[i]``).
        case_sensitive: when False, words are lower-cased before encoding (the alphabet must then be lower-case).
    """

    def __init__(self, alphabet: str, case_sensitive: bool = True) -> None:
        check_alphabet(alphabet, case_sensitive)
        self.alphabet = alphabet
        self.case_sensitive = bool(case_sensitive)
        self._char_to_id = {c: i + 1 for i, c in enumerate(alphabet)}

    @property
    def num_classes(self) -> int:
        """Size of the classifier: the blank and the alphabet."""
        return len(self.alphabet) + 1

    def normalize(self, text: str) -> str:
        return text if self.case_sensitive else text.lower()

    def in_alphabet(self, text: str) -> bool:
        return all(c in self._char_to_id for c in self.normalize(text))

    def is_encodable(self, text: str, max_frames: int | None = None) -> bool:
        """Non-empty, in the alphabet and, with ``max_frames``, short enough for CTC: a word needs one frame per
        character plus one between each pair of repeated characters."""
        text = self.normalize(text)
        if not text or not self.in_alphabet(text):
            return False
        return max_frames is None or ctc_min_frames(text) <= max_frames

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(targets, lengths)``: all words' class ids concatenated (LongTensor ``[sum(lengths)]``) and each word's
        length (LongTensor ``[N]``), the layout ``torch.nn.functional.ctc_loss`` takes. Every word must be
        encodable."""
        ids = [self._char_to_id[c] for text in texts for c in self.normalize(text)]
        lengths = [len(self.normalize(text)) for text in texts]
        return torch.tensor(ids, dtype=torch.long), torch.tensor(lengths, dtype=torch.long)

    def decode_ids(self, ids: Sequence[int]) -> str:
        return "".join(self.alphabet[i - 1] for i in ids if 0 < i <= len(self.alphabet))


def ctc_min_frames(text: str) -> int:
    """Frames CTC needs to emit ``text``: its length plus one blank between each pair of equal neighbours."""
    return len(text) + sum(1 for a, b in zip(text, text[1:]) if a == b)


def ctc_greedy_decode(probabilities: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Best-path decoding: per frame the most likely class, repeats merged, blanks dropped.

    Args:
        probabilities: ``[N, T, V]`` per-frame class probabilities (softmax of the recognizer's logits); the
            frames of a crop's padding are read too (they come out blank).

    Returns:
        ``(ids, scores)``: per word the emitted class ids, and its confidence ``[N]`` float32: the mean probability of
        the emitted characters (PP-OCR's score), 0 for a word with no character.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    best = probabilities.argmax(axis=2)
    best_p = probabilities.max(axis=2)
    ids, scores = [], np.zeros(len(best), dtype=np.float32)
    for row, (path, path_p) in enumerate(zip(best, best_p)):
        keep = path != BLANK_INDEX
        keep[1:] &= path[1:] != path[:-1]
        ids.append(path[keep].tolist())
        if keep.any():
            scores[row] = float(path_p[keep].mean())
    return ids, scores


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def ctc_texts(probabilities: np.ndarray, codec: CTCCodec, recognition_threshold: float
              ) -> tuple[list[str], np.ndarray]:
    """Words and confidences ``[N]`` of ``[N, T, V]`` probabilities (:func:`ctc_greedy_decode`); a word whose
    confidence is below ``recognition_threshold`` is ''."""
    ids, scores = ctc_greedy_decode(probabilities)
    texts = [codec.decode_ids(row) if score >= recognition_threshold else '' for row, score in zip(ids, scores)]
    return texts, scores
