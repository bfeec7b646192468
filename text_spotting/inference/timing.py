"""Measuring how fast a text spotter runs: per-image latency (mean, p50, p90), throughput and the per-stage split.

What ``tools/benchmark.py`` prints. Both spotters time their own stages (``last_latency_ms``); this module runs them
over the same images and sums up.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from .errors import InferenceError
from .latency import LATENCY_KEYS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
STAGES = tuple(key for key in LATENCY_KEYS if key != "total")


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    """``{'mean', 'p50', 'p90'}`` of per-image latencies in ms (percentiles interpolated linearly)."""
    values = np.asarray(latencies_ms, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no latencies to summarize")
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p90": float(np.percentile(values, 90))}


@dataclass
class SpeedResult:
    """One spotter's speed over a set of images.

    Attributes:
        name: what was measured (e.g. ``pytorch``, ``openvino``, ``openvino async x2``).
        latency_ms: mean / p50 / p90 per-image wall time (empty for a throughput-only measurement).
        throughput: images per second.
        stages_ms: mean milliseconds per image of each stage (``preprocess``, ``detector``, ...).
        words_per_image: mean number of words found.
    """

    name: str
    latency_ms: dict[str, float] = field(default_factory=dict)
    throughput: float = 0.0
    stages_ms: dict[str, float] = field(default_factory=dict)
    words_per_image: float = 0.0


def measure_latency(spotter, images: Sequence[np.ndarray], name: str, warmup: int = 2, runs: int = 5,
                    progress: bool = True) -> SpeedResult:
    """Runs ``spotter.predict`` on one image at a time, ``runs`` times over ``images`` after ``warmup`` passes over
    the first image, and summarizes the wall time per image, the throughput of that sequential loop and the mean
    per-stage split from ``spotter.last_latency_ms``."""
    for _ in range(warmup):
        spotter.predict(images[0])
    latencies, stages, words = [], {stage: 0.0 for stage in STAGES}, 0
    total_calls = runs * len(images)
    with tqdm(total=total_calls, desc=f"{name} latency", unit="img", disable=not progress, leave=False) as bar:
        started = time.perf_counter()
        for _ in range(runs):
            for image in images:
                start = time.perf_counter()
                found = spotter.predict(image)[0]
                latencies.append((time.perf_counter() - start) * 1000)
                words += len(found)
                for stage in STAGES:
                    stages[stage] += spotter.last_latency_ms.get(stage, 0.0)
                bar.update()
        elapsed = time.perf_counter() - started
    return SpeedResult(name=name, latency_ms=latency_summary(latencies), throughput=total_calls / elapsed,
                       stages_ms={stage: value / total_calls for stage, value in stages.items()},
                       words_per_image=words / total_calls)


def measure_async_throughput(spotter, images: Sequence[np.ndarray], name: str, warmup: int = 2, runs: int = 5,
                             progress: bool = True) -> SpeedResult:
    """Images per second of an ``OpenVINOTextSpotter`` with ``num_requests`` images in flight
    (``predict_async`` over ``runs`` passes of ``images``), after ``warmup`` images."""
    for _ in spotter.predict_async([images[0]] * max(warmup, spotter.num_requests)):
        pass
    stream = [image for _ in range(runs) for image in images]
    stages, words = {stage: 0.0 for stage in STAGES}, 0
    with tqdm(total=len(stream), desc=f"{name} throughput", unit="img", disable=not progress, leave=False) as bar:
        started = time.perf_counter()
        for result in spotter.predict_async(stream):
            words += len(result.words)
            for stage in STAGES:
                stages[stage] += result.latency_ms.get(stage, 0.0)
            bar.update()
        elapsed = time.perf_counter() - started
    return SpeedResult(name=name, throughput=len(stream) / elapsed,
                       stages_ms={stage: value / len(stream) for stage, value in stages.items()},
                       words_per_image=words / len(stream))


def image_files(folder: Path) -> list[Path]:
    """The image files below ``folder`` (recursively, by suffix, sorted by path)."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_images(paths: Sequence[str | Path], limit: int = 0) -> list[np.ndarray]:
    """BGR images of the files ``paths`` (``video.list_images`` of ``--images PATH...``), at most ``limit`` (0 = all);
    ``InferenceError`` for an unreadable image."""
    import cv2

    images = []
    for path in paths[:limit] if limit else paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise InferenceError(f"{path}: cannot be read as an image")
        images.append(image)
    return images


def format_speed_table(rows: Sequence[tuple[str, SpeedResult]]) -> str:
    """A markdown table: per (template, result) words per image, latency mean / p50 / p90, throughput and the mean
    milliseconds of each stage."""
    header = ["template", "runtime", "words/img", "mean ms", "p50 ms", "p90 ms", "img/s", *STAGES]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    for template, result in rows:
        latency = [f"{result.latency_ms[key]:.1f}" if result.latency_ms else "-" for key in ("mean", "p50", "p90")]
        cells = [template, result.name, f"{result.words_per_image:.1f}", *latency, f"{result.throughput:.2f}",
                 *(f"{result.stages_ms.get(stage, 0.0):.1f}" for stage in STAGES)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
