"""Our text spotter next to other OCR engines on the same images: quality by OUR evaluator, and speed.

Every method is a ``predict(image) -> list[SpottedWord]`` callable over BGR images. Its words become
:class:`~text_spotting.evaluation.ImagePredictions` and are scored by
:func:`~text_spotting.evaluation.evaluate_set` against the annotation file, exactly as
``tools/evaluate_predictions.py`` scores a predictions file (ICDAR 2015 detection, word spotting, end-to-end). Where
a method can read given regions (``read_ground_truth``), recognition accuracy and CER are measured on the legible
ground-truth words as well, in a second pass that is not timed: our PyTorch model reads their boxes with its
recognition head (as ``eval.py`` does), the peers read them cut out of the image and warped upright.

Timing: wall-clock milliseconds of ``predict`` per image (from the decoded BGR image to the list of words, all pre-
and post-processing included; reading the file is not), after ``warmup`` untimed calls, one image at a time.
"""
from __future__ import annotations

import datetime
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from ..evaluation import (MODES, EvaluationError, GroundTruthSet, ImagePredictions, evaluate_set, load_ground_truth,
                          recognition_metrics)
from ..evaluation.predictions_io import atomic_write_bytes
from ..inference.timing import latency_summary


@dataclass
class Method:
    """One row of the comparison.

    Attributes:
        name: what the table calls it ("ours eager (text-spotting-cpu)", "rapidocr").
        input_size: the network input as ``WxH``, or ``auto`` for engines that choose it per image.
        description: versions and settings, for the saved results.
        predict: BGR image ``[H, W, 3]`` uint8 -> words in its pixel coordinates.
        read_ground_truth: ``(data, progress) -> (gt_texts, read_texts)``: the recognizer alone on the legible
            ground-truth words of a :class:`BenchmarkSet`, both ``[W]``; None when the method cannot read given
            regions (no recognition accuracy / CER then).
        latency_source: an object whose ``last_latency_ms`` dict (per stage) is read after each ``predict``, if any.
    """

    name: str
    input_size: str
    description: str
    predict: Callable[[np.ndarray], list]
    read_ground_truth: Callable[["BenchmarkSet", bool], tuple[list[str], list[str]]] | None = None
    latency_source: object | None = None


@dataclass
class MethodResult:
    """What one method scored and how fast it ran.

    Attributes:
        metrics: ``detection`` / ``word_spotting`` / ``e2e_recognition`` {precision, recall, hmean}, ``counts`` and,
            when measured, ``recognition`` {accuracy, cer}.
        latencies_ms: ``[I]`` milliseconds per image.
        stage_ms: mean milliseconds per stage from the spotter's ``last_latency_ms``, when it reports them.
    """

    name: str
    input_size: str
    description: str
    metrics: dict
    latencies_ms: list[float]
    stage_ms: dict[str, float] | None = None

    @property
    def mean_ms(self) -> float:
        return latency_summary(self.latencies_ms)["mean"] if self.latencies_ms else float("nan")

    @property
    def p90_ms(self) -> float:
        return latency_summary(self.latencies_ms)["p90"] if self.latencies_ms else float("nan")

    @property
    def images_per_second(self) -> float:
        return 1000.0 / self.mean_ms if self.latencies_ms and self.mean_ms > 0 else float("nan")

    def as_dict(self) -> dict:
        result = {"method": self.name, "input_size": self.input_size, "description": self.description}
        result.update({key: self.metrics[key] for key in (*MODES, "recognition", "counts") if key in self.metrics})
        result["latency_ms"] = {"mean": round(self.mean_ms, 2), "p90": round(self.p90_ms, 2)}
        result["images_per_second"] = round(self.images_per_second, 3)
        if self.stage_ms:
            result["stage_latency_ms"] = {key: round(value, 2) for key, value in self.stage_ms.items()}
        return result


