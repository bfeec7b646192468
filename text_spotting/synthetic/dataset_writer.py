"""Writes a synthetic "COCO with text" dataset: ``DIR/images/NNNNNN.jpg`` and ``DIR/annotation.json``.

Image ``i`` is drawn from ``numpy.random.default_rng(SeedSequence([seed, i]))`` alone, so the output depends only on
the seed, the scene settings, the fonts found and the package versions, never on the number of worker processes:
the same command writes the same bytes.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..datasets.annotation_io import DONT_CARE_TRANSCRIPTION, make_word_annotation, new_coco_text, save_coco_text
from .. import values
from ..geometry import order_quad_clockwise
from .fonts import FontError, FontFace, discover_fonts
from .real_words import RealWordBank
from .scene import SceneConfig, SceneGenerator, SceneWord

ANNOTATION_FILE = "annotation.json"
IMAGES_DIR = "images"
IMAGE_FORMATS = ("jpg", "png")
DEFAULT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
COORDINATE_DECIMALS = 2
_OWN_IMAGE_NAME = re.compile(r"^\d{6,}\.(jpg|png)$")


class SyntheticDataError(ValueError):
    """Bad generator input (size, counts, output folder, fonts). One line, printed by the tools as ``error: ...``."""


@dataclass
class GenerationSummary:
    """Counts of a generated dataset and how fast it was made."""

    images: int = 0
    words: int = 0
    dont_care: int = 0
    real_words: int = 0
    outside_alphabet: int = 0  # legible words with characters outside 0-9a-z after lower-casing
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        return (f"{self.images} images, {self.words} words ({self.dont_care} don't care, {self.real_words} pasted "
                f"real words, {self.outside_alphabet} legible words outside {DEFAULT_ALPHABET[:3]}..z), "
                f"{self.seconds:.1f} s, {self.images_per_second:.1f} images/s")


def parse_size(text: str) -> tuple[int, int]:
    """``"640x384"`` -> ``(640, 384)`` (width, height); :class:`SyntheticDataError` when it is not a size."""
    try:
        return values.parse_size(text)
    except ValueError as error:
        raise SyntheticDataError(str(error)) from None


def check_scene_config(config: SceneConfig) -> None:
    """Raises :class:`SyntheticDataError` naming the first setting that cannot make a dataset."""
    low, _ = config.text_size_range()
    if config.width < 32 or config.height < 32:
        raise SyntheticDataError(f"image size {config.width}x{config.height} is below 32x32")
    if config.max_blocks < 1:
        raise SyntheticDataError(f"--max-blocks must be at least 1, got {config.max_blocks}")
    if low < 1:
        raise SyntheticDataError(f"--min-text-size must be at least 1 pixel, got {low:g}")
    if config.max_text_size is not None and config.max_text_size < low:
        raise SyntheticDataError(f"--max-text-size {config.max_text_size:g} is below --min-text-size {low:g}")
    if not 0 <= config.max_rotation <= 180:
        raise SyntheticDataError(f"--max-rotation must be in 0..180, got {config.max_rotation:g}")
    if not 0 <= config.max_tilt < 80:
        raise SyntheticDataError(f"--max-tilt must be at least 0 and below 80, got {config.max_tilt:g}")
    if not 0 <= config.real_word_prob <= 1:
        raise SyntheticDataError(f"--real-word-prob must be in 0..1, got {config.real_word_prob:g}")


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of image ``index`` of a dataset made with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def round_floats(value, decimals: int = COORDINATE_DECIMALS):
    """``value`` with every float inside (lists and dicts walked) rounded; integral results become ints."""
    if isinstance(value, float):
        rounded = round(value, decimals)
        return int(rounded) if rounded.is_integer() else rounded
    if isinstance(value, list):
        return [round_floats(v, decimals) for v in value]
    if isinstance(value, dict):
        return {k: round_floats(v, decimals) for k, v in value.items()}
    return value


def sorted_keys(value):
    """``value`` with the keys of every dict inside in sorted order (JSON written from it is canonical)."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def word_annotation(word: SceneWord, ann_id: int, image_id: int) -> dict:
    """The "COCO with text" annotation of a generated word (quad ordered clockwise from the top-left)."""
    quad = order_quad_clockwise(word.quad)
    polygon = [round(float(v), COORDINATE_DECIMALS) for v in quad.reshape(-1)]
    transcription = word.text if word.legible else DONT_CARE_TRANSCRIPTION
    language = word.language if word.legible else ""
    return round_floats(make_word_annotation(ann_id, image_id, polygon, transcription, word.legible, language))


