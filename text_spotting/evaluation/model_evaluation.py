"""Scoring a model on annotated data: what ``eval.py`` runs (SPEC §2, §3).

A PyTorch model runs over the test pipeline of its template, an exported IR over the image files; the
``TextSpottingMetric`` used during training validation scores both, and for the PyTorch model the recognition head
alone is also scored on the ground-truth boxes of the legible words.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from mmengine.dataset import ConcatDataset, pseudo_collate
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..models.ground_truth import legible_word_quads
from ..visualization import draw_ground_truth, draw_predictions
from .errors import EvaluationError
from .recognition import recognition_metrics
from .report import write_metrics_yaml
from .text_spotting_metric import TextSpottingMetric


@dataclass
class ModelEvaluation:
    """Nested metrics of SPEC §2 (``detection``, ``word_spotting``, ``e2e_recognition``, ``recognition``,
    ``counts``, ``model``, ``dataset``) and where the outputs went."""

    metrics: dict
    output_files: list[Path] = field(default_factory=list)


def build_test_dataset(cfg, ann_files: Sequence[str], data_roots: Sequence[str]):
    """The template's test dataset for each (annotation, root) pair, concatenated when there are several.

    With ``cfg`` None the datasets have no pipeline: ``get_data_info(i)`` gives each image's path and ground truth
    (what a spotter that reads image files itself needs).
    """
    from mmdet.registry import DATASETS

    from ..datasets import CocoTextDataset  # noqa: F401  registers it and the text-aware transforms

    if len(ann_files) != len(data_roots):
        raise ValueError(f"{len(ann_files)} annotation files but {len(data_roots)} data roots")
    datasets = []
    for ann_file, root in zip(ann_files, data_roots):
        dataset_cfg = cfg.test_dataloader.dataset.copy() if cfg is not None else dict(type="CocoTextDataset",
                                                                                       pipeline=[])
        dataset_cfg.update(ann_file=str(Path(ann_file).resolve()), data_root=str(Path(root).resolve()),
                           data_prefix=dict(img=""), test_mode=True)
        datasets.append(DATASETS.build(dataset_cfg))
    return datasets[0] if len(datasets) == 1 else ConcatDataset(datasets)


def _nest(flat: dict) -> dict:
    nested: dict = {}
    for key, value in flat.items():
        group, name = key.split("/", 1)
        nested.setdefault(group, {})[name] = value
    return nested


#: Why an exported attention IR gets no recognition-only metrics.
RECOGNITION_NOT_AVAILABLE = ("recognition accuracy and CER on ground-truth boxes need the recognition head run on "
                             "given boxes; an exported attention IR reads the detector's RoI features, so only the "
                             "words it detects itself")


def evaluate_model(spotter, ann_files: Sequence[str], data_roots: Sequence[str], workers: int = 0,
                   lexicon_file: str | None = None, output_dir: str | Path | None = None,
                   model_info: dict | None = None, progress: bool = True,
                   on_image: Callable[[str, list], None] | None = None,
                   dataset_name: str | None = None) -> ModelEvaluation:
    """Runs ``spotter`` over the data and scores it.

    A spotter with a ``test_pipeline_cfg`` (the PyTorch model) runs that test pipeline in batches
    (``predict_batch``, the numbers of training validation); any other (an exported IR) gets each image as read
    from disk through ``predict``. Both are scored by the same metric, and both read the ground-truth words of the
    legible words too (``recognition``: accuracy, CER), except an exported attention IR, which can only read the
    words it detects: ``recognition`` is left out, with the reason under ``not_available``.

    With ``output_dir``: ``predictions.json``, ``submit/`` + ``submit.zip`` and ``images/<name>.jpg`` with ground
    truth (green / red for don't care) and predictions (orange: mask, quadrilateral, text, scores) drawn.
    ``on_image(image_path, words)`` is called with each image's ``SpottedWord``s (masks kept) right after it is
    spotted, so a caller can draw or time them without running the model a second time.
    """
    pipeline_cfg = spotter.test_pipeline_cfg
    dataset = build_test_dataset(pipeline_cfg, ann_files, data_roots)
    metric = TextSpottingMetric(lexicon_file=lexicon_file, output_dir=str(output_dir) if output_dir else None)
    images_dir = Path(output_dir) / "images" if output_dir else None
    if images_dir:
        images_dir.mkdir(parents=True, exist_ok=True)
    evaluate = _evaluate_batches if pipeline_cfg is not None else _evaluate_images
    gt_texts, read_texts = evaluate(spotter, dataset, metric, workers, images_dir, progress, on_image)
    nested = _nest(metric.compute_metrics(metric.results))
    if read_texts is not None:
        nested["recognition"] = recognition_metrics(gt_texts, read_texts)
    else:
        nested["not_available"] = {"recognition": RECOGNITION_NOT_AVAILABLE}
    nested["model"] = dict(model_info or {})
    nested["dataset"] = {"annotation": [str(Path(a).resolve()) for a in ann_files],
                         "data_root": [str(Path(r).resolve()) for r in data_roots],
                         "images": len(dataset), "name": dataset_name or default_dataset_name(ann_files)}
    nested["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    outputs = []
    if output_dir:
        outputs = [Path(output_dir) / "predictions.json", Path(output_dir) / "submit.zip", images_dir]
    return ModelEvaluation(metrics=nested, output_files=outputs)


def default_dataset_name(ann_files: Sequence[str]) -> str:
    """What results are filed under: each annotation file's stem, or its folder's name for a file called
    ``annotation.json`` (what the generator and the bundled set use), joined by commas."""
    names = [Path(a).parent.name if Path(a).stem == "annotation" and Path(a).parent.name else Path(a).stem
             for a in ann_files]
    return ",".join(names)


def _evaluate_batches(spotter, dataset, metric, workers: int, images_dir: Path | None,
                      progress: bool, on_image=None) -> tuple[list[str], list[str]]:
    """Eager path: the test pipeline's batches through ``predict_batch``; returns the legible ground-truth texts and
    what the recognition head read on their boxes."""
    from ..inference.words import words_from_instances

    loader = DataLoader(dataset, batch_size=1, num_workers=workers, collate_fn=pseudo_collate, shuffle=False)
    gt_texts, read_texts = [], []
    for batch in tqdm(loader, desc="evaluating", unit="img", disable=not progress, dynamic_ncols=True):
        samples, gt_readings = spotter.predict_batch(batch, read_gt_words=True)
        metric.process(batch, samples)
        for sample, readings in zip(samples, gt_readings):
            legible = [inst for inst in sample.metainfo["instances"] if not inst.get("ignore_flag", 0)]
            gt_texts.extend(inst["text"] for inst in legible)
            read_texts.extend(readings)
            if images_dir or on_image:
                words = words_from_instances(sample.pred_instances, keep_masks=True)
                if images_dir:
                    _draw_sample(sample.img_path, sample.metainfo["instances"], words, images_dir)
                if on_image:
                    on_image(sample.img_path, words)
    return gt_texts, read_texts


def _evaluate_images(spotter, dataset, metric, workers: int, images_dir: Path | None, progress: bool,
                     on_image=None) -> tuple[list[str], list[str] | None]:
    """Image path: every image decoded as the test pipeline decodes it (cv2, colour) and given to ``predict``;
    returns the legible ground-truth texts and what the recognizer read at their quads (``read_given_words``; None
    when the spotter cannot read given words). ``workers`` is unused: the images are read here, one at a time."""
    from ..inference.words import instances_from_words

    gt_texts: list[str] = []
    read_texts: list[str] | None = []
    for index in tqdm(range(len(dataset)), desc="evaluating", unit="img", disable=not progress, dynamic_ncols=True):
        info = dataset.get_data_info(index)
        image = cv2.imdecode(np.fromfile(info["img_path"], dtype=np.uint8), cv2.IMREAD_COLOR) \
            if Path(info["img_path"]).is_file() else None
        if image is None:
            raise EvaluationError(f"{info['img_path']}: missing or not readable as an image (image id "
                                  f"{info['img_id']})")
        words = spotter.predict(image, keep_masks=True)[0]
        if read_texts is not None:
            readings = spotter.read_given_words(image, legible_word_quads(info["instances"]))
            if readings is None:
                read_texts = None
            else:
                gt_texts.extend(inst.get("text", "") for inst in info["instances"] if not inst.get("ignore_flag", 0))
                read_texts.extend(readings)
        metric.process(None, [{"img_id": info["img_id"], "img_path": info["img_path"],
                               "instances": info["instances"],
                               "pred_instances": instances_from_words(words, image.shape)}])
        if images_dir:
            _draw_sample(info["img_path"], info["instances"], words, images_dir)
        if on_image:
            on_image(info["img_path"], words)
    return gt_texts, read_texts


def _draw_sample(img_path: str, instances: list[dict], words, images_dir: Path) -> None:
    image = cv2.imread(img_path)
    if image is None:
        return
    gt = [(inst.get("mask") or [], inst.get("text", ""), bool(inst.get("ignore_flag", 0))) for inst in instances]
    canvas = draw_ground_truth(image, gt, thickness=1, with_text=False)
    canvas = draw_predictions(canvas, words)
    name = os.path.splitext(os.path.basename(img_path))[0]
    cv2.imwrite(str(images_dir / f"{name}.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])


def save_metrics(evaluation: ModelEvaluation, path: str | Path) -> None:
    write_metrics_yaml(evaluation.metrics, path)
