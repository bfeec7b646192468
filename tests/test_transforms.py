"""Tests of the text-aware pipeline transforms: exact geometry on known numbers, alignment of the per-word keys, a full
training pipeline on a synthetic image whose words are coloured blocks, and polygons on a real photo."""
from __future__ import annotations

import copy
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import PolygonMasks

import text_spotting.datasets  # noqa: F401  (registers the transforms)
from text_spotting.datasets.annotation_io import AnnotationError
from text_spotting.datasets.transforms import (MMDET_PACK_META_KEYS, FilterTextAnnotations, LoadWordAnnotations,
                                               PackTextDetInputs, RandomTextCrop, RandomTextRotate,
                                               clip_polygon_to_rect, clip_word_polygons, free_cut_positions,
                                               pixel_grid_matrix, rotation_matrix, sample_free_span, warp_points)
from text_spotting.geometry import polygon_area

ICDAR_DEV = Path(os.environ.get('ICDAR2015_DEV', '/work/shared/data/icdar2015_dev'))

# One colour per synthetic word; the word's text is its index into this table, so a word found on the wrong pixels
# after a transform shows up as the wrong colour.
PALETTE = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255),
                    (255, 128, 0), (128, 0, 255), (255, 255, 255), (0, 128, 128)], dtype=np.uint8)
DONT_CARE_COLOUR = np.array((128, 128, 128), dtype=np.uint8)


def rect_polygon(x1, y1, x2, y2):
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def as_point_set(points):
    return sorted(tuple(round(float(v), 9) for v in p) for p in np.asarray(points).reshape(-1, 2))


def synthetic_results(width=240, height=160, words=None):
    """A loaded results dict of a black image with axis-aligned coloured words.

    words: list of (x1, y1, x2, y2, text, dont_care) with integer corners; text 'wK' is painted with PALETTE[K].
    """
    if words is None:
        # Three columns and three rows of words with gaps between them.
        words = [(10, 10, 60, 30, 'w0', False), (100, 12, 180, 36, 'w1', False), (200, 15, 235, 40, 'w2', False),
                 (20, 70, 55, 95, 'w3', False), (110, 75, 170, 92, 'w4', False), (195, 120, 235, 150, 'w5', False),
                 (100, 125, 160, 145, '', True)]
    img = np.zeros((height, width, 3), dtype=np.uint8)
    instances = []
    for x1, y1, x2, y2, text, dont_care in words:
        img[y1:y2, x1:x2] = DONT_CARE_COLOUR if dont_care else PALETTE[int(text[1:])]
        instances.append({'bbox': [float(x1), float(y1), float(x2), float(y2)], 'bbox_label': 0,
                          'ignore_flag': int(dont_care), 'mask': [[float(v) for v in rect_polygon(x1, y1, x2, y2)]],
                          'text': text, 'legible': not dont_care, 'language': 'en'})
    results = {'img': img, 'img_shape': (height, width), 'ori_shape': (height, width), 'img_path': 'synthetic.png',
               'img_id': 0, 'instances': instances}
    return LoadWordAnnotations()(results)


def assert_aligned(results):
    n = len(results['gt_texts'])
    assert isinstance(results['gt_bboxes'], HorizontalBoxes)
    assert isinstance(results['gt_masks'], PolygonMasks)
    assert len(results['gt_bboxes']) == len(results['gt_bboxes_labels']) == len(results['gt_masks']) == n
    assert results['gt_ignore_flags'].shape == (n,) and results['gt_ignore_flags'].dtype == bool
    height, width = results['img'].shape[:2]
    assert tuple(results['img_shape'][:2]) == (height, width)
    assert (results['gt_masks'].height, results['gt_masks'].width) == (height, width)


