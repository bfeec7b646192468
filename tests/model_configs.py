"""Small model configs for fast CPU tests, derived from the reference every template starts from
(``model_templates/_base_/text_spotter.py``) with a few overrides: the real configs live in model_templates/."""
from __future__ import annotations

from pathlib import Path

from mmengine.config import Config, ConfigDict

BASE_CONFIG = Path(__file__).resolve().parents[1] / "model_templates" / "_base_" / "text_spotter.py"
DEFAULT_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'


def tiny_text_spotter_cfg(alphabet: str = DEFAULT_ALPHABET, max_length: int = 8, fpn_channels: int = 32,
                          text_channels: int = 32, recognition_threshold: float = 0.0,
                          score_thr: float = 0.0) -> ConfigDict:
    """A ``TextMaskRCNN`` config small enough to train and predict on 128x128 images in a fraction of a second.

    The reference model of ``_base_/text_spotter.py`` (same heads, assigners and don't-care handling) with a
    MobileNetV2 backbone (half width, random init), ``fpn_channels`` wide FPN and heads, two mask convolutions and
    fewer proposals and samples. Defaults keep every detection and every text (``score_thr=0``,
    ``recognition_threshold=0``) so an untrained model still returns predictions to check.
    Build it with ``mmdet.registry.MODELS.build(cfg)``.
    """
    cfg = Config.fromfile(str(BASE_CONFIG))
    channels = dict(in_channels=fpn_channels)
    cfg.merge_from_dict({
        'model.backbone': dict(_delete_=True, type='MobileNetV2', widen_factor=0.5, out_indices=(1, 2, 4, 6)),
        'model.neck': dict(in_channels=[16, 16, 48, 160], out_channels=fpn_channels),
        'model.rpn_head': dict(feat_channels=fpn_channels, **channels),
        'model.roi_head.bbox_roi_extractor.out_channels': fpn_channels,
        'model.roi_head.bbox_head': dict(fc_out_channels=64, **channels),
        'model.roi_head.mask_roi_extractor.out_channels': fpn_channels,
        'model.roi_head.mask_head': dict(num_convs=2, conv_out_channels=fpn_channels, **channels),
        'model.roi_head.text_roi_extractor.out_channels': fpn_channels,
        'model.roi_head.text_head': dict(encoder_channels=text_channels, hidden_size=text_channels, alphabet=alphabet,
                                         max_length=max_length, recognition_threshold=recognition_threshold,
                                         **channels),
        'model.train_cfg.rpn.sampler.num': 64,
        'model.train_cfg.rpn_proposal': dict(nms_pre=200, max_per_img=100),
        'model.train_cfg.rcnn.sampler.num': 64,
        'model.train_cfg.rcnn.text_sampler.max_per_batch': 16,
        'model.test_cfg.rpn': dict(nms_pre=200, max_per_img=50),
        'model.test_cfg.rcnn': dict(score_thr=score_thr, max_per_img=10),
    })
    return cfg.model
