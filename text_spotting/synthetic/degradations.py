"""Camera-like damage applied to a finished scene: lighting, blur, resampling, noise, JPEG artefacts.

:func:`degrade` reports how strong the blur and noise were so that the scene composer can mark words that became
unreadable as "don't care".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .backgrounds import smooth_noise


@dataclass(frozen=True)
class Degradation:
    """What :func:`degrade` did. ``blur_sigma``: equivalent Gaussian blur in pixels; ``noise_std``: added noise."""

    blur_sigma: float = 0.0
    noise_std: float = 0.0
    jpeg_quality: int = 0  # 0: no re-encoding


def motion_blur_kernel(length: int, angle_deg: float) -> np.ndarray:
    """Normalised ``[length, length]`` line kernel at ``angle_deg`` (a straight camera shake)."""
    kernel = np.zeros((length, length), np.float32)
    centre = (length - 1) / 2.0
    dx, dy = math.cos(math.radians(angle_deg)) * centre, math.sin(math.radians(angle_deg)) * centre
    shift = 4  # sub-pixel endpoints: coordinates in 1/16 pixel
    unit = 1 << shift
    start = (int(round((centre - dx) * unit)), int(round((centre - dy) * unit)))
    end = (int(round((centre + dx) * unit)), int(round((centre + dy) * unit)))
    cv2.line(kernel, start, end, 1.0, 1, cv2.LINE_AA, shift)
    return kernel / max(float(kernel.sum()), 1e-6)


def uneven_lighting(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Multiplies ``[H, W, 3]`` float32 by a smooth random illumination field in ``1 +- strength``."""
    field = smooth_noise(rng, image.shape[0], image.shape[1], octaves=2, base_cells=2)
    return image * (1.0 + strength * (2.0 * field - 1.0))[..., None]


def degrade(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> tuple[np.ndarray, Degradation]:
    """Applies random photometric and optical damage.

    Args:
        image: ``[H, W, 3]`` float32 BGR in [0, 255].
        rng: the random generator.
        strength: 0 disables everything; 1 is the default mix; values in between make each effect rarer.

    Returns:
        ``[H, W, 3]`` uint8 image and the :class:`Degradation` applied.
    """
    height, width = image.shape[:2]
    blur_variance = 0.0
    noise_std = 0.0
    jpeg_quality = 0
    if rng.random() < 0.4 * strength:
        image = uneven_lighting(image, rng, float(rng.uniform(0.1, 0.45)))
    if rng.random() < 0.5 * strength:  # global contrast / brightness
        image = (image - 128.0) * float(rng.uniform(0.7, 1.2)) + 128.0 + float(rng.uniform(-25, 25))
    if rng.random() < 0.3 * strength:
        sigma = float(rng.uniform(0.4, 1.6))
        image = cv2.GaussianBlur(image, (0, 0), sigma)
        blur_variance += sigma ** 2
    if rng.random() < 0.08 * strength:
        length = int(rng.integers(3, 8))
        image = cv2.filter2D(image, -1, motion_blur_kernel(length, float(rng.uniform(0, 180))))
        blur_variance += (length / 3.0) ** 2
    if rng.random() < 0.15 * strength:  # low-resolution sensor: down and up again
        factor = float(rng.uniform(0.45, 0.85))
        small = cv2.resize(image, (max(1, int(width * factor)), max(1, int(height * factor))),
                           interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        blur_variance += (0.5 / factor) ** 2
    if rng.random() < 0.4 * strength:
        noise_std = float(rng.uniform(2, 10))
        image = image + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(noise_std)
    result = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.3 * strength:
        jpeg_quality = int(rng.integers(20, 70))
        ok, encoded = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        result = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else result
    return result, Degradation(math.sqrt(blur_variance), noise_std, jpeg_quality)
