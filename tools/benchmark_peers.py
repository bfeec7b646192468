#!/usr/bin/env python3
"""Our text spotter next to other OCR engines, on the same images, scored by our ICDAR 2015 evaluator and timed.

    venv/bin/python tools/benchmark_peers.py --test-ann-files data/horizontal_text_detection/annotation.json \\
        --test-data-roots data/horizontal_text_detection --load-weights outputs/ckpt/best.pth \\
        --templates model_templates/text-spotting-cpu --input-sizes 640x384,1280x768 \\
        --save-metrics-to peers.md,peers.yaml

Methods: our model as exported OpenVINO IR and/or PyTorch checkpoint (eager, at each --input-sizes), RapidOCR
(PP-OCR on onnxruntime; its text lines are split into words by character share) and Tesseract (word boxes of
image_to_data). Peers are optional (pip install .[peers] and apt-get install tesseract-ocr); a missing one is
skipped with a message. Prints one table: detection precision/recall/hmean, word-spotting and end-to-end hmean, CER
of the recognizer on the legible ground-truth words, mean and p90 milliseconds per image and images per second.
"""
import argparse
import sys
from pathlib import Path

from text_spotting.command_line import add_renamed_flags, comma_list, one_path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = REPO_ROOT / "model_templates"
DEFAULT_PEERS = "rapidocr,tesseract"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-ann-files", required=True, type=one_path, metavar="ANN.json",
                        help="ground truth: one COCO-with-text annotation file (SPEC §1)")
    parser.add_argument("--test-data-roots", required=True, type=one_path, metavar="DIR",
                        help="its image root: the annotation's file_name entries are relative to it")
    parser.add_argument("--load-weights", type=comma_list, default=None, metavar="W[,W2...]",
                        help="our model(s), comma-separated: checkpoints (.pth, run eager with PyTorch) and/or "
                             "exported IRs (export dir, model.xml or model.bin, run with OpenVINO at the IR's own "
                             "input size). Default: the initial_weights of each of --templates that has some")
    parser.add_argument("--templates", type=comma_list, default=None,
                        help="template or work dir(s) for the checkpoints: one for all of them or one per "
                             "checkpoint, in order. Default: the work dir the checkpoint lies in (up to three "
                             "folders above it), else the template named in the checkpoint. Without --load-weights: "
                             "the templates whose initial_weights to run (default every template under "
                             "model_templates/)")
    parser.add_argument("--input-sizes", type=comma_list, default=None, metavar="WxH[,WxH]",
                        help="run each checkpoint at these network input sizes (e.g. 640x384,1280x768; width x "
                             "height), resizing like the template's test pipeline. Default: the template's "
                             "input_size. An IR runs at the size it was exported at (export.py --input-size)")
    parser.add_argument("--peers", type=comma_list, default=comma_list(DEFAULT_PEERS),
                        help=f"other engines to run, comma-separated, or 'none' (default {DEFAULT_PEERS}); a "
                             "peer that is not installed is skipped with a message")
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads of every method: torch, OpenVINO, onnxruntime intra-op, tesseract's "
                             "OMP_THREAD_LIMIT, OpenCV (default 2)")
    parser.add_argument("--limit", type=int, default=0, help="use the first N images of the annotation (0 = all)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed calls on the first image(s) before timing each method (default 1)")
    parser.add_argument("--no-recognition", action="store_true",
                        help="skip the second, untimed pass that reads the legible ground-truth words with each "
                             "method's recognizer (recognition accuracy and CER are then left out)")
    parser.add_argument("--tesseract-psm", type=int, default=3,
                        help="Tesseract page segmentation mode for whole images (default 3, Tesseract's own: full "
                             "page layout analysis; 11 = sparse text)")
    parser.add_argument("--save-metrics-to", type=comma_list, default=[], metavar="RESULTS.md[,RESULTS.yaml]",
                        help="also write the table as markdown (.md) and/or every number as YAML (.yaml/.yml)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_renamed_flags(parser, {"--ann": "--test-ann-files", "--images": "--test-data-roots",
                               "--weights": "--load-weights", "--save-to": "--save-metrics-to"})
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    args.peers = [] if [peer.lower() for peer in args.peers] == ["none"] else [peer.lower() for peer in args.peers]
    from text_spotting.peers import PEER_ENGINES
    from text_spotting.values import parse_size

    unknown = [peer for peer in args.peers if peer not in PEER_ENGINES]
    if unknown:
        parser.error(f"--peers: unknown peer '{unknown[0]}' (known: {', '.join(PEER_ENGINES)}, or none)")
    try:
        args.input_sizes = [parse_size(size) for size in args.input_sizes] if args.input_sizes else [None]
    except ValueError as error:
        parser.error(f"--input-sizes: {error}")
    for path in args.save_metrics_to:
        if Path(path).suffix.lower() not in (".md", ".yaml", ".yml"):
            parser.error(f"--save-metrics-to: {path}: write .md or .yaml/.yml")
    return args


