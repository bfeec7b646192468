#!/usr/bin/env python3
"""Writes a contact sheet PNG: a grid of dataset images with their ground truth drawn.

    python tools/make_gallery.py /tmp/synth/annotation.json /tmp/synth --output /tmp/synth_gallery.png

Legible words: green quadrilateral with the transcription under it; don't-care regions: red. A magenta dot marks
each polygon's first point. Works for any "COCO with text" file (synthetic or converted real data).
"""
import argparse
import os
import sys

from text_spotting.command_line import add_renamed_flags


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ann_file", metavar="ANN.json", help='"COCO with text" annotation file')
    parser.add_argument("data_root", metavar="ROOT", help="folder the image file names are relative to")
    parser.add_argument("--output", required=True, metavar="FILE.png", help="contact sheet to write")
    parser.add_argument("--num", type=int, default=12, metavar="N", help="images on the sheet (default: %(default)s)")
    parser.add_argument("--first", type=int, default=0, metavar="I",
                        help="index (file order) of the first image shown (default: %(default)s)")
    parser.add_argument("--columns", type=int, default=3, metavar="C", help="tiles per row (default: %(default)s)")
    parser.add_argument("--tile-width", type=int, default=640, metavar="PX",
                        help="width of each tile; images are scaled to it (default: %(default)s)")
    add_renamed_flags(parser, {"--out": "--output"})
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.num < 1 or args.columns < 1 or args.tile_width < 16 or args.first < 0:
        print("error: --num and --columns must be positive, --tile-width at least 16, --first not negative",
              file=sys.stderr)
        return 2
    import cv2

    from text_spotting.datasets.annotation_io import AnnotationError
    from text_spotting.visualization import dataset_contact_sheet

    try:
        sheet = dataset_contact_sheet(args.ann_file, args.data_root, args.num, args.columns, args.tile_width, args.first)
    except AnnotationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    if not cv2.imwrite(args.output, sheet):
        print(f"error: {args.output}: cannot write the image (use a .png or .jpg name in a writable folder)",
              file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
