"""The detector as one exportable graph: raw BGR image in, detections with their masks (and, attention kind, text
features) out; and the ctc kind's crop recognizer as a graph on raw crops.

``DetectorGraph`` re-expresses ``TextMaskRCNN``'s eval-mode ``predict`` (``rescale=False``) as one ``forward`` over
tensors: normalization -> backbone + neck (traced as they are) -> RPN head -> proposals -> box head -> detections
-> mask head and text RoI features. The data-dependent steps go through the ops of ``onnx_ops`` (OpenVINO's
detection ops where their arithmetic is mmdet's, ONNX ``NonMaxSuppression`` with mmdet's box decoding elsewhere), so
OpenVINO runs the whole detector as a single model with no post-processing in Python between the stages.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .box_coding import anchors_for_prior_grid, boxes_for_grouped_nms, decode_box_deltas, select_class_scores
from .onnx_ops import non_max_suppression, prior_grid, roi_features


class ExportError(ValueError):
    """The model, its config or the output directory can't be exported to; the message says why."""


DETECTOR_INPUT = "image"
#: The crop recognizer's input (SPEC §4): word crops ``[N, 3, H, W]`` raw BGR.
RECOGNIZER_INPUT = "crops"
DETECTOR_OUTPUTS = ("boxes", "labels", "masks", "text_features")
# mmdet's SingleRoIExtractor level rule equals OpenVINO's ROIFeatureExtractor rule only for this value.
FINEST_SCALE = 56


def _roi_extractor_settings(extractor, name: str) -> dict:
    """Output size, sampling ratio and strides of an mmdet ``SingleRoIExtractor``; ExportError if OpenVINO's
    ``ExperimentalDetectronROIFeatureExtractor`` can't compute what it computes."""
    layer = extractor.roi_layers[0]
    problems = []
    if type(extractor).__name__ != "SingleRoIExtractor":
        problems.append(f"type {type(extractor).__name__} (expected SingleRoIExtractor)")
    if type(layer).__name__ != "RoIAlign":
        problems.append(f"roi_layer {type(layer).__name__} (expected RoIAlign)")
    else:
        if not layer.aligned:
            problems.append("RoIAlign aligned=False")
        if layer.pool_mode != "avg":
            problems.append(f"RoIAlign pool_mode={layer.pool_mode!r}")
        if layer.output_size[0] != layer.output_size[1]:
            problems.append(f"non-square output_size {layer.output_size}")
    if extractor.finest_scale != FINEST_SCALE:
        problems.append(f"finest_scale={extractor.finest_scale} (OpenVINO maps levels as finest_scale={FINEST_SCALE})")
    if problems:
        raise ExportError(f"{name}: cannot be exported to OpenVINO's ROIFeatureExtractor: {'; '.join(problems)}")
    return dict(output_size=int(layer.output_size[0]), sampling_ratio=int(layer.sampling_ratio),
                pyramid_scales=[int(s) for s in extractor.featmap_strides])


def _check_nms(cfg, name: str) -> float:
    nms = cfg.get("nms", {})
    if nms.get("type", "nms") != "nms":
        raise ExportError(f"test_cfg.{name}.nms: type {nms.get('type')!r} cannot be exported (only 'nms')")
    return float(nms["iou_threshold"])


