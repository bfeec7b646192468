"""Text-aware data transforms for mmdet 3.x pipelines.

Every transform here keeps the per-word keys of a results dict aligned, one entry per word in the same order:
``gt_bboxes`` (``HorizontalBoxes`` [N, 4]), ``gt_bboxes_labels`` (int64 [N]), ``gt_masks`` (``PolygonMasks``, N words),
``gt_ignore_flags`` (bool [N], True = don't care) and ``gt_texts`` (list of N str). A transform that drops words drops
them from all five; a word that becomes don't care keeps its place. mmdet's ``Resize``, ``Pad``, ``RandomResize`` and
``PhotoMetricDistortion`` never drop words and are used as they are. mmdet's ``FilterAnnotations`` and ``RandomCrop``
do drop words without knowing ``gt_texts``: use ``FilterTextAnnotations`` and ``RandomTextCrop`` instead.

Flip is deliberately absent: a mirrored word is no longer the word of its transcription ("STOP" mirrored reads as
nothing), so flipping would teach the recognition head wrong labels.

Semantic maps (``gt_seg_map``) are not moved by ``RandomTextRotate`` / ``RandomTextCrop``: text pipelines have none.

Conventions: coordinates are continuous image coordinates, (0, 0) is the top-left corner of the top-left pixel and
(W, H) the bottom-right corner of the image (the convention of COCO polygons and mmdet boxes); the pixel in column i,
row j covers [i, i + 1] x [j, j + 1]. Angles are in degrees, positive = counter-clockwise as seen on screen (like
``cv2.getRotationMatrix2D``). Randomness comes from numpy's global generator, which mmengine seeds per worker.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes
from mmdet.structures.mask import PolygonMasks

from text_spotting.datasets.annotation_io import AnnotationError
from text_spotting.geometry import as_points, bbox_to_quad, polygon_area, polygon_to_bbox

__all__ = [
    'LoadWordAnnotations', 'PackTextDetInputs', 'RandomTextRotate', 'RandomTextCrop', 'FilterTextAnnotations',
    'rotation_matrix', 'pixel_grid_matrix', 'warp_points', 'clip_polygon_to_rect',
    'clip_word_polygons', 'free_cut_positions', 'sample_free_span', 'INSTANCE_KEYS',
]

# The per-word keys kept aligned by every transform of this module.
INSTANCE_KEYS = ('gt_bboxes', 'gt_bboxes_labels', 'gt_masks', 'gt_ignore_flags', 'gt_texts')

# mmdet 3.3 PackDetInputs' default meta keys (a test checks they have not drifted).
MMDET_PACK_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction')

_INTERPOLATIONS = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC}


# ----------------------------------------------------------------------------------------------------------------------
# Pure geometry
# ----------------------------------------------------------------------------------------------------------------------

def _cos_sin(angle: float) -> tuple[float, float]:
    """cos and sin of an angle in degrees, exact for multiples of 90 degrees (so right-angle rotations move pixels
    and polygons without any rounding)."""
    quarter_turns, remainder = divmod(float(angle), 90.0)
    if remainder == 0.0:
        return {0: (1.0, 0.0), 1: (0.0, 1.0), 2: (-1.0, 0.0), 3: (0.0, -1.0)}[int(quarter_turns) % 4]
    radians = math.radians(angle)
    return math.cos(radians), math.sin(radians)


def rotation_matrix(width: int, height: int, angle: float, expand: bool = True) -> tuple[np.ndarray, tuple[int, int]]:
    """Affine matrix that rotates a ``width`` x ``height`` image by ``angle`` degrees (counter-clockwise on screen)
    about its centre.

    With ``expand`` the canvas grows to hold the whole rotated image, which is centred on it; without it the canvas
    keeps its size and the rotated corners fall outside.

    Returns:
        ``(matrix [2, 3] float64, (out_width, out_height))``; a point p maps to ``matrix[:, :2] @ p + matrix[:, 2]``.
    """
    cos, sin = _cos_sin(angle)
    # y points down, so a counter-clockwise turn on screen maps (1, 0) to (cos, -sin) and (0, 1) to (sin, cos).
    linear = np.array([[cos, sin], [-sin, cos]])
    if expand:
        # ceil with a tolerance so that e.g. 100.00000000001 stays 100.
        out_width = int(math.ceil(abs(cos) * width + abs(sin) * height - 1e-6))
        out_height = int(math.ceil(abs(sin) * width + abs(cos) * height - 1e-6))
    else:
        out_width, out_height = int(width), int(height)
    source_center = np.array([width / 2.0, height / 2.0])
    target_center = np.array([out_width / 2.0, out_height / 2.0])
    translation = target_center - linear @ source_center
    return np.hstack([linear, translation[:, None]]), (out_width, out_height)


def pixel_grid_matrix(matrix: np.ndarray) -> np.ndarray:
    """Turns an affine ``[2, 3]`` on continuous coordinates into the one ``cv2.warpAffine`` applies to pixel indices
    (whose pixel centres sit at integers, i.e. continuous coordinate = index + 0.5)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    grid = matrix.copy()
    grid[:, 2] += 0.5 * matrix[:, :2].sum(axis=1) - 0.5
    return grid


