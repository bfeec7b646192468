"""The legible ground-truth words of a test-pipeline sample (``metainfo['instances']``), in the network input's
pixel frame: what recognition on given boxes reads (eval's recognition accuracy, the recognizer-alone training)."""
from __future__ import annotations

import numpy as np
import torch

from ..geometry import bbox_to_quad
from .word_crops import word_quad


def legible_gt_words(sample) -> tuple[torch.Tensor, list[str]]:
    """The legible ground-truth words of a test-pipeline sample (``metainfo['instances']``, in order, don't care
    left out): their boxes ``[N, 4]`` (x1, y1, x2, y2) scaled into the network input and their transcriptions."""
    legible = [inst for inst in sample.metainfo["instances"] if not inst.get("ignore_flag", 0)]
    scale_w, scale_h = sample.metainfo["scale_factor"]
    scale = torch.tensor([scale_w, scale_h, scale_w, scale_h], dtype=torch.float32)
    boxes = torch.tensor([inst["bbox"] for inst in legible], dtype=torch.float32).reshape(-1, 4) * scale
    return boxes, [inst.get("text", "") for inst in legible]


def legible_gt_quads(sample) -> list[np.ndarray]:
    """The quadrilaterals ``[4, 2]`` of the same words as :func:`legible_gt_words`, scaled into the network input
    (:func:`legible_word_quads` of the sample's instances)."""
    scale = np.array(sample.metainfo["scale_factor"], dtype=np.float64)
    return [quad * scale for quad in legible_word_quads(sample.metainfo["instances"])]


def legible_word_quads(instances: list[dict]) -> list[np.ndarray]:
    """The quadrilaterals ``[4, 2]`` of the legible words of a dataset's ``instances`` (in order, don't care left
    out), in the image's own pixels: each polygon's :func:`~text_spotting.models.word_crops.word_quad` (its box when
    it has no polygon)."""
    quads = []
    for inst in instances:
        if inst.get("ignore_flag", 0):
            continue
        parts = [part for part in inst.get("mask") or [] if len(part) >= 6]
        quads.append(word_quad(np.concatenate([np.reshape(p, (-1, 2)) for p in parts])) if parts
                     else bbox_to_quad(inst["bbox"]))
    return quads
