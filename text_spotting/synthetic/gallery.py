"""Contact sheets of a "COCO with text" dataset with its ground truth drawn, for looking at data by eye.

Legible words get a green quadrilateral and their transcription; don't-care regions a red one. A small dot marks
each polygon's first point (where reading starts for a well-ordered quad).
"""
from __future__ import annotations

import math
import os

import cv2
import numpy as np

from ..datasets.annotation_io import AnnotationError, is_dont_care, load_coco_text, word_text

LEGIBLE_COLOR = (0, 200, 0)
DONT_CARE_COLOR = (0, 0, 255)
LABEL_COLOR = (0, 255, 255)


def draw_ground_truth(image: np.ndarray, annotations: list[dict], label_scale: float = 0.4) -> np.ndarray:
    """Returns a copy of ``image`` ``[H, W, 3]`` BGR with the annotations' polygons and texts drawn."""
    canvas = image.copy()
    shift = 4  # sub-pixel drawing: polygons are in pixel-edge coordinates with decimals
    for ann in annotations:
        points = np.asarray(ann["segmentation"][0], np.float64).reshape(-1, 2)
        dont_care = is_dont_care(ann)
        color = DONT_CARE_COLOR if dont_care else LEGIBLE_COLOR
        fixed = np.round((points - 0.5) * (1 << shift)).astype(np.int32)
        cv2.polylines(canvas, [fixed], True, color, 1, cv2.LINE_AA, shift)
        cv2.circle(canvas, tuple(int(v) for v in np.round(points[0])), 2, (255, 0, 255), -1, cv2.LINE_AA)
        if not dont_care:
            text = word_text(ann)[0]
            origin = (int(points[:, 0].min()), int(min(points[:, 1].max() + 11, canvas.shape[0] - 2)))
            cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, label_scale, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, label_scale, LABEL_COLOR, 1, cv2.LINE_AA)
    return canvas


def make_contact_sheet(ann_file: str, data_root: str, num_images: int = 12, columns: int = 3,
                       tile_width: int = 640, first: int = 0) -> np.ndarray:
    """A grid of images ``first .. first + num_images - 1`` (file order) with ground truth, ``[H, W, 3]`` BGR.

    Each tile is the image with its words drawn at native resolution, then scaled to ``tile_width``.

    Raises:
        AnnotationError: a malformed annotation file or an image that cannot be read.
    """
    coco = load_coco_text(ann_file)
    images = coco["images"][first:first + num_images]
    if not images:
        raise AnnotationError(f"{ann_file}: no images from index {first} on (it has {len(coco['images'])})")
    by_image: dict[int, list[dict]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    tiles = []
    for info in images:
        path = os.path.join(data_root, info["file_name"])
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise AnnotationError(f"{ann_file}: image id {info['id']}: field 'file_name': cannot read {path}")
        tile = draw_ground_truth(image, by_image.get(info["id"], []))
        scale = tile_width / tile.shape[1]
        tile = cv2.resize(tile, (tile_width, int(round(tile.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        tiles.append(tile)
    tile_height = max(t.shape[0] for t in tiles)
    columns = max(1, min(columns, len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * tile_height, columns * tile_width, 3), 32, np.uint8)
    for k, tile in enumerate(tiles):
        row, col = divmod(k, columns)
        sheet[row * tile_height:row * tile_height + tile.shape[0], col * tile_width:(col + 1) * tile_width] = tile
    return sheet
