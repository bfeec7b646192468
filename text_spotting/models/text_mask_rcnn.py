"""The text spotter: Mask R-CNN that also reads the words, with one of two recognizer kinds."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from torch import Tensor, nn

from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.structures import InstanceData

from ..geometry import polygon_to_bbox, predicted_polygons


@MODELS.register_module()
class TextMaskRCNN(MaskRCNN):
    """Mask R-CNN for one class, ``text``, that reads every word it finds.

    Two recognizer kinds (SPEC §4):

    - **attention**: ``roi_head`` is a ``TextRoIHead`` with a ``text_head`` reading RoI features of the FPN;
    - **ctc**: ``text_recognizer`` (a ``CTCCropRecognitionHead``) cuts each word out of the network input along the
      quadrilateral of its mask and reads the crop with a recognizer network of its own.

    ``predict(..., rescale=True)`` returns per image ``pred_instances`` with ``bboxes`` [N, 4], ``scores`` [N],
    ``labels`` [N], ``masks`` [N, H, W] (bool, original image), ``texts`` (list[str]) and ``text_scores`` [N];
    ``loss`` adds ``loss_text`` to mmdet's losses.

    Args:
        text_recognizer: config of a crop recognizer (ctc kind); None for the attention kind.
        frozen_modules: names of direct children (``'backbone'``, ``'text_recognizer'``, ...) kept as they are while
            training: no gradients, eval mode, no loss of their own.
        **kwargs: everything ``MaskRCNN`` takes.
    """

    def __init__(self, *args, text_recognizer: dict | None = None, frozen_modules: Sequence[str] = (),
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.text_recognizer = MODELS.build(text_recognizer) if text_recognizer else None
        if self.text_recognizer is not None:
            self._check_crop_normalization()
        self.frozen_modules = tuple(frozen_modules)
        for name in self.frozen_modules:
            module = getattr(self, name, None)
            if not isinstance(module, nn.Module):
                raise ValueError(f"frozen_modules: the model has no part '{name}'")
            for parameter in module.parameters():
                parameter.requires_grad_(False)

    def _check_crop_normalization(self) -> None:
        """The crop recognizer reads crops of the normalised network input, and its exported graph (and the eager
        path on raw images) normalise crops as ``(x - 127.5) / 127.5``: the data preprocessor must do the same."""
        preprocessor = self.data_preprocessor
        mean, std = getattr(preprocessor, 'mean', None), getattr(preprocessor, 'std', None)
        if mean is None or std is None or not (bool((mean == 127.5).all()) and bool((std == 127.5).all())) \
                or getattr(preprocessor, '_channel_conversion', False):
            raise ValueError("a text_recognizer reads crops normalised as (x - 127.5) / 127.5 in BGR: set "
                             "data_preprocessor mean = std = [127.5] * 3 and bgr_to_rgb=False")

    @property
    def recognizer_kind(self) -> str:
        return 'ctc' if self.text_recognizer is not None else 'attention'

    def train(self, mode: bool = True) -> "TextMaskRCNN":
        super().train(mode)
        for name in self.frozen_modules:
            getattr(self, name).eval()
        return self

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        losses = super().loss(batch_inputs, batch_data_samples)
        if self.text_recognizer is not None and 'text_recognizer' not in self.frozen_modules:
            losses.update(self.text_recognizer.loss(batch_inputs, batch_data_samples))
        return losses

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList, rescale: bool = True) -> SampleList:
        samples = super().predict(batch_inputs, batch_data_samples, rescale=rescale)
        if self.text_recognizer is not None:
            for image, sample in zip(batch_inputs, samples):
                pred = sample.pred_instances
                quads = predicted_polygons(pred.bboxes, pred.masks if 'masks' in pred else None)
                scale = np.array(sample.metainfo.get('scale_factor', (1.0, 1.0)) if rescale else (1.0, 1.0))
                pred.texts, pred.text_scores = self.text_recognizer.predict(image, [q * scale for q in quads])
        return samples

    def read_words(self, batch_inputs: Tensor, quads: Sequence[Sequence[np.ndarray]]) -> list[list[str]]:
        """Recognition alone on given words: per image the texts read at ``quads`` (``[4, 2]`` each, network-input
        pixels). The ctc kind cuts the quads; the attention kind reads the RoI features of their boxes."""
        if self.text_recognizer is not None:
            return [self.text_recognizer.predict(image, image_quads)[0]
                    for image, image_quads in zip(batch_inputs, quads)]
        features = self.extract_feat(batch_inputs)
        boxes = []
        for image_quads in quads:
            instances = InstanceData()
            instances.bboxes = batch_inputs.new_tensor(
                np.array([polygon_to_bbox(q) for q in image_quads], dtype=np.float32).reshape(-1, 4))
            boxes.append(instances)
        return [list(instances.texts) for instances in self.roi_head.predict_text(features, boxes)]
