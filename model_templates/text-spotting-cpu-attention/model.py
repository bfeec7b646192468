# text-spotting-cpu: the CPU-first text spotter. What differs from the reference (_base_/text_spotter.py):
# a MobileNetV2 backbone, fewer proposals, a lighter box head and a narrower recognition head (64-channel encoder,
# 128-unit GRU, 32 recognition RoIs per batch instead of 256/256/128: the 256-channel encoder alone costs ~15x more
# on a CPU), so it trains on a 2-core laptop and runs in real time on a CPU after export.
# Input size, alphabet and thresholds come from template.yaml.
_base_ = ['../_base_/text_spotter.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.0,
        # strides 4, 8, 16, 32 -> channels 24, 32, 96, 320
        out_indices=(1, 2, 4, 6),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False),
    neck=dict(in_channels=[24, 32, 96, 320]),
    roi_head=dict(
        bbox_head=dict(fc_out_channels=256),
        text_head=dict(encoder_channels=64, hidden_size=128)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128), text_sampler=dict(max_per_batch=32))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(max_per_img=50)))
