#!/usr/bin/env python3
"""Scores a trained text spotter, a checkpoint or its exported OpenVINO IR, on annotated images (SPEC §2, §3). Run
the copy in a work dir:

    python eval.py --load-weights outputs/ckpt/best.pth \\
        --test-ann-files data/horizontal_text_detection/annotation.json \\
        --test-data-roots data/horizontal_text_detection --save-metrics-to metrics.yaml
    python eval.py --load-weights export/model.xml --test-ann-files ... --test-data-roots ...

Prints ICDAR 2015 detection / word-spotting / end-to-end precision, recall and hmean, recognition accuracy and CER on
ground-truth boxes (checkpoints only: an IR cannot read given boxes, so these are reported as n.a.), and the counts.
"""
import argparse
import sys
from pathlib import Path

from text_spotting.command_line import add_template_argument, comma_list, image_size, require_template, run_main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-weights", required=True, type=Path,
                        help="model to evaluate: a checkpoint (snapshot.pth, latest.pth, best.pth) or an OpenVINO "
                             "export (export/model.xml, export/model.bin or the export dir)")
    parser.add_argument("--test-ann-files", type=comma_list, required=True,
                        help="COCO-with-text annotation file(s), comma-separated")
    parser.add_argument("--test-data-roots", type=comma_list, required=True,
                        help="image root(s), one per annotation file, comma-separated")
    parser.add_argument("--save-metrics-to", type=Path, help="write every number (and model size/complexity) as YAML")
    parser.add_argument("--save-output-to", type=Path,
                        help="write predictions.json, submit.zip (ICDAR res_img_*.txt) and drawn images here")
    parser.add_argument("--lexicon", help="snap predicted texts to the nearest word of this file (one per line)")
    parser.add_argument("--workers", type=int, default=0,
                        help="data loading worker processes for a checkpoint (default 0)")
    parser.add_argument("--update-template", action="store_true",
                        help="also record the metrics in the work dir's template.yaml under 'metrics'")
    parser.add_argument("--device", default="CPU", help="OpenVINO device for an IR (default CPU)")
    parser.add_argument("--input-size", metavar="WxH", default=None, type=image_size,
                        help="checkpoint only: run the network at this input size instead of the template's "
                             "(e.g. 1280x768 for 1280x720 photos with small words; an IR has its size built in)")
    parser.add_argument("--dataset-name", default=None,
                        help="name the results are filed under (metrics.yaml, template.yaml); default: the "
                             "annotation file's stem, or its folder's name when the file is called annotation.json")
    add_template_argument(parser, __file__)
    args = parser.parse_args(argv)
    if args.update_template:
        args.template = require_template(args, parser)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from text_spotting.evaluation import EvaluationError, format_metrics_table
    from text_spotting.evaluation.model_evaluation import evaluate_model, save_metrics
    from text_spotting.inference import is_openvino_export
    from text_spotting.templates import record_metrics

    if is_openvino_export(args.load_weights):
        if args.input_size:
            print(f"error: {args.load_weights}: --input-size applies to checkpoints; an IR runs at the size it was "
                  "exported at (export.py --input-size)", file=sys.stderr)
            return 2
        spotter, model_info = openvino_model(args)
    else:
        spotter, model_info = pytorch_model(args)
    try:
        evaluation = evaluate_model(spotter, args.test_ann_files, args.test_data_roots, workers=args.workers,
                                    lexicon_file=args.lexicon, output_dir=args.save_output_to,
                                    model_info=model_info, dataset_name=args.dataset_name)
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metrics = evaluation.metrics
    print(format_metrics_table(metrics))
    for name, reason in metrics.get("not_available", {}).items():
        print(f"{name} on ground-truth boxes: n.a. ({reason})")
    size = "x".join(str(v) for v in model_info["input_size"])
    stats = f"{model_info['mparams']} MParams, {model_info['gflops']} GFLOPs at {size}" if "gflops" in model_info \
        else f"input {size}"
    kind = "PyTorch" if model_info["format"] == "pytorch" else f"OpenVINO IR {model_info['precision']}"
    print(f"model: {kind}, {stats}, sha256 {str(model_info.get('sha256'))[:12]}...")
    if args.save_metrics_to:
        save_metrics(evaluation, args.save_metrics_to)
        print(f"metrics: {args.save_metrics_to}")
    for path in evaluation.output_files:
        print(f"output: {path}")
    if args.update_template:
        record_metrics(args.template, metrics)
        print(f"template.yaml updated: {Path(args.template) / 'template.yaml'}")
    return 0


def pytorch_model(args):
    from text_spotting.inference import EagerTextSpotter, template_of_checkpoint
    from text_spotting.models.complexity import count_gflops, count_mparams
    from text_spotting.templates import load_config, with_input_size

    # Without --template (and not run from a work dir): the work dir above the checkpoint or the template it names.
    cfg = with_input_size(load_config(args.template or template_of_checkpoint(args.load_weights)), args.input_size)
    spotter = EagerTextSpotter(cfg, args.load_weights)
    model_info = {"mparams": round(count_mparams(spotter.model), 3),
                  "gflops": round(count_gflops(spotter.model, tuple(cfg.input_size)), 3), **spotter.model_info()}
    return spotter, model_info


def openvino_model(args):
    """The IR's spotter (loading checks its .bin files against export_config.yaml) and model info; MParams / GFLOPs are
    the template's recorded ``model_stats`` when --template (or the repository template the IR names) has them for
    the IR's input size."""
    from text_spotting.inference import OpenVINOTextSpotter
    from text_spotting.inference.loading import REPO_TEMPLATES
    from text_spotting.templates import load_template

    spotter = OpenVINOTextSpotter(args.load_weights, device=args.device)
    model_info = spotter.model_info()
    template_dir = args.template or REPO_TEMPLATES / str(model_info["template"])
    if (Path(template_dir) / "template.yaml").is_file():
        stats = load_template(template_dir).get("model_stats") or {}
        if stats and list(stats.get("gflops_input_size", [])) == model_info["input_size"]:
            model_info.update(mparams=stats["mparams"], gflops=stats["gflops"])
    return spotter, model_info


if __name__ == "__main__":
    from text_spotting.datasets.annotation_io import AnnotationError
    from text_spotting.inference import InferenceError

    run_main(main, (AnnotationError, InferenceError))