@dataclass
class BenchmarkSet:
    """The images a benchmark runs on and their ground truth (first ``limit`` images of the annotation file).

    Attributes:
        gt: the ground truth, cut to the used images.
        image_paths: ``[I]`` image files, aligned with ``gt.images``.
        images_dir: the root the annotation's file names are relative to.
    """

    gt: GroundTruthSet
    image_paths: list[Path]
    images_dir: Path

    def __len__(self) -> int:
        return len(self.image_paths)

    def read(self, index: int) -> np.ndarray:
        """BGR image ``[H, W, 3]`` uint8 of the index-th image; an unreadable one is an :class:`EvaluationError`."""
        image = cv2.imread(str(self.image_paths[index]), cv2.IMREAD_COLOR)
        if image is None:
            raise EvaluationError(f"{self.gt.annotation_file}: image id {self.gt.image_ids[index]}: field "
                                  f"'file_name': cannot read {self.image_paths[index]}")
        return image


def load_benchmark_set(ann_file: str | Path, images_dir: str | Path, limit: int = 0) -> BenchmarkSet:
    """Ground truth of ``ann_file`` (validated, ``AnnotationError`` when bad) and its images under ``images_dir``
    (the root its ``file_name`` entries are relative to); ``limit`` > 0 keeps the first ``limit`` images."""
    gt = load_ground_truth(ann_file)
    count = len(gt.image_ids) if limit <= 0 else min(limit, len(gt.image_ids))
    gt = GroundTruthSet(annotation_file=gt.annotation_file, image_ids=gt.image_ids[:count],
                        file_names=gt.file_names[:count], images=gt.images[:count])
    images_dir = Path(images_dir)
    paths = [images_dir / name for name in gt.file_names]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise EvaluationError(f"{ann_file}: {len(missing)} image file(s) not found under {images_dir} "
                              f"(first: {missing[0]})")
    return BenchmarkSet(gt=gt, image_paths=paths, images_dir=images_dir)


def words_to_predictions(words: Sequence) -> ImagePredictions:
    """``SpottedWord``s -> what the evaluator scores (quadrilaterals, scores, texts, text scores)."""
    return ImagePredictions(polygons=[np.asarray(word.quad, dtype=np.float64) for word in words],
                            scores=[float(word.score) for word in words], texts=[str(word.text) for word in words],
                            text_scores=[float(word.text_score) for word in words])


def legible_regions(gt) -> tuple[list[np.ndarray], list[str]]:
    """Polygons and texts of an image's ground-truth words that are not don't care."""
    kept = [index for index, dont_care in enumerate(gt.dont_care) if not dont_care]
    return [gt.polygons[index] for index in kept], [gt.texts[index] for index in kept]


def crop_reader(read_words: Callable[[np.ndarray, list], list[str]], name: str = ""):
    """``read_ground_truth`` of an engine that reads regions of an image (``read_words(image, polygons)``): every
    image's legible ground-truth regions, in file order."""

    def read_ground_truth(data: BenchmarkSet, progress: bool = True) -> tuple[list[str], list[str]]:
        gt_texts, read_texts = [], []
        for index in tqdm(range(len(data)), desc=f"{name} reading ground-truth words", unit="img",
                          disable=not progress, dynamic_ncols=True, leave=False):
            polygons, texts = legible_regions(data.gt.images[index])
            if polygons:
                read_texts.extend(read_words(data.read(index), polygons))
                gt_texts.extend(texts)
        return gt_texts, read_texts

    return read_ground_truth


def run_method(method: Method, data: BenchmarkSet, warmup: int = 1, measure_recognition: bool = True,
               progress: bool = True) -> MethodResult:
    """Runs ``method`` on every image of ``data``, times it and scores it (see the module docstring)."""
    for index in range(min(warmup, len(data))):
        method.predict(data.read(index))
    predictions, latencies, stages = [], [], []
    for index in tqdm(range(len(data)), desc=f"{method.name} {method.input_size}", unit="img",
                      disable=not progress, dynamic_ncols=True, leave=False):
        image = data.read(index)
        start = time.perf_counter()
        words = method.predict(image)
        latencies.append((time.perf_counter() - start) * 1000.0)
        predictions.append(words_to_predictions(words))
        stage = getattr(method.latency_source, "last_latency_ms", None)
        if stage:
            stages.append(dict(stage))
    metrics = evaluate_set(data.gt.images, predictions, image_names=data.gt.file_names).as_dict()
    if measure_recognition and method.read_ground_truth is not None:
        metrics["recognition"] = recognition_metrics(*method.read_ground_truth(data, progress))
    stage_ms = {key: float(np.mean([stage[key] for stage in stages])) for key in stages[0]} if stages else None
    return MethodResult(name=method.name, input_size=method.input_size, description=method.description,
                        metrics=metrics, latencies_ms=latencies, stage_ms=stage_ms)


