# text-spotting-cpu (CTC): the CPU text spotter built on text-pretrained open weights (PP-OCRv6 small, Apache-2.0,
# imported by tools/import_pretrained.py; see NOTICE). What differs from the reference (_base_/text_spotter.py):
# - the detector's backbone is PP-OCRv6's text-detection backbone (C2-C5: 48/96/192/384 channels), inputs normalised
#   the way it was trained (BGR, (x - 127.5) / 127.5);
# - words are read by a CTC recognizer (PP-OCRv6's) on perspective-rectified crops of the input image, cut along each
#   word's mask quadrilateral, instead of an attention head on RoI features;
# - a lighter box head and fewer proposals, for a CPU;
# - AdamW with a 20x lower learning rate on the imported parts, a short warm-up and gradient clipping (the imported
#   convolutions have their BatchNorm folded in: a plain SGD schedule wrecks them in a few steps);
# - multi-scale training: each photo is first fit to 1280x720 times a random factor in [0.75, 1.5] (the shipped model
#   was trained so on 1280x720 ICDAR photos), then crop_size crops are taken at that resolution (template.yaml), so
#   the 10-20 px words of the photos keep about their size; inference runs on the whole photo fit to input_size
#   (1440x832: a 1280x720 photo is upscaled 1.125x; the size was chosen on held-out training photos, see README).
# Input size, crop size, alphabet, thresholds and which parts are frozen come from template.yaml.
_base_ = ['../_base_/text_spotter.py']

model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], bgr_to_rgb=False),
    backbone=dict(_delete_=True, type='PPOCRv6DetBackbone'),
    neck=dict(in_channels=[48, 96, 192, 384]),
    roi_head=dict(
        bbox_head=dict(fc_out_channels=256),
        # no attention branch: the words are read by text_recognizer
        text_roi_extractor=None,
        text_head=None),
    text_recognizer=dict(
        type='CTCCropRecognitionHead',
        recognizer=dict(type='PPOCRv6Recognizer'),
        alphabet=None,  # from template.yaml
        case_sensitive=None,  # from template.yaml
        recognition_threshold=None,  # from template.yaml
        crop=dict(height=48, min_width=320, max_width=960, width_stride=8, vertical_ratio=1.5),
        train_jitter=0.05,
        max_words_per_batch=32),
    frozen_modules=None,  # from template.yaml (training.frozen_modules)
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(max_per_img=100)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadWordAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=(1280, 720), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomTextRotate', prob=0.3, max_angle=10, right_angle_prob=0.0),
    dict(type='RandomTextCrop', crop_size=None, prob=1.0),  # crop_size from template.yaml (training.crop_size)
    dict(type='PhotoMetricDistortion'),
    dict(type='FixShapeResize', width=None, height=None, keep_ratio=True),  # crop_size from template.yaml
    dict(type='FilterTextAnnotations', min_size=(2, 2)),
    dict(type='PackTextDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=None, weight_decay=0.0001),  # lr from template.yaml
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.05), 'text_recognizer': dict(lr_mult=0.05)}),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=None, by_epoch=True, milestones=None, gamma=0.1),  # from template.yaml
]