class DetectorGraph(nn.Module):
    """``TextMaskRCNN`` (eval mode, one image) as ``image [1, 3, H, W] raw BGR -> (boxes [N, 5], labels [N],
    masks [N, 28, 28], text_features [N, C, 28, 28])``.

    ``boxes`` rows are (x1, y1, x2, y2, score) in input pixels; ``masks`` the mask head's sigmoid output for each
    detection's class (box frame); ``text_features`` what ``TextRoIHead.text_features`` gives for the boxes. N follows
    ``test_cfg.rcnn`` (score_thr, NMS, max_per_img) and may be 0.

    Args:
        model: a built ``TextMaskRCNN`` in eval mode.
        input_size: (width, height) of the network input (the template's ``input_size``).
        first_label: the label of the first class (mmdet's 0; Open Model Zoo's instance segmentation models keep 0
            for the background and start at 1).
    """

    def __init__(self, model: nn.Module, input_size: tuple[int, int], first_label: int = 0) -> None:
        super().__init__()
        width, height = int(input_size[0]), int(input_size[1])
        self.model = model
        self.first_label = int(first_label)
        self.image_shape = (height, width)
        # Boxes lie in [0, W] x [0, H]: shifting a group by more than that keeps groups apart in one NMS.
        self.group_offset = float(max(width, height) + 1)
        self._check_heads()
        roi_head = model.roi_head
        self.bbox_roi = _roi_extractor_settings(roi_head.bbox_roi_extractor, "bbox_roi_extractor")
        self.mask_roi = _roi_extractor_settings(roi_head.mask_roi_extractor, "mask_roi_extractor")
        self.with_text_features = bool(roi_head.with_text)  # attention kind; a ctc model reads crops instead
        if self.with_text_features:
            self.text_roi = _roi_extractor_settings(roi_head.text_roi_extractor, "text_roi_extractor")
        self.rpn_cfg = model.rpn_head.test_cfg
        self.rcnn_cfg = roi_head.test_cfg
        self.rpn_iou_threshold = _check_nms(self.rpn_cfg, "rpn")
        self.rcnn_iou_threshold = _check_nms(self.rcnn_cfg, "rcnn")

        preprocessor = model.data_preprocessor
        self.bgr_to_rgb = bool(getattr(preprocessor, "_channel_conversion", False))
        normalize = bool(getattr(preprocessor, "_enable_normalize", False))
        self.register_buffer("mean", preprocessor.mean.reshape(1, 3, 1, 1).clone() if normalize
                             else torch.zeros(1, 3, 1, 1))
        self.register_buffer("std", preprocessor.std.reshape(1, 3, 1, 1).clone() if normalize
                             else torch.ones(1, 3, 1, 1))
        generator = model.rpn_head.prior_generator
        self.anchor_strides = [float(stride[0]) for stride in generator.strides]
        for index, base in enumerate(generator.base_anchors):
            self.register_buffer(f"rpn_priors_{index}", anchors_for_prior_grid(base.float(),
                                                                                self.anchor_strides[index]))
        # Anchors per FPN level, fixed by the input size: known before tracing, so TopK's k is a constant.
        with torch.no_grad():
            device = next(model.parameters()).device
            feats = model.extract_feat(torch.zeros(1, 3, height, width, device=device))
        self.level_anchor_counts = [int(feat.shape[-2] * feat.shape[-1]) * int(base.shape[0])
                                    for feat, base in zip(feats, generator.base_anchors)]

    def _check_heads(self) -> None:
        model = self.model
        generator = model.rpn_head.prior_generator
        if type(generator).__name__ != "AnchorGenerator" or any(s[0] != s[1] for s in generator.strides):
            raise ExportError(f"rpn_head.anchor_generator: {type(generator).__name__} with strides "
                              f"{generator.strides} cannot be exported (AnchorGenerator with square strides only)")
        if not model.rpn_head.use_sigmoid_cls or model.rpn_head.cls_out_channels != 1:
            raise ExportError("rpn_head: only a sigmoid, one-channel objectness classifier can be exported")
        coders = {"rpn_head": model.rpn_head.bbox_coder, "bbox_head": model.roi_head.bbox_head.bbox_coder}
        for name, coder in coders.items():
            if type(coder).__name__ != "DeltaXYWHBBoxCoder" or coder.add_ctr_clamp or not coder.clip_border:
                raise ExportError(f"{name}.bbox_coder: only DeltaXYWHBBoxCoder(clip_border=True, add_ctr_clamp=False)"
                                  " can be exported")
        bbox_head = model.roi_head.bbox_head
        if bbox_head.custom_cls_channels or not bbox_head.with_reg:
            raise ExportError("bbox_head: only a softmax classifier with box regression can be exported")
        if not model.roi_head.with_mask:
            raise ExportError("roi_head: the exported detector needs the mask head")
        if not model.roi_head.with_text and getattr(model, "text_recognizer", None) is None:
            raise ExportError("the model reads no text: it needs roi_head.text_head or a text_recognizer")

    # ------------------------------------------------------------------------------------------------------------
    def normalize(self, image: Tensor) -> Tensor:
        """Raw BGR ``[1, 3, H, W]`` -> the backbone's input (the data preprocessor's channel order, mean and std)."""
        if self.bgr_to_rgb:
            image = image[:, [2, 1, 0]]
        return (image - self.mean) / self.std

    def proposals(self, image: Tensor, feats: tuple[Tensor, ...]) -> Tensor:
        """RPN proposals ``[P, 4]``, as ``RPNHead.predict(rescale=False)``: per level the ``nms_pre`` best anchors,
        decoded and clipped, empty boxes dropped, NMS within each level, the ``max_per_img`` best overall."""
        rpn_head = self.model.rpn_head
        coder = rpn_head.bbox_coder
        cls_scores, bbox_preds = rpn_head(feats)
        nms_pre = int(self.rpn_cfg.get("nms_pre", -1))
        min_size = float(self.rpn_cfg.get("min_bbox_size", -1))
        boxes, scores, levels = [], [], []
        for level, (cls_score, bbox_pred, feat) in enumerate(zip(cls_scores, bbox_preds, feats)):
            anchors = prior_grid(getattr(self, f"rpn_priors_{level}"), feat, image, self.anchor_strides[level])
            level_scores = cls_score[0].permute(1, 2, 0).reshape(-1).sigmoid()
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            if 0 < nms_pre < self.level_anchor_counts[level]:
                level_scores, order = level_scores.topk(nms_pre)
                deltas, anchors = deltas[order], anchors[order]
            level_boxes = decode_box_deltas(anchors, deltas, coder.means, coder.stds, self.image_shape)
            if min_size >= 0:
                sizes = level_boxes[:, 2:] - level_boxes[:, :2]
                valid = (sizes[:, 0] > min_size) & (sizes[:, 1] > min_size)
                # An invalid box scores -1, below NMS's score threshold of 0.
                level_scores = torch.where(valid, level_scores, torch.full_like(level_scores, -1.0))
            boxes.append(level_boxes)
            scores.append(level_scores)
            levels.append(torch.full_like(level_scores, float(level)))
        boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
        keep = non_max_suppression(boxes_for_grouped_nms(boxes, levels, self.group_offset), scores,
                                   int(self.rpn_cfg.max_per_img), self.rpn_iou_threshold, 0.0)
        return boxes[keep]

    def detections(self, feats: tuple[Tensor, ...], proposals: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Box head over ``proposals`` ``[P, 4]``: ``(boxes [N, 4], scores [N], labels [N])``, as
        ``BBoxHead.predict_by_feat`` + ``multiclass_nms`` (score_thr, per-class NMS, max_per_img)."""
        roi_head = self.model.roi_head
        bbox_head = roi_head.bbox_head
        coder = bbox_head.bbox_coder
        bbox_feats = roi_features(proposals, feats[:roi_head.bbox_roi_extractor.num_inputs], **self.bbox_roi)
        cls_score, bbox_pred = bbox_head(bbox_feats)
        class_scores = F.softmax(cls_score, dim=-1)[:, :-1]                          # [P, C]
        num_classes = bbox_head.num_classes
        regressed_classes = 1 if bbox_head.reg_class_agnostic else num_classes
        rois = proposals[:, None, :].expand(-1, regressed_classes, -1).reshape(-1, 4)
        boxes = decode_box_deltas(rois, bbox_pred.reshape(-1, 4), coder.means, coder.stds, self.image_shape)
        boxes = boxes.reshape(-1, regressed_classes, 4).expand(-1, num_classes, -1).reshape(-1, 4)  # [P * C, 4]
        scores = class_scores.reshape(-1)
        labels = torch.arange(num_classes, device=scores.device).repeat(class_scores.shape[0])
        nms_boxes = boxes_for_grouped_nms(boxes, labels, self.group_offset) if num_classes > 1 else boxes
        keep = non_max_suppression(nms_boxes, scores, int(self.rcnn_cfg.max_per_img), self.rcnn_iou_threshold,
                                   float(self.rcnn_cfg.score_thr))
        return boxes[keep], scores[keep], labels[keep]

    def masks(self, feats: tuple[Tensor, ...], boxes: Tensor, labels: Tensor) -> Tensor:
        """Mask probabilities ``[N, 28, 28]`` (box frame) of each box's class."""
        roi_head = self.model.roi_head
        mask_feats = roi_features(boxes, feats[:roi_head.mask_roi_extractor.num_inputs], **self.mask_roi)
        mask_preds = roi_head.mask_head(mask_feats).sigmoid()
        if roi_head.mask_head.class_agnostic:
            return mask_preds[:, 0]
        return select_class_scores(mask_preds, labels)

    def text_features(self, feats: tuple[Tensor, ...], boxes: Tensor) -> Tensor:
        """The recognition branch's RoI features ``[N, C, 28, 28]`` of ``boxes``."""
        roi_head = self.model.roi_head
        return roi_features(boxes, feats[:roi_head.text_roi_extractor.num_inputs], **self.text_roi)

    @property
    def output_names(self) -> tuple[str, ...]:
        return DETECTOR_OUTPUTS if self.with_text_features else DETECTOR_OUTPUTS[:3]

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        feats = self.model.extract_feat(self.normalize(image))
        boxes, scores, labels = self.detections(feats, self.proposals(image, feats))
        masks = self.masks(feats, boxes, labels)
        if self.first_label:
            labels = labels + self.first_label
        outputs = (torch.cat([boxes, scores[:, None]], dim=1), labels, masks)
        if self.with_text_features:
            outputs += (self.text_features(feats, boxes),)
        return outputs


class CropRecognizerGraph(nn.Module):
    """A ``CTCCropRecognitionHead``'s network as ``crops [N, 3, H, W] raw BGR -> logits [N, W / stride, V]``
    (SPEC §4, ctc kind): the normalisation the head's crops get in the model, ``(x - 127.5) / 127.5``, folded in."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, crops: Tensor) -> Tensor:
        return self.head((crops - 127.5) / 127.5)
