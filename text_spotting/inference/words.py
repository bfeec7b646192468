"""What a text spotter returns per word, in original image coordinates."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import as_array as _numpy, predicted_polygons


@dataclass
class SpottedWord:
    """One detected word.

    Attributes:
        quad: ``[4, 2]`` minimum-area quadrilateral of the word's mask, clockwise from the top-left corner.
        bbox: ``[4]`` x1, y1, x2, y2.
        score: detection confidence.
        text: the word read ('' when the text confidence is below the template's recognition threshold).
        text_score: the recognizer's confidence: the product of the per-character top-1 probabilities (attention
            kind) or their mean (ctc kind).
        mask: ``[H, W]`` bool mask over the whole image, or None when not kept.
    """

    quad: np.ndarray
    bbox: np.ndarray
    score: float
    text: str
    text_score: float
    mask: np.ndarray | None = None


def words_from_instances(pred_instances, keep_masks: bool = False) -> list[SpottedWord]:
    """``SpottedWord``s from a model's ``pred_instances`` (bboxes, scores, masks, texts, text_scores)."""
    bboxes = _numpy(pred_instances.bboxes).reshape(-1, 4)
    scores = _numpy(pred_instances.scores).reshape(-1)
    masks = _numpy(pred_instances.masks) if "masks" in pred_instances else None
    texts = list(pred_instances.texts) if "texts" in pred_instances else [""] * len(scores)
    text_scores = _numpy(pred_instances.text_scores).reshape(-1) if "text_scores" in pred_instances \
        else np.zeros(len(scores))
    quads = predicted_polygons(bboxes, masks)
    return [SpottedWord(quad=quads[i], bbox=bboxes[i].astype(np.float64), score=float(scores[i]), text=str(texts[i]),
                        text_score=float(text_scores[i]),
                        mask=(masks[i] > 0) if keep_masks and masks is not None else None)
            for i in range(len(scores))]


def instances_from_words(words: list[SpottedWord], image_shape: tuple[int, ...]) -> dict:
    """The ``pred_instances`` fields ``TextSpottingMetric`` reads (``bboxes`` [N, 4], ``scores``, ``masks``
    [N, H, W] bool, ``texts``, ``text_scores``) from ``SpottedWord`` s; words without a mask get an empty one (the
    metric then scores their box)."""
    height, width = int(image_shape[0]), int(image_shape[1])
    masks = np.zeros((len(words), height, width), dtype=bool)
    for index, word in enumerate(words):
        if word.mask is not None:
            masks[index] = word.mask
    return {"bboxes": np.array([w.bbox for w in words], dtype=np.float64).reshape(-1, 4),
            "scores": np.array([w.score for w in words], dtype=np.float64),
            "masks": masks,
            "texts": [w.text for w in words],
            "text_scores": np.array([w.text_score for w in words], dtype=np.float64)}
