"""The PyTorch (eager) text spotter: a template's model with trained weights, over images or dataset batches."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config

from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi
from ..models.text_recognition_head import greedy_decode
from ..models.building import build_text_spotter
from ..models.ground_truth import legible_gt_quads
from ..templates import load_config
from .latency import LATENCY_KEYS, StageClock
from .processing import NetworkDetections, fit_and_pad, texts_from_symbols
from .spotter import TextSpotter


class EagerTextSpotter(TextSpotter):
    """A template's ``TextMaskRCNN`` in eval mode.

    ``predict`` runs raw images the way the exported IR is run (``fit_and_pad`` -> network at input scale ->
    ``words_from_detections``) and times each stage in ``last_latency_ms`` (milliseconds, summed over the images of
    the last call): ``preprocess`` (resize, pad, normalize), ``detector`` (backbone to masks and the recognition RoI
    features), ``encoder`` and ``decoder`` (the text head; the decoder includes turning symbols into words),
    ``postprocess`` (mask pasting, quadrilaterals) and ``total``. ``predict_batch`` runs dataset batches through
    mmdet's own test path (``eval.py``, training validation).

    Args:
        cfg: the template's config (``text_spotting.templates.load_config``).
        weights: a checkpoint (``latest.pth``/``best.pth``/``snapshot.pth``); None keeps the random init.
        device: torch device.
    """

    def __init__(self, cfg: Config, weights: str | Path | None = None, device: str = "cpu"):
        self.cfg = cfg
        self.device = torch.device(device)
        self.model, self.weights_sha256 = build_text_spotter(cfg, weights)
        self.weights = Path(weights) if weights else None
        self.model.to(self.device).eval()
        self.input_size = tuple(int(v) for v in cfg.input_size)  # (width, height)
        recognizer = self.model.text_recognizer  # ctc kind: reads crops; attention kind: the RoI head reads
        self.crop_spec = recognizer.crop_spec if recognizer is not None else None
        self.last_latency_ms = dict.fromkeys(LATENCY_KEYS, 0.0)

    @classmethod
    def from_template(cls, template_dir: str | Path, weights: str | Path | None = None,
                      device: str = "cpu") -> "EagerTextSpotter":
        return cls(load_config(template_dir), weights, device)

    @property
    def test_pipeline_cfg(self) -> Config:
        """The template's config: eval.py runs its test pipeline, as training validation does."""
        return self.cfg

    def model_info(self) -> dict:
        """What ``metrics.yaml`` records about this model: format, weights and their sha256, template, input size."""
        return {"format": "pytorch", "sha256": self.weights_sha256,
                "weights": str(self.weights) if self.weights else None, "template": self.cfg.template["name"],
                "input_size": list(self.input_size)}

    @torch.no_grad()
    def predict_batch(self, batch: dict, read_gt_words: bool = False):
        """Runs a collated batch (``inputs``, ``data_samples`` from the test pipeline).

        Returns ``(data_samples, gt_readings)``: the samples with ``pred_instances`` in original image coordinates
        and, when ``read_gt_words``, per image the texts read from the ground-truth boxes of its legible words
        (``metainfo['instances']``, in order; for the recognition-only metrics).
        """
        data = self.model.data_preprocessor(batch, False)
        inputs, samples = data["inputs"], data["data_samples"]
        samples = self.model.predict(inputs, samples, rescale=True)
        gt_readings = self.model.read_words(inputs, [legible_gt_quads(s) for s in samples]) if read_gt_words \
            else None
        return samples, gt_readings

    @torch.no_grad()
    def read_crops(self, crops: np.ndarray) -> tuple[list[str], np.ndarray]:
        """ctc kind: the texts and scores of word crops ``[N, 3, Hc, W]`` uint8 BGR, in one recognizer call."""
        crops = torch.from_numpy(crops)
        texts, scores = self.model.text_recognizer.read_crops(((crops - 127.5) / 127.5).to(self.device))
        return texts, scores.cpu().numpy()

    def _network_input(self, padded: np.ndarray) -> tuple[torch.Tensor, list[DetDataSample]]:
        """The normalized ``[1, 3, H, W]`` batch of one input image of exactly the input size, and its sample."""
        height, width = self.check_input(padded)
        sample = DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                             pad_shape=(height, width), scale_factor=(1.0, 1.0)))
        image = torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)))
        data = self.model.data_preprocessor(dict(inputs=[image.to(self.device)], data_samples=[sample]), False)
        return data["inputs"], data["data_samples"]

    @torch.no_grad()
    def read_given_words(self, image: np.ndarray, quads) -> list[str]:
        """The recognizer alone on given words (``TextSpotter.read_given_words``), either kind:
        ``TextMaskRCNN.read_words`` on the fitted image."""
        padded, scale = fit_and_pad(image, self.input_size)
        inputs, _ = self._network_input(padded)
        return self.model.read_words(inputs, [[np.asarray(quad, dtype=np.float64) * scale for quad in quads]])[0]

    @torch.no_grad()
    def detect(self, padded: np.ndarray, latency: dict | None = None) -> NetworkDetections:
        """Runs the network on one input image ``[H, W, 3]`` uint8 BGR of exactly the template's input size.

        Returns the detections in that image's pixel frame, as the exported IR gives them. When ``latency`` is
        given, the milliseconds of ``preprocess`` (to a normalized tensor), ``detector``, ``encoder`` and ``decoder``
        are added to it.
        """
        latency = {} if latency is None else latency
        clock = StageClock(latency)
        inputs, samples = self._network_input(padded)
        clock.lap("preprocess")

        roi_head = self.model.roi_head
        features = self.model.extract_feat(inputs)
        proposals = self.model.rpn_head.predict(features, samples, rescale=False)
        found = roi_head.predict_bbox(features, [samples[0].metainfo], proposals, rcnn_test_cfg=roi_head.test_cfg,
                                      rescale=False)[0]
        if len(found) == 0:
            clock.lap("detector")
            return NetworkDetections.empty()
        rois = bbox2roi([found.bboxes])
        masks = roi_head.mask_probabilities(features, rois, found.labels)
        boxes = torch.cat([found.bboxes, found.scores[:, None]], dim=1).cpu().numpy()
        masks = masks.cpu().numpy()
        if not roi_head.with_text:  # ctc kind: the words are read from crops once their quads are known
            clock.lap("detector")
            return NetworkDetections(boxes=boxes, masks=masks, texts=[""] * len(boxes),
                                     text_scores=np.zeros(len(boxes), np.float32))
        text_features = roi_head.text_features(features, rois)
        clock.lap("detector")

        text_head = roi_head.text_head
        encoder_outputs = text_head.encode(text_features)
        clock.lap("encoder")
        symbols, text_scores = greedy_decode(text_head.decoder, encoder_outputs, text_head.codec.sequence_length)
        text_scores = text_scores.cpu().numpy()
        texts = texts_from_symbols(symbols.cpu().numpy(), text_scores, text_head.codec,
                                   text_head.recognition_threshold)
        clock.lap("decoder")
        return NetworkDetections(boxes=boxes, masks=masks, texts=texts, text_scores=text_scores)

