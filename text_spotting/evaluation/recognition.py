"""Quality of the recognition head alone, read on ground-truth boxes, so that reading is judged apart from finding.

Both texts of a pair are compared in their normalised, case-folded form (:func:`~.text.comparison_key`), the same
form the spotting metrics use.
"""
from __future__ import annotations

from typing import Sequence

from .errors import EvaluationError
from .text import comparison_key, edit_distance


def recognition_metrics(gt_texts: Sequence[str], predicted_texts: Sequence[str]) -> dict[str, float]:
    """Word accuracy and character error rate over aligned pairs.

    Args:
        gt_texts: ``[W]`` ground-truth transcriptions (callers pass legible words only).
        predicted_texts: ``[W]`` what the recognition head read on the same ground-truth boxes.

    Returns:
        ``{'accuracy': exact matches / W, 'cer': total edit distance / total ground-truth characters}``.
        With no words, accuracy is 0. When the ground truth has no characters at all, cer is 0 if every prediction
        is empty too and 1 otherwise.
    """
    if len(gt_texts) != len(predicted_texts):
        raise EvaluationError(f"recognition: {len(gt_texts)} ground-truth texts but {len(predicted_texts)} predictions")
    gt_keys = [comparison_key(text) for text in gt_texts]
    predicted_keys = [comparison_key(text) for text in predicted_texts]
    correct = sum(gt == predicted for gt, predicted in zip(gt_keys, predicted_keys))
    errors = sum(edit_distance(gt, predicted) for gt, predicted in zip(gt_keys, predicted_keys))
    gt_characters = sum(len(gt) for gt in gt_keys)
    accuracy = correct / len(gt_keys) if gt_keys else 0.0
    cer = errors / gt_characters if gt_characters else float(errors > 0)
    return {"accuracy": float(accuracy), "cer": float(cer)}
