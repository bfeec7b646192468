#!/usr/bin/env python3
"""Trains a text spotter (SPEC §3). Run the copy in a work dir made by instantiate_template.py:

    python train.py --train-ann-files data/horizontal_text_detection/annotation.json \\
        --train-data-roots data/horizontal_text_detection --save-checkpoints-to outputs/ckpt

Every flag not given takes its default from the work dir's template.yaml / model.py.
"""
import argparse
from pathlib import Path

from text_spotting.command_line import add_template_argument, comma_list, require_template, run_main
from text_spotting.training import TrainingError, TrainOptions, train


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-ann-files", type=comma_list, required=True,
                        help="COCO-with-text annotation file(s), comma-separated")
    parser.add_argument("--train-data-roots", type=comma_list, required=True,
                        help="image root(s), one per annotation file, comma-separated")
    parser.add_argument("--val-ann-files", type=comma_list, default=[],
                        help="validation annotation file(s); validation runs after every epoch and picks best.pth")
    parser.add_argument("--val-data-roots", type=comma_list, default=[], help="validation image root(s)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--load-weights", help="start a NEW schedule from these weights (partial load; mismatched "
                                              "layers are reported and left at their init)")
    start.add_argument("--resume-from", help="continue the schedule saved in this checkpoint (epoch, optimizer, LR "
                                             "scheduler, RNG); --epochs is the total")
    parser.add_argument("--save-checkpoints-to", type=Path, required=True,
                        help="output dir: latest.pth, best.pth (by word-spotting hmean), logs, TensorBoard")
    parser.add_argument("--epochs", type=int, help="total number of epochs (default: template)")
    parser.add_argument("--batch-size", type=int, help="images per batch per process (default: template)")
    parser.add_argument("--base-learning-rate", type=float,
                        help="learning rate of model.py's optimizer (SGD or AdamW; parts with an lr_mult train at "
                             "that multiple of it; default: template)")
    parser.add_argument("--gpu-num", type=int, default=1,
                        help="number of processes (GPUs, or CPU processes with gloo when there is no GPU); >1 runs "
                             "distributed data-parallel, each process on its own shard")
    parser.add_argument("--workers", type=int, help="data loading worker processes per training process")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    add_template_argument(parser, __file__)
    args = parser.parse_args(argv)
    args.template = require_template(args, parser)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    opts = TrainOptions(
        template_dir=args.template, train_ann_files=args.train_ann_files, train_data_roots=args.train_data_roots,
        val_ann_files=args.val_ann_files, val_data_roots=args.val_data_roots, load_weights=args.load_weights,
        resume_from=args.resume_from, save_checkpoints_to=args.save_checkpoints_to, epochs=args.epochs,
        batch_size=args.batch_size, base_learning_rate=args.base_learning_rate, gpu_num=args.gpu_num,
        workers=args.workers, seed=args.seed)
    return train(opts)


if __name__ == "__main__":
    run_main(main, (TrainingError,))
