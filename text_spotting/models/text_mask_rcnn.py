"""The text spotter: Mask R-CNN whose RoI head also reads the words."""
from __future__ import annotations

from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS


@MODELS.register_module()
class TextMaskRCNN(MaskRCNN):
    """Mask R-CNN for one class, ``text``, with a ``TextRoIHead``.

    Nothing but the RoI head differs from ``MaskRCNN``: ``predict(..., rescale=True)`` returns per image
    ``pred_instances`` with ``bboxes`` [N, 4], ``scores`` [N], ``labels`` [N], ``masks`` [N, H, W] (bool, original
    image), ``texts`` (list[str]) and ``text_scores`` [N]; ``loss`` adds ``loss_text`` to mmdet's losses.
    """