def interior_points(polygon):
    """Points well inside a convex polygon: its centroid and the midpoints between the centroid and each vertex."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    center = points.mean(axis=0)
    return np.vstack([center, (center + points) / 2])


def assert_words_on_their_pixels(img, polygons, texts):
    """Each legible word's interior must have the word's own colour (tolerance for interpolation)."""
    for polygon, text in zip(polygons, texts):
        colour = PALETTE[int(text[1:])].astype(int)
        for x, y in interior_points(polygon):
            pixel = img[int(np.floor(y)), int(np.floor(x))].astype(int)
            assert np.abs(pixel - colour).max() <= 40, f'{text} at ({x:.1f}, {y:.1f}): {pixel} != {colour}'


# ---------------------------------------------------------------------------------------------------------------------
# Pure geometry
# ---------------------------------------------------------------------------------------------------------------------

def test_rotation_by_right_angles_of_a_100x50_image_moves_a_point_exactly():
    matrix, size = rotation_matrix(100, 50, 90)
    assert size == (50, 100)
    # Counter-clockwise on screen: the left edge becomes the bottom edge, (x, y) -> (y, W - x).
    np.testing.assert_array_equal(warp_points([10, 20], matrix), [[20.0, 90.0]])
    matrix, size = rotation_matrix(100, 50, 180)
    assert size == (100, 50)
    np.testing.assert_array_equal(warp_points([10, 20], matrix), [[90.0, 30.0]])
    matrix, size = rotation_matrix(100, 50, 270)
    assert size == (50, 100)
    np.testing.assert_array_equal(warp_points([10, 20], matrix), [[30.0, 10.0]])
    matrix, size = rotation_matrix(100, 50, -90)
    np.testing.assert_array_equal(warp_points([10, 20], matrix), [[30.0, 10.0]])


def test_rotation_keeping_the_canvas_turns_about_the_image_centre():
    matrix, size = rotation_matrix(100, 50, 90, expand=False)
    assert size == (100, 50)
    # (10, 20) is (-40, -5) from the centre (50, 25) and turns to (-5, 40).
    np.testing.assert_array_equal(warp_points([10, 20], matrix), [[45.0, 65.0]])
    np.testing.assert_array_equal(warp_points([50, 25], matrix), [[50.0, 25.0]])


def test_rotation_by_30_degrees_grows_the_canvas_to_hold_every_corner():
    matrix, size = rotation_matrix(100, 50, 30)
    cos, sin = np.cos(np.pi / 6), np.sin(np.pi / 6)
    assert size == (int(np.ceil(100 * cos + 50 * sin)), int(np.ceil(100 * sin + 50 * cos))) == (112, 94)
    corners = warp_points([0, 0, 100, 0, 100, 50, 0, 50], matrix)
    assert corners.min() >= 0 and (corners.max(axis=0) <= size).all()
    # Centred: the margins left and right (top and bottom) are equal.
    np.testing.assert_allclose(corners.min(axis=0), np.array(size) - corners.max(axis=0), atol=1e-9)
    # Counter-clockwise on screen: the top edge now rises to the right.
    np.testing.assert_allclose(corners[1] - corners[0], [100 * cos, -100 * sin], atol=1e-9)


@pytest.mark.parametrize('angle, quarter_turns', [(90, 1), (180, 2), (270, 3)])
def test_warping_pixels_by_right_angles_equals_numpy_rot90(angle, quarter_turns):
    img = np.random.RandomState(0).randint(0, 256, size=(5, 7, 3)).astype(np.uint8)
    matrix, (width, height) = rotation_matrix(7, 5, angle)
    warped = cv2.warpAffine(img, pixel_grid_matrix(matrix), (width, height), flags=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(warped, np.rot90(img, quarter_turns))


def test_clipping_a_word_half_outside_the_right_border():
    clipped = clip_polygon_to_rect(rect_polygon(90, 10, 110, 30), (0, 0, 100, 100))
    assert as_point_set(clipped) == [(90.0, 10.0), (90.0, 30.0), (100.0, 10.0), (100.0, 30.0)]
    parts, ratio = clip_word_polygons([np.array(rect_polygon(90, 10, 110, 30), float).reshape(-1, 2)],
                                      (0, 0, 100, 100))
    assert len(parts) == 1 and ratio == 0.5


def test_clipping_a_triangle_and_a_tilted_quad():
    triangle = clip_polygon_to_rect([0, 0, 20, 0, 0, 20], (5, 0, 100, 100))
    assert as_point_set(triangle) == [(5.0, 0.0), (5.0, 15.0), (20.0, 0.0)]
    assert polygon_area(triangle) == 112.5
    # A diamond centred on the corner (0, 0) of the rectangle keeps one quarter.
    diamond = clip_polygon_to_rect([0, -10, 10, 0, 0, 10, -10, 0], (0, 0, 50, 50))
    assert as_point_set(diamond) == [(0.0, 0.0), (0.0, 10.0), (10.0, 0.0)]


def test_clipping_keeps_inside_polygons_and_empties_outside_ones():
    inside = clip_polygon_to_rect(rect_polygon(10, 10, 20, 20), (0, 0, 100, 100))
    np.testing.assert_array_equal(inside, np.array(rect_polygon(10, 10, 20, 20), float).reshape(-1, 2))
    assert clip_polygon_to_rect(rect_polygon(110, 10, 120, 20), (0, 0, 100, 100)).shape == (0, 2)
    # Touching the border from outside leaves no area: the word is not visible.
    parts, ratio = clip_word_polygons([np.array(rect_polygon(100, 10, 120, 20), float).reshape(-1, 2)],
                                      (0, 0, 100, 100))
    assert parts == [] and ratio == 0.0


def test_crop_offsets_then_clipping():
    shift = np.array([[1.0, 0.0, -30.0], [0.0, 1.0, -40.0]])  # crop window starting at (30, 40)
    moved = warp_points(rect_polygon(20, 50, 60, 60), shift)
    np.testing.assert_array_equal(moved, [[-10, 10], [30, 10], [30, 20], [-10, 20]])
    parts, ratio = clip_word_polygons([moved], (0, 0, 100, 100))
    assert as_point_set(parts[0]) == [(0.0, 10.0), (0.0, 20.0), (30.0, 10.0), (30.0, 20.0)]
    assert ratio == 0.75


def test_free_cut_positions_exclude_the_inside_of_words_only():
    free = free_cut_positions(20, np.array([[3.5, 7.0], [12.0, 12.5], [-5.0, 1.5]]))
    assert np.flatnonzero(~free).tolist() == [1, 4, 5, 6]  # 0 and 20 are the image borders, always free


def test_sample_free_span_draws_only_valid_spans_and_all_of_them():
    free = free_cut_positions(20, np.array([[3.5, 7.0], [10.2, 15.8]]))
    rng = np.random.RandomState(0)
    spans = {sample_free_span(free, 5, 12, rng) for _ in range(2000)}
    expected = {(a, b) for a in range(21) for b in range(21) if free[a] and free[b] and 5 <= b - a <= 12}
    assert spans == expected
    assert sample_free_span(free_cut_positions(20, np.array([[0.5, 19.5]])), 5, 12, rng) is None


# ---------------------------------------------------------------------------------------------------------------------
# Loading and packing
# ---------------------------------------------------------------------------------------------------------------------

def test_load_text_annotations_keeps_texts_in_instance_order():
    results = synthetic_results()
    assert_aligned(results)
    assert results['gt_texts'] == ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', '']
    assert results['gt_ignore_flags'].tolist() == [False] * 6 + [True]
    np.testing.assert_array_equal(results['gt_masks'].masks[1][0], rect_polygon(100, 12, 180, 36))


def test_load_text_annotations_names_the_image_and_instance_of_a_bad_text():
    results = synthetic_results()
    del results['gt_texts']
    results['instances'][2]['text'] = 7
    with pytest.raises(AnnotationError, match=r"synthetic.png: instance 2: field 'text'"):
        LoadWordAnnotations()(results)
    del results['instances'][2]['text']
    with pytest.raises(AnnotationError, match=r"synthetic.png: instance 2: no 'text' field"):
        LoadWordAnnotations()(results)


def test_registry_builds_our_load_text_annotations():
    assert isinstance(TRANSFORMS.build(dict(type='LoadWordAnnotations')), LoadWordAnnotations)


def test_pack_splits_texts_like_mmdet_splits_boxes():
    results = synthetic_results()
    results['gt_ignore_flags'][1] = True
    packed = PackTextDetInputs()(results)
    sample = packed['data_samples']
    assert sample.gt_instances.texts == ['w0', 'w2', 'w3', 'w4', 'w5']
    assert sample.ignored_instances.texts == ['w1', '']
    assert len(sample.gt_instances.bboxes) == 5 and len(sample.ignored_instances.bboxes) == 2
    torch.testing.assert_close(sample.ignored_instances.bboxes.tensor[0], torch.tensor([100.0, 12.0, 180.0, 36.0]))
    assert sample.metainfo['instances'][0]['text'] == 'w0'
    assert packed['inputs'].shape == (3, 160, 240)


def test_pack_default_meta_keys_are_mmdets_plus_instances():
    import inspect
    mmdet_default = inspect.signature(PackDetInputs.__init__).parameters['meta_keys'].default
    assert PackTextDetInputs().meta_keys == tuple(mmdet_default) + ('instances',) == MMDET_PACK_META_KEYS + (
        'instances',)


def test_pack_refuses_misaligned_texts():
    results = synthetic_results()
    results['gt_texts'] = results['gt_texts'][:-1]
    with pytest.raises(ValueError, match='misaligned'):
        PackTextDetInputs()(results)


# ---------------------------------------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------------------------------------

def test_rotate_by_90_moves_pixels_polygons_and_boxes_together():
    results = synthetic_results()
    rotated = RandomTextRotate(expand_canvas=True).rotate(copy.deepcopy(results), 90)
    assert_aligned(rotated)
    assert rotated['img'].shape == (240, 160, 3) and rotated['img_shape'] == (240, 160)
    np.testing.assert_array_equal(rotated['img'], np.rot90(results['img']))
    assert rotated['gt_texts'] == results['gt_texts']
    # w1 covered x in [100, 180], y in [12, 36]; (x, y) -> (y, 240 - x).
    assert as_point_set(rotated['gt_masks'].masks[1][0]) == [(12.0, 60.0), (12.0, 140.0), (36.0, 60.0),
                                                             (36.0, 140.0)]
    torch.testing.assert_close(rotated['gt_bboxes'].tensor[1], torch.tensor([12.0, 60.0, 36.0, 140.0]))
    legible = ~rotated['gt_ignore_flags']
    assert_words_on_their_pixels(rotated['img'], [m[0] for m, keep in zip(rotated['gt_masks'].masks, legible) if keep],
                                 [t for t, keep in zip(rotated['gt_texts'], legible) if keep])
    np.testing.assert_allclose(rotated['homography_matrix'], [[0, 1, 0], [-1, 0, 240], [0, 0, 1]])


@pytest.mark.parametrize('angle', [7.5, -12.0, 97.0, 263.0])
def test_rotate_by_any_angle_keeps_every_word_on_its_pixels(angle):
    results = RandomTextRotate().rotate(synthetic_results(), angle)
    assert_aligned(results)
    assert results['gt_texts'] == ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', '']  # the canvas grew: nothing lost
    assert not results['gt_ignore_flags'][:6].any()
    assert_words_on_their_pixels(results['img'], [m[0] for m in results['gt_masks'].masks[:6]],
                                 results['gt_texts'][:6])
    for box, word in zip(results['gt_bboxes'].numpy(), results['gt_masks'].masks):
        points = word[0].reshape(-1, 2)
        np.testing.assert_allclose(box, np.concatenate([points.min(0), points.max(0)]), atol=1e-4)


def test_rotate_keeping_the_canvas_drops_and_marks_words_cut_by_it():
    # Turning the 240x160 canvas by 90 degrees about (120, 80) maps (x, y) -> (y + 40, 200 - x).
    words = [(100, 70, 140, 90, 'w0', False),   # -> x in [110, 130], y in [60, 100]: whole
             (0, 120, 20, 150, 'w1', False),    # -> y in [180, 200]: below the canvas, dropped
             (20, 10, 60, 30, 'w2', False)]     # -> y in [140, 180]: half visible, don't care
    results = RandomTextRotate(expand_canvas=False).rotate(synthetic_results(words=words), 90)
    assert_aligned(results)
    assert results['img'].shape == (160, 240, 3)
    assert results['gt_texts'] == ['w0', '']
    assert results['gt_ignore_flags'].tolist() == [False, True]
    assert as_point_set(results['gt_masks'].masks[0][0]) == [(110.0, 60.0), (110.0, 100.0), (130.0, 60.0),
                                                             (130.0, 100.0)]
    torch.testing.assert_close(results['gt_bboxes'].tensor,
                               torch.tensor([[110.0, 60.0, 130.0, 100.0], [50.0, 140.0, 70.0, 160.0]]))
    assert_words_on_their_pixels(results['img'], [results['gt_masks'].masks[0][0]], ['w0'])


def test_random_rotate_respects_its_probabilities():
    np.random.seed(3)
    never = RandomTextRotate(prob=0.0)
    results = synthetic_results()
    assert never(results)['img'] is results['img']
    always_right = RandomTextRotate(prob=1.0, max_angle=0.0, right_angles=(90,), right_angle_prob=1.0)
    assert always_right(synthetic_results())['img'].shape == (240, 160, 3)
    sometimes_right = RandomTextRotate(prob=1.0, max_angle=5.0, right_angle_prob=0.5)
    angles = [sometimes_right._sample_angle() for _ in range(400)]
    right = np.round(np.array(angles) / 90.0) * 90.0
    assert set(right.tolist()) == {0.0, 90.0, 270.0}
    assert np.abs(np.array(angles) - right).max() <= 5.0
    assert 0.4 < np.mean(right != 0) < 0.6


# ---------------------------------------------------------------------------------------------------------------------
# Cropping and filtering
# ---------------------------------------------------------------------------------------------------------------------

def test_random_crop_never_cuts_a_legible_word_when_gaps_allow():
    np.random.seed(0)
    crop = RandomTextCrop(crop_ratio_range=(0.3, 0.8), min_kept_area_ratio=0.9)
    for _ in range(30):
        original = synthetic_results()
        areas = {t: polygon_area(m[0]) for t, m, ignored in zip(
            original['gt_texts'], original['gt_masks'].masks, original['gt_ignore_flags']) if not ignored}
        results = crop(original)
        assert_aligned(results)
        height, width = results['img'].shape[:2]
        assert 0.3 * 240 <= width <= 0.8 * 240 and 0.3 * 160 <= height <= 0.8 * 160
        legible = [(t, m[0]) for t, m, ignored in zip(results['gt_texts'], results['gt_masks'].masks,
                                                      results['gt_ignore_flags']) if not ignored]
        assert legible, 'a crop must keep at least one legible word'
        for text, polygon in legible:
            assert polygon_area(polygon) == areas[text]
        assert_words_on_their_pixels(results['img'], [p for _, p in legible], [t for t, _ in legible])


def test_random_crop_keeps_a_lone_small_word():
    # Most windows of this size miss the word in the corner; the crop must keep looking (or frame it).
    np.random.seed(4)
    crop = RandomTextCrop(crop_ratio_range=(0.3, 0.5))
    for _ in range(20):
        results = crop(synthetic_results(words=[(10, 10, 40, 25, 'w0', False), (150, 100, 230, 150, '', True)]))
        assert_aligned(results)
        assert results['gt_texts'][0] == 'w0' and not results['gt_ignore_flags'][0]
        assert polygon_area(results['gt_masks'].masks[0][0]) == 30 * 15


def test_crop_drops_words_outside_and_marks_words_mostly_cut():
    words = [(10, 10, 50, 30, 'w0', False),     # inside the window
             (90, 10, 130, 30, 'w1', False),    # a quarter visible: 0.25 < 0.9 -> don't care
             (60, 40, 102, 60, 'w2', False),    # 40/42 = 95% visible: clipped, still legible
             (150, 100, 200, 130, 'w3', False)]  # outside: dropped
    results = RandomTextCrop().crop(synthetic_results(words=words), (0, 0, 100, 80))
    assert_aligned(results)
    assert results['img'].shape == (80, 100, 3)
    assert results['gt_texts'] == ['w0', '', 'w2']
    assert results['gt_ignore_flags'].tolist() == [False, True, False]
    torch.testing.assert_close(results['gt_bboxes'].tensor,
                               torch.tensor([[10.0, 10, 50, 30], [90, 10, 100, 30], [60, 40, 100, 60]]))
    np.testing.assert_allclose(results['homography_matrix'], np.eye(3))


def test_crop_window_offsets_move_words():
    words = [(100, 70, 140, 90, 'w0', False)]
    results = RandomTextCrop().crop(synthetic_results(words=words), (60, 50, 200, 150))
    assert as_point_set(results['gt_masks'].masks[0][0]) == [(40.0, 20.0), (40.0, 40.0), (80.0, 20.0), (80.0, 40.0)]
    np.testing.assert_allclose(results['homography_matrix'], [[1, 0, -60], [0, 1, -50], [0, 0, 1]])


def test_crop_falls_back_around_a_word_when_words_leave_no_gap():
    # Words cover every column, so no vertical border can avoid them; the fallback frames one whole word.
    words = [(0, 10, 130, 40, 'w0', False), (110, 60, 240, 90, 'w1', False), (60, 110, 180, 140, 'w2', False)]
    np.random.seed(1)
    crop = RandomTextCrop(crop_ratio_range=(0.5, 0.75), max_tries=5)
    for _ in range(20):
        results = crop(synthetic_results(words=words))
        assert_aligned(results)
        assert (~results['gt_ignore_flags']).any()
        legible = [(t, m[0]) for t, m, ignored in zip(results['gt_texts'], results['gt_masks'].masks,
                                                      results['gt_ignore_flags']) if not ignored]
        assert_words_on_their_pixels(results['img'], [p for _, p in legible], [t for t, _ in legible])


def test_crop_with_a_word_too_big_for_any_window_marks_it_dont_care():
    words = [(0, 0, 240, 160, 'w0', False)]
    np.random.seed(2)
    results = RandomTextCrop(crop_ratio_range=(0.3, 0.5))(synthetic_results(words=words))
    assert_aligned(results)
    assert results['gt_texts'] == [''] and results['gt_ignore_flags'].tolist() == [True]


def test_fixed_size_crop():
    np.random.seed(5)
    results = RandomTextCrop(crop_size=(120, 100))(synthetic_results())
    assert results['img'].shape == (100, 120, 3)
    assert_aligned(results)


def test_filter_drops_degenerate_words_from_every_key():
    words = [(10, 10, 50, 30, 'w0', False), (60, 10, 60, 30, 'w1', False), (70, 10, 90, 30, 'w2', False)]
    results = synthetic_results(words=words)
    results['gt_masks'].masks[2] = [np.array([70.0, 10, 90, 10, 90, 10.5, 70, 10.5])]  # area 10
    results = FilterTextAnnotations(min_size=(1, 1), min_area=20)(results)
    assert_aligned(results)
    assert results['gt_texts'] == ['w0']
    assert results['gt_bboxes_labels'].tolist() == [0]


# ---------------------------------------------------------------------------------------------------------------------
# mmdet's own transforms and the whole pipeline
# ---------------------------------------------------------------------------------------------------------------------

def test_mmdet_resize_and_pad_scale_polygons_and_boxes_and_keep_texts():
    results = synthetic_results()
    results = TRANSFORMS.build(dict(type='Resize', scale=(480, 480), keep_ratio=True))(results)
    assert results['img'].shape == (320, 480, 3) and results['scale_factor'] == (2.0, 2.0)
    assert results['gt_texts'] == ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', '']
    np.testing.assert_array_equal(results['gt_masks'].masks[1][0], np.array(rect_polygon(100, 12, 180, 36)) * 2)
    torch.testing.assert_close(results['gt_bboxes'].tensor[1], torch.tensor([200.0, 24.0, 360.0, 72.0]))
    results = TRANSFORMS.build(dict(type='Pad', size_divisor=64))(results)
    assert results['img'].shape == (320, 512, 3)
    assert (results['gt_masks'].height, results['gt_masks'].width) == (320, 512)
    np.testing.assert_array_equal(results['gt_masks'].masks[1][0], np.array(rect_polygon(100, 12, 180, 36)) * 2)
    assert_words_on_their_pixels(results['img'], [m[0] for m in results['gt_masks'].masks[:6]],
                                 results['gt_texts'][:6])


def training_pipeline():
    return [TRANSFORMS.build(cfg) for cfg in (
        dict(type='RandomTextRotate', prob=1.0, max_angle=15.0, right_angle_prob=0.5),
        dict(type='RandomTextCrop', crop_ratio_range=(0.4, 1.0)),
        dict(type='FilterTextAnnotations'),
        dict(type='Resize', scale=(320, 192), keep_ratio=True),
        dict(type='Pad', size_divisor=32),
        dict(type='PackTextDetInputs'))]


def run_pipeline(pipeline, results):
    for transform in pipeline:
        results = transform(results)
    return results


def test_full_training_pipeline_keeps_each_text_on_its_word():
    pipeline = training_pipeline()
    np.random.seed(2024)
    seen = set()
    for _ in range(25):
        results = run_pipeline(pipeline, synthetic_results())
        inputs, sample = results['inputs'], results['data_samples']
        assert inputs.shape[1] % 32 == 0 and inputs.shape[2] % 32 == 0
        gt = sample.gt_instances
        assert len(gt.texts) == len(gt.bboxes) == len(gt.masks) == len(gt.labels) >= 1
        assert len(sample.ignored_instances.texts) == len(sample.ignored_instances.bboxes)
        img = inputs.permute(1, 2, 0).numpy()
        polygons = [m[0] for m in gt.masks.masks]
        assert_words_on_their_pixels(img, polygons, gt.texts)
        for box, polygon in zip(gt.bboxes.numpy(), polygons):
            points = polygon.reshape(-1, 2)
            np.testing.assert_allclose(box, np.concatenate([points.min(0), points.max(0)]), atol=1e-3)
        assert [i['text'] for i in sample.metainfo['instances']] == ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', '']
        seen.update(gt.texts)
    assert seen == {'w0', 'w1', 'w2', 'w3', 'w4', 'w5'}


def test_full_training_pipeline_on_an_image_without_words():
    np.random.seed(7)
    sample = run_pipeline(training_pipeline(), synthetic_results(words=[]))['data_samples']
    assert sample.gt_instances.texts == [] and len(sample.gt_instances.bboxes) == 0
    assert sample.ignored_instances.texts == [] and sample.metainfo['instances'] == []


# ---------------------------------------------------------------------------------------------------------------------
# A real photo
# ---------------------------------------------------------------------------------------------------------------------

def read_icdar_quads(gt_file):
    """(quads [N, 4, 2], texts) of an ICDAR 2015 ground-truth file ('x1,y1,...,x4,y4,transcription')."""
    quads, texts = [], []
    for line in gt_file.read_text(encoding='utf-8-sig').splitlines():
        if line.strip():
            fields = line.strip().split(',', 8)
            quads.append(np.array(fields[:8], dtype=np.float64).reshape(4, 2))
            texts.append(fields[8])
    return np.array(quads), texts


def word_patch(img, quad, size=(64, 16)):
    """The quadrilateral's content resampled to a size[0] x size[1] grey patch (quad in continuous coordinates)."""
    target = np.array([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]], dtype=np.float32)
    # continuous -> pixel-index coordinates on both sides
    homography = cv2.getPerspectiveTransform(target - 0.5, np.asarray(quad, dtype=np.float32) - 0.5)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return cv2.warpPerspective(grey, homography, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def normalized_correlation(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-9))


