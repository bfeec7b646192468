"""Every ONNX symbolic of the export in one place: ``torch.autograd.Function``s whose ``forward`` computes in PyTorch
what the exported node computes in OpenVINO (so a traced graph carries real, data-dependent shapes and the wrapped
model still runs eagerly), and whose ``symbolic`` emits that node.

OpenVINO's own detection ops are used where their arithmetic is mmdet's (checked against the OpenVINO CPU plugin):

- ``ExperimentalDetectronPriorGridGenerator`` (domain ``org.openvinotoolkit``): anchors of one FPN level. It places
  prior ``s`` of cell (x, y) at ``prior_s + stride * (x + 0.5, y + 0.5)``; mmdet's ``AnchorGenerator``
  (center_offset 0) at ``base_anchor_s + stride * (x, y)``. Feeding it the base anchors shifted by ``-stride / 2``
  gives mmdet's anchors exactly.
- ``ExperimentalDetectronROIFeatureExtractor`` (domain ``org.openvinotoolkit``): RoIAlign over the FPN levels.
  With ``aligned=1`` it samples like mmcv's ``RoIAlign(aligned=True)`` (half-pixel shift, adaptive sampling grid,
  average pooling) and maps RoIs to levels by ``floor(2 + log2(sqrt(w * h) / 224 + 1e-6))``, which is mmdet's
  ``SingleRoIExtractor`` rule ``floor(log2(sqrt(w * h) / 56 + 1e-6))`` for ``finest_scale=56`` (the epsilon differs
  by 4x, i.e. only for a box whose side is within ~1e-5 relative of a level boundary). One difference: OpenVINO
  stretches RoIs narrower than one feature-map cell to one cell, mmcv does not; such boxes (under 4 px at the
  finest level) get slightly different features.

Where OpenVINO's ops compute something else, the graph uses standard ONNX ops instead (see ``detector_graph.py``):
``ExperimentalDetectronGenerateProposalsSingleImage`` and ``ExperimentalDetectronDetectionOutput`` decode boxes with
the legacy "+1" width (OpenVINO 2026.4 turns the box [40, 40, 60, 50] with dw = log 2 into [29.5, 40, 70.5, 50];
mmdet into [30, 40, 70, 50]: half a pixel per side, growing with exp(dw)); DetectionOutput also never clips to the
image's right and bottom edges, takes class 0 as background (mmdet: the last class) and pads its output to a fixed
count. So proposals are TopK + decoding + ONNX ``NonMaxSuppression`` and detections decoding + ``NonMaxSuppression``,
all with mmdet's arithmetic (``test_export.py`` checks OpenVINO's behaviour, in case a later release changes it).
"""
from __future__ import annotations

from typing import Sequence

import torch
from mmcv.ops import nms as mmcv_nms
from mmcv.ops import roi_align as mmcv_roi_align
from torch import Tensor

OPENVINO_DOMAIN = "org.openvinotoolkit"
# Passed to torch.onnx.export(custom_opsets=...): the version of the OpenVINO domain the ONNX frontend reads.
CUSTOM_OPSETS = {OPENVINO_DOMAIN: 1}
ONNX_OPSET = 17


class PriorGridGenerator(torch.autograd.Function):
    """Anchors ``[H * W * A, 4]`` (cell-major, then prior) of one feature map ``[1, C, H, W]``:
    ``priors[a] + stride * (x + 0.5, y + 0.5, x + 0.5, y + 0.5)`` for the cell (x, y).

    ``priors`` ``[A, 4]``; ``image`` ``[1, 3, H_img, W_img]`` is an input of the OpenVINO op only.
    """

    @staticmethod
    def forward(ctx, priors: Tensor, feature_map: Tensor, image: Tensor, stride: float) -> Tensor:
        height, width = feature_map.shape[-2:]
        ys = (torch.arange(height, dtype=priors.dtype, device=priors.device) + 0.5) * stride
        xs = (torch.arange(width, dtype=priors.dtype, device=priors.device) + 0.5) * stride
        shift_y, shift_x = torch.meshgrid(ys, xs, indexing="ij")
        shifts = torch.stack([shift_x, shift_y, shift_x, shift_y], dim=-1).reshape(-1, 1, 4)
        return (shifts + priors[None]).reshape(-1, 4)

    @staticmethod
    def symbolic(g, priors, feature_map, image, stride: float):
        anchors = g.op(f"{OPENVINO_DOMAIN}::ExperimentalDetectronPriorGridGenerator", priors, feature_map, image,
                       flatten_i=1, h_i=0, w_i=0, stride_x_f=float(stride), stride_y_f=float(stride))
        num_priors, (height, width) = _sizes(priors)[0], _sizes(feature_map)[-2:]
        count = num_priors * height * width if None not in (num_priors, height, width) else None
        anchors.setType(priors.type().with_sizes([count, 4]))
        return anchors


