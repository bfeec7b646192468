#!/usr/bin/env python3
"""Inference speed of PyTorch (eager) against the exported OpenVINO IR, on the same images in one run:

    venv/bin/python tools/benchmark.py                                   # text-spotting-cpu, generated scenes
    venv/bin/python tools/benchmark.py --templates model_templates/text-spotting-cpu \\
        --load-weights model_templates/text-spotting-cpu/snapshot.pth --images data/horizontal_text_detection/images

    venv/bin/python tools/benchmark.py --images ../shared/data/icdar2015_dev/images --num-images 20 \
        --precision FP32 INT8 --calibration-ann-files TRAIN.json --calibration-data-roots TRAIN_IMAGES

For each template: builds the model (its weights, or a seeded random init), exports it to a temporary directory in
each --precision (INT8: quantized by NNCF on the calibration images), then measures per-image latency (mean, p50,
p90 ms) of PyTorch and of each IR one image at a time (OpenVINO latency mode), and the throughput of each IR with
several images in flight (throughput mode, --requests). Prints a markdown
table with the per-stage split (preprocess, detector, text encoder, text decoder, postprocess) and the IR/PyTorch
ratio. Words per image matter: the decoder runs once per character for every word found, so a random-init model
(no --weights) that finds nothing or everything is much faster or slower than a trained one. Absolute numbers
drift with the machine's load; compare rows of the same run.
"""
import argparse
import tempfile
from pathlib import Path

