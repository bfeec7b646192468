"""Pre- and post-processing shared by every text spotter (PyTorch eager and OpenVINO IR), as pure numpy functions.

A spotter's life per image: :func:`fit_and_pad` makes the fixed-size network input, the network gives
:class:`NetworkDetections` in that input's pixel frame (boxes, 28x28 mask probabilities, texts), and
:func:`words_from_detections` brings them back to the image: boxes divided by the scale, masks pasted at threshold 0.5,
one quadrilateral per word. Both steps reproduce what mmdet's test pipeline and mask head do for the eager model
(``FixShapeResize(width, height, keep_ratio=True)`` and ``FCNMaskHead`` with ``_do_paste_mask``), so a checkpoint
and its exported IR are scored by the same code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..geometry import bbox_to_quad, mask_quad
from ..images import fit_and_pad, fitted_size  # noqa: F401  (part of this module's interface)
from ..models.text_codec import TextCodec
from ..models.word_crops import CropSpec, cut_word_crops
from .words import SpottedWord

#: Mask probabilities at or above this are foreground (mmdet's ``mask_thr_binary``).
MASK_THRESHOLD = 0.5


@dataclass
class NetworkDetections:
    """What a text spotting network finds in one fitted-and-padded input image, in that input's pixel frame.

    Attributes:
        boxes: ``[N, 5]`` float32: x1, y1, x2, y2, detection score.
        masks: ``[N, 28, 28]`` float32 mask probabilities in each box's frame (the mask head's sigmoid output for the
            word's class).
        texts: ``N`` words read ('' below the recognition threshold).
        text_scores: ``[N]`` float32 product of the per-step top-1 probabilities, EOS step included.
    """

    boxes: np.ndarray
    masks: np.ndarray
    texts: list[str]
    text_scores: np.ndarray

    @classmethod
    def empty(cls, mask_size: int = 28) -> "NetworkDetections":
        return cls(np.zeros((0, 5), np.float32), np.zeros((0, mask_size, mask_size), np.float32), [],
                   np.zeros((0,), np.float32))


def texts_from_symbols(symbols: np.ndarray, text_scores: np.ndarray, codec: TextCodec,
                       recognition_threshold: float) -> list[str]:
    """Words from greedy decoding's class ids, as ``TextRecognitionHead.predict`` makes them.

    Args:
        symbols: ``[N, T]`` top-1 class ids per step (EOS at and after a word's end), ``T >= codec.max_length``.
        text_scores: ``[N]`` confidences (product of the per-step top-1 probabilities).
        codec: the model's ``TextCodec``.
        recognition_threshold: words scored below it become ''.

    Returns:
        ``N`` words; a word without EOS within ``max_length`` characters is cut there.
    """
    texts = codec.decode(np.asarray(symbols)[:, :codec.max_length])
    confident = (np.asarray(text_scores) >= recognition_threshold).tolist()
    return [text if ok else "" for text, ok in zip(texts, confident)]


def paste_mask(mask: np.ndarray, box: Sequence[float], image_shape: tuple[int, int],
               threshold: float = MASK_THRESHOLD) -> tuple[np.ndarray, tuple[int, int]]:
    """Pastes one box-frame mask into the image, like mmdet's ``_do_paste_mask`` (CPU path) with a threshold.

    Every image pixel centre ``(x + 0.5, y + 0.5)`` around the box is mapped into the ``[h, w]`` mask (the box spans
    the mask's full extent: ``grid_sample`` with ``align_corners=False``) and sampled bilinearly with zeros outside;
    pixels whose value is ``>= threshold`` are foreground. Only the region ``[floor(x1) - 1, ceil(x2) + 1)`` x
    ``[floor(y1) - 1, ceil(y2) + 1)`` clipped to the image is computed: mmdet leaves everything else empty too (and
    beyond the box edge a value can never reach 0.5 anyway). The float32 arithmetic follows torch's CPU
    ``grid_sample`` step by step, so the result is the same pixel for pixel.

    Args:
        mask: ``[h, w]`` probabilities.
        box: ``x1, y1, x2, y2`` in image pixels.
        image_shape: ``(height, width)`` of the image.
        threshold: foreground threshold.

    Returns:
        ``(region [rh, rw] bool, (x0, y0))``: the pasted region and its top-left pixel in the image (an empty region
        for a box outside the image, where mmdet would fail).
    """
    mask = np.asarray(mask, dtype=np.float32)
    x1, y1, x2, y2 = (np.float32(value) for value in box[:4])
    image_height, image_width = int(image_shape[0]), int(image_shape[1])
    x0_int = max(int(np.floor(x1)) - 1, 0)
    y0_int = max(int(np.floor(y1)) - 1, 0)
    x1_int = max(min(int(np.ceil(x2)) + 1, image_width), x0_int)
    y1_int = max(min(int(np.ceil(y2)) + 1, image_height), y0_int)
    y = _sampling_positions(np.arange(y0_int, y1_int, dtype=np.float32), y1, y2, mask.shape[0])[:, None]
    x = _sampling_positions(np.arange(x0_int, x1_int, dtype=np.float32), x1, x2, mask.shape[1])[None, :]
    top, left = np.floor(y), np.floor(x)
    dy, dx = y - top, x - left
    # One pixel of zeros around the mask: taps outside it read 0 (grid_sample's zero padding).
    padded = np.pad(mask, 1)

    def taps(index: np.ndarray, size: int) -> np.ndarray:
        return np.clip(index, -1, size).astype(np.int64) + 1

    rows_top, rows_bottom = taps(top, mask.shape[0]), taps(top + 1, mask.shape[0])
    columns_left, columns_right = taps(left, mask.shape[1]), taps(left + 1, mask.shape[1])
    one = np.float32(1)
    values = (padded[rows_top, columns_left] * ((one - dy) * (one - dx))
              + padded[rows_top, columns_right] * ((one - dy) * dx)
              + padded[rows_bottom, columns_left] * (dy * (one - dx))
              + padded[rows_bottom, columns_right] * (dy * dx))
    return values >= threshold, (x0_int, y0_int)


def _sampling_positions(pixels: np.ndarray, start: np.float32, end: np.float32, size: int) -> np.ndarray:
    """float32 positions on a mask axis of ``size`` cells sampled for image pixels ``pixels`` when the mask spans
    ``[start, end]`` (``grid_sample`` with ``align_corners=False``); a NaN position (zero-size box) samples nothing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        normalized = (pixels + np.float32(0.5) - start) / (end - start) * np.float32(2) - np.float32(1)
    normalized[np.isinf(normalized)] = 0  # as mmdet does for a zero-size box
    position = (normalized + np.float32(1)) * np.float32(size / 2) - np.float32(0.5)
    position[np.isnan(position)] = -2  # outside the mask: reads 0
    return position


def words_from_detections(boxes: np.ndarray, masks: np.ndarray, texts: Sequence[str], text_scores: np.ndarray,
                          scale: float, image_shape: tuple[int, ...], keep_masks: bool = False) -> list[SpottedWord]:
    """Network detections (input frame) -> ``SpottedWord`` s in the original image.

    Args:
        boxes: ``[N, 5]`` x1, y1, x2, y2, score in the network-input frame.
        masks: ``[N, h, w]`` mask probabilities in each box's frame (28x28).
        texts: ``N`` words.
        text_scores: ``[N]`` text confidences.
        scale: the ``scale`` of :func:`fit_and_pad` (input pixel = image pixel * scale).
        image_shape: ``(height, width, ...)`` of the original image.
        keep_masks: also return each word's full-image ``[H, W]`` bool mask.

    Returns:
        One word per detection, in the detections' order. Boxes are divided by ``scale`` (float32, as mmdet does
        with ``scale_factor``) and not clipped; the quadrilateral is the minimum-area quad of the pasted mask's
        largest region (``predicted_polygons``), or the box when the mask is empty.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
    masks = np.asarray(masks, dtype=np.float32)
    text_scores = np.asarray(text_scores, dtype=np.float32).reshape(-1)
    if not len(boxes) == len(masks) == len(texts) == len(text_scores):
        raise ValueError(f"detections disagree: {len(boxes)} boxes, {len(masks)} masks, {len(texts)} texts, "
                         f"{len(text_scores)} text scores")
    height, width = int(image_shape[0]), int(image_shape[1])
    image_boxes = boxes[:, :4] / np.float32(scale)
    words = []
    for box, score, mask, text, text_score in zip(image_boxes, boxes[:, 4], masks, texts, text_scores):
        region, (x0, y0) = paste_mask(mask, box, (height, width))
        quad = mask_quad(region)
        bbox = box.astype(np.float64)
        full_mask = None
        if keep_masks:
            full_mask = np.zeros((height, width), dtype=bool)
            full_mask[y0:y0 + region.shape[0], x0:x0 + region.shape[1]] = region
        words.append(SpottedWord(quad=bbox_to_quad(bbox) if quad is None else quad + np.array([x0, y0], np.float64),
                                 bbox=bbox, score=float(score), text=str(text), text_score=float(text_score),
                                 mask=full_mask))
    return words


def word_crops(words: Sequence[SpottedWord], padded: np.ndarray, scale: float, spec: CropSpec) -> np.ndarray:
    """Raw BGR crops ``[N, 3, H, Wp]`` float32 of the words (their quads, in original image pixels) cut from the
    fitted-and-padded network input they were found in: what a CTC recognizer reads (SPEC §4, ``crops``)."""
    return quad_crops([word.quad for word in words], padded, scale, spec)


def quad_crops(quads: Sequence[np.ndarray], padded: np.ndarray, scale: float, spec: CropSpec) -> np.ndarray:
    """:func:`word_crops` of quadrilaterals ``[4, 2]`` in original image pixels."""
    return cut_word_crops(padded, [np.asarray(quad, dtype=np.float64) * scale for quad in quads], spec,
                          pad_value=127.5)[0]


def set_texts(words: Sequence[SpottedWord], texts: Sequence[str], text_scores: np.ndarray) -> None:
    """Gives each word its text and text confidence (in place)."""
    for word, text, score in zip(words, texts, np.asarray(text_scores, dtype=np.float32).reshape(-1)):
        word.text, word.text_score = str(text), float(score)
