"""ICDAR 2015 Incidental Scene Text metrics (detection, word spotting, end-to-end) as pure functions.

The protocol (SPEC §2, the RRC Challenge 4 scripts, and OTE's ``text_evaluation.py``):

1. Don't care. A ground-truth region flagged don't-care (``###``, illegible, iscrowd) is neither a target nor an
   error. A prediction is don't care when more than half of its area lies inside ONE don't-care ground-truth
   polygon. Don't-care regions and predictions take no part in matching and are left out of every count below.
2. Matching, per image: ground truth in file order; for each, the predictions in descending score order (ties keep
   their input order); the first unmatched prediction with polygon IoU > 0.5 is matched to it and both are consumed,
   whatever their texts.
3. detection: every matched pair is a true positive.
4. word_spotting: predictions with empty text (only whitespace) are dropped first; ground-truth words that are not
   "words" (:func:`~text_spotting.evaluation.text.is_word`) become don't care. Because the don't-care test of step 1
   runs after that, a prediction lying mostly inside a non-word (e.g. a prediction on "2015") is don't care as well:
   it is not a false positive, exactly as in the RRC script, which marks the ground truth before testing the
   detections. (IoU > 0.5 implies more than half of the prediction lies inside the ground truth, so any prediction
   that would have matched a non-word is don't care.) A matched pair is a true positive only if both texts are
   equal after normalisation, ignoring case.
5. e2e_recognition: word_spotting without the "is a word" filter: every legible word counts, digits included.
6. With a lexicon, non-empty predicted texts are first replaced by the nearest lexicon word (steps 4 and 5).

Precision = TP / care predictions, recall = TP / care ground truth, hmean = 2PR / (P + R), each 0 when its
denominator is 0. Totals are micro-averaged: TP and both care counts are summed over all images before dividing,
so a set with no ground truth and no predictions scores 0 everywhere (the RRC script's method-level rule; its
per-image rule of "nothing to find and nothing found = 1.0" does not enter the totals).

Counts: ``images``; ``gt_words``, ground-truth regions that are not don't care; ``dont_care``, those that are;
``predictions``, every prediction given (before any is dropped or found don't care).

Polygons are shapely polygons built from ``[K, 2]`` points (K >= 3). A self-intersecting polygon (a "bow tie" quad)
is repaired with ``shapely.make_valid`` and counted in ``repaired_polygons``; a polygon with fewer than 3 points or
non-finite coordinates is rejected with an :class:`EvaluationError` naming the image and the record.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..geometry import as_points
from .errors import EvaluationError
from .text import Lexicon, comparison_key, is_word, snap_to_lexicon

#: A prediction and a ground-truth polygon match when their IoU is above this.
IOU_THRESHOLD = 0.5
#: A prediction is don't care when more than this fraction of its area lies inside one don't-care polygon.
DONT_CARE_AREA_THRESHOLD = 0.5
#: The three protocols, in reporting order.
MODES = ("detection", "word_spotting", "e2e_recognition")


@dataclass
class ImageGroundTruth:
    """Ground truth of one image.

    Attributes:
        polygons: one ``[K, 2]`` array (K >= 3, image pixels) per region, in file order.
        texts: the transcription of each region ('' for don't care).
        dont_care: True for regions that are neither targets nor errors.
    """

    polygons: list[np.ndarray] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    dont_care: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_lengths("ground truth", polygons=self.polygons, texts=self.texts, dont_care=self.dont_care)


@dataclass
class ImagePredictions:
    """Predictions for one image.

    Attributes:
        polygons: one ``[K, 2]`` array (K >= 3, image pixels) per predicted word.
        scores: detection confidence of each word; matching visits higher scores first.
        texts: recognised text of each word ('' when nothing was read).
        text_scores: recognition confidence of each word, or None when unknown (it is not used by the metric).
    """

    polygons: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    text_scores: list[float] | None = None

    def __post_init__(self) -> None:
        lengths = dict(polygons=self.polygons, scores=self.scores, texts=self.texts)
        if self.text_scores is not None:
            lengths["text_scores"] = self.text_scores
        _check_lengths("predictions", **lengths)


def _check_lengths(what: str, **sequences: Sequence) -> None:
    sizes = {name: len(values) for name, values in sequences.items()}
    if len(set(sizes.values())) > 1:
        raise EvaluationError(f"{what}: fields have different lengths: {sizes}")


@dataclass
class ModeTally:
    """Counts of one protocol, summable over images."""

    true_positives: int = 0
    gt_care: int = 0
    predictions_care: int = 0

    def __iadd__(self, other: "ModeTally") -> "ModeTally":
        self.true_positives += other.true_positives
        self.gt_care += other.gt_care
        self.predictions_care += other.predictions_care
        return self

    @property
    def precision(self) -> float:
        return self.true_positives / self.predictions_care if self.predictions_care else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gt_care if self.gt_care else 0.0

    @property
    def hmean(self) -> float:
        precision, recall = self.precision, self.recall
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"precision": float(self.precision), "recall": float(self.recall), "hmean": float(self.hmean)}


@dataclass
class ImageEvaluation:
    """What one image contributed.

    Attributes:
        tallies: per protocol (:data:`MODES`) counts.
        pairs: per protocol, the matched ``(gt_index, prediction_index, text_correct)`` triples (indices into the
            image's ground truth and predictions; ``text_correct`` is always True for detection).
        prediction_dont_care: per protocol, ``[P]`` bool, predictions that were don't care (or dropped for empty text).
        repaired_polygons: how many self-intersecting polygons were repaired.
    """

    tallies: dict[str, ModeTally]
    pairs: dict[str, list[tuple[int, int, bool]]]
    prediction_dont_care: dict[str, np.ndarray]
    repaired_polygons: int = 0


def polygon_geometry(points: Sequence[float] | np.ndarray, what: str = "polygon") -> tuple[BaseGeometry, bool]:
    """A valid shapely geometry for a polygon, and whether it had to be repaired.

    Args:
        points: ``[K, 2]`` points or a flat ``[x1, y1, ...]`` list, K >= 3.
        what: names the record in error messages ("image img_1.jpg: prediction #3").

    Returns:
        ``(geometry, repaired)``: a Polygon, or for a repaired self-intersecting polygon the union of its polygonal
        parts (possibly empty, with area 0).
    """
    try:
        points = as_points(points)
    except ValueError as error:
        raise EvaluationError(f"{what}: {error}") from None
    if points.shape[0] < 3:
        raise EvaluationError(f"{what}: a polygon needs at least 3 points, got {points.shape[0]}")
    if not np.isfinite(points).all():
        raise EvaluationError(f"{what}: polygon has non-finite coordinates")
    polygon = shapely.Polygon(points)
    if polygon.is_valid:
        return polygon, False
    repaired = shapely.make_valid(polygon)
    parts = shapely.get_parts(repaired)
    polygonal = [part for part in parts if part.geom_type in ("Polygon", "MultiPolygon")]
    return (shapely.union_all(polygonal) if polygonal else shapely.Polygon()), True


def overlap_matrices(gt_geometries: Sequence[BaseGeometry],
                     prediction_geometries: Sequence[BaseGeometry]) -> tuple[np.ndarray, np.ndarray]:
    """IoU and "share of the prediction inside the ground truth" for every pair.

    Returns:
        ``(iou, inside)``, both ``[G, P]`` float64: ``iou[g, p] = |g ∩ p| / |g ∪ p|`` and
        ``inside[g, p] = |g ∩ p| / |p|`` (0 where the denominator is 0).
    """
    num_gt, num_pred = len(gt_geometries), len(prediction_geometries)
    iou = np.zeros((num_gt, num_pred))
    inside = np.zeros((num_gt, num_pred))
    if num_gt == 0 or num_pred == 0:
        return iou, inside
    gts = np.array(gt_geometries, dtype=object)
    preds = np.array(prediction_geometries, dtype=object)
    gt_boxes, pred_boxes = shapely.bounds(gts), shapely.bounds(preds)
    # Only pairs whose bounding boxes touch can intersect; this keeps GEOS calls to the few that matter.
    gt_boxes, pred_boxes = gt_boxes[:, None, :], pred_boxes[None, :, :]
    boxes_touch = ((gt_boxes[..., 0] <= pred_boxes[..., 2]) & (pred_boxes[..., 0] <= gt_boxes[..., 2])
                   & (gt_boxes[..., 1] <= pred_boxes[..., 3]) & (pred_boxes[..., 1] <= gt_boxes[..., 3]))
    gt_index, pred_index = np.nonzero(boxes_touch)
    if gt_index.size == 0:
        return iou, inside
    intersection = shapely.area(shapely.intersection(gts[gt_index], preds[pred_index]))
    gt_area, pred_area = shapely.area(gts)[gt_index], shapely.area(preds)[pred_index]
    union = gt_area + pred_area - intersection
    iou[gt_index, pred_index] = np.divide(intersection, union, out=np.zeros_like(union), where=union > 0)
    inside[gt_index, pred_index] = np.divide(intersection, pred_area, out=np.zeros_like(pred_area),
                                             where=pred_area > 0)
    return iou, inside


def dont_care_predictions(inside: np.ndarray, gt_dont_care: np.ndarray) -> np.ndarray:
    """``[P]`` bool: predictions with more than half of their area inside one don't-care ground-truth polygon.

    Args:
        inside: ``[G, P]`` share of each prediction's area inside each ground-truth polygon.
        gt_dont_care: ``[G]`` bool.
    """
    if inside.shape[0] == 0:
        return np.zeros(inside.shape[1], dtype=bool)
    return (inside[np.asarray(gt_dont_care, dtype=bool)] > DONT_CARE_AREA_THRESHOLD).any(axis=0)


def greedy_match(iou: np.ndarray, scores: np.ndarray, gt_care: np.ndarray,
                 prediction_care: np.ndarray) -> list[tuple[int, int]]:
    """The ICDAR greedy matching.

    Ground truth in file order; for each, the first unmatched care prediction in descending score order (stable for
    equal scores) with IoU > 0.5 is taken, and both are consumed.

    Args:
        iou: ``[G, P]``.
        scores: ``[P]`` prediction scores.
        gt_care: ``[G]`` bool, ground truth that takes part.
        prediction_care: ``[P]`` bool, predictions that take part.

    Returns:
        ``(gt_index, prediction_index)`` pairs in ground-truth order.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    available = np.asarray(prediction_care, dtype=bool)[order].copy()
    pairs = []
    for gt_index in np.flatnonzero(gt_care):
        candidates = np.flatnonzero(available & (iou[gt_index, order] > IOU_THRESHOLD))
        if candidates.size:
            first = candidates[0]
            available[first] = False
            pairs.append((int(gt_index), int(order[first])))
    return pairs


def _geometries(polygons: Sequence[np.ndarray], what: str) -> tuple[list[BaseGeometry], int]:
    geometries, repaired = [], 0
    for index, points in enumerate(polygons):
        geometry, was_repaired = polygon_geometry(points, f"{what} #{index}")
        geometries.append(geometry)
        repaired += was_repaired
    return geometries, repaired


def _score_protocol(iou: np.ndarray, inside: np.ndarray, scores: np.ndarray, gt_dont_care: np.ndarray,
                    prediction_kept: np.ndarray, gt_keys: Sequence[str] | None,
                    prediction_keys: Sequence[str] | None) -> tuple[ModeTally, list[tuple[int, int, bool]], np.ndarray]:
    """One protocol on one image; texts are compared when keys are given."""
    prediction_dont_care = dont_care_predictions(inside, gt_dont_care) | ~prediction_kept
    gt_care = ~gt_dont_care
    pairs = greedy_match(iou, scores, gt_care, ~prediction_dont_care)
    triples = [(g, p, gt_keys is None or gt_keys[g] == prediction_keys[p]) for g, p in pairs]
    tally = ModeTally(true_positives=sum(correct for _, _, correct in triples), gt_care=int(gt_care.sum()),
                      predictions_care=int((~prediction_dont_care).sum()))
    return tally, triples, prediction_dont_care


def evaluate_image(gt: ImageGroundTruth, predictions: ImagePredictions, lexicon: Lexicon | None = None,
                   image_name: str = "image") -> ImageEvaluation:
    """Scores one image under the three protocols (see the module docstring)."""
    gt_geometries, gt_repaired = _geometries(gt.polygons, f"{image_name}: ground truth")
    prediction_geometries, prediction_repaired = _geometries(predictions.polygons, f"{image_name}: prediction")
    scores = np.asarray(predictions.scores, dtype=np.float64).reshape(-1)
    if not np.isfinite(scores).all():
        raise EvaluationError(f"{image_name}: prediction #{int(np.flatnonzero(~np.isfinite(scores))[0])}: "
                              f"score is not a finite number")
    iou, inside = overlap_matrices(gt_geometries, prediction_geometries)

    gt_dont_care = np.asarray(gt.dont_care, dtype=bool).reshape(-1)
    not_a_word = np.array([not is_word(text) for text in gt.texts], dtype=bool)
    texts = snap_to_lexicon(predictions.texts, lexicon)
    has_text = np.array([bool(text.strip()) for text in texts], dtype=bool)
    everything = np.ones(len(texts), dtype=bool)
    gt_keys = [comparison_key(text) for text in gt.texts]
    prediction_keys = [comparison_key(text) for text in texts]

    results = {
        "detection": _score_protocol(iou, inside, scores, gt_dont_care, everything, None, None),
        "word_spotting": _score_protocol(iou, inside, scores, gt_dont_care | not_a_word, has_text, gt_keys,
                                         prediction_keys),
        "e2e_recognition": _score_protocol(iou, inside, scores, gt_dont_care, has_text, gt_keys, prediction_keys),
    }
    return ImageEvaluation(tallies={mode: result[0] for mode, result in results.items()},
                           pairs={mode: result[1] for mode, result in results.items()},
                           prediction_dont_care={mode: result[2] for mode, result in results.items()},
                           repaired_polygons=gt_repaired + prediction_repaired)


@dataclass
class SetEvaluation:
    """Totals over a set of images; :meth:`as_dict` gives the SPEC §2 layout."""

    tallies: dict[str, ModeTally]
    images: int
    gt_words: int
    dont_care: int
    predictions: int
    repaired_polygons: int

    def as_dict(self) -> dict:
        """``{detection|word_spotting|e2e_recognition: {precision, recall, hmean}, counts: {images, gt_words,
        dont_care, predictions}}`` as plain floats and ints."""
        result: dict = {mode: self.tallies[mode].as_dict() for mode in MODES}
        result["counts"] = {"images": self.images, "gt_words": self.gt_words, "dont_care": self.dont_care,
                            "predictions": self.predictions}
        return result


def evaluate_set(gts: Sequence[ImageGroundTruth], predictions: Sequence[ImagePredictions],
                 lexicon: Lexicon | None = None, image_lexicons: Sequence[Lexicon | None] | None = None,
                 image_names: Sequence[str] | None = None) -> SetEvaluation:
    """Micro-averaged ICDAR metrics over aligned per-image ground truth and predictions.

    Args:
        gts: per-image ground truth.
        predictions: per-image predictions, aligned with ``gts`` (use an empty :class:`ImagePredictions` for an
            image without predictions).
        lexicon: a lexicon for every image (``--lexicon``).
        image_lexicons: a lexicon per image (``--lexicon-dir``); an entry overrides ``lexicon`` for its image.
        image_names: names used in error messages (default ``image #<index>``).
    """
    if len(gts) != len(predictions):
        raise EvaluationError(f"{len(gts)} images of ground truth but {len(predictions)} of predictions")
    if image_lexicons is not None and len(image_lexicons) != len(gts):
        raise EvaluationError(f"{len(gts)} images but {len(image_lexicons)} per-image lexicons")
    tallies = {mode: ModeTally() for mode in MODES}
    repaired = 0
    for index, (gt, prediction) in enumerate(zip(gts, predictions)):
        image_lexicon = lexicon if image_lexicons is None or image_lexicons[index] is None else image_lexicons[index]
        name = image_names[index] if image_names is not None else f"image #{index}"
        evaluation = evaluate_image(gt, prediction, image_lexicon, name)
        for mode in MODES:
            tallies[mode] += evaluation.tallies[mode]
        repaired += evaluation.repaired_polygons
    dont_care = sum(int(np.sum(np.asarray(gt.dont_care, dtype=bool))) for gt in gts)
    return SetEvaluation(tallies=tallies, images=len(gts),
                         gt_words=sum(len(gt.polygons) for gt in gts) - dont_care, dont_care=dont_care,
                         predictions=sum(len(prediction.polygons) for prediction in predictions),
                         repaired_polygons=repaired)


def evaluate_images(gts: Sequence[ImageGroundTruth], predictions: Sequence[ImagePredictions],
                    lexicon: Lexicon | None = None, image_lexicons: Sequence[Lexicon | None] | None = None,
                    image_names: Sequence[str] | None = None) -> dict:
    """:func:`evaluate_set` as the nested SPEC §2 dict (``detection``, ``word_spotting``, ``e2e_recognition``,
    ``counts``)."""
    return evaluate_set(gts, predictions, lexicon, image_lexicons, image_names).as_dict()
