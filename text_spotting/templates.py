"""Model templates: ``template.yaml`` (the one source of truth for sizes, alphabet, thresholds and schedule) plus
``model.py`` (an mmdet config). ``load_config`` turns a template or work directory into a ready mmengine ``Config``.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Sequence

import yaml
from mmengine.config import Config

from .messages import short_repr as _short
from .values import is_finite_number as _is_number, is_int as _is_int

TEMPLATE_FILE = "template.yaml"
CONFIG_FILE = "model.py"
REQUIRED_KEYS = ("name", "input_size", "alphabet", "max_length", "thresholds", "training")


class TemplateError(ValueError):
    """A template file is missing or malformed; the message names the file and the field."""


def find_template_dir(path: str | Path) -> Path:
    """Accepts a template/work directory or its ``template.yaml`` and returns the directory."""
    path = Path(path).expanduser().resolve()
    directory = path.parent if path.is_file() else path
    if not (directory / TEMPLATE_FILE).is_file():
        raise TemplateError(f"{directory}: no {TEMPLATE_FILE} here (expected a template or an instantiated work dir)")
    if not (directory / CONFIG_FILE).is_file():
        raise TemplateError(f"{directory}: no {CONFIG_FILE} next to {TEMPLATE_FILE}")
    return directory


def load_template(path: str | Path) -> dict[str, Any]:
    """Reads and checks ``template.yaml`` (``path`` = the file or its directory)."""
    file = find_template_dir(path) / TEMPLATE_FILE
    try:
        template = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise TemplateError(f"{file}: not valid YAML ({_first_line(error)})") from None
    except UnicodeDecodeError as error:
        raise TemplateError(f"{file}: not UTF-8 text (byte {error.start})") from None
    except RecursionError:
        raise TemplateError(f"{file}: not valid YAML (nested too deeply)") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise TemplateError(f"{file}: not valid YAML (a number of thousands of digits)") from None
    except OSError as error:
        raise TemplateError(f"{file}: cannot read: {error.strerror or error}") from None
    if not isinstance(template, dict):
        raise TemplateError(f"{file}: expected a mapping at the top level")
    for key in REQUIRED_KEYS:
        if key not in template:
            raise TemplateError(f"{file}: field '{key}' is missing")
    name = template["name"]
    # The name becomes part of folder names (the IR cache) and is looked up as model_templates/<name>.
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise TemplateError(f"{file}: field 'name' must be a non-empty name without path separators, got "
                            f"{_short(name)}")
    width, height = _pair(template["input_size"], file, "input_size")
    if width % 32 or height % 32:
        raise TemplateError(f"{file}: field 'input_size': {width}x{height} must be multiples of 32")
    if not isinstance(template["alphabet"], str) or not template["alphabet"]:
        raise TemplateError(f"{file}: field 'alphabet' must be a non-empty string")
    if len(set(template["alphabet"])) != len(template["alphabet"]):
        raise TemplateError(f"{file}: field 'alphabet' has repeated characters")
    _positive_int(template, "max_length", file)
    if not isinstance(template.get("case_sensitive", False), bool):
        raise TemplateError(f"{file}: field 'case_sensitive' must be true or false, got "
                            f"{_short(template['case_sensitive'])}")
    thresholds = _mapping(template, "thresholds", file)
    for key in ("detection", "recognition"):
        value = thresholds.get(key)
        if not _is_number(value) or not 0 <= value <= 1:
            raise TemplateError(f"{file}: field 'thresholds.{key}' must be a number in [0, 1], got {_short(value)}")
    training = _mapping(template, "training", file)
    for key in ("batch_size", "base_learning_rate", "epochs"):
        if key not in training:
            raise TemplateError(f"{file}: field 'training.{key}' is missing")
    _positive_int(training, "batch_size", file, "training.")
    _positive_int(training, "epochs", file, "training.")
    rate = training["base_learning_rate"]
    if not _is_number(rate) or rate <= 0:
        raise TemplateError(f"{file}: field 'training.base_learning_rate' must be a positive number, got "
                            f"{_short(rate)}")
    steps = training.get("lr_steps", [])
    if not isinstance(steps, list) or not all(_is_int(step) and step > 0 for step in steps):
        raise TemplateError(f"{file}: field 'training.lr_steps' must be a list of epochs (positive integers), got "
                            f"{_short(steps)}")
    template["input_size"] = [width, height]
    return template


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _mapping(section: dict, key: str, file: Path) -> dict:
    if not isinstance(section[key], dict):
        raise TemplateError(f"{file}: field '{key}' must be a mapping, got {_short(section[key])}")
    return section[key]


def _positive_int(section: dict, key: str, file: Path, prefix: str = "") -> None:
    if not _is_int(section[key]) or section[key] <= 0:
        raise TemplateError(f"{file}: field '{prefix}{key}' must be a positive integer, got {_short(section[key])}")


def _pair(value: Any, file: Path, field: str) -> tuple[int, int]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) and v > 0 for v in value)):
        raise TemplateError(f"{file}: field '{field}' must be [width, height] in pixels, got {_short(value)}")
    return int(value[0]), int(value[1])


def apply_template(cfg: Config, template: dict[str, Any]) -> Config:
    """Writes the template's values into the config (in place) and returns it.

    The config's placeholders (see ``model_templates/_base_/text_spotter.py``) get: the input size in every
    ``FixShapeResize``,
    the alphabet / max length / recognition threshold in the text head, the detection threshold in ``test_cfg``, and
    batch size, learning rate, epochs and LR steps in the schedule.
    """
    width, height = template["input_size"]
    training = template["training"]
    recognizer = _recognizer_cfg(cfg)
    recognizer.alphabet = template["alphabet"]
    recognizer.case_sensitive = bool(template.get("case_sensitive", False))
    if recognizer_kind(cfg) == "attention":
        recognizer.max_length = int(template["max_length"])
    _set_thresholds(cfg, template["thresholds"]["detection"], template["thresholds"]["recognition"])

    crop_size = training.get("crop_size")  # (width, height) of the training crops, else the input size
    for key, pipeline in _pipelines(cfg):
        train_size = crop_size if crop_size and key.startswith("train") else (width, height)
        for transform in pipeline:
            if transform.get("type") == "FixShapeResize":
                transform["width"], transform["height"] = int(train_size[0]), int(train_size[1])
            if transform.get("type") == "RandomTextCrop" and crop_size and "crop_size" in transform:
                transform["crop_size"] = [int(v) for v in crop_size]
    cfg.input_size = (width, height)

    cfg.model.frozen_modules = [str(name) for name in training.get("frozen_modules") or []]
    epochs = int(training["epochs"])
    steps = [int(s) for s in training.get("lr_steps", [])]
    cfg.train_dataloader.batch_size = int(training["batch_size"])
    cfg.optim_wrapper.optimizer.lr = float(training["base_learning_rate"])
    cfg.train_cfg.max_epochs = epochs
    cfg.max_epochs = epochs
    cfg.lr_steps = steps
    for scheduler in cfg.param_scheduler:
        if scheduler.get("type") == "MultiStepLR":
            scheduler["milestones"] = steps
            scheduler["end"] = epochs
    cfg.template = copy.deepcopy(template)
    return cfg


def with_thresholds(cfg: Config, detection: float | None = None, recognition: float | None = None) -> Config:
    """A copy of the config with other inference thresholds (None: unchanged): the minimum word detection score and
    the minimum text confidence below which a text is returned empty."""
    cfg = copy.deepcopy(cfg)
    _set_thresholds(cfg, detection, recognition)
    if "template" in cfg:
        thresholds = cfg.template.setdefault("thresholds", {})
        for key, value in (("detection", detection), ("recognition", recognition)):
            if value is not None:
                thresholds[key] = float(value)
    return cfg


def _set_thresholds(cfg: Config, detection: float | None, recognition: float | None) -> None:
    """Where the inference thresholds live in the config (None: left as it is)."""
    if detection is not None:
        cfg.model.test_cfg.rcnn.score_thr = float(detection)
    if recognition is not None:
        _recognizer_cfg(cfg).recognition_threshold = float(recognition)


def config_thresholds(cfg: Config) -> dict[str, float]:
    """The inference thresholds a config holds: ``{'detection': ..., 'recognition': ...}``."""
    return {"detection": float(cfg.model.test_cfg.rcnn.score_thr),
            "recognition": float(_recognizer_cfg(cfg).recognition_threshold or 0.0)}


def recognizer_kind(cfg: Config) -> str:
    """``'ctc'`` for a model with a crop recognizer (``model.text_recognizer``), else ``'attention'``."""
    return "ctc" if cfg.model.get("text_recognizer") else "attention"


def _recognizer_cfg(cfg: Config):
    """The config of the part that reads the words (and holds the alphabet and the recognition threshold)."""
    return cfg.model.text_recognizer if recognizer_kind(cfg) == "ctc" else cfg.model.roi_head.text_head


def record_thresholds(template_dir: str | Path, detection: float, recognition: float) -> None:
    """Writes the inference thresholds into ``template.yaml`` (what ``tools/tune_thresholds.py --update-template``
    chose on a validation set)."""
    file = find_template_dir(template_dir) / TEMPLATE_FILE
    _rewrite_block(file, "thresholds", {"detection": float(detection), "recognition": float(recognition)})


def with_input_size(cfg: Config, input_size: Sequence[int] | None) -> Config:
    """The config set to run inference at another ``(width, height)`` than the template's (None: unchanged).

    The network is fully convolutional up to its RoI heads, so a model trained on 640x384 crops can read a 1280x720
    photo at 1280x768 with its small words at full resolution. Only the test pipeline and ``input_size`` change (the
    export and the IR follow ``input_size``); training settings are left alone.
    """
    if input_size is None:
        return cfg
    width, height = (int(v) for v in input_size)
    if width < 32 or height < 32:
        raise TemplateError(f"inference input size must be at least 32x32 pixels, got {width}x{height}")
    cfg = copy.deepcopy(cfg)
    for transform in cfg.test_pipeline:
        if transform.get("type") == "FixShapeResize":
            transform["width"], transform["height"] = width, height
    for loader in ("val_dataloader", "test_dataloader"):
        dataset = cfg.get(loader, {}).get("dataset", {})
        for ds in dataset.get("datasets", [dataset]):
            for transform in ds.get("pipeline", []):
                if transform.get("type") == "FixShapeResize":
                    transform["width"], transform["height"] = width, height
    cfg.input_size = (width, height)
    return cfg


def _pipelines(cfg: Config):
    """``(name, pipeline)`` of every data pipeline of the config (the train ones' names start with 'train')."""
    for key in ("train_pipeline", "test_pipeline"):
        if key in cfg:
            yield key, cfg[key]
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        dataset = cfg.get(loader, {}).get("dataset", {})
        for ds in dataset.get("datasets", [dataset]):
            if "pipeline" in ds:
                yield loader, ds["pipeline"]


def load_config(path: str | Path) -> Config:
    """The mmengine Config of a template or work directory, with template.yaml applied."""
    directory = find_template_dir(path)
    template = load_template(directory)
    try:
        cfg = Config.fromfile(str(directory / CONFIG_FILE))
    except Exception as error:  # mmengine raises many types for a broken config file
        raise TemplateError(f"{directory / CONFIG_FILE}: cannot be read as an mmengine config ({error})") from None
    return apply_template(cfg, template)


def replace_top_level_block(text: str, key: str, value: Any) -> str:
    """Replaces (or appends) the top-level ``key:`` block of a YAML text with ``value``, keeping everything else,
    comments included, byte for byte."""
    block = yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, default_flow_style=False)
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if start is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + block
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def record_metrics(template_dir: str | Path, metrics: dict) -> None:
    """Records an evaluation in ``template.yaml``: ``model_stats`` (MParams, GFLOPs) and, under ``metrics``, the
    hmeans / recognition numbers keyed by dataset name. Written by ``eval.py --update-template``, never by hand."""
    file = find_template_dir(template_dir) / TEMPLATE_FILE
    template = load_template(file)
    model = metrics.get("model", {})
    dataset = metrics.get("dataset", {}).get("name", "dataset")
    entry = {mode: round(float(metrics[mode]["hmean"]), 4)
             for mode in ("detection", "word_spotting", "e2e_recognition") if mode in metrics}
    if "recognition" in metrics:
        entry["recognition_accuracy"] = round(float(metrics["recognition"]["accuracy"]), 4)
        entry["recognition_cer"] = round(float(metrics["recognition"]["cer"]), 4)
    entry["images"] = int(metrics.get("counts", {}).get("images", 0))
    entry["weights_sha256"] = model.get("sha256")
    entry["format"] = model.get("format", "pytorch")
    if entry["format"] == "openvino":  # which IR: its precision and the checkpoint it was exported from
        entry["precision"] = model.get("precision")
        entry["source_weights_sha256"] = model.get("source_weights_sha256")
    entry["date"] = metrics.get("date")
    at_template_size = list(model.get("input_size") or template["input_size"]) == list(template["input_size"])
    if not at_template_size:  # an evaluation at another inference size is filed beside the template-size one
        entry["input_size"] = list(model["input_size"])
        dataset = f"{dataset}@{model['input_size'][0]}x{model['input_size'][1]}"
    all_metrics = dict(template.get("metrics") or {})
    all_metrics[dataset] = entry
    if "mparams" in model and at_template_size:
        record_model_stats(file, model)
    _rewrite_block(file, "metrics", all_metrics)


def record_model_stats(template_dir: str | Path, stats: dict) -> None:
    """Writes ``model_stats`` (``mparams``, ``gflops`` and the ``input_size`` they were counted at) into
    ``template.yaml``, leaving the rest of the file as it is."""
    _rewrite_block(find_template_dir(template_dir) / TEMPLATE_FILE, "model_stats",
                   {"mparams": stats["mparams"], "gflops": stats["gflops"],
                    "gflops_input_size": list(stats["input_size"])})


def _rewrite_block(file: Path, key: str, value: Any) -> None:
    text = replace_top_level_block(file.read_text(encoding="utf-8"), key, value)
    tmp = file.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, file)


def record_initial_weights(template_dir: str | Path, file_name: str, sha256: str) -> None:
    """Names the template's shipped weights (a file inside the template folder) and their sha256 in
    ``template.yaml``; ``instantiate_template`` copies them into work dirs and checks the digest."""
    file = find_template_dir(template_dir) / TEMPLATE_FILE
    _rewrite_block(file, "initial_weights", file_name)
    _rewrite_block(file, "initial_weights_sha256", sha256)
