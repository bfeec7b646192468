# The text spotter every template starts from: Mask R-CNN (one class, "text") + an attention text recognition head on
# the same FPN features, in mmdet 3.x config form. Templates override what makes them different.
#
# Values marked "from template.yaml" are placeholders here: text_spotting.templates.apply_template() writes the
# template's input size, alphabet, max length, thresholds, batch size, learning rate and epochs into this config, so
# template.yaml stays the one source of truth for them.

fpn_channels = 64
model = dict(
    type='TextMaskRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch'),
    neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=fpn_channels, num_outs=5),
    rpn_head=dict(
        type='RPNHead',
        in_channels=fpn_channels,
        feat_channels=fpn_channels,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[8],
            # mmdet ratios are height / width: words are wide.
            ratios=[0.2, 0.5, 1.0],
            strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='TextRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=fpn_channels,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=fpn_channels,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=1,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=fpn_channels,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=4,
            in_channels=fpn_channels,
            conv_out_channels=fpn_channels,
            num_classes=1,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)),
        text_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=0),
            out_channels=fpn_channels,
            featmap_strides=[4, 8, 16, 32]),
        text_head=dict(
            type='TextRecognitionHead',
            in_channels=fpn_channels,
            encoder_channels=256,
            hidden_size=256,
            alphabet=None,  # from template.yaml
            max_length=None,  # from template.yaml
            recognition_threshold=None)),  # from template.yaml
    train_cfg=dict(
        rpn=dict(
            # ignore_iof_thr: anchors mostly inside a don't-care region are neither positives nor negatives.
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                match_low_quality=True, ignore_iof_thr=0.5),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                match_low_quality=True, ignore_iof_thr=0.5),
            sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            mask_size=28,
            pos_weight=-1,
            debug=False,
            # recognition RoIs: ground-truth boxes plus proposals almost identical to one (SPEC: IoU >= 0.99).
            text_sampler=dict(iou_thr=0.99, max_per_batch=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            score_thr=None,  # from template.yaml (detection threshold)
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100,
            mask_thr_binary=0.5)))

# ---------------------------------------------------------------------------------------------------------------------
# Data. Images are resized to fit inside the template's input size (keeping the aspect ratio) and padded to exactly
# that size, as the exported model's fixed input will be.
dataset_type = 'CocoTextDataset'
input_size = None  # (width, height) from template.yaml
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadWordAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomTextRotate', prob=0.3, max_angle=10),
    dict(type='RandomTextCrop', prob=0.5),  # keeps small words of big photos at full scale
    dict(type='PhotoMetricDistortion'),
    dict(type='FixShapeResize', width=None, height=None, keep_ratio=True),  # size from template.yaml
    dict(type='FilterTextAnnotations', min_size=(2, 2)),
    dict(type='PackTextDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='FixShapeResize', width=None, height=None, keep_ratio=True),  # size from template.yaml
    # Ground truth loaded after the resize stays in original image coordinates, where it is scored.
    dict(type='LoadWordAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackTextDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances')),
]
train_dataloader = dict(
    batch_size=None,  # from template.yaml
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, data_root='', ann_file='', data_prefix=dict(img=''),
                 filter_cfg=dict(filter_empty_gt=True, min_size=2), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root='', ann_file='', data_prefix=dict(img=''),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='TextSpottingMetric')
test_evaluator = val_evaluator

# ---------------------------------------------------------------------------------------------------------------------
# Schedule: SGD with linear warm-up and step decay; epochs and learning rate from template.yaml.
max_epochs = None  # from template.yaml
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=None, momentum=0.9, weight_decay=0.0001),  # lr from template.yaml
    clip_grad=dict(max_norm=35, norm_type=2))
lr_steps = None  # epochs at which the learning rate drops 10x, from template.yaml
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=lr_steps, gamma=0.1),
]

# ---------------------------------------------------------------------------------------------------------------------
# Runtime.
default_scope = 'mmdet'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Checkpoints are written by text_spotting's AtomicCheckpointHook (latest.pth / best.pth); mmengine's own
    # CheckpointHook is off.
    checkpoint=None,
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=42, deterministic=False)
