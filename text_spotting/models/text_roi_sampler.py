"""Which RoIs train the recognition head.

Recognition needs a RoI that frames its word almost exactly (a loose box cuts letters off or adds neighbours), so the
candidates are the ground-truth boxes themselves plus the proposals that overlap one of them with IoU >= ``iou_thr``
(0.99 in the reference), each labelled with that ground truth's text. All candidates are positives.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from mmdet.structures.bbox import bbox_overlaps


def sample_text_rois(proposal_bboxes: Sequence[Tensor],
                     gt_bboxes: Sequence[Tensor],
                     gt_texts: Sequence[Sequence[str]],
                     iou_thr: float = 0.99,
                     max_per_batch: int = 128,
                     generator: torch.Generator | None = None) -> tuple[Tensor, list[str]]:
    """RoIs and their words for the recognition loss of a batch.

    Args:
        proposal_bboxes: per image, proposals ``[P_i, 4]`` (x1, y1, x2, y2).
        gt_bboxes: per image, boxes ``[G_i, 4]`` of the words that may be read. Pass only legible words the model can
            encode: don't-care regions (``ignored_instances``) must never be given here.
        gt_texts: per image, the ``G_i`` transcriptions of ``gt_bboxes``.
        iou_thr: a proposal becomes a candidate for the ground truth it overlaps most if their IoU is at least this.
        max_per_batch: at most this many candidates are kept, drawn uniformly at random over the whole batch.
        generator: random generator of the subsampling (None: torch's global one).

    Returns:
        rois: ``[M, 5]`` (image index, x1, y1, x2, y2), M <= max_per_batch, in image order.
        texts: the M words.
    """
    if not len(proposal_bboxes) == len(gt_bboxes) == len(gt_texts):
        raise ValueError(f"got {len(proposal_bboxes)} proposal sets, {len(gt_bboxes)} ground-truth box sets and "
                         f"{len(gt_texts)} text lists for one batch")
    rois, gt_refs = [], []
    for img_id, (proposals, gts, texts) in enumerate(zip(proposal_bboxes, gt_bboxes, gt_texts)):
        if len(texts) != gts.shape[0]:
            raise ValueError(f"image {img_id}: {gts.shape[0]} ground-truth boxes but {len(texts)} texts")
        if gts.shape[0] == 0:
            continue
        candidates = [gts]
        gt_indices = [torch.arange(gts.shape[0], device=gts.device)]
        if proposals.shape[0] > 0:
            best_iou, best_gt = bbox_overlaps(proposals, gts).max(dim=1)
            close = best_iou >= iou_thr
            candidates.append(proposals[close])
            gt_indices.append(best_gt[close])
        boxes = torch.cat(candidates)
        rois.append(torch.cat([boxes.new_full((boxes.shape[0], 1), img_id), boxes], dim=1))
        gt_refs.extend((img_id, int(i)) for i in torch.cat(gt_indices).tolist())

    if not rois:
        device = gt_bboxes[0].device if len(gt_bboxes) else None
        return torch.zeros((0, 5), device=device), []
    rois = torch.cat(rois)
    if rois.shape[0] > max_per_batch:
        keep = torch.randperm(rois.shape[0], generator=generator)[:max_per_batch].sort().values
        rois = rois[keep.to(rois.device)]
        gt_refs = [gt_refs[i] for i in keep.tolist()]
    return rois, [gt_texts[img_id][gt_id] for img_id, gt_id in gt_refs]
