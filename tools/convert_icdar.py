#!/usr/bin/env python3
"""Converts ICDAR ground truth (one ``gt_<image stem>.txt`` per image) into a "COCO with text" annotation file."""
import argparse
import sys

from text_spotting.command_line import add_renamed_flags


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog="Images are numbered from 1 in natural name order (img_2 before img_10); '###' marks a don't-care "
               'region (iscrowd 1, legible false). A malformed line stops the conversion with one line naming the '
               'file, the line number and the field (exit code 2).')
    parser.add_argument('--gt-dir', required=True,
                        help='folder of gt_<image stem>.txt files (UTF-8 with or without BOM, LF or CRLF line ends)')
    parser.add_argument('--images-dir', required=True,
                        help='folder of the images (.jpg, .png, ...); it is the data root: image file names in the '
                             'output are relative to it, and width/height are read from the images')
    parser.add_argument('--output', required=True, help='annotation file to write (JSON, written atomically)')
    parser.add_argument('--format', choices=('2013', '2015'), default='2015',
                        help="line format: 2015 = 'x1,y1,x2,y2,x3,y3,x4,y4,transcription' (the transcription may "
                             "contain commas), 2013 = 'x1 y1 x2 y2 \"transcription\"' (spaces or commas between "
                             'fields); default: %(default)s')
    add_renamed_flags(parser, {"--out": "--output"})
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Imported only now so that --help answers at once: the library imports mmdet.
    from text_spotting.datasets.annotation_io import AnnotationError, convert_icdar, save_coco_text
    try:
        coco, summary = convert_icdar(args.gt_dir, args.images_dir, args.format, progress=True)
        save_coco_text(coco, args.output)
    except (AnnotationError, OSError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    print(f'wrote {args.output}: {summary.format()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
