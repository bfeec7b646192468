#!/usr/bin/env python3
"""Training speed of each model template on this machine: images/s of full training steps (data pipeline, forward,
backward, SGD step) at the template's input size, measured in one run and printed as a table.

    venv/bin/python tools/benchmark_training.py --iterations 10

Absolute numbers drift with the machine's load; compare rows of the same run.
"""
import argparse
import sys
import time
from pathlib import Path

from text_spotting.command_line import add_renamed_flags, one_path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / "data" / "horizontal_text_detection"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--templates", nargs="+", type=Path,
                        default=sorted(p for p in (REPO_ROOT / "model_templates").iterdir()
                                       if (p / "template.yaml").is_file()),
                        help="template dirs to measure (default: all in model_templates/)")
    parser.add_argument("--train-ann-files", type=one_path, default=DEFAULT_DATA / "annotation.json",
                        metavar="ANN.json", help="training data, one annotation file (default: the bundled set)")
    parser.add_argument("--train-data-roots", type=one_path, default=DEFAULT_DATA, metavar="DIR",
                        help="its image root")
    add_renamed_flags(parser, {"--ann-file": "--train-ann-files", "--data-root": "--train-data-roots"})
    parser.add_argument("--batch-size", type=int, help="images per step (default: each template's batch size)")
    parser.add_argument("--iterations", type=int, default=10, help="timed steps per template (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return parser.parse_args(argv)


def measure(template_dir: Path, args) -> dict:
    import torch
    from mmdet.registry import DATASETS, MODELS
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    from text_spotting import register_all_modules
    from text_spotting.models.complexity import count_mparams
    from text_spotting.templates import load_config

    register_all_modules()
    cfg = load_config(template_dir)
    batch_size = args.batch_size or cfg.train_dataloader.batch_size
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg.update(ann_file=str(args.train_ann_files.resolve()), data_root=str(args.train_data_roots.resolve()),
                       data_prefix=dict(img=""))
    dataset = DATASETS.build(dataset_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    step_times = []
    for step in range(args.warmup + args.iterations):
        indices = [(step * batch_size + i) % len(dataset) for i in range(batch_size)]
        start = time.perf_counter()
        batch = pseudo_collate([dataset[i] for i in indices])
        model.train_step(batch, optim_wrapper)
        if step >= args.warmup:
            step_times.append(time.perf_counter() - start)
    seconds = sum(step_times) / len(step_times)
    return {"template": cfg.template["name"], "input": f"{cfg.input_size[0]}x{cfg.input_size[1]}",
            "batch": batch_size, "mparams": count_mparams(model), "s_per_step": seconds,
            "images_per_s": batch_size / seconds}


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for template_dir in args.templates:
        print(f"measuring {template_dir.name} ...", flush=True)
        rows.append(measure(template_dir, args))
    fastest = max(row["images_per_s"] for row in rows)
    print(f"\ntraining speed, {args.iterations} steps after {args.warmup} warm-up, torch threads "
          f"{torch.get_num_threads()}, data: {args.train_ann_files}")
    header = f"| {'template':<20} | {'input':>9} | {'batch':>5} | {'MParams':>7} | {'s/step':>7} | {'images/s':>8} | " \
             f"{'vs fastest':>10} |"
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for row in rows:
        print(f"| {row['template']:<20} | {row['input']:>9} | {row['batch']:>5} | {row['mparams']:>7.2f} | "
              f"{row['s_per_step']:>7.2f} | {row['images_per_s']:>8.2f} | {row['images_per_s'] / fastest:>9.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
