"""The ICDAR metrics as an mmengine ``Metric``, for validation during training and for ``eval.py``.

A thin wrapper: :meth:`TextSpottingMetric.process` turns each sample into small per-image summaries (quadrilaterals,
scores, texts, and the original ground truth), :meth:`TextSpottingMetric.compute_metrics` calls
:func:`~text_spotting.evaluation.icdar.evaluate_set`.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.structures import BaseDataElement

from mmdet.registry import METRICS

from ..geometry import as_array, bbox_to_quad, predicted_polygons
from .errors import EvaluationError
from .icdar import MODES, ImageGroundTruth, ImagePredictions, evaluate_set
from .predictions_io import largest_polygon, write_prediction_outputs
from .report import format_metrics_table
from .text import load_lexicon


def ground_truth_from_instances(instances: Sequence[dict]) -> ImageGroundTruth:
    """Ground truth of one image from the dataset's instance dicts (INTERFACES §1: ``mask`` [[x1, y1, ...]],
    ``bbox``, ``ignore_flag``, ``text``); a region with several polygon parts is represented by its largest."""
    gt = ImageGroundTruth()
    for instance in instances:
        parts = [part for part in instance.get("mask") or [] if len(part) >= 6]
        gt.polygons.append(largest_polygon(parts) if parts else bbox_to_quad(instance["bbox"]))
        gt.texts.append(str(instance.get("text", "")))
        gt.dont_care.append(bool(instance.get("ignore_flag", 0)))
    return gt


@METRICS.register_module()
class TextSpottingMetric(BaseMetric):
    """ICDAR 2015 detection / word spotting / end-to-end precision, recall and hmean (micro-averaged).

    Needs ``pred_instances`` with ``bboxes``, ``scores`` and, when available, ``masks`` [N, H, W], ``texts`` and
    ``text_scores`` in original image coordinates, and the original ground truth in ``metainfo['instances']``
    (``PackTextDetInputs`` keeps it).

    Args:
        lexicon_file: optional lexicon (one word per line) that predicted texts snap to.
        output_dir: when given, ``compute_metrics`` also writes ``predictions.json``, ``submit/`` and
            ``submit.zip`` there.
        collect_device: 'cpu' or 'gpu', for gathering results across ranks.
        prefix: metric name prefix (default ``icdar``), e.g. ``icdar/word_spotting/hmean``.
    """

    default_prefix = "icdar"

    def __init__(self, lexicon_file: str | None = None, output_dir: str | None = None, collect_device: str = "cpu",
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.lexicon = load_lexicon(lexicon_file) if lexicon_file else None
        self.output_dir = output_dir

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keeps, per image, its id, file name, ground truth and predicted quadrilaterals/scores/texts."""
        for data_sample in data_samples:
            if isinstance(data_sample, BaseDataElement):
                data_sample = data_sample.to_dict()
            if "instances" not in data_sample:
                raise EvaluationError(
                    f"image {data_sample.get('img_path', data_sample.get('img_id'))}: no 'instances' in the data "
                    f"sample's metainfo; TextSpottingMetric reads the original ground truth from there "
                    f"(pack with PackTextDetInputs)")
            pred = data_sample["pred_instances"]
            num_predictions = len(as_array(pred["scores"]).reshape(-1))
            texts = list(pred.get("texts", [""] * num_predictions))
            text_scores = pred.get("text_scores")
            predictions = ImagePredictions(
                polygons=predicted_polygons(pred["bboxes"], pred.get("masks")),
                scores=as_array(pred["scores"]).astype(np.float64).reshape(-1).tolist(),
                texts=[str(text) for text in texts],
                text_scores=None if text_scores is None else as_array(text_scores).astype(np.float64).reshape(-1)
                .tolist())
            img_path = data_sample.get("img_path")
            self.results.append({
                "img_id": data_sample.get("img_id"),
                "file_name": osp.basename(img_path) if img_path else f"{data_sample.get('img_id')}.jpg",
                "gt": ground_truth_from_instances(data_sample["instances"]),
                "predictions": predictions,
            })

    def compute_metrics(self, results: list) -> dict[str, float]:
        """``{'<protocol>/<precision|recall|hmean>': float, 'counts/<name>': int}`` over all processed images."""
        logger = MMLogger.get_current_instance()
        evaluation = evaluate_set([result["gt"] for result in results],
                                  [result["predictions"] for result in results],
                                  lexicon=self.lexicon,
                                  image_names=[result["file_name"] for result in results])
        nested = evaluation.as_dict()
        logger.info("ICDAR 2015 text spotting metrics\n" + format_metrics_table(nested))
        if evaluation.repaired_polygons:
            logger.warning(f"{evaluation.repaired_polygons} self-intersecting polygon(s) were repaired before scoring")
        if self.output_dir:
            paths = write_prediction_outputs(
                self.output_dir,
                [(result["img_id"], result["file_name"], result["predictions"]) for result in results])
            logger.info(f"predictions written to {paths['predictions']} and {paths['submission']}")
        flat = {f"{mode}/{name}": value for mode in MODES for name, value in nested[mode].items()}
        flat.update({f"counts/{name}": value for name, value in nested["counts"].items()})
        return flat
