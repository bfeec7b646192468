#!/usr/bin/env python3
"""Converts a CVAT "for images 1.1" XML export into a "COCO with text" annotation file."""
import argparse
import sys

from text_spotting.command_line import add_renamed_flags


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog="Every <polygon> and <box> (rotated boxes included) becomes a word, whatever its label, unless --label "
               "is given. The transcription is the shape's 'text' attribute (or 'transcription'); a missing, empty or "
               "'###' one, or a 'legible' attribute set to false, makes a don't-care region. A 'language' attribute "
               'is kept. Polylines, points, masks and tags are left out (counted in the summary). Image file names '
               'are kept as CVAT wrote them, so the data root is the folder the task images came from.')
    parser.add_argument('annotations', metavar='ANNOTATIONS.xml', help='the XML file of a "CVAT for images 1.1" export')
    parser.add_argument('--output', required=True, help='annotation file to write (JSON, written atomically)')
    parser.add_argument('--label', action='append', metavar='NAME',
                        help='take only shapes with this label (repeat the flag for several labels); default: all')
    add_renamed_flags(parser, {"--out": "--output"})
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Imported only now so that --help answers at once: the library imports mmdet.
    from text_spotting.datasets.annotation_io import AnnotationError, convert_cvat, save_coco_text
    try:
        coco, summary = convert_cvat(args.annotations, labels=args.label)
        save_coco_text(coco, args.output)
    except (AnnotationError, OSError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    print(f'wrote {args.output}: {summary.format()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
