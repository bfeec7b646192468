"""Mask R-CNN RoI head with a text recognition branch on the same FPN features."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, get_box_tensor, scale_boxes
from mmdet.utils import ConfigType, InstanceList
from .text_roi_sampler import sample_text_rois


@MODELS.register_module()
class TextRoIHead(StandardRoIHead):
    """``StandardRoIHead`` (box + mask) plus a recognition head reading each detected word.

    Args:
        text_roi_extractor: RoI extractor of the recognition branch (``SingleRoIExtractor`` with a 28x28 RoIAlign);
            None (with ``text_head`` None) for a model that reads words with a crop recognizer instead.
        text_head: a ``TextRecognitionHead`` config; its ``in_channels`` is the extractor's ``out_channels``.
        **kwargs: everything ``StandardRoIHead`` takes.

    ``train_cfg`` may hold ``text_sampler=dict(iou_thr=0.99, max_per_batch=128)``, the arguments of
    ``sample_text_rois`` (these are the defaults).

    Ground truth: ``gt_instances.texts`` (list[str], one per box) must be present for training, as packed by
    ``PackTextDetInputs``. Don't-care words travel in ``ignored_instances``: mmdet's ``MaxIoUAssigner`` (RPN and R-CNN)
    keeps proposals that lie inside them out of both positives and negatives when its ``ignore_iof_thr`` is > 0, and the
    text sampler never sees them.
    """

    TEXT_SAMPLER_KEYS = frozenset({'iou_thr', 'max_per_batch'})

    def __init__(self, text_roi_extractor: ConfigType | None = None, text_head: ConfigType | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if (text_roi_extractor is None) != (text_head is None):
            raise ValueError("TextRoIHead: give both text_roi_extractor and text_head, or neither (a model whose "
                             "words are read by a crop recognizer)")
        self.text_roi_extractor = MODELS.build(text_roi_extractor) if text_roi_extractor else None
        self.text_head = MODELS.build(text_head) if text_head else None

    def init_assigner_sampler(self) -> None:
        super().init_assigner_sampler()
        self.text_sampler_cfg = dict(self.train_cfg.get('text_sampler', {})) if self.train_cfg else {}
        unknown = sorted(set(self.text_sampler_cfg) - self.TEXT_SAMPLER_KEYS)
        if unknown:
            raise ValueError(f"train_cfg.rcnn.text_sampler: unknown key(s) {unknown}; "
                             f"allowed: {sorted(self.TEXT_SAMPLER_KEYS)}")

    @property
    def with_text(self) -> bool:
        return hasattr(self, 'text_head') and self.text_head is not None

    def text_features(self, x: Tuple[Tensor], rois: Tensor) -> Tensor:
        """RoI features ``[M, C, 28, 28]`` of the recognition branch for ``rois`` ``[M, 5]``."""
        return self.text_roi_extractor(x[:self.text_roi_extractor.num_inputs], rois)

    def mask_probabilities(self, x: Tuple[Tensor], rois: Tensor, labels: Tensor) -> Tensor:
        """``[M, 28, 28]`` mask probabilities of ``rois`` ``[M, 5]``, each in the mask of its class ``labels``
        ``[M]`` (class 0 for a class-agnostic mask head): what ``predict`` pastes, before thresholding."""
        mask_preds = self._mask_forward(x, rois)['mask_preds']
        if self.mask_head.class_agnostic:
            labels = torch.zeros_like(labels)
        return mask_preds.sigmoid()[torch.arange(len(rois), device=mask_preds.device), labels]

    def forward(self, x: Tuple[Tensor], rpn_results_list: InstanceList, batch_data_samples: SampleList = None) -> tuple:
        """Box and mask outputs of ``StandardRoIHead.forward`` plus the greedy text ids and scores of the first 100
        proposals (for complexity counting and tracing)."""
        results = super().forward(x, rpn_results_list, batch_data_samples)
        if self.with_text:
            rois = bbox2roi([get_box_tensor(res.bboxes) for res in rpn_results_list])[:100]
            results = results + self.text_head(self.text_features(x, rois))
        return results

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList, batch_data_samples: SampleList) -> dict:
        """mmdet's box/mask losses plus ``loss_text``, and (logged, not optimized) the counts of ground-truth words
        without recognition loss: ``text_words_out_of_alphabet``, ``text_words_too_long``."""
        # StandardRoIHead.loss renames the proposals' 'bboxes' to 'priors' and adds ground truth to them: keep the
        # RPN's own proposals for the text sampler.
        proposals = [get_box_tensor(res.bboxes).detach() for res in rpn_results_list]
        losses = super().loss(x, rpn_results_list, batch_data_samples)
        if self.with_text:
            losses.update(self.text_loss(x, proposals, [sample.gt_instances for sample in batch_data_samples]))
        return losses

    def text_loss(self, x: Tuple[Tensor], proposals: list[Tensor], batch_gt_instances: InstanceList) -> dict:
        """Recognition loss over RoIs chosen by ``sample_text_rois`` among ``proposals`` (per image ``[P_i, 4]``)."""
        codec = self.text_head.codec
        gt_boxes, gt_texts = [], []
        out_of_alphabet = too_long = 0
        for gt_instances in batch_gt_instances:
            if 'texts' not in gt_instances:
                raise KeyError("TextRoIHead: gt_instances has no 'texts'; pack the data with PackTextDetInputs")
            texts = list(gt_instances.texts)
            encodable = [codec.is_encodable(text) for text in texts]
            for text, ok in zip(texts, encodable):
                if not ok:
                    if not codec.in_alphabet(text):
                        out_of_alphabet += 1
                    elif len(codec.normalize(text)) > codec.max_length:
                        too_long += 1
            bboxes = get_box_tensor(gt_instances.bboxes)
            gt_boxes.append(bboxes[torch.tensor(encodable, dtype=torch.bool, device=bboxes.device)])
            gt_texts.append([text for text, ok in zip(texts, encodable) if ok])

        rois, texts = sample_text_rois(proposals, gt_boxes, gt_texts, **self.text_sampler_cfg)
        losses = self.text_head.loss(self.text_features(x, rois.to(x[0].device)), texts)
        losses['text_words_out_of_alphabet'] = x[0].new_tensor(float(out_of_alphabet))
        losses['text_words_too_long'] = x[0].new_tensor(float(too_long))
        return losses

    def predict(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList,
                rescale: bool = False) -> InstanceList:
        """Detections with ``texts`` (list[str]) and ``text_scores`` ``[N]`` added to each image's InstanceData.

        Words are read from the detected boxes at the network's input scale, before ``predict_mask`` (or, without
        a mask head, this method) rescales the boxes to the original image.
        """
        assert self.with_bbox, 'Bbox head must be implemented.'
        batch_img_metas = [data_samples.metainfo for data_samples in batch_data_samples]
        results_list = self.predict_bbox(
            x, batch_img_metas, rpn_results_list, rcnn_test_cfg=self.test_cfg, rescale=False)
        if self.with_text:
            results_list = self.predict_text(x, results_list)
        if self.with_mask:
            results_list = self.predict_mask(x, batch_img_metas, results_list, rescale=rescale)
        elif rescale:
            for results, img_meta in zip(results_list, batch_img_metas):
                results.bboxes = scale_boxes(results.bboxes, [1 / s for s in img_meta['scale_factor']])
        return results_list

    def predict_text(self, x: Tuple[Tensor], results_list: InstanceList) -> InstanceList:
        """Reads the word in every box of ``results_list`` (input-image scale) in one batch; adds ``texts`` and
        ``text_scores`` to each InstanceData in place and returns the list."""
        rois = bbox2roi([get_box_tensor(res.bboxes) for res in results_list])
        if rois.shape[0] == 0:
            texts, scores = [], rois.new_zeros((0,))
        else:
            texts, scores = self.text_head.predict(self.text_features(x, rois))
        start = 0
        for results in results_list:
            end = start + len(results)
            results.texts = texts[start:end]
            results.text_scores = scores[start:end]
            start = end
        return results_list
