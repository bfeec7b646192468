"""Validation metrics against training time, read from the scalars mmengine logs in a checkpoints dir.

Every run (a first one, then each ``--resume-from``) writes ``DIR/<timestamp>/vis_data/scalars.json``: one JSON line
per ``LoggerHook`` interval for training (``time`` = mean seconds per iteration over the interval, ``iter``, ``step``)
and one per validation (``icdar/...`` metrics, ``step`` = the epoch).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

METRIC_PREFIX = "icdar/"


@dataclass
class CurvePoint:
    """One validation: after ``epoch`` epochs, ``iteration`` iterations and ``hours`` of training compute."""

    epoch: int
    iteration: int
    hours: float
    metrics: dict[str, float]


def read_scalar_logs(checkpoints_dir: str | Path) -> list[dict]:
    """All records of all runs in ``checkpoints_dir``, oldest run first (run dirs are named by start time).
    Unreadable lines (a run killed while writing) are skipped."""
    records = []
    for log in sorted(Path(checkpoints_dir).glob("*/vis_data/scalars.json")):
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def training_curve(records: list[dict]) -> list[CurvePoint]:
    """Validation points with the training time spent before each.

    Training time is integrated from the training records: each covers the iterations since the previous record
    (of the same or an earlier run) at its mean ``time`` per iteration. A resumed run that repeats iterations (it
    restarts from the last checkpoint) is counted only once per iteration. Validation time itself is not counted.
    """
    points, seconds, last_iter, epoch_iter = [], 0.0, 0, {}
    for record in records:
        if "time" in record and "iter" in record:
            iteration = int(record["iter"])
            if iteration > last_iter:
                seconds += float(record["time"]) * (iteration - last_iter)
                last_iter = iteration
            epoch_iter[int(record.get("epoch", 0))] = last_iter
        metrics = {key[len(METRIC_PREFIX):]: float(value) for key, value in record.items()
                   if key.startswith(METRIC_PREFIX)}
        if metrics:
            epoch = int(record.get("step", 0))
            points = [p for p in points if p.epoch != epoch]  # a re-run validation replaces the earlier one
            points.append(CurvePoint(epoch, epoch_iter.get(epoch, last_iter), seconds / 3600.0, metrics))
    return points
