#!/usr/bin/env python3
"""Plots validation metrics against training hours from a checkpoints dir (all its runs, resumes included):

    venv/bin/python tools/plot_training_curve.py /work/runs/cpu_ckpt --output outputs/curve.png

prints a markdown table (epoch, iterations, training hours, detection / word spotting / e2e hmean) and draws the curve.
Hours count training iterations only (their logged mean time), not validation.
"""
import argparse
import sys
from pathlib import Path

from text_spotting.command_line import add_renamed_flags, run_main

CURVES = (("detection/hmean", "detection hmean"), ("word_spotting/hmean", "word spotting hmean"),
          ("e2e_recognition/hmean", "end-to-end hmean"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints_dir", type=Path, help="train.py's --save-checkpoints-to dir")
    parser.add_argument("--output", type=Path, default=None, help="PNG to write (default: DIR/training_curve.png)")
    parser.add_argument("--title", default=None, help="plot title (default: the dir name)")
    add_renamed_flags(parser, {"--out": "--output"})
    args = parser.parse_args(argv)

    from text_spotting.training.curve import read_scalar_logs, training_curve

    if not args.checkpoints_dir.is_dir():
        raise FileNotFoundError(f"{args.checkpoints_dir}: no such checkpoints dir")
    points = training_curve(read_scalar_logs(args.checkpoints_dir))
    if not points:
        raise FileNotFoundError(f"{args.checkpoints_dir}: no validation results in */vis_data/scalars.json yet "
                                "(train with --val-ann-files)")
    print("| epoch | iterations | training hours | " + " | ".join(label for _, label in CURVES) + " |")
    print("| --- | --- | --- |" + " --- |" * len(CURVES))
    for point in points:
        values = " | ".join(f"{point.metrics.get(key, float('nan')):.3f}" for key, _ in CURVES)
        print(f"| {point.epoch} | {point.iteration} | {point.hours:.2f} | {values} |")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = args.output or args.checkpoints_dir / "training_curve.png"
    figure, axis = plt.subplots(figsize=(7, 4), dpi=120)
    hours = [p.hours for p in points]
    for key, label in CURVES:
        axis.plot(hours, [p.metrics.get(key, float("nan")) for p in points], marker="o", label=label)
    axis.set_xlabel("training hours (CPU)")
    axis.set_ylabel("hmean on the validation set")
    axis.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    axis.set_title(args.title or args.checkpoints_dir.name)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    print(f"\ncurve: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, (FileNotFoundError,)))