# Worker state, built once per process by _init_worker (or in-process when workers == 1).
_GENERATOR: SceneGenerator | None = None
_JOB: dict = {}


def _init_worker(config: SceneConfig, fonts: list[FontFace], real_words: RealWordBank | None, job: dict) -> None:
    global _GENERATOR, _JOB
    cv2.setNumThreads(1)
    _GENERATOR = SceneGenerator(config, fonts, real_words)
    _JOB = job


def _init_worker_state_clear() -> None:
    """Drops the in-process worker state (fonts, real words) once a run is over."""
    global _GENERATOR, _JOB
    _GENERATOR, _JOB = None, {}


def _make_image(index: int) -> tuple[int, list[SceneWord]]:
    """Generates image ``index``, writes it, returns its words."""
    scene = _GENERATOR.generate(image_rng(_JOB["seed"], index))
    path = os.path.join(_JOB["images_dir"], image_file_name(index, _JOB["image_format"]))
    params = [cv2.IMWRITE_JPEG_QUALITY, _JOB["jpeg_quality"]] if _JOB["image_format"] == "jpg" else \
        [cv2.IMWRITE_PNG_COMPRESSION, 6]
    ok, encoded = cv2.imencode("." + _JOB["image_format"], scene.image, params)
    if not ok:
        raise RuntimeError(f"{path}: OpenCV could not encode the image")
    with open(path, "wb") as f:
        f.write(encoded.tobytes())
    return index, scene.words


def image_file_name(index: int, image_format: str = "jpg") -> str:
    return f"{index:06d}.{image_format}"


def _prepare_output(out_dir: Path, overwrite: bool) -> Path:
    images_dir = out_dir / IMAGES_DIR
    existing = sorted(images_dir.iterdir()) if images_dir.is_dir() else []
    if (existing or (out_dir / ANNOTATION_FILE).exists()) and not overwrite:
        raise SyntheticDataError(f"{out_dir}: already holds a dataset ({ANNOTATION_FILE} or {IMAGES_DIR}/); "
                                 f"pass --overwrite to replace it")
    foreign = [p.name for p in existing if not _OWN_IMAGE_NAME.match(p.name)]
    if foreign:
        raise SyntheticDataError(f"{images_dir}: holds files this generator did not write (e.g. {foreign[0]}); "
                                 f"choose another --output")
    for path in existing:
        path.unlink()
    images_dir.mkdir(parents=True, exist_ok=True)
    return images_dir


