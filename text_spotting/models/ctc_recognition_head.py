"""A CTC recognition head that reads rectified image crops of the words (SPEC §4, CTC kind).

Unlike the attention head, which reads RoI features of the detector, this head cuts each word out of the network's
input image (:mod:`.word_crops`: a perspective warp of the word's quadrilateral to height 48) and reads the crop with
its own recognizer network (the text-pretrained ``PPOCRv6Recognizer``). Detector and recognizer share no weights, so a
template can train or freeze either part.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdet.registry import MODELS
from mmdet.structures import SampleList
from .ctc import CTCCodec, ctc_texts
from .word_crops import CropSpec, cut_word_crops, jitter_quad, word_quad


@MODELS.register_module()
class CTCCropRecognitionHead(nn.Module):
    """Reads words from crops of the (normalised) network input with a CTC recognizer.

    Args:
        recognizer: config of the network ``[N, 3, H, W]`` normalised crops -> logits ``[N, W / stride, V]``; its
            ``num_classes`` is set to ``len(alphabet) + 1`` here.
        alphabet: the characters read (class ``i + 1``); from template.yaml.
        case_sensitive: compare and train with case (from template.yaml).
        crop: :class:`~text_spotting.models.word_crops.CropSpec` fields.
        recognition_threshold: texts whose confidence (mean probability of their characters) is below it are ''.
        train_jitter: in training each ground-truth quad's corners move by up to this x the word height.
        max_words_per_batch: ground-truth words read per training batch (a random subset beyond it).
        norm_eval: keep the recognizer's BatchNorm statistics as imported while training.
        loss_weight: weight of ``loss_text``.
    """

    def __init__(self, recognizer: dict, alphabet: str | None = None, case_sensitive: bool = True,
                 crop: dict | None = None, recognition_threshold: float | None = 0.0, train_jitter: float = 0.05,
                 max_words_per_batch: int = 64, norm_eval: bool = True, loss_weight: float = 1.0) -> None:
        super().__init__()
        if alphabet is None:
            raise ValueError("CTCCropRecognitionHead needs an alphabet (template.yaml: alphabet)")
        self.codec = CTCCodec(alphabet, case_sensitive=case_sensitive)
        self.crop_spec = CropSpec(**(crop or {}))
        self.recognition_threshold = float(recognition_threshold or 0.0)
        self.train_jitter = float(train_jitter)
        self.max_words_per_batch = int(max_words_per_batch)
        self.norm_eval = bool(norm_eval)
        self.loss_weight = float(loss_weight)
        self.recognizer = MODELS.build(dict(recognizer, num_classes=self.codec.num_classes))
        self._rng = np.random.default_rng(0)

    def train(self, mode: bool = True) -> "CTCCropRecognitionHead":
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, crops: Tensor) -> Tensor:
        """Logits ``[N, T, V]`` of normalised crops ``[N, 3, H, W]``."""
        return self.recognizer(crops)

    def cut(self, image: Tensor, quads: Sequence[np.ndarray]) -> Tensor:
        """Normalised crops ``[N, 3, H, Wp]`` of the words ``quads`` (input-image pixels) of one normalised network
        input ``[3, H, W]`` (padding 0: raw gray 127.5)."""
        pixels = image.detach().permute(1, 2, 0).cpu().numpy()
        crops, _ = cut_word_crops(pixels, quads, self.crop_spec, pad_value=0.0)
        return torch.from_numpy(crops).to(image.device)

    def read_crops(self, crops: Tensor) -> tuple[list[str], Tensor]:
        """``(texts, scores [N])`` of normalised crops; texts below the recognition threshold are ''."""
        if crops.shape[0] == 0:
            return [], crops.new_zeros((0,))
        probabilities = self(crops).softmax(dim=2)
        return self.decode(probabilities.detach().cpu().numpy())

    def decode(self, probabilities: np.ndarray) -> tuple[list[str], Tensor]:
        """Greedy CTC words of ``[N, T, V]`` probabilities, with the recognition threshold applied."""
        texts, scores = ctc_texts(probabilities, self.codec, self.recognition_threshold)
        return texts, torch.from_numpy(scores)

    @torch.no_grad()
    def predict(self, image: Tensor, quads: Sequence[np.ndarray]) -> tuple[list[str], Tensor]:
        """Reads the words ``quads`` (input-image pixels) of one normalised network input ``[3, H, W]``."""
        if len(quads) == 0:
            return [], image.new_zeros((0,))
        return self.read_crops(self.cut(image, quads))

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """CTC loss on jittered crops of the legible ground-truth words (``gt_instances.masks`` polygons and
        ``texts``), and (logged, not optimised) ``text_words_out_of_alphabet``: words that get no recognition loss."""
        max_frames = self.crop_spec.min_width // self.crop_spec.width_stride
        chosen, out_of_alphabet = [], 0
        for index, sample in enumerate(batch_data_samples):
            gt = sample.gt_instances
            if 'texts' not in gt:
                raise KeyError("CTCCropRecognitionHead: gt_instances has no 'texts'; pack the data with "
                               "PackTextDetInputs")
            polygons = gt.masks.masks if hasattr(gt.masks, 'masks') else []
            for text, parts in zip(gt.texts, polygons):
                if not self.codec.is_encodable(text, max_frames):
                    out_of_alphabet += bool(text)
                    continue
                points = np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in parts])
                chosen.append((index, word_quad(points), text))
        losses = {'text_words_out_of_alphabet': batch_inputs.new_tensor(float(out_of_alphabet))}
        if len(chosen) > self.max_words_per_batch:
            keep = self._rng.choice(len(chosen), self.max_words_per_batch, replace=False)
            chosen = [chosen[i] for i in sorted(keep)]
        if not chosen:
            # keeps every parameter in the graph (distributed training needs it) at zero loss
            losses['loss_text'] = sum((p.sum() * 0.0 for p in self.parameters() if p.requires_grad),
                                      batch_inputs.new_zeros(()))
            return losses
        by_image: dict[int, list] = {}
        for index, quad, text in chosen:
            by_image.setdefault(index, []).append((quad, text))
        pieces, texts = [], []
        for index, words in by_image.items():
            pixels = batch_inputs[index].detach().permute(1, 2, 0).cpu().numpy()
            quads = [jitter_quad(quad, self.train_jitter, self._rng) for quad, _ in words]
            pieces.append(cut_word_crops(pixels, quads, self.crop_spec, pad_value=0.0)[0])
            texts.extend(text for _, text in words)
        width = max(piece.shape[3] for piece in pieces)
        batch = np.concatenate([np.pad(p, ((0, 0), (0, 0), (0, 0), (0, width - p.shape[3]))) for p in pieces])
        losses['loss_text'] = self.word_loss(torch.from_numpy(batch).to(batch_inputs.device), texts)
        return losses

    def word_loss(self, crops: Tensor, texts: Sequence[str]) -> Tensor:
        """Weighted CTC loss of normalised crops ``[N, 3, H, W]`` labelled with ``texts`` (N encodable words)."""
        if len(texts) != crops.shape[0]:
            raise ValueError(f"got {len(texts)} texts for {crops.shape[0]} crops")
        log_probs = self(crops).log_softmax(dim=2).transpose(0, 1)  # [T, N, V]
        targets, target_lengths = self.codec.encode(texts)
        input_lengths = torch.full((len(texts),), log_probs.shape[0], dtype=torch.long)
        loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction='mean',
                          zero_infinity=True)
        return loss * self.loss_weight

    @torch.no_grad()
    def read_texts(self, crops: Tensor, thresholded: bool = False) -> list[str]:
        """Greedy CTC words of normalised crops; words below the recognition threshold are '' when ``thresholded``
        (not: the accuracy of the reader alone)."""
        if crops.shape[0] == 0:
            return []
        threshold = self.recognition_threshold if thresholded else 0.0
        return ctc_texts(self(crops).softmax(dim=2).cpu().numpy(), self.codec, threshold)[0]
