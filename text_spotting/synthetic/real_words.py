"""Real word images cut out of an annotated dataset, to be pasted into synthetic scenes.

Each legible word quadrilateral of a "COCO with text" file is unwarped (perspective) to an upright rectangle; the
scene composer later warps that rectangle onto a new quadrilateral, so the ground truth of the pasted word is exactly
the new quadrilateral and its transcription comes from the source file.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from ..datasets.annotation_io import AnnotationError, is_dont_care, load_coco_text, word_text
from ..geometry import as_points, order_quad_clockwise
from .layout import box_corners, to_pixel_centre_homography

# Source words smaller than this (pixels, unwarped height) are too blurry to teach letter shapes.
MIN_SOURCE_HEIGHT = 8


@dataclass(frozen=True)
class RealWord:
    """An upright word image ``patch`` ``[h, w, 3]`` uint8 BGR and its transcription."""

    patch: np.ndarray
    text: str
    language: str


def unwarped_size(quad: np.ndarray) -> tuple[int, int]:
    """``(width, height)`` of the rectangle a clockwise ``[4, 2]`` quad (TL, TR, BR, BL) unwarps to."""
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2.0
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2.0
    return max(1, int(round(width))), max(1, int(round(height)))


def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The inside of a clockwise ``[4, 2]`` quad (pixel-edge coordinates) unwarped to ``[h, w, C]``."""
    width, height = unwarped_size(quad)
    rect = box_corners((0, 0, width, height))
    rect_to_image = cv2.getPerspectiveTransform(rect.astype(np.float32), np.asarray(quad, np.float32))
    return cv2.warpPerspective(image, to_pixel_centre_homography(rect_to_image), (width, height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


class RealWordBank:
    """Legible real words of a dataset, unwarped, in file order (annotation order within an image)."""

    def __init__(self, words: list[RealWord], source: str = ""):
        self.words = words
        self.source = source

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def from_coco(cls, ann_file: str, data_root: str, min_height: int = MIN_SOURCE_HEIGHT,
                  progress: bool = True) -> RealWordBank:
        """Cuts every legible word out of a "COCO with text" dataset.

        Skipped: don't-care regions, polygons that are not 4 points, words whose unwarped height is below
        ``min_height`` and words that unwarp taller than wide although they have 3+ characters (vertical text).

        Raises:
            AnnotationError: a malformed annotation file, or an image that is missing or cannot be decoded.
        """
        coco = load_coco_text(ann_file)
        anns_by_image = defaultdict(list)
        for ann in coco["annotations"]:
            if not is_dont_care(ann) and len(ann["segmentation"][0]) == 8:
                anns_by_image[ann["image_id"]].append(ann)
        words: list[RealWord] = []
        images = [image for image in coco["images"] if image["id"] in anns_by_image]
        for image_info in tqdm(images, desc="cutting real words", unit="img", disable=not progress):
            path = os.path.join(data_root, image_info["file_name"])
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                raise AnnotationError(f"{ann_file}: image id {image_info['id']}: field 'file_name': "
                                      f"cannot read {path}")
            for ann in anns_by_image[image_info["id"]]:
                transcription, _, language = word_text(ann)
                quad = order_quad_clockwise(as_points(ann["segmentation"][0]))
                width, height = unwarped_size(quad)
                if height < min_height or (height > width and len(transcription.strip()) >= 3):
                    continue
                words.append(RealWord(crop_quad(image, quad), transcription.strip(), language))
        if not words:
            raise AnnotationError(f"{ann_file}: no legible 4-point word of at least {min_height} px height")
        return cls(words, source=os.fspath(ann_file))
