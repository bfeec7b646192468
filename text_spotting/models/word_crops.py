"""Cutting words out of an image for a crop recognizer: one routine for training, eager inference and the IR path.

A word's quadrilateral (ground truth in training, the minimum-area quad of its predicted mask at inference) is
perspective-warped to a crop of height ``height`` whose width follows the word's aspect ratio; a word much taller
than wide (a vertical word) is turned 90 degrees counter-clockwise first, so a word written top to bottom (a book
spine) reads left to right; a quad alone cannot tell it from one written bottom to top, which comes out upside down
(PP-OCR's convention too). The crops of one
call are right-padded with ``pad_value`` to one width, at least ``min_width`` (PP-OCR's recognizer reads ~2 points
better when short words are padded to 320 px) and a multiple of the recognizer's width stride.

Everything here is numpy + OpenCV on one ``[H, W, C]`` image, raw BGR pixels or normalised ones alike: the warp is
linear, so normalising before or after cutting gives the same crop (the pad value differs: raw 127.5 is normalised 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..geometry import as_points, min_area_quad, order_quad_clockwise


@dataclass(frozen=True)
class CropSpec:
    """How words are cut out (the template's ``recognizer`` block, written into ``export_config.yaml``).

    Attributes:
        height: crop height in pixels (the recognizer's fixed input height).
        min_width: crops are padded to at least this width.
        max_width: a crop is never wider than this (very long words are squeezed).
        width_stride: the padded width is a multiple of this (the recognizer's horizontal downsampling).
        vertical_ratio: a quad whose height / width is at least this is read turned by 90 degrees.
    """

    height: int = 48
    min_width: int = 320
    max_width: int = 960
    width_stride: int = 8
    vertical_ratio: float = 1.5

    def as_dict(self) -> dict:
        return {"height": self.height, "min_width": self.min_width, "max_width": self.max_width,
                "width_stride": self.width_stride, "vertical_ratio": self.vertical_ratio}


def word_quad(polygon: Sequence[float] | np.ndarray) -> np.ndarray:
    """The quadrilateral ``[4, 2]`` a word is cut along: a 4-point polygon as it is (reordered clockwise from the
    top-left), any other polygon's minimum-area rectangle."""
    points = as_points(polygon)
    if points.shape[0] == 4:
        return order_quad_clockwise(points)
    return min_area_quad(points)


def quad_side_lengths(quad: np.ndarray) -> tuple[float, float]:
    """``(width, height)`` of a clockwise quad: the longer of its top/bottom and of its left/right edges."""
    quad = np.asarray(quad, dtype=np.float64)
    top, right, bottom, left = (np.linalg.norm(quad[(i + 1) % 4] - quad[i]) for i in range(4))
    return max(top, bottom), max(left, right)


def crop_width(quad: np.ndarray, spec: CropSpec) -> tuple[int, bool]:
    """``(width, turned)``: the crop width of a word (its aspect ratio at ``spec.height``, clipped to
    ``[1, spec.max_width]``) and whether it is read turned by 90 degrees."""
    width, height = quad_side_lengths(quad)
    width, height = max(width, 1e-3), max(height, 1e-3)
    turned = height / width >= spec.vertical_ratio
    aspect = width / height if not turned else height / width
    return int(np.clip(round(spec.height * aspect), 1, spec.max_width)), turned


def crop_transform(quad: np.ndarray, width: int, height: int) -> np.ndarray:
    """The ``[3, 3]`` perspective transform taking the quad (clockwise from top-left) onto a ``width`` x ``height``
    rectangle."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    return cv2.getPerspectiveTransform(np.asarray(quad, dtype=np.float32), corners)


def padded_width(widths: Sequence[int], spec: CropSpec) -> int:
    """The common width of a batch of crops: the widest, at least ``min_width``, rounded up to the stride."""
    widest = max([spec.min_width, *[int(w) for w in widths]])
    return int(-(-widest // spec.width_stride) * spec.width_stride)


def cut_word_crops(image: np.ndarray, quads: Sequence[np.ndarray], spec: CropSpec, pad_value: float = 127.5,
                   width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cuts every word of one image.

    Args:
        image: ``[H, W, C]`` (uint8 or float) pixels.
        quads: ``N`` quadrilaterals ``[4, 2]`` in the image's pixel frame (any point order, see :func:`word_quad`).
        spec: the crop geometry.
        pad_value: value of the padding right of each word (raw pixels: 127.5, PP-OCR's zero after normalising).
        width: the padded width (None: :func:`padded_width` of these crops).

    Returns:
        ``(crops [N, C, spec.height, Wp] float32, widths [N] int)``: the crops, channels first, and each word's own
        width before padding.
    """
    image = np.asarray(image)
    channels = image.shape[2]
    geometry = []
    for quad in quads:
        quad = word_quad(quad)
        crop_w, turned = crop_width(quad, spec)
        geometry.append((quad, crop_w, turned))
    widths = np.array([g[1] for g in geometry], dtype=np.int64)
    total = padded_width(widths, spec) if width is None else int(width)
    crops = np.full((len(geometry), spec.height, total, channels), pad_value, dtype=np.float32)
    source = image.astype(np.float32, copy=False)
    for index, (quad, crop_w, turned) in enumerate(geometry):
        crops[index, :, :min(crop_w, total)] = _warp(source, quad, min(crop_w, total), spec.height, turned)
    return crops.transpose(0, 3, 1, 2).copy(), widths


def _warp(image: np.ndarray, quad: np.ndarray, width: int, height: int, turned: bool) -> np.ndarray:
    """``[height, width, C]``: the quad rectified at its own size (bicubic), turned if asked, then resized to the crop
    size (bilinear): two steps, as PP-OCR prepares its crops (one perspective warp straight to height 48 aliases the
    strokes of big words)."""
    natural_w, natural_h = (max(int(round(v)), 1) for v in quad_side_lengths(quad))
    matrix = crop_transform(quad, natural_w, natural_h)
    rectified = cv2.warpPerspective(image, matrix, (natural_w, natural_h), flags=cv2.INTER_CUBIC,
                                    borderMode=cv2.BORDER_REPLICATE)
    if turned:
        rectified = np.rot90(rectified)
    resized = cv2.resize(np.ascontiguousarray(rectified), (width, height), interpolation=cv2.INTER_LINEAR)
    return resized.reshape(height, width, image.shape[2])


def jitter_quad(quad: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """A training copy of a word's quad with each corner moved by up to ``amount`` x the word height in x and y
    (what a detector's imperfect quads look like)."""
    quad = word_quad(quad)
    _, height = quad_side_lengths(quad)
    return quad + rng.uniform(-amount, amount, size=(4, 2)) * max(height, 1.0)
