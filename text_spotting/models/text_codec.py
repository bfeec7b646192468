"""Words <-> class-id sequences for the recognition head.

Class ids (SPEC §4): 0 = SOS (start of sequence, only ever fed to the decoder), 1 = EOS (end of sequence),
2.. = the characters of the alphabet in order. A target sequence is the word's ids followed by EOS and padded with
``IGNORE_INDEX`` up to ``max_length + 1`` positions, so cross entropy skips the padding by itself.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

SOS_INDEX = 0
EOS_INDEX = 1
FIRST_CHAR_INDEX = 2
# The default ``ignore_index`` of ``torch.nn.functional.cross_entropy``.
IGNORE_INDEX = -100


def class_order(old_alphabet: str, new_alphabet: str) -> list[int]:
    """Class ids of ``old_alphabet`` listed in the order of ``new_alphabet``, a permutation of the same characters:
    ``order[new_id] == old_id`` (SOS and EOS keep their ids). Indexing a tensor of class rows ``[V, ...]`` with it
    reorders the rows for the new alphabet, so a model reads the same words under either."""
    if len(set(new_alphabet)) != len(new_alphabet) or sorted(old_alphabet) != sorted(new_alphabet):
        raise ValueError(f"{new_alphabet!r} is not a reordering of the alphabet {old_alphabet!r}")
    old_ids = {c: i + FIRST_CHAR_INDEX for i, c in enumerate(old_alphabet)}
    return [SOS_INDEX, EOS_INDEX] + [old_ids[c] for c in new_alphabet]


def check_alphabet(alphabet: str, case_sensitive: bool) -> None:
    """ValueError unless ``alphabet`` is a non-empty string of distinct characters, lower-case when words are
    lower-cased (``case_sensitive`` False): what every recognizer's codec needs."""
    if not isinstance(alphabet, str) or not alphabet:
        raise ValueError(f"the alphabet must be a non-empty string, got {alphabet!r}")
    repeated = sorted({c for c in alphabet if alphabet.count(c) > 1})
    if repeated:
        raise ValueError(f"the alphabet has repeated characters: {''.join(repeated)!r}")
    if not case_sensitive and alphabet != alphabet.lower():
        raise ValueError(
            f"the alphabet {alphabet!r} has upper-case characters, but words are lower-cased "
            "(case_sensitive=False): lower-case it or set case_sensitive=True")


class TextCodec:
    """Encodes words into padded class-id targets and decodes predicted ids back into words.

    Args:
        alphabet: the characters the model can read, each once, e.g. ``'0123456789abcdefghijklmnopqrstuvwxyz'``.
        max_length: the longest word (in characters, EOS not counted) the model reads.
        case_sensitive: when False, words are lower-cased before encoding, so the alphabet must have no upper-case
            letters.
    """

    def __init__(self, alphabet: str, max_length: int, case_sensitive: bool = False) -> None:
        check_alphabet(alphabet, case_sensitive)
        if int(max_length) < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        self.alphabet = alphabet
        self.max_length = int(max_length)
        self.case_sensitive = case_sensitive
        self._char_to_id = {c: i + FIRST_CHAR_INDEX for i, c in enumerate(alphabet)}

    @property
    def num_classes(self) -> int:
        """Size of the decoder's output: SOS, EOS and the alphabet."""
        return len(self.alphabet) + FIRST_CHAR_INDEX

    @property
    def sequence_length(self) -> int:
        """Positions of a target sequence: ``max_length`` characters and EOS."""
        return self.max_length + 1

    def normalize(self, text: str) -> str:
        """The word as the model should read it (lower-cased unless case sensitive)."""
        return text if self.case_sensitive else text.lower()

    def in_alphabet(self, text: str) -> bool:
        """Whether every character of the (normalized) word is in the alphabet."""
        return all(c in self._char_to_id for c in self.normalize(text))

    def is_encodable(self, text: str) -> bool:
        """Whether the word can be a recognition target: non-empty, in the alphabet and at most max_length long."""
        normalized = self.normalize(text)
        return 0 < len(normalized) <= self.max_length and self.in_alphabet(normalized)

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets for a list of words.

        Returns:
            targets: LongTensor ``[N, max_length + 1]``: character ids, EOS, then ``IGNORE_INDEX``; rows of words
                that cannot be encoded are all ``IGNORE_INDEX``.
            valid: BoolTensor ``[N]``: False for empty words, words with characters outside the alphabet and
                words longer than ``max_length``.
        """
        targets = np.full((len(texts), self.sequence_length), IGNORE_INDEX, dtype=np.int64)
        valid = np.zeros(len(texts), dtype=bool)
        for row, text in enumerate(texts):
            if not self.is_encodable(text):
                continue
            ids = [self._char_to_id[c] for c in self.normalize(text)]
            targets[row, :len(ids)] = ids
            targets[row, len(ids)] = EOS_INDEX
            valid[row] = True
        return torch.from_numpy(targets), torch.from_numpy(valid)

    def decode(self, ids: torch.Tensor | np.ndarray | Sequence[Sequence[int]]) -> list[str]:
        """Words from class ids ``[N, T]``: each row is read up to its first EOS (or IGNORE_INDEX padding).

        SOS and ids outside the classes are skipped: they carry no character.
        """
        rows = ids.tolist() if isinstance(ids, (torch.Tensor, np.ndarray)) else [list(r) for r in ids]
        words = []
        for row in rows:
            chars = []
            for class_id in row:
                if class_id in (EOS_INDEX, IGNORE_INDEX):
                    break
                if FIRST_CHAR_INDEX <= class_id < self.num_classes:
                    chars.append(self.alphabet[class_id - FIRST_CHAR_INDEX])
            words.append(''.join(chars))
        return words