# ---------------------------------------------------------------------------------------------------------------
# our models


def eager_ground_truth_reader(spotter):
    """``read_ground_truth`` of an ``EagerTextSpotter``: its recognition head on the boxes of the legible
    ground-truth words, through the template's test pipeline, exactly as ``eval.py`` measures it."""

    def read_ground_truth(data: BenchmarkSet, progress: bool = True) -> tuple[list[str], list[str]]:
        from mmengine.dataset import pseudo_collate

        from ..evaluation.model_evaluation import build_test_dataset

        dataset = build_test_dataset(spotter.cfg, [data.gt.annotation_file], [str(data.images_dir)])
        gt_texts, read_texts = [], []
        for index in tqdm(range(len(data)), desc="reading ground-truth words", unit="img", disable=not progress,
                          dynamic_ncols=True, leave=False):
            samples, readings = spotter.predict_batch(pseudo_collate([dataset[index]]), read_gt_words=True)
            if samples[0].img_id != data.gt.image_ids[index]:
                raise EvaluationError(f"{data.gt.annotation_file}: image #{index}: the dataset gives image id "
                                      f"{samples[0].img_id}, the ground truth {data.gt.image_ids[index]}")
            legible = [inst for inst in samples[0].metainfo["instances"] if not inst.get("ignore_flag", 0)]
            gt_texts.extend(inst["text"] for inst in legible)
            read_texts.extend(readings[0])
        return gt_texts, read_texts

    return read_ground_truth


def eager_method(weights: str | Path, template: str | Path | None = None,
                 input_size: tuple[int, int] | None = None) -> Method:
    """Our PyTorch model: a checkpoint with its template's config, at ``input_size`` (width, height; default the
    template's). ``template`` defaults as in ``load_text_spotter`` (the work dir above the checkpoint, else the
    template the checkpoint names)."""
    import torch

    from ..inference import EagerTextSpotter, InferenceError, template_of_checkpoint
    from ..inference.loading import CHECKPOINT_SUFFIXES
    from ..templates import load_config, with_input_size

    path = Path(weights)
    if path.is_dir() or path.suffix not in CHECKPOINT_SUFFIXES:
        raise InferenceError(f"{path}: expected a .pth checkpoint, an export dir (with export_config.yaml), "
                             f"model.xml or model.bin")
    if not path.is_file():
        raise InferenceError(f"{path}: file not found")
    cfg = with_input_size(load_config(template if template is not None else template_of_checkpoint(weights)),
                          input_size)
    spotter = EagerTextSpotter(cfg, weights)
    width, height = spotter.input_size
    return Method(name=f"ours eager ({cfg.template['name']})", input_size=f"{width}x{height}",
                  description=f"PyTorch {torch.__version__}, weights {Path(weights).name} "
                              f"(sha256 {spotter.weights_sha256[:12]})",
                  predict=lambda image: spotter.predict(image)[0],
                  read_ground_truth=eager_ground_truth_reader(spotter), latency_source=spotter)