def warp_points(points: Sequence[float] | np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Applies an affine ``[2, 3]`` to polygon points (flat list or ``[K, 2]``); returns ``[K, 2]`` float64."""
    points = as_points(points)
    matrix = np.asarray(matrix, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def clip_polygon_to_rect(points: Sequence[float] | np.ndarray, rect: Sequence[float]) -> np.ndarray:
    """Part of a polygon inside the rectangle ``rect = (x1, y1, x2, y2)`` (Sutherland-Hodgman clipping).

    Exact for convex polygons (every word quadrilateral); for a concave one the result has the right area and covers
    the right pixels, possibly with zero-width bridges along the rectangle border.

    Returns:
        ``[M, 2]`` float64 points in the input's orientation, consecutive duplicates removed; ``[0, 2]`` when less than
        3 points remain (the polygon lies outside the rectangle).
    """
    x1, y1, x2, y2 = (float(v) for v in rect)
    # Each border as (axis, limit, keep-side sign): a point p is inside when sign * (p[axis] - limit) >= 0.
    borders = ((0, x1, 1.0), (0, x2, -1.0), (1, y1, 1.0), (1, y2, -1.0))
    polygon = [tuple(p) for p in as_points(points)]
    for axis, limit, sign in borders:
        if not polygon:
            break
        clipped = []
        previous = polygon[-1]
        previous_inside = sign * (previous[axis] - limit) >= 0
        for current in polygon:
            current_inside = sign * (current[axis] - limit) >= 0
            if current_inside != previous_inside:
                t = (limit - previous[axis]) / (current[axis] - previous[axis])
                crossing = [previous[0] + t * (current[0] - previous[0]), previous[1] + t * (current[1] - previous[1])]
                crossing[axis] = limit  # exactly on the border, no rounding drift
                clipped.append(tuple(crossing))
            if current_inside:
                clipped.append(current)
            previous, previous_inside = current, current_inside
        polygon = clipped
    deduplicated = [p for i, p in enumerate(polygon) if p != polygon[i - 1]] if len(polygon) > 1 else polygon
    if len(deduplicated) < 3:
        return np.zeros((0, 2), dtype=np.float64)
    return np.asarray(deduplicated, dtype=np.float64)


def clip_word_polygons(parts: Sequence[np.ndarray], rect: Sequence[float]) -> tuple[list[np.ndarray], float]:
    """Clips the polygon parts ``[K_i, 2]`` of one word to ``rect = (x1, y1, x2, y2)``.

    Returns:
        ``(visible_parts, visible_ratio)``: the clipped parts that keep some area (a list of ``[M_i, 2]``, empty when
        the word is not visible) and the visible fraction of the word's area in [0, 1]. A degenerate word (zero area)
        is fully visible when any of it lies inside, else not at all.
    """
    x1, y1, x2, y2 = (float(v) for v in rect)
    if all(len(p) >= 3 and (p.min(axis=0) >= (x1, y1)).all() and (p.max(axis=0) <= (x2, y2)).all() for p in parts):
        return list(parts), 1.0  # the usual case, and the one that must leave the word untouched
    full_area = sum(polygon_area(p) for p in parts)
    clipped = [clip_polygon_to_rect(p, rect) for p in parts]
    clipped = [c for c in clipped if len(c) >= 3]
    if full_area <= 0.0:
        return clipped, 1.0 if clipped else 0.0
    visible = [c for c in clipped if polygon_area(c) > 0.0]
    visible_area = sum(polygon_area(c) for c in visible)
    return visible, min(1.0, visible_area / full_area)


def free_cut_positions(length: int, spans: np.ndarray) -> np.ndarray:
    """Integer positions ``0..length`` along one image axis where a crop border cuts none of the given spans.

    Args:
        length: image size along the axis (pixels).
        spans: ``[N, 2]`` (start, end) projections of the words to protect on this axis.

    Returns:
        bool ``[length + 1]``; a position strictly inside a span is not free, its ends are.
    """
    free = np.ones(int(length) + 1, dtype=bool)
    for start, end in np.asarray(spans, dtype=np.float64).reshape(-1, 2):
        start, end = max(start, 0.0), min(end, float(length))
        first_cut, last_cut = int(math.floor(start)) + 1, int(math.ceil(end)) - 1
        if first_cut <= last_cut:
            free[first_cut:last_cut + 1] = False
    return free


def sample_free_span(free: np.ndarray, min_length: int, max_length: int, rng=np.random) -> tuple[int, int] | None:
    """Draws ``(start, end)`` uniformly among the pairs of free positions with ``min_length <= end - start <=
    max_length``; None when there is no such pair.

    Args:
        free: bool ``[L + 1]`` from :func:`free_cut_positions`.
        rng: anything with numpy's ``randint`` (the ``np.random`` module by default, a ``RandomState`` in tests).
    """
    positions = np.flatnonzero(free)
    first_end = np.searchsorted(positions, positions + min_length, side='left')
    past_last_end = np.searchsorted(positions, positions + max_length, side='right')
    ends_per_start = np.maximum(past_last_end - first_end, 0)
    total = int(ends_per_start.sum())
    if total == 0:
        return None
    pair = int(rng.randint(total))
    cumulative = np.cumsum(ends_per_start)
    start_index = int(np.searchsorted(cumulative, pair, side='right'))
    end_index = first_end[start_index] + pair - (cumulative[start_index] - ends_per_start[start_index])
    return int(positions[start_index]), int(positions[end_index])


# ----------------------------------------------------------------------------------------------------------------------
# Glue shared by the geometric transforms
# ----------------------------------------------------------------------------------------------------------------------

def _num_instances(results: dict) -> int | None:
    """Number of words in ``results`` (None when it has no per-word key); raises when the keys disagree."""
    lengths = {key: len(results[key]) for key in INSTANCE_KEYS if key in results}
    if not lengths:
        return None
    if len(set(lengths.values())) > 1:
        where = results.get('img_path', 'results')
        raise ValueError(f'{where}: per-word keys are misaligned: {lengths} (a transform dropped words from some '
                         f'keys only; use FilterTextAnnotations / RandomTextCrop instead of mmdet\'s)')
    return next(iter(lengths.values()))


def _select_instances(results: dict, keep: np.ndarray) -> None:
    """Keeps the words at integer indices ``keep`` in every per-word key."""
    keep = np.asarray(keep, dtype=np.int64)
    for key in INSTANCE_KEYS:
        if key not in results:
            continue
        value = results[key]
        results[key] = [value[i] for i in keep] if isinstance(value, list) else value[keep]


def _word_polygons(results: dict) -> list[list[np.ndarray]]:
    """The polygon parts ``[K, 2]`` of every word: from ``gt_masks`` when loaded, else the box corners."""
    if 'gt_masks' in results:
        masks = results['gt_masks']
        if not isinstance(masks, PolygonMasks):
            raise TypeError(f'text transforms need polygon masks (LoadWordAnnotations with poly2mask=False), '
                            f'got {type(masks).__name__}')
        return [[as_points(part) for part in word] for word in masks.masks]
    boxes = results['gt_bboxes']
    boxes = boxes.numpy() if isinstance(boxes, BaseBoxes) else np.asarray(boxes)
    return [[bbox_to_quad(box)] for box in boxes.reshape(-1, 4)]


def _store_words_on_canvas(results: dict, polygons: list[list[np.ndarray]], width: int, height: int,
                           min_kept_area_ratio: float) -> None:
    """Stores moved word polygons on a new ``width`` x ``height`` canvas.

    Words are clipped to the canvas; a word with nothing visible is dropped; one with less than
    ``min_kept_area_ratio`` of its area visible becomes don't care (its text set to ''), because its transcription
    no longer matches what is visible. Boxes are recomputed as the tight boxes of the clipped polygons.
    """
    clipped = [clip_word_polygons(parts, (0.0, 0.0, width, height)) for parts in polygons]
    keep = np.array([i for i, (parts, _) in enumerate(clipped) if parts], dtype=np.int64)
    mostly_cut = np.array([ratio < min_kept_area_ratio for _, ratio in clipped], dtype=bool).reshape(-1)[keep]
    kept_parts = [clipped[i][0] for i in keep]
    _select_instances(results, keep)

    ignore = results.get('gt_ignore_flags', np.zeros(len(keep), dtype=bool)).astype(bool) | mostly_cut
    results['gt_ignore_flags'] = ignore
    if 'gt_texts' in results:
        results['gt_texts'] = ['' if cut else text for text, cut in zip(results['gt_texts'], mostly_cut)]

    boxes = np.array([polygon_to_bbox(np.vstack(parts)) for parts in kept_parts], dtype=np.float32).reshape(-1, 4)
    if isinstance(results.get('gt_bboxes'), BaseBoxes):
        if not isinstance(results['gt_bboxes'], HorizontalBoxes):
            raise TypeError(f'text transforms support horizontal boxes only, got {type(results["gt_bboxes"]).__name__}')
        results['gt_bboxes'] = HorizontalBoxes(boxes, dtype=torch.float32)
    else:
        results['gt_bboxes'] = boxes
    if 'gt_masks' in results:
        results['gt_masks'] = PolygonMasks([[part.reshape(-1) for part in parts] for parts in kept_parts],
                                           height, width)


def _record_homography(results: dict, matrix: np.ndarray) -> None:
    """Composes the affine ``[2, 3]`` into ``results['homography_matrix']`` like mmdet's geometric transforms."""
    homography = np.vstack([matrix, [0.0, 0.0, 1.0]]).astype(np.float32)
    previous = results.get('homography_matrix')
    results['homography_matrix'] = homography if previous is None else homography @ previous


# ----------------------------------------------------------------------------------------------------------------------
# Transforms
# ----------------------------------------------------------------------------------------------------------------------

# Not "LoadTextAnnotations": mmdet 3.3 registers a grounding-DINO transform under that name.
@TRANSFORMS.register_module()
class LoadWordAnnotations(LoadAnnotations):
    """mmdet's ``LoadAnnotations`` plus the transcriptions.

    Added keys: ``gt_texts`` (list[str]), one per entry of ``results['instances']``, in the order of ``gt_bboxes`` /
    ``gt_masks`` / ``gt_ignore_flags`` (don't-care words included).

    Args:
        with_text: load ``gt_texts`` from ``instances[i]['text']``.
        Others as mmdet's ``LoadAnnotations``; masks stay polygons (``poly2mask=False``) so that the geometric text
        transforms can move them exactly.
    """

    def __init__(self, with_bbox: bool = True, with_mask: bool = True, poly2mask: bool = False,
                 with_text: bool = True, **kwargs) -> None:
        super().__init__(with_bbox=with_bbox, with_mask=with_mask, poly2mask=poly2mask, **kwargs)
        self.with_text = with_text

    def _load_texts(self, results: dict) -> None:
        texts = []
        for index, instance in enumerate(results.get('instances', [])):
            if 'text' not in instance:
                raise AnnotationError(f"{results.get('img_path', 'results')}: instance {index}: no 'text' field "
                                 f"(load the annotation with CocoTextDataset)")
            text = instance['text']
            if not isinstance(text, str):
                raise AnnotationError(f"{results.get('img_path', 'results')}: instance {index}: field 'text': expected "
                                 f"str, got {type(text).__name__}")
            texts.append(text)
        results['gt_texts'] = texts

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        if self.with_text:
            self._load_texts(results)
        return results

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, with_text={self.with_text})'


