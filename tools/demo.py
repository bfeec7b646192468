#!/usr/bin/env python3
"""The main job in one command: spot text with the shipped model through OpenVINO and show what it found.

    venv/bin/python tools/demo.py                                        # the bundled images, scored
    venv/bin/python tools/demo.py --images my_photos/ --output outputs/mine  # your own images or folders
    venv/bin/python tools/demo.py --video street.mp4                      # a video file (or --video 0: the webcam)

Uses the template's shipped weights (`initial_weights` in template.yaml; or --load-weights), exported once to an
OpenVINO IR that is cached under outputs/ir/ and reused while the weights stay the same. For images it writes one
annotated image per input (masks, quadrilaterals, texts with confidences) and a contact sheet, prints a table of the
words found and, on the bundled set, the ICDAR 2015 metrics. A video or webcam goes through visualize.py's loop: shown
in a window (Esc/q quits) or, with --no-show / no screen, written as an annotated mp4. Offline, CPU only.
When a template has no weights at all, it says so and shows the data side instead (the bundled set checked, its ground
truth drawn, fresh synthetic scenes).
"""
import argparse
import sys
from pathlib import Path

from text_spotting.command_line import (add_calibration_arguments, add_renamed_flags, add_video_arguments,
                                        check_calibration_arguments, check_video_arguments, image_size)

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED = REPO_ROOT / "data" / "horizontal_text_detection"
DEFAULT_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu"
IR_CACHE = REPO_ROOT / "outputs" / "ir"
SHEET_IMAGES = 24
CALIBRATION_SEED = 7  # the generated calibration scenes of --precision INT8 (a seed no test set uses)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--images", nargs="+", type=Path,
                        help="image files or folders (default: the bundled set, scored against its annotation)")
    source.add_argument("--video", metavar="INDEX_OR_FILE", help="a video file, or a camera index (0 = webcam)")
    parser.add_argument("--output", type=Path, default=Path("outputs/demo"), help="output folder (default outputs/demo)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE,
                        help="template or work dir (default: model_templates/text-spotting-cpu)")
    parser.add_argument("--load-weights", type=Path,
                        help="checkpoint to use instead of the template's weights, or an exported IR (export dir, "
                             "model.xml or model.bin) to run as it is")
    parser.add_argument("--runtime", choices=("openvino", "pytorch"), default="openvino",
                        help="openvino: the exported IR (default); pytorch: the checkpoint in eager mode")
    parser.add_argument("--input-size", metavar="WxH", default=None, type=image_size,
                        help="network input size for inference (default: the template's; e.g. 1280x768 reads "
                             "the small words of big photos better, at about 4x the time)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the model (default: all)")
    parser.add_argument("--no-show", action="store_true", help="--video: write the annotated mp4, open no window")
    add_video_arguments(parser)  # the same --video flags and defaults as visualize.py
    parser.add_argument("--limit", type=int, default=0, help="at most N images or frames (0 = all)")
    parser.add_argument("--ir-cache", type=Path, default=IR_CACHE,
                        help="where exported IRs are kept between runs (default outputs/ir/ in the repository)")
    parser.add_argument("--precision", choices=("FP32", "FP16", "INT8"), default="FP32",
                        help="precision of the exported IR (default FP32). INT8: quantized by NNCF once (a few "
                             "minutes) on the calibration images, by default scenes generated at the input size")
    add_calibration_arguments(parser)
    add_renamed_flags(parser, {"--out": "--output"})
    args = parser.parse_args(argv)
    check_calibration_arguments(args, parser)
    check_video_arguments(args, parser)
    if args.track and args.video is None:
        parser.error("--track and --save-tracks-to follow words through a --video (visualize.py --images --track "
                     "tracks a sequence of images)")
    if args.precision != "FP32" and args.runtime == "pytorch":
        parser.error("--precision is the exported IR's; --runtime pytorch runs the checkpoint as it is")
    if args.limit < 0:
        parser.error("--limit must be 0 (all) or more")
    return args


def weights_of(args) -> Path | None:
    from text_spotting.templates import load_template

    if args.load_weights:
        return args.load_weights
    weights = load_template(args.template).get("initial_weights")
    return (args.template / weights) if weights else None


