#!/usr/bin/env python3
"""Makes a self-contained work dir from a model template (SPEC §3):

    python tools/instantiate_template.py model_templates/text-spotting-cpu/template.yaml work_dirs/cpu

The work dir gets template.yaml, model.py (inherits the template's config from _base_/<template>.py: write your
overrides below its _base_ line), the scripts train.py, eval.py, export.py, visualize.py, tune_thresholds.py and
train_recognizer.py (each takes its defaults from that dir), and the initial weights as snapshot.pth when the
template names some (checked against their sha256).
"""
import argparse
from pathlib import Path

from text_spotting.command_line import run_main
from text_spotting.work_dir import WorkDirError, instantiate_template


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("template", type=Path, help="path to a model template's template.yaml (or its folder)")
    parser.add_argument("work_dir", type=Path, help="directory to create (must be empty or absent)")
    parser.add_argument("--force", action="store_true", help="overwrite the files of a non-empty work dir")
    args = parser.parse_args(argv)
    written = instantiate_template(args.template, args.work_dir, force=args.force)
    print(f"work dir ready: {args.work_dir.resolve()}")
    for path in written:
        print(f"  {path.name}")
    print(f"next: cd {args.work_dir} && python train.py --help")
    return 0


if __name__ == "__main__":
    run_main(main, (WorkDirError,))