@pytest.mark.skipif(not (ICDAR_DEV / 'images' / 'img_421.jpg').is_file(), reason='ICDAR 2015 dev photos absent')
def test_rotated_polygons_still_sit_on_the_words_of_a_real_photo():
    img = cv2.imread(str(ICDAR_DEV / 'images' / 'img_421.jpg'))
    quads, texts = read_icdar_quads(ICDAR_DEV / 'gt' / 'gt_img_421.txt')
    height, width = img.shape[:2]
    instances = [{'bbox': [*q.min(0), *q.max(0)], 'bbox_label': 0, 'ignore_flag': int(t == '###'),
                  'mask': [q.reshape(-1).tolist()], 'text': '' if t == '###' else t} for q, t in zip(quads, texts)]
    results = LoadWordAnnotations()({'img': img, 'img_shape': (height, width), 'ori_shape': (height, width),
                                     'img_path': 'img_421.jpg', 'instances': instances})
    legible = [i for i, t in enumerate(texts) if t != '###']
    assert legible
    for angle in (97.0, -8.0):
        rotated = RandomTextRotate().rotate(copy.deepcopy(results), angle)
        assert_aligned(rotated)
        assert rotated['gt_texts'] == results['gt_texts']
        wrong_matrix, _ = rotation_matrix(width, height, -angle)
        correlations, controls = [], []
        for i in legible:
            original = word_patch(img, quads[i])
            moved_quad = rotated['gt_masks'].masks[i][0].reshape(4, 2)
            correlations.append(normalized_correlation(original, word_patch(rotated['img'], moved_quad)))
            controls.append(normalized_correlation(original, word_patch(rotated['img'],
                                                                        warp_points(quads[i], wrong_matrix))))
        assert np.median(correlations) > 0.9, correlations
        assert np.median(controls) < 0.5, controls