@TRANSFORMS.register_module()
class PackTextDetInputs(PackDetInputs):
    """mmdet's ``PackDetInputs`` plus the transcriptions.

    ``gt_texts`` is split like mmdet splits boxes: ``data_samples.gt_instances.texts`` gets the texts of the words
    whose ``gt_ignore_flags`` is False, ``data_samples.ignored_instances.texts`` those of the don't-care ones.

    Args:
        meta_keys: as mmdet's, plus ``'instances'`` by default so that a metric can read the original ground truth
            (original image coordinates) from ``data_sample.metainfo['instances']``. Missing keys are skipped.
    """

    def __init__(self, meta_keys: Sequence[str] = MMDET_PACK_META_KEYS + ('instances',)) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        _num_instances(results)  # fails on misaligned keys
        packed = super().transform(results)
        if 'gt_texts' not in results:
            return packed
        texts = list(results['gt_texts'])
        data_sample = packed['data_samples']
        if 'gt_ignore_flags' in results:
            ignore = np.asarray(results['gt_ignore_flags'], dtype=bool).reshape(-1)
            data_sample.gt_instances.texts = [text for text, flag in zip(texts, ignore) if not flag]
            data_sample.ignored_instances.texts = [text for text, flag in zip(texts, ignore) if flag]
        else:
            data_sample.gt_instances.texts = texts
        return packed


