"""Box arithmetic of the exported detector as plain tensor functions (traceable: no Python branching on values)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor


def decode_box_deltas(boxes: Tensor, deltas: Tensor, means: Sequence[float], stds: Sequence[float],
                      max_shape: tuple[int, int], wh_ratio_clip: float = 16 / 1000) -> Tensor:
    """Applies regression ``deltas`` ``[N, 4]`` (dx, dy, dw, dh; normalized by ``means``/``stds``) to ``boxes``
    ``[N, 4]`` (x1, y1, x2, y2) and clips the result to ``max_shape`` = (height, width): ``[N, 4]``.

    mmdet's ``DeltaXYWHBBoxCoder.decode`` arithmetic: widths are ``x2 - x1`` (no "+1"), ``dw``/``dh`` clamped to
    ``±|log(wh_ratio_clip)|``, x clipped to [0, width] and y to [0, height].
    """
    denorm = deltas * deltas.new_tensor(stds) + deltas.new_tensor(means)
    max_ratio = abs(math.log(wh_ratio_clip))
    centers = (boxes[:, :2] + boxes[:, 2:]) * 0.5
    sizes = boxes[:, 2:] - boxes[:, :2]
    new_centers = centers + sizes * denorm[:, :2]
    new_sizes = sizes * denorm[:, 2:].clamp(min=-max_ratio, max=max_ratio).exp()
    height, width = max_shape
    x1y1 = new_centers - new_sizes * 0.5
    x2y2 = new_centers + new_sizes * 0.5
    x1 = x1y1[:, 0].clamp(min=0, max=width)
    y1 = x1y1[:, 1].clamp(min=0, max=height)
    x2 = x2y2[:, 0].clamp(min=0, max=width)
    y2 = x2y2[:, 1].clamp(min=0, max=height)
    return torch.stack([x1, y1, x2, y2], dim=1)


def boxes_for_grouped_nms(boxes: Tensor, group_ids: Tensor, offset: float) -> Tensor:
    """``boxes`` ``[N, 4]`` moved by ``group_id * offset`` along both axes so that one class-agnostic NMS keeps the
    groups (classes, or FPN levels for proposals) apart, as mmcv's ``batched_nms`` does. ``offset`` must exceed every
    coordinate (boxes clipped to a W x H image: ``max(W, H) + 1``)."""
    return boxes + (group_ids.to(boxes.dtype) * offset)[:, None]


def anchors_for_prior_grid(base_anchors: Tensor, stride: float) -> Tensor:
    """mmdet base anchors ``[A, 4]`` (centred on cell (0, 0)'s top-left corner) as priors of OpenVINO's
    ``ExperimentalDetectronPriorGridGenerator``, which adds ``stride * (x + 0.5, y + 0.5)`` per cell instead of
    mmdet's ``stride * (x, y)``."""
    return base_anchors - 0.5 * stride


def select_class_scores(class_maps: Tensor, labels: Tensor) -> Tensor:
    """Per-class maps ``[N, C, S, S]`` -> each row's map of its own class ``labels[i]``: ``[N, S, S]``."""
    size = class_maps.shape[-1]
    index = labels.reshape(-1, 1, 1, 1).expand(-1, 1, size, size)
    return class_maps.gather(1, index).squeeze(1)
