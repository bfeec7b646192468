#!/usr/bin/env python3
"""Chooses a checkpoint's detection and recognition thresholds on a validation set:

    venv/bin/python tools/tune_thresholds.py --load-weights model_templates/text-spotting-cpu/snapshot.pth \\
        --template model_templates/text-spotting-cpu --val-ann-files work_dirs/icdar/val50.json \\
        --val-data-roots ../shared/data/icdar2015_train/images [--input-size 1280x768] [--update-template]

runs the model once over the images with the lowest thresholds of the sweep, then scores every (detection,
recognition) pair with the ICDAR 2015 evaluator (no second pass of the model) and prints a table of detection, word
spotting and end-to-end hmean per pair, and the best pair by --optimize. --update-template writes that pair into the
template's template.yaml (`thresholds`); measure the template again with eval.py --update-template afterwards.
Tune on a validation set, never on the set you report.
"""
import argparse
from pathlib import Path

from text_spotting.command_line import add_renamed_flags, add_template_argument, image_size, one_path, run_main


def thresholds_list(value: str) -> list[float]:
    """``"0.3,0.5,0.7"`` -> ``[0.3, 0.5, 0.7]``, each in [0, 1] (argparse type)."""
    try:
        values = sorted({float(item) for item in value.split(",") if item.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {value!r}") from None
    if not values or values[0] < 0 or values[-1] > 1:
        raise argparse.ArgumentTypeError(f"expected one or more numbers in [0, 1], got {value!r}")
    return values


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-weights", required=True, type=Path, help="checkpoint (snapshot.pth, best.pth, ...)")
    add_template_argument(parser, __file__, or_checkpoints=True)
    parser.add_argument("--val-ann-files", required=True, type=one_path, metavar="ANN.json",
                        help="validation set: one COCO-with-text annotation file")
    parser.add_argument("--val-data-roots", required=True, type=one_path, metavar="DIR", help="its image root")
    add_renamed_flags(parser, {"--ann": "--val-ann-files", "--images": "--val-data-roots"})
    parser.add_argument("--input-size", metavar="WxH", type=image_size, default=None,
                        help="inference input size (default: the template's)")
    parser.add_argument("--detection", type=thresholds_list, default=thresholds_list("0.3,0.4,0.5,0.6,0.7,0.8"),
                        help="detection thresholds to try (default 0.3,0.4,0.5,0.6,0.7,0.8)")
    parser.add_argument("--recognition", type=thresholds_list,
                        default=thresholds_list("0,0.05,0.1,0.2,0.3,0.4,0.5,0.7"),
                        help="recognition (text confidence) thresholds to try (default 0,0.05,0.1,0.2,0.3,0.4,0.5,0.7)")
    parser.add_argument("--optimize", choices=("word_spotting", "e2e_recognition", "detection"),
                        default="word_spotting", help="the hmean the best pair maximizes (default word_spotting)")
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0 = all)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--update-template", action="store_true",
                        help="write the best pair into the template's template.yaml")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm

    from text_spotting.evaluation import best_thresholds, sweep_thresholds
    from text_spotting.inference import EagerTextSpotter, template_of_checkpoint
    from text_spotting.peers.benchmark import load_benchmark_set, words_to_predictions
    from text_spotting.templates import load_config, record_thresholds, with_input_size, with_thresholds

    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    template = args.template or template_of_checkpoint(args.load_weights)
    data = load_benchmark_set(args.val_ann_files, args.val_data_roots, args.limit)
    cfg = with_thresholds(with_input_size(load_config(template), args.input_size), args.detection[0],
                          args.recognition[0])
    spotter = EagerTextSpotter(cfg, args.load_weights)
    predictions = [words_to_predictions(spotter.predict(data.read(index))[0])
                   for index in tqdm(range(len(data)), desc="predicting", unit="img", dynamic_ncols=True)]
    scores = sweep_thresholds(data.gt.images, predictions, args.detection, args.recognition,
                              image_names=data.gt.file_names)
    best = best_thresholds(scores, args.optimize)
    size = "x".join(str(v) for v in cfg.input_size)
    print(f"\n{len(data)} images of {args.val_ann_files}, input {size}: "
          "hmean per (detection, recognition) threshold pair\n")
    print("| detection thr | recognition thr | detection | word spotting | end-to-end |")
    print("| --- | --- | --- | --- | --- |")
    for score in scores:
        mark = " **best**" if score == best else ""
        print(f"| {score.detection_threshold:g} | {score.recognition_threshold:g} | {score.detection:.4f} | "
              f"{score.word_spotting:.4f} | {score.e2e_recognition:.4f} |{mark}")
    print(f"\nbest by {args.optimize}: detection {best.detection_threshold:g}, recognition "
          f"{best.recognition_threshold:g} (detection {best.detection:.4f}, word spotting {best.word_spotting:.4f}, "
          f"end-to-end {best.e2e_recognition:.4f})")
    if args.update_template:
        record_thresholds(template, best.detection_threshold, best.recognition_threshold)
        print(f"thresholds written to {Path(template) / 'template.yaml'}")
    return 0


if __name__ == "__main__":
    from text_spotting.datasets.annotation_io import AnnotationError
    from text_spotting.evaluation import EvaluationError
    from text_spotting.inference import InferenceError
    from text_spotting.templates import TemplateError
    from text_spotting.checkpoint import CheckpointError

    run_main(main, (AnnotationError, EvaluationError, InferenceError, TemplateError, CheckpointError))
