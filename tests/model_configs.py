"""Small model configs for fast CPU tests (not templates: the real configs live in model_templates/)."""
from __future__ import annotations

from mmengine.config import ConfigDict

DEFAULT_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'


def tiny_text_spotter_cfg(alphabet: str = DEFAULT_ALPHABET, max_length: int = 8, fpn_channels: int = 32,
                          text_channels: int = 32, recognition_threshold: float = 0.0,
                          score_thr: float = 0.0) -> ConfigDict:
    """A ``TextMaskRCNN`` config small enough to train and predict on 128x128 images in a fraction of a second.

    MobileNetV2 (half width, random init) + FPN, the same heads as the templates with thin layers, don't-care
    regions ignored by both assigners (``ignore_iof_thr=0.5``). Defaults keep every detection and every text
    (``score_thr=0``, ``recognition_threshold=0``) so an untrained model still returns predictions to check.
    Build it with ``mmdet.registry.MODELS.build(cfg)``.
    """
    strides = [4, 8, 16, 32]
    return ConfigDict(
        type='TextMaskRCNN',
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_mask=True,
            pad_size_divisor=32),
        backbone=dict(type='MobileNetV2', widen_factor=0.5, out_indices=(1, 2, 4, 6)),
        neck=dict(type='FPN', in_channels=[16, 16, 48, 160], out_channels=fpn_channels, num_outs=5),
        rpn_head=dict(
            type='RPNHead',
            in_channels=fpn_channels,
            feat_channels=fpn_channels,
            anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.2, 0.5, 1.0],
                                  strides=strides + [64]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        roi_head=dict(
            type='TextRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                out_channels=fpn_channels,
                featmap_strides=strides),
            bbox_head=dict(
                type='Shared2FCBBoxHead',
                in_channels=fpn_channels,
                fc_out_channels=64,
                roi_feat_size=7,
                num_classes=1,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                                target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=False,
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
            mask_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
                out_channels=fpn_channels,
                featmap_strides=strides),
            mask_head=dict(
                type='FCNMaskHead',
                num_convs=2,
                in_channels=fpn_channels,
                conv_out_channels=fpn_channels,
                num_classes=1,
                loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)),
            text_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=0),
                out_channels=fpn_channels,
                featmap_strides=strides),
            text_head=dict(
                type='TextRecognitionHead',
                in_channels=fpn_channels,
                encoder_channels=text_channels,
                hidden_size=text_channels,
                alphabet=alphabet,
                max_length=max_length,
                recognition_threshold=recognition_threshold)),
        train_cfg=dict(
            rpn=dict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                              match_low_quality=True, ignore_iof_thr=0.5),
                sampler=dict(type='RandomSampler', num=64, pos_fraction=0.5, neg_pos_ub=-1,
                             add_gt_as_proposals=False),
                allowed_border=-1,
                pos_weight=-1,
                debug=False),
            rpn_proposal=dict(nms_pre=200, max_per_img=100, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
            rcnn=dict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                              match_low_quality=True, ignore_iof_thr=0.5),
                sampler=dict(type='RandomSampler', num=64, pos_fraction=0.25, neg_pos_ub=-1,
                             add_gt_as_proposals=True),
                mask_size=28,
                pos_weight=-1,
                debug=False,
                text_sampler=dict(iou_thr=0.99, max_per_batch=16))),
        test_cfg=dict(
            rpn=dict(nms_pre=200, max_per_img=50, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
            rcnn=dict(score_thr=score_thr, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10,
                      mask_thr_binary=0.5)))