from text_spotting.command_line import add_calibration_arguments, add_renamed_flags, load_calibration, run_main

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu"
RANDOM_INIT = "none"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--templates", nargs="+", type=Path, default=[DEFAULT_TEMPLATE],
                        help="template (or work) dirs to measure (default: model_templates/text-spotting-cpu)")
    parser.add_argument("--load-weights", nargs="+", metavar="W",
                        help=f"one checkpoint per template, in the same order; '{RANDOM_INIT}' for a seeded random "
                             f"init (default: each template's initial_weights, else random init)")
    parser.add_argument("--images", nargs="+", type=Path, metavar="PATH",
                        help="images or folders of images to run on (default: scenes from the synthetic generator "
                             "at each template's input size, 2-4 text blocks, typically 3-10 words)")
    parser.add_argument("--num-images", type=int, default=8, help="images used (default 8)")
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads of both runtimes (torch threads, OpenVINO INFERENCE_NUM_THREADS; default 2)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--runs", type=int, default=5, help="timed passes over the images (default 5)")
    parser.add_argument("--requests", type=int, default=2,
                        help="images in flight for the IR's throughput measurement (default 2; 0 skips it)")
    parser.add_argument("--precision", nargs="+", choices=("FP32", "FP16", "INT8"), default=["FP32"],
                        help="IR precision(s), each measured in the same run (default FP32). INT8 needs the "
                             "calibration flags")
    parser.add_argument("--device", default="CPU", help="OpenVINO device (default CPU)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random init and generated images")
    parser.add_argument("--save-metrics-to", type=Path, metavar="FILE.yaml", help="also write every number as YAML")
    add_calibration_arguments(parser)
    add_renamed_flags(parser, {"--weights": "--load-weights", "--save-results": "--save-metrics-to"})
    args = parser.parse_args(argv)
    if "INT8" in args.precision and not args.calibration_ann_files:
        parser.error("--precision INT8 needs --calibration-ann-files and --calibration-data-roots")
    if args.calibration_ann_files and "INT8" not in args.precision:
        parser.error("the calibration flags are for --precision INT8")
    if args.calibration_images < 1:
        parser.error("--calibration-images must be at least 1")
    if args.load_weights and len(args.load_weights) != len(args.templates):
        parser.error(f"--load-weights: {len(args.load_weights)} given for {len(args.templates)} templates (use "
                     f"'{RANDOM_INIT}' for a random init)")
    for name in ("num_images", "threads", "runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.requests < 0:
        parser.error("--warmup and --requests must not be negative")
    return args


def weights_for(template_dir: Path, given: str | None) -> Path | None:
    from text_spotting.templates import load_template

    if given is not None:
        return None if given.lower() == RANDOM_INIT else Path(given)
    initial = load_template(template_dir).get("initial_weights")
    return template_dir / initial if initial else None


def measure_template(template_dir: Path, weights: Path | None, args, calibration=None) -> tuple[str, list, dict]:
    import torch

    from text_spotting.export import export_model
    from text_spotting.inference import EagerTextSpotter, OpenVINOTextSpotter
    from text_spotting.inference.timing import load_images, measure_async_throughput, measure_latency
    from text_spotting.inference.video import list_images
    from text_spotting.synthetic import synthetic_images
    from text_spotting.templates import load_config

    cfg = load_config(template_dir)
    name = cfg.template["name"]
    torch.manual_seed(args.seed)
    eager = EagerTextSpotter(cfg, weights)
    images = load_images(list_images(args.images), args.num_images) if args.images else \
        synthetic_images(cfg.input_size, args.num_images, args.seed)
    print(f"{name}: {'weights ' + str(weights) if weights else 'random init'}, {len(images)} images "
          f"({'from ' + ' '.join(map(str, args.images)) if args.images else 'generated'}), exporting...", flush=True)
    results = [measure_latency(eager, images, "pytorch", args.warmup, args.runs)]
    with tempfile.TemporaryDirectory(prefix="benchmark_export_") as tmp:
        for precision in args.precision:
            export_dir = Path(tmp) / precision
            export_model(cfg, export_dir, weights=weights, model=eager.model, precision=precision, progress=False,
                         calibration=calibration if precision == "INT8" else None)
            with OpenVINOTextSpotter(export_dir, device=args.device, num_threads=args.threads) as sync:
                results.append(measure_latency(sync, images, f"openvino {precision}", args.warmup, args.runs))
            if args.requests:
                with OpenVINOTextSpotter(export_dir, device=args.device, num_threads=args.threads,
                                         num_requests=args.requests) as pipelined:
                    results.append(measure_async_throughput(pipelined, images,
                                                            f"openvino {precision} async x{args.requests}",
                                                            args.warmup, args.runs))
    info = {"template": name, "input_size": list(cfg.input_size), "weights": str(weights) if weights else None,
            "images": len(images)}
    return name, results, info


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from text_spotting.inference.timing import format_speed_table

    torch.set_num_threads(args.threads)
    rows, summaries = [], []
    calibration = load_calibration(args)
    for index, template_dir in enumerate(args.templates):
        weights = weights_for(template_dir, args.load_weights[index] if args.load_weights else None)
        name, results, info = measure_template(template_dir, weights, args, calibration)
        rows.extend((name, result) for result in results)
        summaries.append((name, results, info))

    print(f"\ninference speed, {args.runs} passes over the images after {args.warmup} warm-up runs, "
          f"{args.threads} threads, device {args.device}\n")
    print(format_speed_table(rows))
    print()
    for name, results, info in summaries:
        eager = results[0]
        width, height = info["input_size"]
        by_name = {result.name: result for result in results}
        for precision in args.precision:
            ir = by_name[f"openvino {precision}"]
            line = (f"{name} ({width}x{height}) {precision}: IR/PyTorch mean latency {ir.latency_ms['mean']:.1f} / "
                    f"{eager.latency_ms['mean']:.1f} ms = {eager.latency_ms['mean'] / ir.latency_ms['mean']:.1f}x "
                    f"faster; {ir.throughput:.1f} img/s one at a time")
            pipelined = by_name.get(f"openvino {precision} async x{args.requests}")
            if pipelined is not None:
                line += f", {pipelined.throughput:.1f} img/s with {args.requests} in flight"
            print(line + f" ({ir.words_per_image:.1f} words per image)")
    if args.save_metrics_to:
        save_results(args, summaries)
        print(f"results: {args.save_metrics_to}")
    return 0


def save_results(args, summaries) -> None:
    import yaml

    document = {"settings": {"threads": args.threads, "warmup": args.warmup, "runs": args.runs,
                             "requests": args.requests, "precision": list(args.precision), "device": args.device,
                             "calibration": {"ann_files": args.calibration_ann_files,
                                             "images": args.calibration_images} if args.calibration_ann_files
                             else None},
                "templates": []}
    for name, results, info in summaries:
        entry = dict(info)
        entry["runtimes"] = {result.name: {"latency_ms": result.latency_ms, "throughput": result.throughput,
                                           "stages_ms": result.stages_ms, "words_per_image": result.words_per_image}
                             for result in results}
        document["templates"].append(entry)
    args.save_metrics_to.parent.mkdir(parents=True, exist_ok=True)
    args.save_metrics_to.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    from text_spotting.export import ExportError
    from text_spotting.inference import InferenceError
    from text_spotting.inference.video import FrameSourceError

    run_main(main, (ExportError, InferenceError, FrameSourceError))
