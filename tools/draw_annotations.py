#!/usr/bin/env python3
"""Draws the ground truth of a "COCO with text" file on its images, to see that the polygons sit on the words.

Legible words: green polygon with the transcription above it; don't-care regions: red polygon. One PNG per image.
"""
import argparse
import os
import sys


import cv2

from text_spotting.command_line import add_renamed_flags


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('ann_file', metavar='ANN.json', help='"COCO with text" annotation file')
    parser.add_argument('data_root', metavar='ROOT', help='folder the image file names are relative to')
    parser.add_argument('--output', required=True, metavar='DIR',
                        help='folder to write the drawings into (<image file name without extension>.png)')
    parser.add_argument('--limit', type=int, default=20, metavar='N',
                        help='draw at most N images, in file order (default: %(default)s; 0 = all)')
    parser.add_argument('--names', nargs='+', metavar='FILE_NAME',
                        help="draw only these images (their 'file_name' in the annotation file)")
    add_renamed_flags(parser, {"--out": "--output"})
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Imported only now so that --help answers at once: the library imports mmdet.
    from tqdm import tqdm

    from text_spotting.datasets.annotation_io import AnnotationError, load_coco_text
    from text_spotting.visualization import draw_ground_truth, words_from_annotations
    try:
        coco = load_coco_text(args.ann_file)
    except AnnotationError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    images = coco['images']
    if args.names:
        known = {image['file_name'] for image in images}
        unknown = [name for name in args.names if name not in known]
        if unknown:
            print(f'error: {args.ann_file}: no image named {unknown[0]!r}', file=sys.stderr)
            return 2
        images = [image for image in images if image['file_name'] in set(args.names)]
    if args.limit > 0:
        images = images[:args.limit]
    words_by_image = {}
    for ann in coco['annotations']:
        words_by_image.setdefault(ann['image_id'], []).append(ann)
    os.makedirs(args.output, exist_ok=True)
    for image in tqdm(images, desc='drawing', unit='img'):
        path = os.path.join(args.data_root, image['file_name'])
        pixels = cv2.imread(path, cv2.IMREAD_COLOR)
        if pixels is None:
            print(f'error: {path}: cannot read this image', file=sys.stderr)
            return 2
        out_name = os.path.splitext(image['file_name'])[0].replace(os.sep, '__').replace('/', '__') + '.png'
        drawn = draw_ground_truth(pixels, words_from_annotations(words_by_image.get(image['id'], [])))
        cv2.imwrite(os.path.join(args.output, out_name), drawn)
    print(f'wrote {len(images)} image(s) to {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