@TRANSFORMS.register_module()
class RandomTextRotate(BaseTransform):
    """Rotates the image and its words by a random angle.

    With probability ``prob`` the image turns by ``right_angle`` + ``small_angle``: ``right_angle`` is drawn from
    ``right_angles`` with probability ``right_angle_prob`` (else 0), ``small_angle`` uniformly from
    [-``max_angle``, ``max_angle``]. Polygons move with the same affine matrix as the pixels, boxes are recomputed
    from them. With ``expand_canvas`` (default) the canvas grows so nothing is lost; otherwise it keeps its size and
    words leaving it are clipped: dropped when invisible, don't care when less than ``min_kept_area_ratio`` of their
    area stays (as in ``RandomTextCrop``).

    Required keys: ``img``; optional ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_masks``, ``gt_ignore_flags``,
    ``gt_texts``. Modified: those, ``img_shape``; added/updated: ``homography_matrix``.

    Args:
        prob: probability of rotating at all.
        max_angle: largest small rotation, degrees.
        right_angles: multiples of 90 degrees to choose from (uniformly).
        right_angle_prob: probability of adding one of ``right_angles`` when rotating.
        expand_canvas: grow the canvas to keep the whole rotated image (else keep the size and cut the corners).
        min_kept_area_ratio: visible area fraction below which a clipped word becomes don't care.
        interpolation: 'nearest', 'bilinear' or 'bicubic'.
        border_value: fill value of the uncovered canvas (a number or one value per channel).
    """

    def __init__(self, prob: float = 0.5, max_angle: float = 10.0, right_angles: Sequence[int] = (90, 270),
                 right_angle_prob: float = 0.2, expand_canvas: bool = True, min_kept_area_ratio: float = 0.9,
                 interpolation: str = 'bilinear', border_value: float | Sequence[float] = 0) -> None:
        if not 0.0 <= prob <= 1.0 or not 0.0 <= right_angle_prob <= 1.0:
            raise ValueError(f'probabilities must lie in [0, 1], got prob={prob}, right_angle_prob={right_angle_prob}')
        if max_angle < 0:
            raise ValueError(f'max_angle must be >= 0, got {max_angle}')
        if any(angle % 90 for angle in right_angles):
            raise ValueError(f'right_angles must be multiples of 90, got {tuple(right_angles)}')
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {sorted(_INTERPOLATIONS)}, got {interpolation!r}')
        self.prob = prob
        self.max_angle = max_angle
        self.right_angles = tuple(right_angles)
        self.right_angle_prob = right_angle_prob
        self.expand_canvas = expand_canvas
        self.min_kept_area_ratio = min_kept_area_ratio
        self.interpolation = interpolation
        self.border_value = border_value

    @cache_randomness
    def _sample_angle(self) -> float | None:
        """The rotation angle in degrees, or None when this image is not rotated."""
        if np.random.rand() >= self.prob:
            return None
        angle = 0.0
        if self.right_angles and np.random.rand() < self.right_angle_prob:
            angle += float(self.right_angles[np.random.randint(len(self.right_angles))])
        if self.max_angle > 0:
            angle += float(np.random.uniform(-self.max_angle, self.max_angle))
        return angle

    def _border_scalar(self, channels: int) -> tuple:
        # cv2 reads a bare number as (v, 0, 0, 0), i.e. only the first channel; spell it out per channel.
        if isinstance(self.border_value, (int, float)):
            return (float(self.border_value),) * max(channels, 1)
        return tuple(float(v) for v in self.border_value)

    def rotate(self, results: dict, angle: float) -> dict:
        """Rotates ``results`` by ``angle`` degrees (counter-clockwise on screen); deterministic."""
        img = results['img']
        height, width = img.shape[:2]
        matrix, (out_width, out_height) = rotation_matrix(width, height, angle, expand=self.expand_canvas)
        results['img'] = cv2.warpAffine(
            img, pixel_grid_matrix(matrix), (out_width, out_height), flags=_INTERPOLATIONS[self.interpolation],
            borderMode=cv2.BORDER_CONSTANT, borderValue=self._border_scalar(img.shape[2] if img.ndim == 3 else 1))
        if img.ndim == 3 and results['img'].ndim == 2:  # cv2 drops a single channel axis
            results['img'] = results['img'][..., None]
        results['img_shape'] = (out_height, out_width)
        if _num_instances(results) is not None:
            polygons = [[warp_points(part, matrix) for part in parts] for parts in _word_polygons(results)]
            _store_words_on_canvas(results, polygons, out_width, out_height, self.min_kept_area_ratio)
        _record_homography(results, matrix)
        return results

    def transform(self, results: dict) -> dict:
        angle = self._sample_angle()
        if angle is None:
            return results
        return self.rotate(results, angle)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, max_angle={self.max_angle}, '
                f'right_angles={self.right_angles}, right_angle_prob={self.right_angle_prob}, '
                f'expand_canvas={self.expand_canvas}, min_kept_area_ratio={self.min_kept_area_ratio}, '
                f'interpolation={self.interpolation!r}, border_value={self.border_value})')