def load_spotter(args, weights: Path):
    """The spotter for ``weights``: an exported IR as it is, the cached (or freshly exported) IR of a checkpoint, or
    the eager model."""
    from text_spotting.export import export_cached
    from text_spotting.inference import EagerTextSpotter, InferenceError, OpenVINOTextSpotter, is_openvino_export
    from text_spotting.templates import load_config, with_input_size

    if is_openvino_export(weights):
        if args.runtime == "pytorch" or args.input_size:
            raise InferenceError(f"{weights}: an exported IR runs with OpenVINO at the size it was exported at "
                                 "(--runtime pytorch and --input-size need a checkpoint)")
        spotter = OpenVINOTextSpotter(weights, num_threads=args.threads, num_requests=frames_in_flight(args))
        size = "x".join(str(v) for v in spotter.input_size)
        print(f"model: {weights} (OpenVINO IR, {size})")
        return spotter
    if Path(weights).is_dir():
        raise InferenceError(f"{weights}: a folder without export_config.yaml: expected an export dir, model.xml, "
                             "model.bin or a .pth checkpoint")
    cfg = with_input_size(load_config(args.template), args.input_size)
    size = f"{cfg.input_size[0]}x{cfg.input_size[1]}"
    if args.runtime == "pytorch":
        print(f"model: {weights} (PyTorch, {size})")
        if args.threads:
            import torch
            torch.set_num_threads(args.threads)
        return EagerTextSpotter(cfg, weights)
    calibration = demo_calibration(args, cfg) if args.precision == "INT8" else None
    export_dir, reused = export_cached(cfg, weights, args.ir_cache, precision=args.precision, calibration=calibration)
    print(f"model: {weights} -> OpenVINO IR {export_dir} ({size}, {'cached' if reused else 'exported now'})")
    return OpenVINOTextSpotter(export_dir, num_threads=args.threads, num_requests=frames_in_flight(args))


def frames_in_flight(args) -> int:
    """OpenVINO infer requests: --async-requests for a video (as visualize.py), one for images."""
    return args.async_requests if args.video is not None else 1


def demo_calibration(args, cfg):
    """The INT8 calibration set: the one the flags name, else generated scenes at the model's input size (made once
    into the IR cache and reused)."""
    import dataclasses

    from text_spotting.command_line import load_calibration
    from text_spotting.export import load_calibration_set
    from text_spotting.synthetic import PRESETS, generate_dataset

    calibration = load_calibration(args)
    if calibration is not None:
        return calibration
    width, height = (int(v) for v in cfg.input_size)
    count = args.calibration_images
    folder = args.ir_cache / f"calibration-scenes-{width}x{height}-seed{CALIBRATION_SEED}-{count}"
    if not (folder / "annotation.json").is_file():
        print(f"INT8: generating {count} calibration scenes ({width}x{height}, seed {CALIBRATION_SEED}) into {folder}")
        config = dataclasses.replace(PRESETS["horizontal"], width=width, height=height)
        generate_dataset(folder, count, CALIBRATION_SEED, config, overwrite=True)
    return load_calibration_set([folder / "annotation.json"], [folder], count)


def print_words_table(rows) -> None:
    width = max([len(r[0]) for r in rows] + [5])
    print(f"\n{'image':<{width}}  words  ms    texts")
    for name, count, milliseconds, texts in rows:
        print(f"{name:<{width}}  {count:>5}  {milliseconds:>4.0f}  {texts[:100]}")


