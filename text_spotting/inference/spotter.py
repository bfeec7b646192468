"""The one test-time loop of every text spotter, whatever runs its networks.

An image is fitted into the network input (``fit_and_pad``), the backend's ``detect`` gives boxes, masks and (for a
recognizer on the detector's features) texts in that input's pixel frame, ``words_from_detections`` turns them into
words in the image's own coordinates, and, for a recognizer that reads image crops (ctc kind), every word is cut out
of the input (``processing.word_crops``, the same code as the exported graph's callers) and read by the backend's
``read_crops`` in one call. Thresholds are the backend's: the detection threshold is part of the detector, the
recognition threshold is applied where symbols become texts.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..models.word_crops import CropSpec
from .latency import LATENCY_KEYS, StageClock
from .processing import NetworkDetections, fit_and_pad, quad_crops, set_texts, word_crops, words_from_detections
from .words import SpottedWord


class TextSpotter:
    """Base of ``EagerTextSpotter`` (PyTorch) and ``OpenVINOTextSpotter`` (an exported IR).

    A backend sets ``input_size`` (``(width, height)`` of the network input), ``crop_spec`` (how words are cut out
    for a crop recognizer; None when the detector reads the texts itself) and implements :meth:`detect` and, with a
    crop spec, :meth:`read_crops`. ``last_latency_ms``: milliseconds per stage (``LATENCY_KEYS``) of the last
    :meth:`predict` call, summed over its images.
    """

    input_size: tuple[int, int]
    crop_spec: CropSpec | None = None
    last_latency_ms: dict

    def detect(self, padded: np.ndarray, latency: dict | None = None) -> NetworkDetections:
        """Detections of one input image ``[H, W, 3]`` uint8 BGR of exactly ``input_size``, in its pixel frame;
        stage milliseconds added to ``latency`` when given."""
        raise NotImplementedError

    def check_input(self, padded: np.ndarray) -> tuple[int, int]:
        """``(height, width)`` of a detector input; ValueError unless it is exactly ``input_size``."""
        height, width = padded.shape[:2]
        if (width, height) != self.input_size:
            raise ValueError(f"expected an input image of {self.input_size[0]}x{self.input_size[1]}, "
                             f"got {width}x{height}: fit_and_pad it first")
        return height, width

    def read_crops(self, crops: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Texts and their scores of word crops ``[N, 3, Hc, W]`` uint8 BGR (``processing.word_crops``)."""
        raise NotImplementedError

    #: The config whose test pipeline :meth:`predict_batch` takes batches of (the PyTorch model: its numbers are
    #: training validation's); None for a spotter that reads image files (``predict``).
    test_pipeline_cfg = None

    def predict_batch(self, batch: dict, read_gt_words: bool = False):
        """Spots a collated batch of ``test_pipeline_cfg``'s test pipeline (a spotter that has one)."""
        raise NotImplementedError(f"{type(self).__name__} reads image files (predict), not test-pipeline batches")

    def read_given_words(self, image: np.ndarray, quads: Sequence[np.ndarray]) -> list[str] | None:
        """The recognizer alone on given words: the texts it reads at ``quads`` (``[4, 2]`` each, pixels of the BGR
        ``image``), with the recognition threshold applied as in :meth:`predict` (eval's recognition metric).

        None when this spotter cannot: its recognizer reads the detector's RoI features (attention kind) and, as an
        exported IR, only for the words the detector found itself.
        """
        if self.crop_spec is None:
            return None
        if len(quads) == 0:
            return []
        padded, scale = fit_and_pad(image, self.input_size)
        return list(self.read_crops(quad_crops(quads, padded, scale, self.crop_spec))[0])

    def predict(self, images: Sequence[np.ndarray] | np.ndarray, keep_masks: bool = False) -> list[list[SpottedWord]]:
        """Words in each BGR image (``[H, W, 3]`` uint8, any size), in its own pixel coordinates; one at a time."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        latency = dict.fromkeys(LATENCY_KEYS, 0.0)
        results = []
        for image in images:
            words, image_latency = self.spot(image, keep_masks)
            results.append(words)
            for key, value in image_latency.items():
                latency[key] += value
        self.last_latency_ms = latency
        return results

    def spot(self, image: np.ndarray, keep_masks: bool = False) -> tuple[list[SpottedWord], dict[str, float]]:
        """The words of one image and its milliseconds per stage."""
        latency = dict.fromkeys(LATENCY_KEYS, 0.0)
        start = time.perf_counter()
        padded, scale = fit_and_pad(image, self.input_size)
        latency["preprocess"] += (time.perf_counter() - start) * 1000
        detections = self.detect(padded, latency)
        clock = StageClock(latency)
        words = words_from_detections(detections.boxes, detections.masks, detections.texts, detections.text_scores,
                                      scale, image.shape, keep_masks)
        clock.lap("postprocess")
        if self.crop_spec is not None and words:
            crops = word_crops(words, padded, scale, self.crop_spec)
            clock.lap("crops")
            texts, scores = self.read_crops(crops)
            set_texts(words, texts, scores)
            clock.lap("recognizer")
        latency["total"] = (time.perf_counter() - start) * 1000
        return words, latency
