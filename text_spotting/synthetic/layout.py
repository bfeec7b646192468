"""Pure geometry of placing a flat text block in a scene: 3-D tilt, rotation, projection, pixel conventions.

Two pixel conventions meet here. Annotations use pixel-edge coordinates (pixel ``i`` spans ``[i, i + 1)``, as COCO and
pycocotools do); OpenCV's warps use pixel-centre coordinates (pixel ``i`` is the point ``i``). Homographies in this
module map pixel-edge coordinates; :func:`to_pixel_centre_homography` converts one for ``cv2.warpPerspective``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def project_points(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Applies a ``[3, 3]`` homography to ``[K, 2]`` points; returns ``[K, 2]`` float64."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mapped = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ np.asarray(homography, np.float64).T
    return mapped[:, :2] / mapped[:, 2:3]


def box_corners(box: tuple[float, float, float, float] | np.ndarray) -> np.ndarray:
    """``[4, 2]`` corners of ``(x1, y1, x2, y2)``: top-left, top-right, bottom-right, bottom-left."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)


def translation(dx: float, dy: float) -> np.ndarray:
    """``[3, 3]`` homography moving points by ``(dx, dy)``."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def to_pixel_centre_homography(homography: np.ndarray) -> np.ndarray:
    """The same warp expressed in OpenCV's pixel-centre coordinates (``c = e - 0.5`` on both sides)."""
    return translation(-0.5, -0.5) @ np.asarray(homography, np.float64) @ translation(0.5, 0.5)


def tilted_rectangle(width: float, height: float, yaw_deg: float, pitch_deg: float, roll_deg: float,
                     focal: float) -> np.ndarray:
    """Where the corners of a flat ``width x height`` rectangle land after a 3-D turn and a pinhole projection.

    The rectangle is centred on the optical axis at distance ``focal`` and turned by ``yaw`` (about the vertical
    axis), ``pitch`` (about the horizontal axis), then ``roll`` (in the image plane). Returns ``[4, 2]`` corners
    (top-left, top-right, bottom-right, bottom-left of the rectangle) centred near the origin, at the scale the
    rectangle would have at distance ``focal`` without tilt.
    """
    yaw, pitch, roll = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    half_w, half_h = width / 2.0, height / 2.0
    corners = np.array([[-half_w, -half_h, 0.0], [half_w, -half_h, 0.0], [half_w, half_h, 0.0], [-half_w, half_h, 0.0]])
    rot_y = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
    rot_x = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
    rot_z = np.array([[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0], [0, 0, 1]])
    turned = corners @ (rot_z @ rot_x @ rot_y).T
    depth = turned[:, 2] + focal
    return turned[:, :2] * (focal / depth)[:, None]


def local_scale(homography: np.ndarray, point: np.ndarray) -> float:
    """Linear magnification of a homography at ``point`` (square root of the Jacobian determinant)."""
    x, y = (float(v) for v in point)
    h = np.asarray(homography, np.float64)
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
    v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
    jac = np.array([[h[0, 0] - u * h[2, 0], h[0, 1] - u * h[2, 1]], [h[1, 0] - v * h[2, 0], h[1, 1] - v * h[2, 1]]]) / w
    return math.sqrt(abs(float(np.linalg.det(jac))))


def block_homography(width: float, height: float, centre: tuple[float, float], yaw_deg: float, pitch_deg: float,
                     roll_deg: float, focal_factor: float = 2.0) -> np.ndarray:
    """Homography (pixel-edge coordinates) taking a ``width x height`` block frame into the image.

    The block is tilted (:func:`tilted_rectangle`, focal length ``focal_factor * max(width, height)``), rescaled so
    that its centre keeps magnification 1 (glyphs are rendered at their final size), and moved so its centre lands
    on ``centre``.
    """
    focal = focal_factor * max(width, height)
    src = box_corners((0.0, 0.0, width, height))
    dst = tilted_rectangle(width, height, yaw_deg, pitch_deg, roll_deg, focal)
    homography = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)
    block_centre = np.array([width / 2.0, height / 2.0])
    scale = local_scale(homography, block_centre)
    mapped_centre = project_points(homography, block_centre[None])[0]
    rescale = np.diag([1.0 / scale, 1.0 / scale, 1.0])
    homography = translation(*(np.asarray(centre) - mapped_centre / scale)) @ rescale @ homography
    return homography / homography[2, 2]


def quad_height(quad: np.ndarray) -> float:
    """Mean length of the left and right sides of a ``[4, 2]`` quad ordered TL, TR, BR, BL in its own frame."""
    quad = np.asarray(quad, np.float64)
    return float((np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2.0)


def convex_polygons_overlap(first: np.ndarray, second: np.ndarray) -> bool:
    """True when two convex polygons ``[K, 2]`` share interior points (separating-axis test; touching is not
    overlapping). Points may be in either winding order."""
    # Plain floats: for a handful of points this is several times faster than numpy.
    first = np.asarray(first, np.float64).tolist()
    second = np.asarray(second, np.float64).tolist()
    for polygon in (first, second):
        for (ax, ay), (bx, by) in zip(polygon, polygon[1:] + polygon[:1]):
            nx, ny = ay - by, bx - ax
            proj_first = [nx * x + ny * y for x, y in first]
            proj_second = [nx * x + ny * y for x, y in second]
            if max(proj_first) <= min(proj_second) or max(proj_second) <= min(proj_first):
                return False
    return True


def polygon_mask(shape: tuple[int, int], polygons: list[np.ndarray], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """``[h, w]`` uint8 mask (1 inside) of polygons in pixel-edge image coordinates, for the window at ``origin``.

    Every pixel whose centre is inside is set; like ``cv2.fillPoly`` it also sets the pixels its boundary runs
    through, so the mask can be one pixel wider than the polygon (a conservative footprint).
    """
    mask = np.zeros(shape, np.uint8)
    shift_bits = 4  # sub-pixel precision of cv2.fillPoly
    pts = [np.round((np.asarray(p, np.float64).reshape(-1, 2) - np.asarray(origin) - 0.5) * (1 << shift_bits))
           .astype(np.int32) for p in polygons]
    cv2.fillPoly(mask, pts, 1, lineType=cv2.LINE_8, shift=shift_bits)
    return mask
