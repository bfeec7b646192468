"""The text spotter: Mask R-CNN that also reads the words, with one of two recognizer kinds."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from torch import Tensor, nn

from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi

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

    @property
    def recognition_head(self) -> nn.Module:
        """The part that reads words: ``text_recognizer`` (ctc kind) or ``roi_head.text_head`` (attention kind).
        Both take what :meth:`word_inputs` gives and offer ``read_texts(inputs, thresholded)`` and
        ``word_loss(inputs, texts)``."""
        return self.text_recognizer if self.text_recognizer is not None else self.roi_head.text_head

    def word_inputs(self, batch_inputs: Tensor, quads: Sequence[Sequence[np.ndarray]]) -> list[Tensor]:
        """Per image what the recognition head reads for the words ``quads`` (``[4, 2]`` each, network-input pixels):
        the ctc kind's normalised crops ``[N, 3, H, W]`` (cut along the quads, padded like at inference), the
        attention kind's text RoI features ``[N, C, S, S]`` (of the quads' boxes). The one recognition-on-given-words
        function: eval's recognition metric and the recognizer-alone training both read through it."""
        if self.text_recognizer is not None:
            return [self.text_recognizer.cut(image, image_quads) for image, image_quads in zip(batch_inputs, quads)]
        boxes = [batch_inputs.new_tensor(np.array([polygon_to_bbox(q) for q in image_quads], dtype=np.float32)
                                         .reshape(-1, 4)) for image_quads in quads]
        features = self.roi_head.text_features(self.extract_feat(batch_inputs), bbox2roi(boxes))
        return list(features.split([len(b) for b in boxes]))

    def read_words(self, batch_inputs: Tensor, quads: Sequence[Sequence[np.ndarray]]) -> list[list[str]]:
        """Recognition alone on given words: per image the texts read at ``quads`` (``[4, 2]`` each, network-input
        pixels; :meth:`word_inputs`), with the recognition threshold applied as in :meth:`predict`."""
        head = self.recognition_head
        return [head.read_texts(inputs, thresholded=True) for inputs in self.word_inputs(batch_inputs, quads)]