class RoIFeatureExtractor(torch.autograd.Function):
    """RoIAlign of ``rois`` ``[N, 4]`` (x1, y1, x2, y2, image pixels) over the FPN levels ``feats`` (strides
    ``pyramid_scales``): ``[N, C, output_size, output_size]``.

    ``forward`` maps RoIs to levels as OpenVINO does (:func:`openvino_roi_levels`) and pools with mmcv's
    ``roi_align(aligned=True)``, the op of the model's own ``SingleRoIExtractor``. Apply as
    ``RoIFeatureExtractor.apply(rois, output_size, sampling_ratio, pyramid_scales, *feats)``.
    """

    @staticmethod
    def forward(ctx, rois: Tensor, output_size: int, sampling_ratio: int, pyramid_scales: tuple,
                *feats: Tensor) -> Tensor:
        levels = openvino_roi_levels(rois, len(feats))
        pooled = feats[0].new_zeros((rois.shape[0], feats[0].shape[1], output_size, output_size))
        for level, (feat, stride) in enumerate(zip(feats, pyramid_scales)):
            index = (levels == level).nonzero(as_tuple=False).squeeze(1)
            if index.numel():
                level_rois = torch.cat([rois.new_zeros((index.numel(), 1)), rois[index]], dim=1)
                pooled[index] = mmcv_roi_align(feat, level_rois, (output_size, output_size), 1.0 / stride,
                                               sampling_ratio, "avg", True)
        return pooled

    @staticmethod
    def symbolic(g, rois, output_size: int, sampling_ratio: int, pyramid_scales: tuple, *feats):
        features, _ = g.op(f"{OPENVINO_DOMAIN}::ExperimentalDetectronROIFeatureExtractor", rois, *feats,
                           output_size_i=int(output_size), sampling_ratio_i=int(sampling_ratio),
                           pyramid_scales_i=[int(s) for s in pyramid_scales], aligned_i=1, outputs=2)
        features.setType(feats[0].type().with_sizes([None, _sizes(feats[0])[1], output_size, output_size]))
        return features


def openvino_roi_levels(rois: Tensor, num_levels: int) -> Tensor:
    """FPN level ``[N]`` (int64) of each RoI ``[N, 4]`` as OpenVINO's ROIFeatureExtractor picks it:
    ``clamp(floor(2 + log2(sqrt(w * h) / 224 + 1e-6)), 0, num_levels - 1)``; a RoI of zero area gets none
    (``num_levels``, pooled as zeros)."""
    area = (rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1])
    levels = torch.floor(2 + torch.log2(area.clamp(min=0).sqrt() / 224 + 1e-6)).clamp(0, num_levels - 1).long()
    return torch.where(area > 0, levels, torch.full_like(levels, num_levels))


class NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` for one image and one class, with mmcv's arithmetic (IoU without "+1").

    ``boxes`` ``[M, 4]`` (x1, y1, x2, y2), ``scores`` ``[M]`` -> kept indices ``[K]`` (int64), highest score first:
    boxes scoring above ``score_threshold``, none overlapping a higher-scored kept box by IoU > ``iou_threshold``,
    at most ``max_output`` of them.
    """

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_output: int, iou_threshold: float,
                score_threshold: float) -> Tensor:
        _, keep = mmcv_nms(boxes, scores, iou_threshold, score_threshold=score_threshold, max_num=max_output)
        return keep.to(torch.int64)

    @staticmethod
    def symbolic(g, boxes, scores, max_output: int, iou_threshold: float, score_threshold: float):
        batched_boxes = g.op("Unsqueeze", boxes, g.op("Constant", value_t=torch.tensor([0], dtype=torch.int64)))
        batched_scores = g.op("Unsqueeze", scores, g.op("Constant", value_t=torch.tensor([0, 1], dtype=torch.int64)))
        selected = g.op("NonMaxSuppression", batched_boxes, batched_scores,
                        g.op("Constant", value_t=torch.tensor([max_output], dtype=torch.int64)),
                        g.op("Constant", value_t=torch.tensor([iou_threshold], dtype=torch.float32)),
                        g.op("Constant", value_t=torch.tensor([score_threshold], dtype=torch.float32)),
                        center_point_box_i=0)
        # selected: [K, 3] rows (batch, class, box); one batch and one class, in selection (= score) order.
        box_column = g.op("Gather", selected, g.op("Constant", value_t=torch.tensor(2, dtype=torch.int64)), axis_i=1)
        return box_column


def _sizes(value) -> list:
    """Static sizes of a traced value (None where unknown): the custom ops' output types, for ONNX shape inference."""
    sizes = value.type().varyingSizes()
    return list(sizes) if sizes is not None else [None, None, None, None]


def prior_grid(priors: Tensor, feature_map: Tensor, image: Tensor, stride: float) -> Tensor:
    return PriorGridGenerator.apply(priors, feature_map, image, float(stride))


def roi_features(rois: Tensor, feats: Sequence[Tensor], output_size: int, sampling_ratio: int,
                 pyramid_scales: Sequence[int]) -> Tensor:
    return RoIFeatureExtractor.apply(rois, int(output_size), int(sampling_ratio), tuple(pyramid_scales), *feats)


def non_max_suppression(boxes: Tensor, scores: Tensor, max_output: int, iou_threshold: float,
                        score_threshold: float) -> Tensor:
    return NonMaxSuppression.apply(boxes, scores, int(max_output), float(iou_threshold), float(score_threshold))
