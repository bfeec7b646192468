#!/usr/bin/env python3
"""The main job in one command: spot text in images with a trained model and show what it found.

    venv/bin/python tools/demo.py --out outputs/demo                       # the bundled images
    venv/bin/python tools/demo.py --images my_photos/ --out outputs/mine    # your own images or folders

Writes one annotated image per input (masks, quadrilaterals, texts with confidences) and a contact sheet, prints a
table of the words found and, on an annotated set, the ICDAR 2015 metrics. The model is the template's shipped weights
(`initial_weights` in template.yaml) or `--load-weights`. When there are no weights yet, it says so and shows the data
side instead: the bundled set checked, its ground truth drawn, and fresh synthetic scenes from the generator.
Everything runs offline on the CPU.
"""
import argparse
import sys
import time
from pathlib import Path

try:
    import text_spotting  # noqa: F401
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED = REPO_ROOT / "data" / "horizontal_text_detection"
DEFAULT_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (default outputs/demo)")
    parser.add_argument("--images", nargs="+", type=Path,
                        help="image files or folders (default: the bundled set, scored against its annotation)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE,
                        help="template or work dir (default: model_templates/text-spotting-cpu)")
    parser.add_argument("--load-weights", type=Path, help="checkpoint to use instead of the template's weights")
    parser.add_argument("--limit", type=int, default=0, help="at most N images (0 = all)")
    return parser.parse_args(argv)


def list_images(paths) -> list[Path]:
    images = []
    for path in paths:
        if path.is_dir():
            images.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            images.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")
    return images


def weights_of(args) -> Path | None:
    from text_spotting.templates import load_template

    if args.load_weights:
        return args.load_weights
    weights = load_template(args.template).get("initial_weights")
    return (args.template / weights) if weights else None


def spot(args, weights: Path) -> int:
    import cv2

    from text_spotting.evaluation import format_metrics_table
    from text_spotting.evaluation.model_evaluation import evaluate_model
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.visualization import contact_sheet, draw_predictions

    spotter = EagerTextSpotter.from_template(args.template, weights)
    images = list_images(args.images or [BUNDLED / "images"])
    if args.limit:
        images = images[:args.limit]
    annotated_dir = args.out / "annotated"
    annotated_dir.mkdir(parents=True, exist_ok=True)
    drawn, rows, seconds = [], [], []
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            print(f"error: {path}: cannot be read as an image", file=sys.stderr)
            return 2
        start = time.perf_counter()
        words = spotter.predict(image, keep_masks=True)[0]
        seconds.append(time.perf_counter() - start)
        canvas = draw_predictions(image, words)
        cv2.imwrite(str(annotated_dir / f"{path.stem}.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
        drawn.append(canvas)
        rows.append((path.name, len(words), " ".join(w.text for w in words if w.text) or "-"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'image':<{width}}  words  texts")
    for name, count, texts in rows:
        print(f"{name:<{width}}  {count:>5}  {texts[:100]}")
    sheet = contact_sheet(drawn[:24], columns=4, captions=[r[0] for r in rows[:24]])
    cv2.imwrite(str(args.out / "contact_sheet.jpg"), sheet, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"\n{len(images)} images, {sum(seconds) / len(seconds) * 1000:.0f} ms per image (PyTorch, CPU)")
    if not args.images:
        evaluation = evaluate_model(spotter, [str(BUNDLED / "annotation.json")], [str(BUNDLED)], progress=False)
        print("\nmetrics on the bundled set\n" + format_metrics_table(evaluation.metrics))
    print(f"\nannotated images: {annotated_dir}\ncontact sheet:    {args.out / 'contact_sheet.jpg'}")
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
    args.out.mkdir(parents=True, exist_ok=True)
    sheet = dataset_contact_sheet(str(BUNDLED / "annotation.json"), str(BUNDLED), num_images=12, columns=4,
                               tile_width=480)
    cv2.imwrite(str(args.out / "bundled_ground_truth.jpg"), sheet, [cv2.IMWRITE_JPEG_QUALITY, 90])
    synthetic = args.out / "synthetic"
    summary = generate_dataset(synthetic, num_images=12, seed=2026, config=SceneConfig(), workers=2,
                               overwrite=True, progress=True)
    sheet = dataset_contact_sheet(str(synthetic / "annotation.json"), str(synthetic), num_images=12, columns=4,
                               tile_width=480)
    cv2.imwrite(str(args.out / "synthetic_scenes.jpg"), sheet, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"\nsynthetic scenes: {summary.format()}")
    print(f"bundled ground truth: {args.out / 'bundled_ground_truth.jpg'}\n"
          f"synthetic scenes:     {args.out / 'synthetic_scenes.jpg'} (data: {synthetic})")
    return 0 if report.ok else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    weights = weights_of(args)
    if weights is None:
        return show_data_side(args)
    return spot(args, weights)


if __name__ == "__main__":
    from text_spotting.command_line import run_main
    from text_spotting.datasets.annotation_io import AnnotationError

    run_main(main, (AnnotationError, FileNotFoundError))
