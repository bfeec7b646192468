"""INT8 post-training quantization of the exported networks with NNCF (OpenVINO's compression library).

``export_model(..., precision="INT8", calibration=...)`` converts the networks as for FP32 and then hands each one to
:func:`quantize_network` with inputs made from a calibration set of annotated images (:class:`CalibrationSet`):

- the detector sees the images as the runtime feeds them (``text_spotting.images.fit_and_pad``: resized to fit the
  input size, padded, ``[1, 3, H, W]`` float32 BGR), quantized with asymmetric activations (NNCF's MIXED preset);
- the crop recognizer sees the words of those images cut along their ground-truth quadrilaterals, the way the
  runtime cuts the detected words (``cut_word_crops`` on the padded input), all words of an image in one batch;
  symmetric activations (PERFORMANCE preset), its SVTR neck and CTC classifier left in floating point. The INT8
  recognizer is kept only if it reads the calibration words about as well as the floating-point one
  (:func:`recognizer_word_accuracies`, at most ``RECOGNIZER_MAX_ACCURACY_DROP`` worse); otherwise the export keeps
  the recognizer in floating point and says so in ``export_config.yaml`` (``quantization``).

NNCF places the quantizers (8-bit weights per output channel, 8-bit activations per tensor), measures the activation
ranges on the calibration inputs and corrects the biases; the rest of the graph (proposal and ROI ops, NMS, the
paste of boxes) stays in floating point. Calibrate on training images or generated scenes, never on the set you
report numbers on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from ..datasets.annotation_io import AnnotationError, is_dont_care, load_coco_text, text_category_id, word_text
from ..images import fit_and_pad
from ..models.word_crops import CropSpec, cut_word_crops, word_quad
from .detector_graph import RECOGNIZER_INPUT, ExportError

#: Images a calibration set keeps by default: NNCF's own default subset size.
DEFAULT_CALIBRATION_IMAGES = 300
#: Operations of the crop recognizer left in floating point (names as the ONNX export gives them): PP-OCRv6's SVTR
#: neck (self-attention, layer norms) and the CTC classifier. Quantized too, they cost word spotting on ICDAR 2015
#: photos without saving much time (README, "INT8").
RECOGNIZER_FLOAT_PATTERNS = (r".*/recognizer/neck/.*", r".*/recognizer/classifier/.*")
#: The most word accuracy (on the calibration words, 0..1) the INT8 recognizer may lose against the floating-point
#: one before the export keeps the floating-point recognizer. PP-OCRv6's recognizer lost 0.015 on 892 held-out
#: ICDAR 2015 training words (README, "INT8"), so on real photos it stays in floating point.
RECOGNIZER_MAX_ACCURACY_DROP = 0.01


@dataclass
class CalibrationImage:
    """One calibration image: its file and the quadrilaterals ``[4, 2]`` of its words (don't-care regions left
    out), in the image's pixel frame, with their transcriptions."""

    path: Path
    quads: list[np.ndarray] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


@dataclass
class CalibrationSet:
    """The images NNCF measures activations on, and where they came from (recorded in ``export_config.yaml``)."""

    images: list[CalibrationImage]
    ann_files: list[str]

    @property
    def num_words(self) -> int:
        return sum(len(image.quads) for image in self.images)

    def describe(self) -> dict:
        """What ``export_config.yaml`` records under ``calibration``."""
        return {"ann_files": list(self.ann_files), "images": len(self.images), "words": self.num_words}


def load_calibration_set(ann_files: Sequence[str | os.PathLike], data_roots: Sequence[str | os.PathLike],
                         max_images: int = DEFAULT_CALIBRATION_IMAGES) -> CalibrationSet:
    """The calibration images of one or more "COCO with text" files (SPEC §1), each with its data root.

    With more than ``max_images`` images in all, an evenly spaced selection of them (deterministic). Every selected
    image file must exist.

    Raises:
        ExportError: one line naming the file: unequal numbers of annotation files and roots, an unreadable or
            invalid annotation file, a missing image, or no image at all.
    """
    if len(ann_files) != len(data_roots):
        raise ExportError(f"calibration: {len(ann_files)} annotation file(s) but {len(data_roots)} data root(s); "
                          f"give one root per file")
    if int(max_images) < 1:
        raise ExportError(f"calibration: the number of images must be at least 1, got {max_images}")
    images: list[CalibrationImage] = []
    for ann_file, root in zip(ann_files, data_roots):
        try:
            coco = load_coco_text(ann_file)
        except (AnnotationError, OSError) as error:
            raise ExportError(f"calibration: {error}") from None
        category = text_category_id(coco)
        words = {image["id"]: CalibrationImage(Path(root) / image["file_name"]) for image in coco["images"]}
        for ann in coco["annotations"]:
            if ann["category_id"] == category and not is_dont_care(ann) and ann["segmentation"]:
                words[ann["image_id"]].quads.append(word_quad(ann["segmentation"][0]))
                words[ann["image_id"]].texts.append(word_text(ann)[0])
        images += list(words.values())
    if not images:
        raise ExportError(f"calibration: no image in {', '.join(str(f) for f in ann_files)}")
    if len(images) > max_images:
        picks = np.linspace(0, len(images) - 1, int(max_images)).round().astype(int)
        images = [images[i] for i in picks]
    for image in images:
        if not image.path.is_file():
            raise ExportError(f"{image.path}: calibration image not found")
    return CalibrationSet(images, [str(f) for f in ann_files])