@TRANSFORMS.register_module()
class RandomTextCrop(BaseTransform):
    """Crops a random window whose borders avoid cutting legible words.

    The window's left/right (top/bottom) borders are drawn among the columns (rows) that cross no legible word, with
    the window size in the allowed range, until the window holds at least one legible word (up to ``max_tries``
    draws). When that fails (words everywhere, or too big for the size range) the window is drawn around one random
    legible word that fits in it, or anywhere when none fits. Then, as in ``RandomTextRotate``: words entirely
    outside are dropped, words cut by the border are clipped to it and become don't care (text '') when less than
    ``min_kept_area_ratio`` of their area remains; words inside are kept as they are. Don't-care words never
    constrain the borders.

    Required keys: ``img``; optional ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_masks``, ``gt_ignore_flags``,
    ``gt_texts``. Modified: those, ``img_shape``; added/updated: ``homography_matrix``.

    Args:
        crop_ratio_range: (min, max) window width and height as fractions of the image's (each drawn on its own).
        crop_size: (width, height) in pixels of a fixed-size window instead (clipped to the image).
        prob: probability of cropping at all.
        max_tries: border draws before falling back.
        min_kept_area_ratio: visible area fraction below which a cut word becomes don't care.
    """

    def __init__(self, crop_ratio_range: Sequence[float] = (0.3, 1.0), crop_size: Sequence[int] | None = None,
                 prob: float = 1.0, max_tries: int = 50, min_kept_area_ratio: float = 0.9) -> None:
        low, high = (float(v) for v in crop_ratio_range)
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f'crop_ratio_range must satisfy 0 < min <= max <= 1, got {tuple(crop_ratio_range)}')
        if crop_size is not None and (len(crop_size) != 2 or min(crop_size) < 1):
            raise ValueError(f'crop_size must be (width, height) in pixels >= 1, got {crop_size}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must lie in [0, 1], got {prob}')
        if max_tries < 1:
            raise ValueError(f'max_tries must be >= 1, got {max_tries}')
        self.crop_ratio_range = (low, high)
        self.crop_size = None if crop_size is None else (int(crop_size[0]), int(crop_size[1]))
        self.prob = prob
        self.max_tries = max_tries
        self.min_kept_area_ratio = min_kept_area_ratio

    def _size_limits(self, length: int, axis: int) -> tuple[int, int]:
        """(min, max) window size in pixels along an image axis (0 = x, 1 = y) of ``length`` pixels."""
        if self.crop_size is not None:
            size = min(self.crop_size[axis], length)
            return size, size
        low, high = self.crop_ratio_range
        min_size = min(length, max(1, math.ceil(low * length - 1e-9)))
        return min_size, max(min_size, min(length, math.floor(high * length + 1e-9)))

    def sample_window(self, width: int, height: int, legible_boxes: np.ndarray) -> tuple[int, int, int, int]:
        """Window ``(x1, y1, x2, y2)`` in integer pixels for an image of ``width`` x ``height`` whose legible words
        have the boxes ``[M, 4]`` (x1, y1, x2, y2), clipped to the image."""
        (min_w, max_w), (min_h, max_h) = self._size_limits(width, 0), self._size_limits(height, 1)
        free_x = free_cut_positions(width, legible_boxes[:, [0, 2]])
        free_y = free_cut_positions(height, legible_boxes[:, [1, 3]])
        for _ in range(self.max_tries):
            span_x = sample_free_span(free_x, min_w, max_w)
            span_y = sample_free_span(free_y, min_h, max_h)
            if span_x is None or span_y is None:
                break
            (x1, x2), (y1, y2) = span_x, span_y
            # The borders cut no legible word, so a word inside the window on both axes is whole.
            inside = ((legible_boxes[:, 0] >= x1) & (legible_boxes[:, 2] <= x2) &
                      (legible_boxes[:, 1] >= y1) & (legible_boxes[:, 3] <= y2))
            if len(legible_boxes) == 0 or inside.any():
                return x1, y1, x2, y2
        return self._window_around_a_word(width, height, legible_boxes, (min_w, max_w), (min_h, max_h))

    @staticmethod
    def _window_around_a_word(width: int, height: int, legible_boxes: np.ndarray, limits_w: tuple[int, int],
                              limits_h: tuple[int, int]) -> tuple[int, int, int, int]:
        """Fallback window: around a random legible word that fits in the size limits, anywhere if none fits."""
        word_starts = np.floor(legible_boxes[:, :2]).astype(np.int64)  # [M, 2] (x, y)
        word_ends = np.ceil(legible_boxes[:, 2:]).astype(np.int64)
        max_sizes = np.array([limits_w[1], limits_h[1]])
        fitting = np.flatnonzero(np.all(word_ends - word_starts <= max_sizes, axis=1))
        word = int(fitting[np.random.randint(len(fitting))]) if len(fitting) else None
        window = []
        for axis, (length, (low, high)) in enumerate(((width, limits_w), (height, limits_h))):
            if word is None:
                size = np.random.randint(low, high + 1)
                first = np.random.randint(0, length - size + 1)
            else:
                start, end = word_starts[word, axis], word_ends[word, axis]
                size = np.random.randint(max(low, end - start), high + 1)
                first = np.random.randint(max(0, end - size), min(start, length - size) + 1)
            window.append((int(first), int(first + size)))
        (x1, x2), (y1, y2) = window
        return x1, y1, x2, y2

    def crop(self, results: dict, window: tuple[int, int, int, int]) -> dict:
        """Crops ``results`` to ``window = (x1, y1, x2, y2)`` (integer pixels inside the image); deterministic."""
        x1, y1, x2, y2 = window
        results['img'] = results['img'][y1:y2, x1:x2, ...]
        results['img_shape'] = (y2 - y1, x2 - x1)
        shift = np.array([[1.0, 0.0, -x1], [0.0, 1.0, -y1]])
        if _num_instances(results) is not None:
            polygons = [[warp_points(part, shift) for part in parts] for parts in _word_polygons(results)]
            _store_words_on_canvas(results, polygons, x2 - x1, y2 - y1, self.min_kept_area_ratio)
        _record_homography(results, shift)
        return results

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        height, width = results['img'].shape[:2]
        legible_boxes = np.zeros((0, 4))
        if _num_instances(results):
            boxes = np.array([polygon_to_bbox(np.vstack(parts)) for parts in _word_polygons(results)]).reshape(-1, 4)
            ignore = np.asarray(results.get('gt_ignore_flags', np.zeros(len(boxes), dtype=bool)), dtype=bool)
            legible_boxes = np.clip(boxes[~ignore], 0, [width, height, width, height])
        return self.crop(results, self.sample_window(width, height, legible_boxes))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_ratio_range={self.crop_ratio_range}, crop_size={self.crop_size}, '
                f'prob={self.prob}, max_tries={self.max_tries}, min_kept_area_ratio={self.min_kept_area_ratio})')


