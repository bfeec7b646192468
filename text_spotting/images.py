"""Images to network inputs, shared by every stage that feeds a detector (inference, export calibration, tools):
:func:`fit_and_pad` makes the fixed-size input exactly as the templates' test pipeline does."""
from __future__ import annotations

import cv2
import numpy as np


def fitted_size(image_size: tuple[int, int], input_size: tuple[int, int]) -> tuple[tuple[int, int], float]:
    """Size of an image resized to fit inside ``input_size`` keeping its aspect ratio, as mmdet computes it.

    Args:
        image_size: ``(width, height)`` of the image.
        input_size: ``(width, height)`` of the network input.

    Returns:
        ``((new_width, new_height), scale)``. ``scale = min(W / w, H / h)`` is what mmdet records as the image's
        ``scale_factor`` and divides predictions by. The pixel size is computed the way
        ``FixShapeResize(keep_ratio=True)`` does it: the size rounded from ``scale``, handed to ``mmcv.imrescale`` as
        a (long edge, short edge) limit, which rounds again; for most images that is just ``round(w * scale)`` x
        ``round(h * scale)``, but e.g. a portrait image in a landscape input may come out a few pixels smaller.
    """
    width, height = int(image_size[0]), int(image_size[1])
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    scale = min(input_size[0] / width, input_size[1] / height)
    limit = (int(width * float(scale) + 0.5), int(height * float(scale) + 0.5))
    # mmcv.rescale_size with a tuple: the largest factor keeping the long edge within max(limit) and the short edge
    # within min(limit), whatever the image's orientation.
    rescale = min(max(limit) / max(width, height), min(limit) / min(width, height))
    return (int(width * float(rescale) + 0.5), int(height * float(rescale) + 0.5)), scale


def fit_and_pad(image: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resizes a BGR image to fit inside ``input_size`` (bilinear, aspect ratio kept) and pads it bottom/right with 0.

    Bit-for-bit what the templates' test pipeline (``FixShapeResize(width, height, keep_ratio=True)``, cv2 backend)
    makes of the same image.

    Args:
        image: ``[h, w, 3]`` uint8 BGR.
        input_size: ``(W, H)`` of the network input.

    Returns:
        ``(padded [H, W, 3] uint8, scale)``: network-input pixel = image pixel * ``scale`` (see :func:`fitted_size`).
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"expected a BGR image [H, W, 3] uint8, got shape {shape} of {dtype}")
    input_width, input_height = int(input_size[0]), int(input_size[1])
    (new_width, new_height), scale = fitted_size((image.shape[1], image.shape[0]), (input_width, input_height))
    resized = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    padded = np.zeros((input_height, input_width, 3), dtype=np.uint8)
    padded[:new_height, :new_width] = resized
    return padded, scale
