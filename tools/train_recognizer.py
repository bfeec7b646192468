#!/usr/bin/env python3
"""Trains the recognition head alone on words cut out once (a fast stage for CPUs; the detector is unchanged):

    venv/bin/python tools/train_recognizer.py --load-weights work_dirs/cpu/outputs/latest.pth \\
        --train-ann-files work_dirs/synth/annotation.json --train-data-roots work_dirs/synth \\
        --save-checkpoints-to work_dirs/cpu/recognizer [--iterations 1500] [--batch-size 128] \\
        [--val-ann-files HELD_OUT.json --val-data-roots ROOT]

goes once over the training images (resized like at inference) and keeps what the recognition head reads for every
legible word, at its ground-truth place plus --copies - 1 jittered ones: for the ctc kind (text-spotting-cpu) the
rectified crop of the network input (the same crop routine as at inference; about 40 kB per copy), for the attention
kind the 28x28 text RoI features of the backbone + FPN (about 100 kB per copy). Then trains only the recognition head
on random batches of them with AdamW (warm-up, cosine decay), even where the template freezes it for joint training.
Prints the loss and the accuracy on held-out words as it goes (the words of --val-ann-files, else --val-fraction of
the training words) and writes the checkpoint's weights with the new recognition head to --save-checkpoints-to
DIR/latest.pth after every evaluation, and to DIR/best.pth when the held-out accuracy beats every earlier one
(the one before training included): checkpoints for eval.py, export.py, release_weights.py or train.py
--load-weights.
"""
import argparse
import os
import time
from pathlib import Path

from text_spotting.command_line import add_renamed_flags, add_template_argument, comma_list, run_main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-weights", required=True, type=Path, help="checkpoint whose detector features to use")
    add_template_argument(parser, __file__, or_checkpoints=True)
    parser.add_argument("--train-ann-files", type=comma_list, required=True, help="COCO-with-text file(s)")
    parser.add_argument("--train-data-roots", type=comma_list, required=True, help="their image roots")
    parser.add_argument("--val-ann-files", type=comma_list, default=None,
                        help="held-out words from other images (default: --val-fraction of the training words)")
    parser.add_argument("--val-data-roots", type=comma_list, default=None, help="their image roots")
    parser.add_argument("--save-checkpoints-to", required=True, type=Path, metavar="DIR",
                        help="where the checkpoint goes: DIR/latest.pth (as train.py writes it)")
    parser.add_argument("--iterations", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--batch-size", type=int, default=128, help="words per step (default 128)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="AdamW peak learning rate (default 1e-3)")
    parser.add_argument("--copies", type=int, default=2,
                        help="RoIs per word: its box, then jittered ones (default 2)")
    parser.add_argument("--jitter", type=float, default=0.1,
                        help="largest move of a jittered box edge, in box heights (default 0.1)")
    parser.add_argument("--frozen", type=comma_list, default=[], metavar="PREFIX[,PREFIX]",
                        help="head parameters whose names start with one of these stay fixed, e.g. "
                             "recognizer.backbone.stem,recognizer.backbone.stages.0,recognizer.backbone.stages.1 "
                             "(the ctc recognizer's full-resolution stages: a step 4x faster)")
    parser.add_argument("--max-images", type=int, default=0, help="use the first N images only (0 = all)")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="measure held-out accuracy and save the checkpoint every N iterations (default: 10 times)")
    parser.add_argument("--val-fraction", type=float, default=0.05,
                        help="training words held out for accuracy when there are no --val-ann-files (default 0.05)")
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
    if (args.val_ann_files is None) != (args.val_data_roots is None) or (
            args.val_ann_files and len(args.val_ann_files) != len(args.val_data_roots)):
        parser.error("--val-ann-files and --val-data-roots go together, with the same number of entries")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # Crops come in many widths; oneDNN caches compiled kernels per input shape, and with gradients that cache grew
    # by ~0.1 GB per new width (18 GB after 60 steps of the ctc recognizer). Without the cache a step takes as long.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0")
    import torch
    from torch.utils.data import Subset

    from text_spotting.evaluation.model_evaluation import build_test_dataset
    from text_spotting.inference import EagerTextSpotter, template_of_checkpoint
    from text_spotting.templates import load_config
    from text_spotting.training.recognition_stage import (extract_words, recognition_accuracy, recognition_head,
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
    progress = not args.no_progress
    words = extract_words(spotter.model, dataset, copies=args.copies, jitter=args.jitter, seed=args.seed,
                          progress=progress)
    if args.val_ann_files:
        train = words
        held_out = extract_words(spotter.model, build_test_dataset(cfg, args.val_ann_files, args.val_data_roots),
                                 copies=1, progress=progress)
    else:
        train, held_out = words.split(args.val_fraction, seed=args.seed)
    extracted = time.perf_counter() - start
    text_head, _ = recognition_head(spotter.model)
    kind = "crops" if spotter.model.recognizer_kind == "ctc" else "RoIs"
    before = recognition_accuracy(text_head, held_out)
    print(f"{len(words)} word {kind} from {len(dataset)} images ({extracted:.0f} s, {words.nbytes() / 2**20:.0f} MiB); "
          f"{len(held_out)} held out, accuracy before: {before:.3f}")
    out, best_out = args.save_checkpoints_to / "latest.pth", args.save_checkpoints_to / "best.pth"
    best = {"accuracy": before}

    def save(entry):  # after every evaluation: a run stopped early keeps its last evaluated head
        meta = {"recognition_stage": f"{entry['iteration']} of {args.iterations} iterations x {args.batch_size} "
                                     f"words, {len(words)} word {kind}, lr {args.learning_rate}, frozen "
                                     f"{args.frozen or None}, held-out accuracy {before:.3f} -> "
                                     f"{entry.get('accuracy', float('nan')):.3f}"}
        save_with_text_head(args.load_weights, spotter.model, out, meta=meta)
        if entry.get("accuracy", float("-inf")) > best["accuracy"]:
            best.update(entry)
            save_with_text_head(args.load_weights, spotter.model, best_out, meta=meta)

    log = train_text_head(text_head, train, args.iterations, args.batch_size, args.learning_rate, seed=args.seed,
                          held_out=held_out, eval_every=args.eval_every, progress=not args.no_progress, on_eval=save,
                          frozen=args.frozen)
    print(summarize(log))
    final = log[-1].get("accuracy", float("nan"))
    print(f"held-out accuracy {before:.3f} -> {final:.3f} in {time.perf_counter() - start:.0f} s; wrote {out}")
    if "iteration" in best:
        print(f"best held-out accuracy {best['accuracy']:.3f} at iteration {best['iteration']}: {best_out}")
    else:
        print(f"no evaluation beat the held-out accuracy before training ({before:.3f}): no {best_out.name} written")
    return 0


if __name__ == "__main__":
    from text_spotting.datasets.annotation_io import AnnotationError
    from text_spotting.inference import InferenceError
    from text_spotting.templates import TemplateError
    from text_spotting.checkpoint import CheckpointError

    run_main(main, (AnnotationError, InferenceError, TemplateError, CheckpointError, ValueError))
