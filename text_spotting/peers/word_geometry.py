"""Pure geometry for comparing with other OCR engines: text lines split into words, word regions cut out upright.

A quadrilateral here is ``[4, 2]`` float64 in reading order: top-left, top-right, bottom-right, bottom-left, so its
first edge runs along the top of the text in the direction it is read.
"""
from __future__ import annotations

import re

import cv2
import numpy as np

from ..geometry import as_points, min_area_quad

_WORD = re.compile(r"\S+")


def word_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` character ranges of the whitespace-separated words of ``text``, in order."""
    return [match.span() for match in _WORD.finditer(text)]


def split_line_into_words(line_quad, text: str) -> list[tuple[np.ndarray, str]]:
    """Splits a text line's quadrilateral into one quadrilateral per word, by character share.

    Every character of the line, spaces included, is given the same share of the line's length; a word gets the
    slice of the quadrilateral under its characters, cut along the top edge (top-left -> top-right) and the bottom
    edge (bottom-left -> bottom-right) at the same fractions.

    Args:
        line_quad: ``[4, 2]`` (or flat 8) top-left, top-right, bottom-right, bottom-left of the line.
        text: what was read on the line.

    Returns:
        ``(word_quad [4, 2] float64, word)`` per word; empty for a line without any non-space character.
    """
    quad = as_points(line_quad)
    if quad.shape[0] != 4:
        raise ValueError(f"a text line needs a quadrilateral of 4 points, got {quad.shape[0]}")
    top_left, top_right, bottom_right, bottom_left = quad
    length = len(text)
    words = []
    for start, end in word_spans(text):
        begin, finish = start / length, end / length
        words.append((np.stack([top_left + (top_right - top_left) * begin,
                                top_left + (top_right - top_left) * finish,
                                bottom_left + (bottom_right - bottom_left) * finish,
                                bottom_left + (bottom_right - bottom_left) * begin]), text[start:end]))
    return words


def reading_quad(polygon) -> np.ndarray:
    """``[4, 2]`` reading-order quadrilateral of a region: the polygon itself when it has 4 points (ground-truth
    quads are given in reading order), else its minimum-area rectangle."""
    points = as_points(polygon)
    return points if points.shape[0] == 4 else min_area_quad(points)


def rectified_crop(image: np.ndarray, polygon) -> np.ndarray:
    """The region of a word cut out of the image and warped upright, as a recognizer reads a word.

    Args:
        image: ``[H, W, C]`` (or ``[H, W]``) image.
        polygon: the word's region; see :func:`reading_quad`.

    Returns:
        ``[h, w, C]`` crop: ``w`` the longer of the top and bottom edges, ``h`` the longer of the side edges (both
        rounded, at least 1 pixel); the region's top-left corner lands at the crop's top-left. Pixels outside the
        image repeat the border.
    """
    quad = reading_quad(polygon)
    width = max(1, int(round(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])))))
    height = max(1, int(round(max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])))))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    # Region corners are pixel edges (pixel i spans [i, i + 1)); OpenCV maps pixel centres, hence the half pixel.
    transform = cv2.getPerspectiveTransform((quad - 0.5).astype(np.float32), (target - 0.5).astype(np.float32))
    return cv2.warpPerspective(image, transform, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
