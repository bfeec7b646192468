"""ICDAR 2015 text-spotting evaluation: pure matching/metric functions, predictions I/O and the mmengine Metric."""
from .errors import EvaluationError
from .icdar import (IOU_THRESHOLD, MODES, ImageEvaluation, ImageGroundTruth, ImagePredictions, ModeTally,
                    SetEvaluation, dont_care_predictions, evaluate_image, evaluate_images, evaluate_set,
                    greedy_match, overlap_matrices, polygon_geometry)
from .predictions_io import (PREDICTIONS_FILE_NAME, SUBMISSION_ZIP_NAME, GroundTruthSet, align_predictions,
                             coco_results_to_predictions, ground_truth_from_coco, load_ground_truth,
                             load_icdar_submission, load_predictions, predictions_to_coco_results, save_predictions,
                             submission_file_name, write_icdar_submission, write_prediction_outputs)
from .recognition import recognition_metrics
from .report import format_metrics_table, write_metrics_yaml
from .text import (Lexicon, edit_distance, is_word, load_lexicon, load_lexicon_dir, normalize_text, snap_to_lexicon,
                   texts_match)
from .thresholds import ThresholdScore, apply_thresholds, best_thresholds, sweep_thresholds
from .text_spotting_metric import TextSpottingMetric, ground_truth_from_instances, predicted_polygons

__all__ = [
    "EvaluationError", "IOU_THRESHOLD", "MODES", "ImageEvaluation", "ImageGroundTruth", "ImagePredictions",
    "ModeTally", "SetEvaluation", "dont_care_predictions", "evaluate_image", "evaluate_images", "evaluate_set",
    "greedy_match", "overlap_matrices", "polygon_geometry", "PREDICTIONS_FILE_NAME", "SUBMISSION_ZIP_NAME",
    "GroundTruthSet", "align_predictions", "coco_results_to_predictions", "ground_truth_from_coco",
    "load_ground_truth", "load_icdar_submission", "load_predictions", "predictions_to_coco_results",
    "save_predictions", "submission_file_name", "write_icdar_submission", "write_prediction_outputs",
    "recognition_metrics", "format_metrics_table", "write_metrics_yaml", "Lexicon", "edit_distance", "is_word",
    "load_lexicon", "load_lexicon_dir", "normalize_text", "snap_to_lexicon", "texts_match", "TextSpottingMetric",
    "ground_truth_from_instances", "predicted_polygons", "ThresholdScore", "apply_thresholds", "best_thresholds",
    "sweep_thresholds",
]