def ir_method(path: str | Path, threads: int) -> Method:
    """Our exported OpenVINO IR (an export dir, ``model.xml`` or ``model.bin``) on the CPU at the input size it was
    exported at. It reads only the words it detects, so it gets no recognition accuracy / CER."""
    import openvino

    from ..inference import OpenVINOTextSpotter

    spotter = OpenVINOTextSpotter(path, device="CPU", num_threads=threads)
    width, height = spotter.input_size
    return Method(name=f"ours IR ({spotter.config['template']})", input_size=f"{width}x{height}",
                  description=f"OpenVINO {openvino.__version__}, {spotter.config.get('precision', 'FP32')}, "
                              f"{spotter.export_dir}",
                  predict=lambda image: spotter.predict(image)[0], latency_source=spotter)


def peer_method(peer) -> Method:
    """A peer engine (:mod:`~.engines`) as a row of the comparison; it picks its input size itself."""
    return Method(name=peer.name, input_size="auto", description=peer.description, predict=peer.predict,
                  read_ground_truth=crop_reader(peer.read_words, peer.name))


# ---------------------------------------------------------------------------------------------------------------
# reporting

TABLE_COLUMNS = ("method", "size", "det P", "det R", "det hmean", "word spotting", "e2e", "CER", "mean ms", "p90 ms",
                 "img/s")


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def result_row(result: MethodResult) -> list[str]:
    """The cells of one table row (:data:`TABLE_COLUMNS`)."""
    metrics = result.metrics
    recognition = metrics.get("recognition")
    return [result.name, result.input_size,
            _number(metrics["detection"]["precision"], 3), _number(metrics["detection"]["recall"], 3),
            _number(metrics["detection"]["hmean"], 3), _number(metrics["word_spotting"]["hmean"], 3),
            _number(metrics["e2e_recognition"]["hmean"], 3),
            _number(recognition["cer"] if recognition else None, 3),
            _number(result.mean_ms, 1), _number(result.p90_ms, 1), _number(result.images_per_second, 2)]


def format_results_table(results: Sequence[MethodResult]) -> str:
    """An aligned plain-text table, one row per result."""
    rows = [list(TABLE_COLUMNS)] + [result_row(result) for result in results]
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_COLUMNS))]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.ljust(width) if column < 2 else cell.rjust(width)
                 for column, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def results_markdown(results: Sequence[MethodResult], context: dict) -> str:
    """A markdown table of the results with the set, threads, machine and skipped methods below it."""
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |",
             "|" + "|".join(":---" if column < 2 else "---:" for column in range(len(TABLE_COLUMNS))) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in result_row(result)) + " |"
              for result in results]
    dataset = context["dataset"]
    lines += ["", f"{dataset['images']} images of `{dataset['annotation']}`, {context['threads']} threads, "
              f"{context['machine']['cpu']} ({context['machine']['cores']} cores), {context['date']}. "
              "Quality by the project's ICDAR 2015 evaluator (hmean); CER of each method's recognizer on the "
              "legible ground-truth words; time per image from decoded image to words, one image at a time."]
    for result in results:
        lines.append(f"- {result.name} {result.input_size}: {result.description}")
    for skipped in context.get("skipped", []):
        lines.append(f"- skipped {skipped['method']}: {skipped['reason']}")
    return "\n".join(lines) + "\n"


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def benchmark_context(data: BenchmarkSet, threads: int, skipped: Sequence[dict] = ()) -> dict:
    """What the numbers were measured on: data set, threads, machine, date and the methods that were skipped."""
    return {"dataset": {"annotation": str(Path(data.gt.annotation_file).resolve()),
                        "images_dir": str(data.images_dir.resolve()), "images": len(data)},
            "threads": int(threads), "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "skipped": list(skipped)}


def save_results(results: Sequence[MethodResult], context: dict, path: str | Path) -> None:
    """Writes the results as markdown (``.md``) or YAML (``.yaml``/``.yml``), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".md":
        payload = results_markdown(results, context)
    elif suffix in (".yaml", ".yml"):
        payload = yaml.safe_dump({**context, "methods": [result.as_dict() for result in results]}, sort_keys=False,
                                 allow_unicode=True)
    else:
        raise ValueError(f"{path}: results are written as .md or .yaml, not '{suffix or 'no suffix'}'")
    atomic_write_bytes(path, payload.encode("utf-8"))
