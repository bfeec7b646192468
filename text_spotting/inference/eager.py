"""The PyTorch (eager) text spotter: a template's model with trained weights, over images or dataset batches."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from ..templates import load_config
from ..training.checkpoint import CheckpointError, load_weights, sha256_of
from .words import SpottedWord, words_from_instances

# Test-pipeline steps that read ground truth from a dataset; raw images have none.
_ANNOTATION_STEPS = ("LoadWordAnnotations", "LoadAnnotations")


class EagerTextSpotter:
    """A template's ``TextMaskRCNN`` in eval mode, with its test pipeline.

    Args:
        cfg: the template's config (``text_spotting.templates.load_config``).
        weights: a checkpoint (``latest.pth``/``best.pth``/``snapshot.pth``); None keeps the random init.
        device: torch device.
    """

    def __init__(self, cfg: Config, weights: str | Path | None = None, device: str = "cpu"):
        import text_spotting  # noqa: F401  registers our components
        from mmdet.registry import MODELS

        init_default_scope("mmdet")
        self.cfg = cfg
        self.device = torch.device(device)
        self.model = MODELS.build(cfg.model)
        self.weights = Path(weights) if weights else None
        self.weights_sha256 = None
        if weights:
            self._load(weights)
        else:
            self.model.init_weights()
        self.model.to(self.device).eval()
        image_pipeline = [step for step in cfg.test_pipeline if step["type"] not in _ANNOTATION_STEPS]
        image_pipeline[0] = dict(type="mmdet.LoadImageFromNDArray")
        self.image_pipeline = Compose(image_pipeline)

    @classmethod
    def from_template(cls, template_dir: str | Path, weights: str | Path | None = None,
                      device: str = "cpu") -> "EagerTextSpotter":
        return cls(load_config(template_dir), weights, device)

    def _load(self, weights: str | Path) -> None:
        report = load_weights(self.model, weights)
        missing, mismatched = report["missing"], report["shape_mismatch"]
        if missing or mismatched:
            example = (mismatched or missing)[0]
            raise CheckpointError(
                f"{weights}: does not fit template '{self.cfg.template['name']}': {len(missing)} tensors missing, "
                f"{len(mismatched)} with other shapes (e.g. {example})")
        self.weights_sha256 = sha256_of(weights)

    @torch.no_grad()
    def predict_batch(self, batch: dict, read_gt_words: bool = False):
        """Runs a collated batch (``inputs``, ``data_samples`` from the test pipeline).

        Returns ``(data_samples, gt_readings)``: the samples with ``pred_instances`` in original image coordinates
        and, when ``read_gt_words``, per image the texts read from the ground-truth boxes of its legible words
        (``metainfo['instances']``, in order; for the recognition-only metrics).
        """
        data = self.model.data_preprocessor(batch, False)
        inputs, samples = data["inputs"], data["data_samples"]
        features = self.model.extract_feat(inputs)
        proposals = self.model.rpn_head.predict(features, samples, rescale=False)
        results = self.model.roi_head.predict(features, proposals, samples, rescale=True)
        samples = self.model.add_pred_to_datasample(samples, results)
        gt_readings = self._read_gt_words(features, samples) if read_gt_words else None
        return samples, gt_readings

    def _read_gt_words(self, features, samples) -> list[list[str]]:
        boxes = []
        for sample in samples:
            legible = [inst for inst in sample.metainfo["instances"] if not inst.get("ignore_flag", 0)]
            scale_w, scale_h = sample.metainfo["scale_factor"]
            scale = torch.tensor([scale_w, scale_h, scale_w, scale_h], dtype=torch.float32)
            instances = InstanceData()
            instances.bboxes = (torch.tensor([inst["bbox"] for inst in legible], dtype=torch.float32)
                                .reshape(-1, 4) * scale).to(self.device)
            boxes.append(instances)
        read = self.model.roi_head.predict_text(features, boxes)
        return [list(instances.texts) for instances in read]

    def predict(self, images: Sequence[np.ndarray] | np.ndarray, keep_masks: bool = False) -> list[list[SpottedWord]]:
        """Words in each BGR image (``[H, W, 3]`` uint8, any size), in its own pixel coordinates."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        batch = pseudo_collate([self.image_pipeline(dict(img=image, img_id=i)) for i, image in enumerate(images)])
        samples, _ = self.predict_batch(batch)
        return [words_from_instances(sample.pred_instances, keep_masks) for sample in samples]
