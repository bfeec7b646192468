"""Pure geometry shared by every stage: polygons, boxes, quadrilaterals, masks.

Coordinates are image pixels, x to the right, y down. A polygon is a flat sequence ``[x1, y1, x2, y2, ...]`` or an
array ``[K, 2]``; a quadrilateral is a polygon with 4 points ordered clockwise from the top-left one.
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np


def as_points(polygon: Sequence[float] | np.ndarray) -> np.ndarray:
    """Returns ``[K, 2]`` float64 points from a flat ``[x1, y1, ...]`` list or a ``[K, 2]`` array."""
    points = np.asarray(polygon, dtype=np.float64)
    if points.ndim == 1:
        if points.size % 2:
            raise ValueError(f"a flat polygon needs an even number of coordinates, got {points.size}")
        points = points.reshape(-1, 2)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected polygon points of shape [K, 2], got {points.shape}")
    return points


def polygon_to_bbox(polygon: Sequence[float] | np.ndarray) -> np.ndarray:
    """Tight box ``[x1, y1, x2, y2]`` around a polygon."""
    points = as_points(polygon)
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def order_quad_clockwise(points: Sequence[float] | np.ndarray) -> np.ndarray:
    """Orders 4 points clockwise (image coordinates) starting from the top-left one: ``[4, 2]``.

    "Top-left" is the point with the smallest x + y among the two left-most points of the clockwise order, which is
    what ICDAR ground truth uses for mostly horizontal words.
    """
    quad = as_points(points)
    if quad.shape[0] != 4:
        raise ValueError(f"a quadrilateral has 4 points, got {quad.shape[0]}")
    center = quad.mean(axis=0)
    # y grows downwards, so increasing atan2 angle is clockwise on screen.
    angles = np.arctan2(quad[:, 1] - center[1], quad[:, 0] - center[0])
    quad = quad[np.argsort(angles, kind="stable")]
    start = int(np.argmin(quad.sum(axis=1)))
    return np.roll(quad, -start, axis=0)


def min_area_quad(points: Sequence[float] | np.ndarray) -> np.ndarray:
    """Minimum-area rotated rectangle around a point set, as a clockwise quadrilateral ``[4, 2]``."""
    pts = as_points(points).astype(np.float32)
    box = cv2.boxPoints(cv2.minAreaRect(pts))
    return order_quad_clockwise(box)


def mask_to_quad(mask: np.ndarray, min_pixels: int = 1) -> np.ndarray | None:
    """Minimum-area quadrilateral ``[4, 2]`` around the largest connected region of a binary mask ``[H, W]``.

    Returns None for an empty mask (fewer than ``min_pixels`` foreground pixels).
    """
    mask_u8 = (np.asarray(mask) > 0).astype(np.uint8)
    if int(mask_u8.sum()) < min_pixels:
        return None
    contours, _ = cv2.findContours(mask_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    largest = max(contours, key=cv2.contourArea)
    return min_area_quad(largest.reshape(-1, 2))


def mask_quad(mask: np.ndarray) -> np.ndarray | None:
    """:func:`mask_to_quad` of a full-image mask ``[H, W]``, computed on the crop around its
    foreground (same result, much faster for small words in large images); None for an empty mask."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    crop = mask[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    quad = mask_to_quad(crop)
    return None if quad is None else quad + np.array([columns[0], rows[0]], dtype=np.float64)


def as_array(value) -> np.ndarray:
    """A numpy array of an array-like or a (torch) tensor, detached and on the CPU."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def predicted_polygons(bboxes: Any, masks: Any = None) -> list[np.ndarray]:
    """One ``[4, 2]`` quadrilateral per predicted word.

    Args:
        bboxes: ``[N, 4]`` (x1, y1, x2, y2) boxes, tensor or array.
        masks: ``[N, H, W]`` full-image masks (bool or 0/1), or None.

    Returns:
        The minimum-area quadrilateral of each mask's largest region, or the box when the mask is empty or absent.
    """
    bboxes = as_array(bboxes).reshape(-1, 4).astype(np.float64)
    masks = None if masks is None else as_array(masks)
    polygons = []
    for index, bbox in enumerate(bboxes):
        quad = mask_quad(masks[index] > 0) if masks is not None and len(masks) > index else None
        polygons.append(bbox_to_quad(bbox) if quad is None else quad)
    return polygons


def bbox_to_quad(bbox: Sequence[float]) -> np.ndarray:
    """Box ``[x1, y1, x2, y2]`` as a clockwise quadrilateral ``[4, 2]`` from the top-left corner."""
    x1, y1, x2, y2 = (float(v) for v in bbox)
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)


def xywh_to_xyxy(bbox: Sequence[float]) -> list[float]:
    x, y, w, h = (float(v) for v in bbox)
    return [x, y, x + w, y + h]


def xyxy_to_xywh(bbox: Sequence[float]) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in bbox)
    return [x1, y1, x2 - x1, y2 - y1]


def polygon_area(polygon: Sequence[float] | np.ndarray) -> float:
    """Area of a simple polygon (shoelace formula), whatever its orientation; 0 for collinear points."""
    points = as_points(polygon)
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)
