#!/usr/bin/env python3
"""Checks a "COCO with text" annotation file and its images, and reports every problem at once with counts."""
import argparse
import os
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog='Checks: JSON syntax, required fields and their types, polygons (at least 3 points, x/y pairs, '
               'finite, inside the image, non-zero area), boxes inside the image, unique ids and file names, '
               "annotations pointing at existing images and at the 'text' category, image files present, decodable "
               'and of the recorded size. Exit code: 0 no problem, 1 problems found, 2 bad arguments.')
    parser.add_argument('ann_file', metavar='ANN.json', help='annotation file to check')
    parser.add_argument('data_root', metavar='DATA_ROOT', help='folder the image file names are relative to')
    parser.add_argument('--alphabet', metavar='A',
                        help="also count legible words with characters outside this alphabet (compared in lower "
                             "case), e.g. the template's '0123456789abcdefghijklmnopqrstuvwxyz'; such words stay "
                             'detection targets but get no recognition loss')
    parser.add_argument('--max-per-kind', type=int, metavar='N',
                        help='print at most N problems of each kind (default: all of them)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Imported only now so that --help answers at once: the library imports mmdet.
    from text_spotting.datasets.annotation_io import check_dataset
    if not os.path.isfile(args.ann_file):
        print(f'error: {args.ann_file}: no such annotation file', file=sys.stderr)
        return 2
    if not os.path.isdir(args.data_root):
        print(f'error: {args.data_root}: no such data root folder', file=sys.stderr)
        return 2
    report = check_dataset(args.ann_file, args.data_root, alphabet=args.alphabet, progress=True)
    print(report.format(max_per_kind=args.max_per_kind))
    return 0 if report.ok else 1


if __name__ == '__main__':
    sys.exit(main())
