#!/usr/bin/env python3
"""Generates a synthetic scene-text dataset in "COCO with text" format:

    python tools/generate_synthetic_dataset.py --output /tmp/synth --num-images 200 --seed 1

writes DIR/images/000000.jpg ... and DIR/annotation.json (file names relative to DIR). Words, numbers, prices and
dates in fonts found on this machine (matplotlib's DejaVu/STIX/Computer Modern, Pillow's built-in font, OpenCV's
own faces, system fonts), turned and tilted in perspective over cluttered backgrounds, with outlines, shadows,
sign panels, occluders, blur, noise and JPEG artefacts. Each word's quadrilateral tightly fits its drawn glyphs;
words too small, too faint, too blurred or mostly hidden are "don't care" ('###', iscrowd 1).

The output depends only on the flags (and the fonts and package versions of the machine), not on --workers: the
same command writes the same bytes. Use --fonts bundled for data that is the same on every machine with the
project's virtual environment.
"""
import argparse
import dataclasses
import os
import sys

from text_spotting.command_line import add_renamed_flags


PRESET_NAMES = ("scene", "horizontal")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, metavar="DIR", help="output folder (images/ and annotation.json)")
    parser.add_argument("--num-images", type=int, required=True, metavar="N", help="number of images to generate")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="non-negative seed; image i is drawn from (S, i) alone (default: %(default)s)")
    parser.add_argument("--size", default="640x384", metavar="WxH",
                        help="image width x height in pixels (default: %(default)s, the CPU template's input size)")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), metavar="K",
                        help="worker processes; the output does not depend on it (default: %(default)s)")
    parser.add_argument("--preset", choices=PRESET_NAMES, default="scene",
                        help="scene: rotated and tilted text of all sizes with all effects (default); horizontal: "
                             "mostly horizontal, larger text, lighter damage (what the bundled sample set uses)")
    parser.add_argument("--fonts", choices=("all", "bundled"), default="all",
                        help="all: matplotlib's fonts, Pillow's, OpenCV's and the system's (default); bundled: only "
                             "those shipped with the Python packages, for output that is the same on any machine")
    parser.add_argument("--max-rotation", type=float, metavar="DEG",
                        help="largest in-plane rotation of a text block (preset: scene 30, horizontal 4)")
    parser.add_argument("--max-tilt", type=float, metavar="DEG",
                        help="largest 3-D turn of a text block, i.e. perspective (preset: scene 40, horizontal 10)")
    parser.add_argument("--min-text-size", type=float, metavar="PX",
                        help="smallest font em size in pixels (preset: scene 8, horizontal 10); words whose "
                             "quadrilateral is under 8 px tall become don't care")
    parser.add_argument("--max-text-size", type=float, metavar="PX",
                        help="largest font em size in pixels (default: 0.3 x image height)")
    parser.add_argument("--max-blocks", type=int, metavar="N",
                        help="most text blocks (a few lines of a few words each) attempted per image (default: 8)")
    parser.add_argument("--real-words", nargs=2, metavar=("ANN.json", "ROOT"),
                        help="also paste real words cut out of this annotated dataset (legible 4-point words, "
                             "unwarped, then warped onto new quadrilaterals) into the scenes")
    parser.add_argument("--real-word-prob", type=float, metavar="P",
                        help="share of text blocks that are pasted real words when --real-words is given "
                             "(default: 0.3)")
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image file format (default: jpg)")
    parser.add_argument("--jpeg-quality", type=int, default=90, metavar="Q",
                        help="JPEG quality of the written images (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset already in DIR (only files this tool writes are removed)")
    add_renamed_flags(parser, {"--out": "--output"})
    return parser.parse_args(argv)


def scene_config(args):
    """The preset with the fields the flags set replaced."""
    from text_spotting.synthetic import PRESETS, parse_size

    width, height = parse_size(args.size)
    overrides = {"width": width, "height": height}
    for flag, field in (("max_rotation", "max_rotation"), ("max_tilt", "max_tilt"),
                        ("min_text_size", "min_text_size"), ("max_text_size", "max_text_size"),
                        ("max_blocks", "max_blocks"), ("real_word_prob", "real_word_prob")):
        value = getattr(args, flag)
        if value is not None:
            overrides[field] = value
    return dataclasses.replace(PRESETS[args.preset], **overrides)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Imported only now so that --help answers at once (the package imports mmdet).
    from text_spotting.datasets.annotation_io import AnnotationError
    from text_spotting.synthetic import RealWordBank, SyntheticDataError, generate_dataset

    try:
        config = scene_config(args)
        real_words = None
        if args.real_words:
            real_words = RealWordBank.from_coco(*args.real_words)
            print(f"{len(real_words)} real words cut out of {args.real_words[0]}")
        summary = generate_dataset(args.output, args.num_images, args.seed, config, workers=args.workers,
                                   font_source=args.fonts, real_words=real_words, image_format=args.format,
                                   jpeg_quality=args.jpeg_quality, overwrite=args.overwrite)
    except (SyntheticDataError, AnnotationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary.format())
    print(f"wrote {os.path.join(args.output, 'annotation.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
