#!/usr/bin/env python3
"""Makes a trained checkpoint the template's shipped weights:

    venv/bin/python tools/release_weights.py --checkpoint /work/runs/cpu_ckpt/best.pth \
        --template model_templates/text-spotting-cpu

writes TEMPLATE/snapshot.pth (weights only, FP16 unless --fp32; no optimizer state: a few MB instead of tens) and records
its name and sha256 as `initial_weights` / `initial_weights_sha256` in TEMPLATE/template.yaml. The checkpoint must fit
the template (every tensor present, same shapes). One current weights file per template: the old snapshot is replaced.
Then measure it with eval.py --update-template, which records the metrics next to the sha256.
"""
import argparse
import sys
from pathlib import Path

from text_spotting.command_line import run_main

SNAPSHOT_FILE = "snapshot.pth"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, type=Path, help="training checkpoint (latest.pth / best.pth)")
    parser.add_argument("--template", required=True, type=Path, help="template dir to ship the weights in")
    parser.add_argument("--fp32", action="store_true", help="keep FP32 tensors (default: FP16, half the size)")
    parser.add_argument("--recipe", default=None,
                        help="one line saying how the weights were trained (stored in the snapshot's meta)")
    args = parser.parse_args(argv)

    from text_spotting.inference import EagerTextSpotter
    from text_spotting.templates import find_template_dir, load_config, record_initial_weights
    from text_spotting.checkpoint import make_snapshot, sha256_of

    template_dir = find_template_dir(args.template)
    cfg = load_config(template_dir)
    EagerTextSpotter(cfg, args.checkpoint)  # raises CheckpointError when it does not fit the template
    out = template_dir / SNAPSHOT_FILE
    meta = {"template": cfg.template["name"]}
    if args.recipe:
        meta["recipe"] = args.recipe
    written = make_snapshot(args.checkpoint, out, half=not args.fp32, meta=meta)
    digest = sha256_of(out)
    EagerTextSpotter(cfg, out)  # the snapshot loads back into the template's model
    record_initial_weights(template_dir, SNAPSHOT_FILE, digest)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {written['precision']}, epoch {written['epoch']}, "
          f"from {args.checkpoint})\nsha256 {digest} recorded in {template_dir / 'template.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