def spot_images(args, spotter) -> int:
    import cv2
    import numpy as np

    from text_spotting.evaluation import format_metrics_table
    from text_spotting.evaluation.model_evaluation import evaluate_model, save_metrics
    from text_spotting.inference.latency import LATENCY_KEYS
    from text_spotting.inference.video import list_images
    from text_spotting.visualization import contact_sheet, draw_predictions

    annotated_dir = args.output / "annotated"
    annotated_dir.mkdir(parents=True, exist_ok=True)
    rows, sheet, latencies = [], [], []

    def record(path, words, image=None):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR) if image is None else image
        canvas = draw_predictions(image, words)
        cv2.imwrite(str(annotated_dir / f"{Path(path).stem}.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if len(sheet) < SHEET_IMAGES:
            sheet.append(canvas)
        latency = dict(getattr(spotter, "last_latency_ms", None) or {})
        latencies.append(latency)
        rows.append((Path(path).name, len(words), latency.get("total", float("nan")),
                     " ".join(w.text for w in words if w.text) or "-"))

    evaluation = None
    if args.images:
        paths = list_images(args.images)
        if args.limit:
            paths = paths[:args.limit]
        for path in paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                print(f"error: {path}: cannot be read as an image", file=sys.stderr)
                return 2
            record(path, spotter.predict(image, keep_masks=True)[0], image)
    else:
        ann = BUNDLED / "annotation.json"
        if args.limit:
            print("note: --limit does not apply to the bundled set; it is scored as a whole")
        evaluation = evaluate_model(spotter, [str(ann)], [str(BUNDLED)], on_image=record,
                                    model_info=spotter.model_info())
    print_words_table(rows)
    cv2.imwrite(str(args.output / "contact_sheet.jpg"), contact_sheet(sheet, columns=4, captions=[r[0] for r in rows[:len(sheet)]]),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    # the stages this model has (attention: encoder, decoder; ctc: crops, recognizer)
    stages = [key for key in LATENCY_KEYS if key != "total" and any(latency.get(key) for latency in latencies)]
    if stages:
        means = "  ".join(f"{key} {np.nanmean([lat.get(key, np.nan) for lat in latencies]):.0f}" for key in stages)
        print(f"\n{len(rows)} images, mean ms per image: {np.nanmean([r[2] for r in rows]):.0f} ({means})")
    if evaluation is not None:
        save_metrics(evaluation, args.output / "metrics.yaml")
        print("\nmetrics on the bundled set\n" + format_metrics_table(evaluation.metrics))
    print(f"\nannotated images: {annotated_dir}\ncontact sheet:    {args.output / 'contact_sheet.jpg'}")
    if evaluation is not None:
        print(f"metrics:          {args.output / 'metrics.yaml'}")
    return 0


def spot_video(args, spotter) -> int:
    """visualize.py's video loop, with its defaults (tracking on, --async-requests frames in flight)."""
    from text_spotting.inference.tracking import WordTracker
    from text_spotting.inference.video import display_available, open_frame_source, run_summary, run_visualization

    source = open_frame_source(args.video, None, args.limit)
    show = not args.no_show and display_available()
    run = run_visualization(spotter, source, output=None if show else args.output, show=show,
                            tracker=WordTracker() if args.track else None, tracks_file=args.save_tracks_to)
    print("\n".join(run_summary(run, args.track)))
    return 0


def show_data_side(args) -> int:
    import cv2

    from text_spotting.datasets.annotation_io import check_dataset
    from text_spotting.synthetic import SceneConfig, generate_dataset
    from text_spotting.visualization import dataset_contact_sheet

    print("No trained weights: the template names no initial_weights and --load-weights was not given.\n"
          "Train some (README: Training) and pass --load-weights. Meanwhile, the data side:\n")
    report = check_dataset(str(BUNDLED / "annotation.json"), str(BUNDLED),
                           alphabet="0123456789abcdefghijklmnopqrstuvwxyz")
    print(report.format())
    args.output.mkdir(parents=True, exist_ok=True)
    sheet = dataset_contact_sheet(str(BUNDLED / "annotation.json"), str(BUNDLED), num_images=12, columns=4,
                                  tile_width=480)
    cv2.imwrite(str(args.output / "bundled_ground_truth.jpg"), sheet, [cv2.IMWRITE_JPEG_QUALITY, 90])
    synthetic = args.output / "synthetic"
    summary = generate_dataset(synthetic, num_images=12, seed=2026, config=SceneConfig(), workers=2,
                               overwrite=True, progress=True)
    sheet = dataset_contact_sheet(str(synthetic / "annotation.json"), str(synthetic), num_images=12, columns=4,
                                  tile_width=480)
    cv2.imwrite(str(args.output / "synthetic_scenes.jpg"), sheet, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"\nsynthetic scenes: {summary.format()}")
    print(f"bundled ground truth: {args.output / 'bundled_ground_truth.jpg'}\n"
          f"synthetic scenes:     {args.output / 'synthetic_scenes.jpg'} (data: {synthetic})")
    return 0 if report.ok else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    weights = weights_of(args)
    if weights is None:
        return show_data_side(args)
    if args.video is not None:
        from text_spotting.inference.video import open_frame_source
        open_frame_source(args.video, None, 1).close()  # a camera / file that can't be opened fails before export
    spotter = load_spotter(args, weights)
    return spot_video(args, spotter) if args.video is not None else spot_images(args, spotter)


if __name__ == "__main__":
    from text_spotting.command_line import run_main
    from text_spotting.datasets.annotation_io import AnnotationError
    from text_spotting.evaluation.model_evaluation import EvaluationError
    from text_spotting.export import ExportError, ExportFormatError
    from text_spotting.inference import InferenceError
    from text_spotting.inference.video import FrameSourceError
    from text_spotting.templates import TemplateError
    from text_spotting.checkpoint import CheckpointError

    run_main(main, (AnnotationError, FileNotFoundError, EvaluationError, ExportError, ExportFormatError,
                    InferenceError, FrameSourceError, TemplateError, CheckpointError))
