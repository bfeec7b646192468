"""Showing and saving the numbers: a plain-text table and the ``metrics.yaml`` file of SPEC §2."""
from __future__ import annotations

from pathlib import Path

import yaml

from .icdar import MODES
from .predictions_io import atomic_write_bytes

#: Top-level keys of a metrics file, in the order they are written.
METRICS_FILE_KEYS = ("detection", "word_spotting", "e2e_recognition", "recognition", "counts", "model", "dataset")


def format_metrics_table(metrics: dict) -> str:
    """Every number of a nested metrics dict (:func:`~.icdar.evaluate_images` layout, optionally with
    ``recognition``) as an aligned plain-text table."""
    lines = [f"{'':<16} {'precision':>9} {'recall':>9} {'hmean':>9}"]
    for mode in MODES:
        if mode in metrics:
            values = metrics[mode]
            lines.append(f"{mode:<16} {values['precision']:>9.4f} {values['recall']:>9.4f} {values['hmean']:>9.4f}")
    if "recognition" in metrics:
        recognition = metrics["recognition"]
        lines.append(f"recognition on ground-truth boxes: accuracy {recognition['accuracy']:.4f}, "
                     f"CER {recognition['cer']:.4f}")
    if "counts" in metrics:
        counts = metrics["counts"]
        lines.append(f"images {counts['images']}, ground-truth words {counts['gt_words']}, "
                     f"don't care {counts['dont_care']}, predictions {counts['predictions']}")
    return "\n".join(lines)


def write_metrics_yaml(metrics: dict, path: str | Path) -> None:
    """Writes a metrics dict as YAML (atomically), SPEC §2 keys first in their documented order."""
    ordered = {key: metrics[key] for key in METRICS_FILE_KEYS if key in metrics}
    ordered.update({key: value for key, value in metrics.items() if key not in ordered})
    atomic_write_bytes(path, yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True).encode("utf-8"))