@TRANSFORMS.register_module()
class FilterTextAnnotations(BaseTransform):
    """Drops degenerate words (tiny boxes, zero-area polygons) from every per-word key at once.

    Unlike mmdet's ``FilterAnnotations`` it keeps ``gt_texts`` aligned and never drops the image: an image left
    without words is still a useful negative example.

    Args:
        min_size: (width, height) a word's box must reach, pixels.
        min_area: area its polygon (all parts) must reach, square pixels; only checked when ``gt_masks`` is loaded.
    """

    def __init__(self, min_size: Sequence[float] = (1.0, 1.0), min_area: float = 1.0) -> None:
        self.min_size = (float(min_size[0]), float(min_size[1]))
        self.min_area = float(min_area)

    def transform(self, results: dict) -> dict:
        if not _num_instances(results):
            return results
        boxes = results['gt_bboxes']
        boxes = boxes.numpy() if isinstance(boxes, BaseBoxes) else np.asarray(boxes).reshape(-1, 4)
        keep = ((boxes[:, 2] - boxes[:, 0] >= self.min_size[0]) & (boxes[:, 3] - boxes[:, 1] >= self.min_size[1]))
        if 'gt_masks' in results:
            areas = np.array([sum(polygon_area(part) for part in parts) for parts in _word_polygons(results)])
            keep &= areas >= self.min_area
        _select_instances(results, np.flatnonzero(keep))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(min_size={self.min_size}, min_area={self.min_area})'
