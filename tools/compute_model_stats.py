#!/usr/bin/env python3
"""Computes a template's model size (MParams) and complexity (GFLOPs at its input size) and, with --update, writes
them into its template.yaml under `model_stats` (so they are computed, never typed):

    venv/bin/python tools/compute_model_stats.py model_templates/*/ --update
"""
import argparse
from pathlib import Path

from text_spotting.command_line import run_main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("templates", nargs="+", type=Path, help="template or work dirs")
    parser.add_argument("--update", action="store_true", help="write the numbers into each template.yaml")
    args = parser.parse_args(argv)
    from mmdet.registry import MODELS

    from text_spotting import register_all_modules
    from text_spotting.models.complexity import TYPICAL_WORDS, count_gflops, count_mparams
    from text_spotting.templates import load_config, record_model_stats

    register_all_modules()
    print(f"| template | input | MParams | GFLOPs ({TYPICAL_WORDS} words) |\n| --- | --- | --- | --- |")
    for template in args.templates:
        cfg = load_config(template)
        model = MODELS.build(cfg.model)
        stats = {"mparams": round(count_mparams(model), 3),
                 "gflops": round(count_gflops(model, tuple(cfg.input_size)), 3),
                 "input_size": list(cfg.input_size)}
        print(f"| {cfg.template['name']} | {cfg.input_size[0]}x{cfg.input_size[1]} | {stats['mparams']} | "
              f"{stats['gflops']} |")
        if args.update:
            record_model_stats(template, stats)
    return 0


if __name__ == "__main__":
    run_main(main)
