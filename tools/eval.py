#!/usr/bin/env python3
"""Scores a trained text spotter on annotated images (SPEC §2, §3). Run the copy in a work dir:

    python eval.py --load-weights outputs/ckpt/best.pth \\
        --test-ann-files data/horizontal_text_detection/annotation.json \\
        --test-data-roots data/horizontal_text_detection --save-metrics-to metrics.yaml

Prints ICDAR 2015 detection / word-spotting / end-to-end precision, recall and hmean, recognition accuracy and CER on
ground-truth boxes, and the counts.
"""
import argparse
import sys
from pathlib import Path

try:
    import text_spotting  # noqa: F401
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from text_spotting.command_line import add_template_argument, comma_list, require_template, run_main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-weights", required=True,
                        help="checkpoint to evaluate (snapshot.pth, latest.pth, best.pth)")
    parser.add_argument("--test-ann-files", type=comma_list, required=True,
                        help="COCO-with-text annotation file(s), comma-separated")
    parser.add_argument("--test-data-roots", type=comma_list, required=True,
                        help="image root(s), one per annotation file, comma-separated")
    parser.add_argument("--save-metrics-to", type=Path, help="write every number (and model size/complexity) as YAML")
    parser.add_argument("--save-output-to", type=Path,
                        help="write predictions.json, submit.zip (ICDAR res_img_*.txt) and drawn images here")
    parser.add_argument("--lexicon", help="snap predicted texts to the nearest word of this file (one per line)")
    parser.add_argument("--workers", type=int, default=0, help="data loading worker processes (default 0)")
    parser.add_argument("--update-template", action="store_true",
                        help="also record the metrics in the work dir's template.yaml under 'metrics'")
    add_template_argument(parser, __file__)
    args = parser.parse_args(argv)
    args.template = require_template(args, parser)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from text_spotting.evaluation import EvaluationError, format_metrics_table
    from text_spotting.evaluation.model_evaluation import evaluate_model, save_metrics
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.models.complexity import count_gflops, count_mparams
    from text_spotting.templates import load_config, record_metrics

    cfg = load_config(args.template)
    spotter = EagerTextSpotter(cfg, args.load_weights)
    model_info = {"mparams": round(count_mparams(spotter.model), 3),
                  "gflops": round(count_gflops(spotter.model, tuple(cfg.input_size)), 3),
                  "sha256": spotter.weights_sha256, "format": "pytorch", "weights": str(Path(args.load_weights)),
                  "template": cfg.template["name"], "input_size": list(cfg.input_size)}
    try:
        evaluation = evaluate_model(spotter, args.test_ann_files, args.test_data_roots, workers=args.workers,
                                    lexicon_file=args.lexicon, output_dir=args.save_output_to,
                                    model_info=model_info)
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metrics = evaluation.metrics
    print(format_metrics_table(metrics))
    print(f"model: {model_info['mparams']} MParams, {model_info['gflops']} GFLOPs at "
          f"{cfg.input_size[0]}x{cfg.input_size[1]}, sha256 {model_info['sha256'][:12]}...")
    if args.save_metrics_to:
        save_metrics(evaluation, args.save_metrics_to)
        print(f"metrics: {args.save_metrics_to}")
    for path in evaluation.output_files:
        print(f"output: {path}")
    if args.update_template:
        record_metrics(args.template, metrics)
        print(f"template.yaml updated: {Path(args.template) / 'template.yaml'}")
    return 0


if __name__ == "__main__":
    from text_spotting.datasets.annotation_io import AnnotationError

    run_main(main, (AnnotationError,))