def our_models(args) -> tuple[list[tuple[str, Path, Path | None]], list[dict]]:
    """``(kind, weights, template)`` of our models to run (kind 'ir' or 'eager'; template None: the checkpoint's
    own) and ``{'method', 'reason'}`` of the templates skipped for lack of weights."""
    from text_spotting.inference import is_openvino_export
    from text_spotting.templates import TEMPLATE_FILE, TemplateError, find_template_dir, load_template

    if args.load_weights is None:
        templates = args.templates or sorted(path.parent for path in TEMPLATES_DIR.glob(f"*/{TEMPLATE_FILE}"))
        models, skipped = [], []
        for template in templates:
            template_dir = find_template_dir(template)
            weights = load_template(template_dir).get("initial_weights")
            if weights:
                models.append(("eager", template_dir / weights, template_dir))
            else:
                skipped.append({"method": f"ours ({template_dir.name})",
                                "reason": "the template has no initial_weights yet; pass --load-weights"})
        return models, skipped

    checkpoints = [weights for weights in args.load_weights if not is_openvino_export(weights)]
    templates = [Path(template) for template in args.templates or []]
    if len(templates) not in (0, 1, len(checkpoints)):
        raise TemplateError(f"--templates: {len(templates)} given for {len(checkpoints)} checkpoints "
                            "(give one for all of them, or one per checkpoint in order)")
    one_per_checkpoint = iter(templates if len(templates) > 1 else [])
    models = []
    for weights in map(Path, args.load_weights):
        if is_openvino_export(weights):
            models.append(("ir", weights, None))
        else:
            template = templates[0] if len(templates) == 1 else next(one_per_checkpoint, None)
            models.append(("eager", weights, template))
    return models, []


def main(argv=None) -> int:
    args = parse_args(argv)
    import cv2
    import torch

    from text_spotting.peers import (PeerUnavailable, benchmark_context, eager_method, format_results_table,
                                     ir_method, load_benchmark_set, load_peer, peer_method, run_method, save_results)

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    data = load_benchmark_set(args.test_ann_files, args.test_data_roots, args.limit)
    print(f"{len(data)} images of {args.test_ann_files}, {args.threads} threads")
    models, skipped = our_models(args)

    methods = []
    for kind, weights, template in models:
        if kind == "ir":
            methods.append(ir_method(weights, args.threads))
        else:
            methods.extend(eager_method(weights, template, size) for size in args.input_sizes)
    peer_options = {"tesseract": {"psm": args.tesseract_psm}}
    for name in args.peers:
        try:
            methods.append(peer_method(load_peer(name, threads=args.threads, **peer_options.get(name, {}))))
        except PeerUnavailable as error:
            skipped.append({"method": name, "reason": str(error)})
    for entry in skipped:
        print(f"skipped {entry['method']}: {entry['reason']}")
    if not methods:
        print("error: nothing to run (no weights for our model and no peer installed)", file=sys.stderr)
        return 2

    results = []
    for method in methods:
        result = run_method(method, data, warmup=args.warmup, measure_recognition=not args.no_recognition,
                            progress=not args.no_progress)
        results.append(result)
        print(f"{result.name} {result.input_size}: detection hmean {result.metrics['detection']['hmean']:.3f}, "
              f"{result.mean_ms:.1f} ms per image")
    print()
    print(format_results_table(results))
    context = benchmark_context(data, args.threads, skipped)
    for path in args.save_metrics_to:
        save_results(results, context, path)
        print(f"written: {path}")
    return 0


if __name__ == "__main__":
    from text_spotting.command_line import run_main
    from text_spotting.datasets.annotation_io import AnnotationError
    from text_spotting.evaluation import EvaluationError
    from text_spotting.inference import InferenceError

    run_main(main, (AnnotationError, EvaluationError, InferenceError, FileNotFoundError))
