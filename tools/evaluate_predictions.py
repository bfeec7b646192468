"""Scores a predictions file against COCO-with-text ground truth with the ICDAR 2015 protocol, no model needed.

    python tools/evaluate_predictions.py --test-ann-files GT.json --predictions predictions.json \
        [--lexicon WORDS.txt | --lexicon-dir VOC_DIR] [--save-metrics-to metrics.yaml]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from text_spotting.command_line import add_renamed_flags, one_path
from text_spotting.datasets.annotation_io import AnnotationError
from text_spotting.evaluation import (EvaluationError, align_predictions, evaluate_set, format_metrics_table,
                                      load_ground_truth, load_icdar_submission, load_lexicon, load_lexicon_dir,
                                      load_predictions, write_metrics_yaml)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Score text-spotting predictions (ICDAR 2015 protocol: detection, word spotting, end-to-end "
                    "recognition precision/recall/hmean) against COCO-with-text ground truth.")
    parser.add_argument("--test-ann-files", required=True, type=one_path, metavar="ANN.json",
                        help="ground truth: one COCO-with-text annotation file (SPEC §1)")
    parser.add_argument("--predictions", required=True,
                        help="predictions: a COCO results JSON file (predictions.json written by eval.py "
                             "--save-output-to, or another tool's, with polygon or RLE segmentations), or an ICDAR "
                             "submission (a directory of res_img_<stem>.txt files or a .zip of them; lines are "
                             "matched in file order)")
    lexicons = parser.add_mutually_exclusive_group()
    lexicons.add_argument("--lexicon", metavar="FILE",
                          help="one word per line (UTF-8); every non-empty predicted text snaps to the nearest word by "
                               "edit distance before word spotting and end-to-end scoring")
    lexicons.add_argument("--lexicon-dir", metavar="DIR",
                          help="per-image lexicons as in the ICDAR 'strong' protocol: DIR/voc_<image stem>.txt for "
                               "every image (voc_img_12.txt for img_12.jpg)")
    parser.add_argument("--save-metrics-to", metavar="M.yaml",
                        help="also write the numbers as YAML (detection, word_spotting, e2e_recognition, counts, "
                             "dataset)")
    parser.add_argument("--test-data-roots", type=one_path, metavar="DIR",
                        help="image folder of the ground truth; only recorded as dataset.images in the metrics file")
    add_renamed_flags(parser, {"--test-ann-file": "--test-ann-files", "--test-data-root": "--test-data-roots"})
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        gt = load_ground_truth(args.test_ann_files)
        predictions_path = Path(args.predictions)
        if predictions_path.is_dir() or predictions_path.suffix.lower() == ".zip":
            by_image = load_icdar_submission(predictions_path, dict(zip(gt.image_ids, gt.file_names)))
        else:
            by_image = load_predictions(predictions_path)
        predictions = align_predictions(gt, by_image, str(predictions_path))
        lexicon = load_lexicon(args.lexicon) if args.lexicon else None
        image_lexicons = load_lexicon_dir(args.lexicon_dir, gt.file_names) if args.lexicon_dir else None
        evaluation = evaluate_set(gt.images, predictions, lexicon=lexicon, image_lexicons=image_lexicons,
                                  image_names=gt.file_names)
    except (EvaluationError, AnnotationError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    metrics = evaluation.as_dict()
    print(format_metrics_table(metrics))
    if evaluation.repaired_polygons:
        print(f"note: {evaluation.repaired_polygons} self-intersecting polygon(s) were repaired before scoring")
    if args.save_metrics_to:
        metrics["dataset"] = {"annotation": str(Path(args.test_ann_files).resolve()),
                              "images": str(Path(args.test_data_roots).resolve()) if args.test_data_roots else None}
        if args.lexicon or args.lexicon_dir:
            metrics["dataset"]["lexicon"] = str(Path(args.lexicon or args.lexicon_dir).resolve())
        try:
            write_metrics_yaml(metrics, args.save_metrics_to)
        except OSError as error:
            print(f"error: {args.save_metrics_to}: cannot write metrics: {error.strerror}", file=sys.stderr)
            return 2
        print(f"metrics written to {args.save_metrics_to}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
