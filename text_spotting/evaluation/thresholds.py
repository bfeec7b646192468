"""Choosing the detection and recognition thresholds on a validation set, from one set of predictions made with
low thresholds: every (detection, recognition) pair is scored without running the model again."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .icdar import ImageGroundTruth, ImagePredictions, evaluate_set


def apply_thresholds(predictions: ImagePredictions, detection: float, recognition: float) -> ImagePredictions:
    """The predictions a model would make with these thresholds: words scoring below ``detection`` are dropped and
    texts whose confidence is below ``recognition`` become ''. A word without a text score (NaN or None) keeps its
    text only at ``recognition`` 0."""
    keep = [index for index, score in enumerate(predictions.scores) if score >= detection]
    text_scores = predictions.text_scores
    texts = []
    for index in keep:
        confidence = float("nan") if text_scores is None else text_scores[index]
        readable = recognition <= 0 or (confidence is not None and not math.isnan(confidence)
                                        and confidence >= recognition)
        texts.append(predictions.texts[index] if readable else "")
    return ImagePredictions(polygons=[predictions.polygons[i] for i in keep],
                            scores=[predictions.scores[i] for i in keep], texts=texts,
                            text_scores=None if text_scores is None else [text_scores[i] for i in keep])


@dataclass(frozen=True)
class ThresholdScore:
    """The hmeans of one threshold pair."""

    detection_threshold: float
    recognition_threshold: float
    detection: float
    word_spotting: float
    e2e_recognition: float


def sweep_thresholds(gts: Sequence[ImageGroundTruth], predictions: Sequence[ImagePredictions],
                     detection_thresholds: Sequence[float], recognition_thresholds: Sequence[float],
                     image_names: Sequence[str] | None = None) -> list[ThresholdScore]:
    """Scores every (detection, recognition) pair; predictions must have been made with thresholds at or below the
    smallest of each, or the sweep cannot see the words those thresholds removed."""
    scores = []
    for detection in detection_thresholds:
        for recognition in recognition_thresholds:
            kept = [apply_thresholds(image, detection, recognition) for image in predictions]
            metrics = evaluate_set(gts, kept, image_names=image_names).as_dict()
            scores.append(ThresholdScore(detection, recognition, metrics["detection"]["hmean"],
                                         metrics["word_spotting"]["hmean"], metrics["e2e_recognition"]["hmean"]))
    return scores


def best_thresholds(scores: Sequence[ThresholdScore], mode: str = "word_spotting") -> ThresholdScore:
    """The pair with the highest ``mode`` hmean; ties go to the higher detection, then recognition, threshold
    (fewer, surer words)."""
    if not scores:
        raise ValueError("no threshold pairs were scored")
    return max(scores, key=lambda s: (getattr(s, mode), s.detection_threshold, s.recognition_threshold))