def _fitted_images(calibration: CalibrationSet, input_size: tuple[int, int]
                   ) -> Iterator[tuple[np.ndarray, float, CalibrationImage]]:
    for item in calibration.images:
        image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if image is None:
            raise ExportError(f"{item.path}: calibration image cannot be decoded")
        padded, scale = fit_and_pad(image, input_size)
        yield padded, scale, item


def detector_inputs(calibration: CalibrationSet, input_size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The detector's ``image`` input for each calibration image: ``[1, 3, H, W]`` float32, as the runtime makes
    it."""
    for padded, _, _ in _fitted_images(calibration, input_size):
        yield padded.transpose(2, 0, 1)[None].astype(np.float32)


def recognizer_inputs(calibration: CalibrationSet, input_size: tuple[int, int], spec: CropSpec
                      ) -> Iterator[np.ndarray]:
    """The crop recognizer's ``crops`` input for each calibration image that has words: ``[N, 3, H, W]`` float32,
    its words cut from the fitted image as the runtime cuts detected words."""
    for crops, _ in _recognizer_samples(calibration, input_size, spec):
        yield crops


def _recognizer_samples(calibration: CalibrationSet, input_size: tuple[int, int], spec: CropSpec
                        ) -> Iterator[tuple[np.ndarray, list[str]]]:
    """:func:`recognizer_inputs` with each image's transcriptions, in the same order as its crops."""
    for padded, scale, item in _fitted_images(calibration, input_size):
        if item.quads:
            crops, _ = cut_word_crops(padded, [quad * scale for quad in item.quads], spec)
            yield crops, item.texts


def keeps_int8(float_accuracy: float, int8_accuracy: float, max_accuracy_drop: float) -> bool:
    """Whether an INT8 network replaces the floating-point one: it loses at most ``max_accuracy_drop`` (up to
    rounding: 0.90 - 0.89 is 0.0100000000000000089 in floating point)."""
    return float_accuracy - int8_accuracy <= max_accuracy_drop + 1e-9


def recognizer_word_accuracies(networks: Sequence, calibration: CalibrationSet, input_size: tuple[int, int],
                               spec: CropSpec, decode: Callable[[np.ndarray], list[str]]) -> list[float]:
    """For each recognizer in ``networks`` (``ov.Model``s), the share of the calibration words (those with a
    transcription) it reads right, case-insensitively: each image's words cut once, as the runtime cuts them, and
    read by every network; ``decode(logits [N, T, V]) -> texts``. Run in f32 (OpenVINO's CPU plugin would otherwise
    use bf16 where the processor has it)."""
    import openvino as ov

    core = ov.Core()
    compiled = [core.compile_model(network, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}) for network in networks]
    read_right, total = [0] * len(compiled), 0
    for crops, truths in _recognizer_samples(calibration, input_size, spec):
        transcribed = [i for i, truth in enumerate(truths) if truth]
        total += len(transcribed)
        for n, network in enumerate(compiled):
            readings = decode(network({RECOGNIZER_INPUT: crops})[0])
            read_right[n] += sum(readings[i].casefold() == truths[i].casefold() for i in transcribed)
    if total == 0:
        raise ExportError("calibration: no transcribed word to measure the INT8 recognizer's accuracy on")
    return [right / total for right in read_right]


def quantize_network(model, inputs: Callable[[], Iterable[np.ndarray]], input_name: str, subset_size: int,
                     asymmetric_activations: bool = False, float_patterns: Sequence[str] = (),
                     clip_activation_outliers: bool = False):
    """An INT8 copy of an OpenVINO model (``ov.Model``), its activation ranges measured on the inputs ``inputs()``
    yields (each one value of the input ``input_name``; at most ``subset_size`` are used). ``inputs`` is called
    again for each pass NNCF makes, so the samples are made on the fly and never all held in memory.

    ``asymmetric_activations``: NNCF's ``MIXED`` preset (activations quantized with a zero point, weights
    symmetric) instead of ``PERFORMANCE`` (both symmetric): for a network whose activations are not mostly
    non-negative (the detector's hard-swish backbone; measured on ICDAR 2015 photos, see README).
    ``float_patterns``: regular expressions of operation names left in floating point.
    ``clip_activation_outliers``: activation ranges from NNCF's ``MEAN_QUANTILE`` estimator (per sample the
    0.01 % / 99.99 % quantiles, averaged) instead of the min / max: a few extreme activations otherwise stretch the
    8-bit grid of every other value (measured on the fine-tuned detector, README "INT8").
    """
    import logging

    import nncf

    nncf.set_log_level(logging.WARNING)  # not one INFO line per operation it leaves alone
    count = sum(1 for _ in inputs())
    if count == 0:
        raise ExportError(f"calibration: no input for {input_name!r} (the calibration images have no words?)")

    class Samples:
        def __iter__(self):
            return iter(inputs())

        def __len__(self):
            return count

    preset = nncf.QuantizationPreset.MIXED if asymmetric_activations else nncf.QuantizationPreset.PERFORMANCE
    kwargs = {}
    if clip_activation_outliers:
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
        from nncf.quantization.range_estimator import RangeEstimatorParametersSet

        kwargs["advanced_parameters"] = AdvancedQuantizationParameters(
            activations_range_estimator_params=RangeEstimatorParametersSet.MEAN_QUANTILE)
    if float_patterns:
        # validate: a pattern that matches nothing (a renamed module) is an error, not a silent INT8 layer
        kwargs["ignored_scope"] = nncf.IgnoredScope(patterns=list(float_patterns), validate=True)
    return nncf.quantize(model, nncf.Dataset(Samples(), lambda sample: {input_name: sample}), preset=preset,
                         subset_size=min(int(subset_size), count), fast_bias_correction=True, **kwargs)
