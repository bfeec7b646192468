"""Scoring a model on annotated data: what ``eval.py`` runs (SPEC §2, §3).

The model runs over the test pipeline of its template; the ``TextSpottingMetric`` used during training validation
scores it, and the recognition head alone is scored on the ground-truth boxes of the legible words.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
from mmengine.dataset import ConcatDataset, pseudo_collate
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..visualization import draw_ground_truth, draw_predictions
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
    """The template's test dataset for each (annotation, root) pair, concatenated when there are several."""
    from mmdet.registry import DATASETS

    if len(ann_files) != len(data_roots):
        raise ValueError(f"{len(ann_files)} annotation files but {len(data_roots)} data roots")
    datasets = []
    for ann_file, root in zip(ann_files, data_roots):
        dataset_cfg = cfg.test_dataloader.dataset.copy()
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


def evaluate_model(spotter, ann_files: Sequence[str], data_roots: Sequence[str], workers: int = 0,
                   lexicon_file: str | None = None, output_dir: str | Path | None = None,
                   model_info: dict | None = None, progress: bool = True) -> ModelEvaluation:
    """Runs ``spotter`` (an ``EagerTextSpotter``) over the data and scores it.

    With ``output_dir``: ``predictions.json``, ``submit/`` + ``submit.zip`` and ``images/<name>.jpg`` with ground
    truth (green / red for don't care) and predictions (orange: mask, quadrilateral, text, scores) drawn.
    """
    dataset = build_test_dataset(spotter.cfg, ann_files, data_roots)
    loader = DataLoader(dataset, batch_size=1, num_workers=workers, collate_fn=pseudo_collate, shuffle=False)
    metric = TextSpottingMetric(lexicon_file=lexicon_file, output_dir=str(output_dir) if output_dir else None)
    gt_texts, read_texts = [], []
    images_dir = Path(output_dir) / "images" if output_dir else None
    if images_dir:
        images_dir.mkdir(parents=True, exist_ok=True)
    for batch in tqdm(loader, desc="evaluating", unit="img", disable=not progress, dynamic_ncols=True):
        samples, gt_readings = spotter.predict_batch(batch, read_gt_words=True)
        metric.process(batch, samples)
        for sample, readings in zip(samples, gt_readings):
            legible = [inst for inst in sample.metainfo["instances"] if not inst.get("ignore_flag", 0)]
            gt_texts.extend(inst["text"] for inst in legible)
            read_texts.extend(readings)
            if images_dir:
                _draw_sample(sample, images_dir)
    nested = _nest(metric.compute_metrics(metric.results))
    nested["recognition"] = recognition_metrics(gt_texts, read_texts)
    nested["model"] = dict(model_info or {})
    nested["dataset"] = {"annotation": [str(Path(a).resolve()) for a in ann_files],
                         "data_root": [str(Path(r).resolve()) for r in data_roots],
                         "images": len(dataset), "name": ",".join(Path(a).stem for a in ann_files)}
    nested["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    outputs = []
    if output_dir:
        outputs = [Path(output_dir) / "predictions.json", Path(output_dir) / "submit.zip", images_dir]
    return ModelEvaluation(metrics=nested, output_files=outputs)


def _draw_sample(sample, images_dir: Path) -> None:
    from ..inference.words import words_from_instances

    image = cv2.imread(sample.img_path)
    if image is None:
        return
    gt = [(inst.get("mask") or [], inst.get("text", ""), bool(inst.get("ignore_flag", 0)))
          for inst in sample.metainfo["instances"]]
    canvas = draw_ground_truth(image, gt, thickness=1, with_text=False)
    canvas = draw_predictions(canvas, words_from_instances(sample.pred_instances, keep_masks=True))
    name = os.path.splitext(os.path.basename(sample.img_path))[0]
    cv2.imwrite(str(images_dir / f"{name}.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])


def save_metrics(evaluation: ModelEvaluation, path: str | Path) -> None:
    write_metrics_yaml(evaluation.metrics, path)
