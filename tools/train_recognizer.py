#!/usr/bin/env python3
"""Trains the recognition head alone on frozen detector features (a fast stage for CPUs):

    venv/bin/python tools/train_recognizer.py --load-weights work_dirs/cpu/outputs/latest.pth \\
        --train-ann-files work_dirs/synth/annotation.json --train-data-roots work_dirs/synth \\
        --save-checkpoints-to work_dirs/cpu/recognizer [--iterations 1500] [--batch-size 128]

runs the checkpoint's backbone + FPN once over the training images (resized like at inference), keeps the 28x28
text RoI features of every legible word (the ground-truth box plus --copies - 1 jittered boxes), then trains only the
recognition head (encoder + attention decoder) on random batches of them with AdamW (warm-up, cosine decay). Prints
the loss and the accuracy on --val-fraction held-out words as it goes, and writes the checkpoint's weights with the
new recognition head to --save-checkpoints-to DIR/latest.pth after every evaluation (detector unchanged; a checkpoint
for eval.py, export.py, release_weights.py or train.py --load-weights). Memory: about 100 kB per word copy (64-channel features, FP16).
"""
import argparse
import time
from pathlib import Path

from text_spotting.command_line import add_renamed_flags, comma_list, run_main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-weights", required=True, type=Path, help="checkpoint whose detector features to use")
    parser.add_argument("--template", type=Path, default=None,
                        help="template or work dir (default: the one the checkpoint was trained from)")
    parser.add_argument("--train-ann-files", type=comma_list, required=True, help="COCO-with-text file(s)")
    parser.add_argument("--train-data-roots", type=comma_list, required=True, help="their image roots")
    parser.add_argument("--save-checkpoints-to", required=True, type=Path, metavar="DIR",
                        help="where the checkpoint goes: DIR/latest.pth (as train.py writes it)")
    parser.add_argument("--iterations", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--batch-size", type=int, default=128, help="words per step (default 128)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="AdamW peak learning rate (default 1e-3)")
    parser.add_argument("--copies", type=int, default=2,
                        help="RoIs per word: its box, then jittered ones (default 2)")
    parser.add_argument("--jitter", type=float, default=0.1,
                        help="largest move of a jittered box edge, in box heights (default 0.1)")
    parser.add_argument("--max-images", type=int, default=0, help="use the first N images only (0 = all)")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="measure held-out accuracy and save the checkpoint every N iterations (default: 10 times)")
    parser.add_argument("--val-fraction", type=float, default=0.05, help="words held out for accuracy (default 0.05)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_renamed_flags(parser, {"--save-to": "--save-checkpoints-to"})
    args = parser.parse_args(argv)
    if args.eval_every < 0:
        parser.error("--eval-every must be 0 (10 times per run) or more")
    for name in ("iterations", "batch_size", "copies"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.val_fraction < 1:
        parser.error("--val-fraction must be in [0, 1)")
    if len(args.train_ann_files) != len(args.train_data_roots):
        parser.error("--train-ann-files and --train-data-roots must have the same number of entries")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    from torch.utils.data import Subset

    from text_spotting.evaluation.model_evaluation import build_test_dataset
    from text_spotting.inference import EagerTextSpotter, template_of_checkpoint
    from text_spotting.templates import load_config
    from text_spotting.training.recognition_stage import (extract_word_features, recognition_accuracy,
                                                          save_with_text_head, summarize, train_text_head)

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = load_config(args.template or template_of_checkpoint(args.load_weights))
    spotter = EagerTextSpotter(cfg, args.load_weights)
    dataset = build_test_dataset(cfg, args.train_ann_files, args.train_data_roots)
    if args.max_images:
        dataset = Subset(dataset, range(min(args.max_images, len(dataset))))
    start = time.perf_counter()
    words = extract_word_features(spotter.model, dataset, copies=args.copies, jitter=args.jitter, seed=args.seed,
                                  progress=not args.no_progress)
    train, held_out = words.split(args.val_fraction, seed=args.seed)
    extracted = time.perf_counter() - start
    text_head = spotter.model.roi_head.text_head
    before = recognition_accuracy(text_head, held_out)
    print(f"{len(words)} word RoIs from {len(dataset)} images ({extracted:.0f} s, "
          f"{words.features.numel() * 2 / 2**20:.0f} MiB); {len(held_out)} held out, accuracy before: {before:.3f}")
    out = args.save_checkpoints_to / "latest.pth"

    def save(entry):  # after every evaluation: a run stopped early keeps its last evaluated head
        save_with_text_head(args.load_weights, spotter.model, out,
                            meta={"recognition_stage": f"{entry['iteration']} of {args.iterations} iterations x "
                                                        f"{args.batch_size} words, {len(words)} word RoIs, "
                                                        f"lr {args.learning_rate}"})

    log = train_text_head(text_head, train, args.iterations, args.batch_size, args.learning_rate, seed=args.seed,
                          held_out=held_out, eval_every=args.eval_every, progress=not args.no_progress, on_eval=save)
    print(summarize(log))
    final = log[-1].get("accuracy", float("nan"))
    print(f"held-out accuracy {before:.3f} -> {final:.3f} in {time.perf_counter() - start:.0f} s; wrote "
          f"{out}")
    return 0


if __name__ == "__main__":
    from text_spotting.datasets.annotation_io import AnnotationError
    from text_spotting.inference import InferenceError
    from text_spotting.templates import TemplateError
    from text_spotting.checkpoint import CheckpointError

    run_main(main, (AnnotationError, InferenceError, TemplateError, CheckpointError, ValueError))