def generate_dataset(out_dir: str | os.PathLike, num_images: int, seed: int, config: SceneConfig | None = None,
                     workers: int = 1, font_source: str = "all", real_words: RealWordBank | None = None,
                     image_format: str = "jpg", jpeg_quality: int = 90, overwrite: bool = False,
                     progress: bool = True) -> GenerationSummary:
    """Generates ``num_images`` scenes into ``out_dir`` and writes ``out_dir/annotation.json``.

    Args:
        out_dir: output folder (created); image paths in the annotation file are relative to it.
        num_images: how many images.
        seed: non-negative integer; image ``i`` uses :func:`image_rng` ``(seed, i)``.
        config: scene settings (default :class:`SceneConfig`, 640x384).
        workers: processes (1: in this process). The output does not depend on it.
        font_source: ``'all'`` or ``'bundled'`` (see :func:`discover_fonts`).
        real_words: real word images to paste into some scenes (``config.real_word_prob`` of the blocks).
        image_format: ``'jpg'`` or ``'png'``.
        jpeg_quality: JPEG quality of the written images (1..100).
        overwrite: replace a dataset already in ``out_dir``.
        progress: show a progress bar.

    Raises:
        SyntheticDataError: bad arguments, an occupied output folder, or no usable font.
    """
    config = config or SceneConfig()
    check_scene_config(config)
    if num_images < 1:
        raise SyntheticDataError(f"--num-images must be at least 1, got {num_images}")
    if seed < 0:
        raise SyntheticDataError(f"--seed must be a non-negative integer, got {seed}")
    if workers < 1:
        raise SyntheticDataError(f"--workers must be at least 1, got {workers}")
    if image_format not in IMAGE_FORMATS:
        raise SyntheticDataError(f"image format {image_format!r}: expected one of {', '.join(IMAGE_FORMATS)}")
    if not 1 <= jpeg_quality <= 100:
        raise SyntheticDataError(f"--jpeg-quality must be in 1..100, got {jpeg_quality}")
    try:
        fonts = discover_fonts(font_source)  # once here, not in every worker
    except FontError as error:
        raise SyntheticDataError(str(error)) from None
    out_dir = Path(out_dir)
    images_dir = _prepare_output(out_dir, overwrite)
    job = {"seed": seed, "images_dir": str(images_dir), "image_format": image_format, "jpeg_quality": jpeg_quality}
    init_args = (config, fonts, real_words, job)

    words_of: list[list[SceneWord]] = [[] for _ in range(num_images)]
    start = time.perf_counter()
    bar = tqdm(total=num_images, desc="generating", unit="img", disable=not progress)
    # One OpenCV thread per process: the workers are processes already, and a forked child deadlocks in its first
    # OpenCV call if this process has OpenCV pool threads (e.g. after cutting real words); with one thread OpenCV
    # stops them. The caller's setting is restored afterwards.
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        if workers == 1:
            _init_worker(*init_args)
            for index in range(num_images):
                words_of[index] = _make_image(index)[1]
                bar.update()
        else:
            with multiprocessing.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
                for index, words in pool.imap_unordered(_make_image, range(num_images), chunksize=2):
                    words_of[index] = words
                    bar.update()
    finally:
        cv2.setNumThreads(opencv_threads)
        _init_worker_state_clear()
    bar.close()
    seconds = time.perf_counter() - start

    coco = new_coco_text()
    coco["info"] = {"description": "synthetic scene text (tools/generate_synthetic_dataset.py)", "seed": seed,
                    "num_images": num_images, "scene_config": dataclasses.asdict(config), "fonts": font_source,
                    "real_words": real_words.source if real_words is not None else None}
    summary = GenerationSummary(images=num_images, seconds=seconds)
    for index, words in enumerate(words_of):
        image_id = index + 1
        coco["images"].append({"id": image_id, "file_name": f"{IMAGES_DIR}/{image_file_name(index, image_format)}",
                               "width": config.width, "height": config.height})
        for word in words:
            coco["annotations"].append(word_annotation(word, len(coco["annotations"]) + 1, image_id))
            summary.words += 1
            summary.dont_care += not word.legible
            summary.real_words += word.real
            summary.outside_alphabet += word.legible and any(ch not in DEFAULT_ALPHABET for ch in word.text.lower())
    save_coco_text(sorted_keys(round_floats(coco)), out_dir / ANNOTATION_FILE)
    return summary


def synthetic_images(size: tuple[int, int], count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` generated scenes of ``size`` (width, height) with a few horizontal-ish text blocks (typically
    3-10 words), with the bundled fonts; the same images for the same seed (what tools/benchmark.py times by
    default)."""
    config = SceneConfig(width=int(size[0]), height=int(size[1]), min_blocks=2, max_blocks=4, max_lines=2,
                         max_words_per_line=3, max_rotation=10.0, max_tilt=15.0, vertical_prob=0.0,
                         occlusion_prob=0.0, degradation=0.3)
    generator = SceneGenerator(config, discover_fonts("bundled"))
    return [generator.generate(image_rng(seed, index)).image for index in range(count)]
