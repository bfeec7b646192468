"""``export_model``: a template's model -> ONNX files -> OpenVINO IRs + ``export_config.yaml`` (SPEC §4).

Everything is written into a temporary directory next to the output directory and moved into place at the end, so
a failed or interrupted export leaves an existing export untouched.
"""
from __future__ import annotations

import copy
import os
import shutil
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.config import Config
from torch import nn
from tqdm import tqdm

from ..models.building import build_text_spotter
from ..models.ctc import ctc_texts, softmax
from ..templates import config_thresholds, load_config
from .detector_graph import DETECTOR_INPUT, RECOGNIZER_INPUT, CropRecognizerGraph, DetectorGraph, ExportError
from .export_config import (EXPORT_CONFIG_FILE, EXPORT_FILES, FORMAT, FORMAT_VERSION, IR_FILES, IR_PRECISIONS,
                            KIND_KEYS, KIND_ROLES, LAYOUTS, OMZ_ALPHABET, ONNX_FILES, ExportFormatError, ir_rt_info,
                            load_export_config, write_export_config)
from .onnx_ops import CUSTOM_OPSETS, ONNX_OPSET
from .quantization import (RECOGNIZER_FLOAT_PATTERNS, RECOGNIZER_MAX_ACCURACY_DROP, CalibrationSet, detector_inputs,
                           keeps_int8, quantize_network, recognizer_inputs, recognizer_word_accuracies)

PRECISIONS = IR_PRECISIONS
ENCODER_INPUTS, ENCODER_OUTPUTS = ("input",), ("output",)
DECODER_INPUTS = ("prev_symbol", "prev_hidden", "encoder_outputs")
DECODER_OUTPUTS = ("output", "hidden")
RECOGNIZER_INPUTS, RECOGNIZER_OUTPUTS = (RECOGNIZER_INPUT,), ("logits",)
#: The input shapes of Open Model Zoo's text-spotting-0005 recognizer (one word per call), from an export's facts.
OMZ_SHAPES = {
    "encoder": lambda facts: {"input": [1, facts["text_feature_channels"], facts["text_feature_size"],
                                        facts["text_feature_size"]]},
    "decoder": lambda facts: {"prev_symbol": [1], "prev_hidden": [1, 1, facts["decoder_hidden_size"]],
                              "encoder_outputs": [1, facts["text_feature_size"] ** 2, facts["encoder_channels"]]},
}
# A fixed pseudo-random image to trace with: the traced graph does not depend on it (every data-dependent shape goes
# through the ops of onnx_ops), but a real-looking input exercises the same code as inference.
TRACE_SEED = 0


@dataclass
class ExportResult:
    """What ``export_model`` wrote: the final directory, its ``export_config.yaml`` contents, the files and the
    seconds each stage took (``trace``, ``convert``, ``save``)."""

    output_dir: Path
    config: dict[str, Any]
    files: list[Path]
    seconds: dict[str, float] = field(default_factory=dict)


def check_output_dir(output_dir: Path) -> None:
    """Refuses an output directory that holds anything but a previous export (which is replaced as a whole)."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ExportError(f"{output_dir}: exists and is not a directory")
    if output_dir.is_dir():
        foreign = sorted(p.name for p in output_dir.iterdir() if p.name not in EXPORT_FILES)
        if foreign:
            raise ExportError(f"{output_dir}: holds files that are not part of an export ({', '.join(foreign[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}); choose an empty or new directory")


def _replace_dir(new: Path, target: Path) -> None:
    """Moves the finished ``new`` directory to ``target``, replacing a previous export there."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _set_default_permissions(directory: Path) -> None:
    """mkdtemp makes a private (0700) directory; the export directory gets the usual mode (0777 - umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(directory, 0o777 & ~umask)


def export_onnx(module: nn.Module, args: tuple, file: Path, input_names, output_names, dynamic_axes=None,
                custom_opsets=None) -> None:
    """``torch.onnx.export`` as every export here runs it: TorchScript exporter, opset ``ONNX_OPSET``, constant
    folding, and only the warnings that say something about this model."""
    with warnings.catch_warnings():
        # The TorchScript exporter is what reads the custom symbolics (the dynamo exporter needs onnxscript).
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        # The custom ops' eager forward() (and the mmcv ops it calls) branch on values while being traced; their
        # symbolic() replaces them entirely, so nothing of that is recorded.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning,
                                module=r"(text_spotting\.export\.onnx_ops|mmcv\.ops\.(nms|roi_align))")
        # nn.GRU checks its input sizes in Python: constants of the trace, true for any number of words.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"torch\.nn\.modules\.rnn")
        # The decoder's initial GRU state is an input (prev_hidden), which is what this warning asks for.
        warnings.filterwarnings("ignore", message=".*batch_size other than 1, with a variable length with GRU.*")
        torch.onnx.export(module, args, str(file), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=dynamic_axes or {}, custom_opsets=custom_opsets or {},
                          do_constant_folding=True)


def _trace_image(input_size: tuple[int, int]) -> torch.Tensor:
    generator = torch.Generator().manual_seed(TRACE_SEED)
    width, height = input_size
    return torch.randint(0, 256, (1, 3, height, width), generator=generator).float()


def _model_facts(model: nn.Module) -> dict[str, Any]:
    """What ``export_config.yaml`` records about the model, by recognizer kind (SPEC §4)."""
    roi_head = model.roi_head
    if getattr(model, "text_recognizer", None) is not None:
        head = model.text_recognizer
        return {
            "recognizer_kind": "ctc",
            "alphabet": head.codec.alphabet,
            "case_sensitive": bool(head.codec.case_sensitive),
            "thresholds": {"detection": float(roi_head.test_cfg.score_thr),
                           "recognition": float(head.recognition_threshold)},
            "num_classes": int(head.codec.num_classes),
            "crop": head.crop_spec.as_dict(),
        }
    text_head = roi_head.text_head
    codec = text_head.codec
    return {
        "recognizer_kind": "attention",
        "alphabet": codec.alphabet,
        "case_sensitive": bool(codec.case_sensitive),
        "max_length": int(codec.max_length),
        "thresholds": {"detection": float(roi_head.test_cfg.score_thr),
                       "recognition": float(text_head.recognition_threshold)},
        "text_feature_channels": int(roi_head.text_roi_extractor.out_channels),
        "text_feature_size": int(roi_head.text_roi_extractor.roi_layers[0].output_size[0]),
        "encoder_channels": int(text_head.encoder.position_encoding.shape[1]),
        "decoder_hidden_size": int(text_head.decoder.hidden_size),
        "num_classes": int(codec.num_classes),
    }


def export_model(cfg: Config | str | Path, output_dir: str | Path, weights: str | Path | None = None,
                 precision: str = "FP32", onnx_only: bool = False, model: nn.Module | None = None,
                 progress: bool = True, layout: str = "dynamic",
                 calibration: CalibrationSet | None = None,
                 max_accuracy_drop: float = RECOGNIZER_MAX_ACCURACY_DROP) -> ExportResult:
    """Exports a template's text spotter to ``output_dir`` (the layout is described in
    ``text_spotting.export.export_config``).

    Args:
        cfg: the template's config (``text_spotting.templates.load_config``) or a template / work directory.
        output_dir: the export directory; created, or replaced when it holds a previous export.
        weights: checkpoint to load (its sha256 is recorded). Required unless ``model`` is given.
        precision: ``FP32``, ``FP16`` (weights of the IRs compressed to half precision) or ``INT8`` (ctc kind: the
            detector and the recognizer quantized to 8 bits by NNCF on ``calibration``, see ``quantization.py``).
        onnx_only: write the ONNX files and ``export_config.yaml`` only, no IR.
        model: an already built ``TextMaskRCNN`` to export instead of building one from ``cfg`` + ``weights``
            (moved to the CPU, eval mode); its own ``test_cfg`` and recognition threshold are what the graph and
            ``export_config.yaml`` get.
        progress: show a progress bar over the stages.
        layout: ``dynamic`` (N words per call: what our runtime runs) or ``omz`` (attention kind: Open Model Zoo's
            text-spotting-0005 exactly, for its text_spotting_demo: the encoder and decoder IRs with batch 1, labels
            1-based, and a model whose alphabet is a reordering of ``OMZ_ALPHABET`` exported in OMZ's order). The
            ONNX files keep N dynamic in both.
        calibration: the images INT8 measures activations on (``load_calibration_set``); INT8 only.
        max_accuracy_drop: INT8: the most word accuracy (0..1, on the calibration words) the INT8 recognizer may lose
            against the floating-point one; beyond it the recognizer stays in floating point (``export_config.yaml``
            ``quantization`` records both accuracies and what was kept).

    Raises:
        ExportError: bad arguments, an output directory that holds other files, or a model OpenVINO can't run.
        CheckpointError / TemplateError: unreadable weights or template.
    """
    if precision not in PRECISIONS:
        raise ExportError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if onnx_only and precision != "FP32":
        raise ExportError("--precision applies to the OpenVINO IR; --onnx-only writes FP32 ONNX files only")
    if precision == "INT8" and calibration is None:
        raise ExportError("INT8 needs calibration images: --calibration-ann-files and --calibration-data-roots "
                          "(training images or generated scenes, never the set you report on)")
    if precision != "INT8" and calibration is not None:
        raise ExportError(f"calibration images are for INT8; precision {precision} has no use for them")
    if layout not in LAYOUTS:
        raise ExportError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if onnx_only and layout != "dynamic":
        raise ExportError("--layout omz shapes the OpenVINO IRs (what Open Model Zoo's demo reads); --onnx-only "
                          "writes none")
    output_dir = Path(output_dir).expanduser().resolve()
    check_output_dir(output_dir)
    if not isinstance(cfg, Config):
        cfg = load_config(cfg)
    weights_sha256 = None
    if model is None:
        if weights is None:
            raise ExportError("no weights: pass the checkpoint to export")
        model, weights_sha256 = build_text_spotter(cfg, weights)
    elif weights is not None:
        from ..checkpoint import sha256_of

        weights_sha256 = sha256_of(weights)
    model = model.cpu().eval()
    input_size = (int(cfg.input_size[0]), int(cfg.input_size[1]))

    facts = _model_facts(model)
    text_head = model.roi_head.text_head if facts["recognizer_kind"] == "attention" else None
    if layout == "omz":
        text_head = _omz_text_head(text_head, facts)
    roles = KIND_ROLES[facts["recognizer_kind"]]
    if precision == "INT8" and (facts["recognizer_kind"] != "ctc" or layout != "dynamic"):
        raise ExportError(f"INT8 export is made for the ctc kind in the dynamic layout (detector + crop recognizer); "
                          f"this model has a {facts['recognizer_kind']} recognizer, layout {layout}: use FP32 or FP16")
    stages = [f"trace {role}" for role in roles]
    if not onnx_only:
        stages += [f"convert {role}" for role in roles] + [f"save {role} IR" for role in roles]
        if precision == "INT8":
            stages += [f"quantize {role}" for role in roles]
    stages.append(f"write {EXPORT_CONFIG_FILE}")
    seconds: dict[str, float] = {}
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", suffix=".tmp", dir=output_dir.parent))
    _set_default_permissions(work)
    bar = tqdm(total=len(stages), desc="export", unit="stage", disable=not progress)

    def stage(name: str):
        bar.set_postfix_str(name)
        return _Timer(seconds, name.split()[0], bar)

    try:
        with torch.no_grad():
            with stage("trace detector"):
                detector = DetectorGraph(model, input_size, first_label=int(layout == "omz")).eval()
                export_onnx(detector, (_trace_image(input_size),), work / ONNX_FILES["detector"],
                            (DETECTOR_INPUT,), detector.output_names, custom_opsets=CUSTOM_OPSETS)
            if facts["recognizer_kind"] == "ctc":
                _trace_crop_recognizer(model.text_recognizer, work, stage)
            else:
                _trace_attention_recognizer(text_head, facts, work, stage)

        export_id = uuid.uuid4().hex
        files_sha256, quantization = None, {}
        if not onnx_only:
            quantize = None
            if precision == "INT8":
                quantize = _quantizer(calibration, input_size, model.text_recognizer, max_accuracy_drop, quantization)
            files_sha256 = _write_irs(work, roles, precision, export_id, stage,
                                      facts if layout == "omz" else None, quantize)
        with stage(f"write {EXPORT_CONFIG_FILE}"):
            config = _export_config(cfg, facts, input_size, precision, weights_sha256, export_id, files_sha256,
                                    layout, calibration)
            if quantization:
                config["quantization"] = quantization
            write_export_config(work, config)
        bar.close()
        _replace_dir(work, output_dir)
    except BaseException:
        bar.close()
        shutil.rmtree(work, ignore_errors=True)
        raise
    files = sorted(output_dir.iterdir())
    return ExportResult(output_dir=output_dir, config=config, files=files, seconds=seconds)


def _omz_text_head(text_head: nn.Module | None, facts: dict) -> nn.Module:
    """The attention head as Open Model Zoo's demo reads it: a head whose alphabet is OMZ's characters in another
    order is exported reordered (a copy: the model is left alone), so the demo's default alphabet decodes it;
    ``facts['alphabet']`` follows. Any other alphabet stays (the demo is then told it with ``-a``)."""
    if text_head is None:
        raise ExportError(f"--layout omz is Open Model Zoo's layout for the attention kind (detector + encoder + "
                          f"decoder); this model has a {facts['recognizer_kind']} recognizer")
    alphabet = text_head.codec.alphabet
    if alphabet != OMZ_ALPHABET and sorted(alphabet) == sorted(OMZ_ALPHABET):
        text_head = copy.deepcopy(text_head)
        text_head.reorder_alphabet(OMZ_ALPHABET)
        facts["alphabet"] = OMZ_ALPHABET
    return text_head


def _trace_crop_recognizer(head: nn.Module, work: Path, stage) -> None:
    """ctc kind: ``crops`` [N, 3, H, W] raw BGR -> ``logits`` [N, W / stride, V], N and W dynamic."""
    spec = head.crop_spec
    with stage("trace recognizer"):
        export_onnx(CropRecognizerGraph(head).eval(), (torch.full((2, 3, spec.height, spec.min_width), 127.5),),
                    work / ONNX_FILES["recognizer"], RECOGNIZER_INPUTS, RECOGNIZER_OUTPUTS,
                    {"crops": {0: "words", 3: "width"}, "logits": {0: "words", 1: "frames"}})


def _trace_attention_recognizer(text_head: nn.Module, facts: dict, work: Path, stage) -> None:
    """attention kind: the text encoder and the one-step decoder (Open Model Zoo's layout), N dynamic."""
    channels, size = facts["text_feature_channels"], facts["text_feature_size"]
    # Two words: the number of words is dynamic ("words" axes); the values don't matter to the trace.
    with stage("trace encoder"):
        export_onnx(text_head.encoder, (torch.zeros(2, channels, size, size),), work / ONNX_FILES["encoder"],
                    ENCODER_INPUTS, ENCODER_OUTPUTS, {"input": {0: "words"}, "output": {0: "words"}})
    with stage("trace decoder"):
        decoder_args = (torch.zeros(2, dtype=torch.long),
                        torch.zeros(1, 2, facts["decoder_hidden_size"]),
                        torch.zeros(2, size * size, facts["encoder_channels"]))
        export_onnx(text_head.decoder, decoder_args, work / ONNX_FILES["decoder"], DECODER_INPUTS,
                    DECODER_OUTPUTS,
                    {"prev_symbol": {0: "words"}, "prev_hidden": {1: "words"},
                     "encoder_outputs": {0: "words"}, "output": {0: "words"}, "hidden": {1: "words"}})


def _quantizer(calibration: CalibrationSet, input_size: tuple[int, int], recognizer: nn.Module,
               max_accuracy_drop: float, report: dict):
    """``quantize(role, ov_model) -> ov_model``: the INT8 copy of the detector or the crop recognizer, calibrated on
    the inputs the runtime would give it for the calibration images. The recognizer's INT8 copy replaces it only if
    its word accuracy on the calibration words is at most ``max_accuracy_drop`` below the floating-point one's;
    what was measured and kept goes into ``report[role]``."""
    spec = recognizer.crop_spec

    def decode(logits: np.ndarray) -> list[str]:
        return ctc_texts(softmax(logits, axis=2), recognizer.codec, 0.0)[0]

    def quantize(role: str, network):
        if role == "detector":
            report[role] = {"precision": "INT8"}
            return quantize_network(network, lambda: detector_inputs(calibration, input_size), DETECTOR_INPUT,
                                    len(calibration.images), asymmetric_activations=True,
                                    clip_activation_outliers=True)
        quantized = quantize_network(network, lambda: recognizer_inputs(calibration, input_size, spec),
                                     RECOGNIZER_INPUT, len(calibration.images),
                                     float_patterns=RECOGNIZER_FLOAT_PATTERNS)
        float_accuracy, int8_accuracy = recognizer_word_accuracies((network, quantized), calibration, input_size,
                                                                   spec, decode)
        keep_int8 = keeps_int8(float_accuracy, int8_accuracy, max_accuracy_drop)
        report[role] = {"precision": "INT8" if keep_int8 else "FP32",
                        "word_accuracy": {"FP32": round(float_accuracy, 4), "INT8": round(int8_accuracy, 4)},
                        "max_accuracy_drop": float(max_accuracy_drop)}
        return quantized if keep_int8 else network
    return quantize


def _write_irs(work: Path, roles: tuple[str, ...], precision: str, export_id: str, stage,
               omz_facts: dict | None = None, quantize=None) -> dict[str, str]:
    """Converts the ONNX files to IRs and saves them; with ``omz_facts`` (the model's facts, omz layout) the encoder
    and decoder get OMZ's static batch-1 shapes; with ``quantize`` (INT8) each network is replaced by
    ``quantize(role, network)``. Returns the sha256 of each ``.bin``."""
    import openvino as ov

    from ..checkpoint import sha256_of

    models = {}
    for role in roles:
        with stage(f"convert {role}"):
            model = ov.convert_model(str(work / ONNX_FILES[role]))
            # One name per tensor: the exporter's internal names (e.g. "/Squeeze_output_0") otherwise ride along.
            for port in (*model.inputs, *model.outputs):
                names = port.get_names()
                wanted = [name for name in names if not name.startswith("/")]
                if len(wanted) == 1 and len(names) > 1:
                    port.get_tensor().set_names({wanted[0]})
            if omz_facts is not None and role in OMZ_SHAPES:
                # Only the inputs are fixed: the graph inside stays shape-generic, so our runtime can make N dynamic
                # again when it loads the IR (OpenVINOTextSpotter).
                model.reshape(OMZ_SHAPES[role](omz_facts))
            for (section, key), value in ir_rt_info(role, export_id).items():
                model.set_rt_info(value, [section, key])
            models[role] = model
    if quantize is not None:
        for role in roles:
            with stage(f"quantize {role}"):
                models[role] = quantize(role, models[role])
                for (section, key), value in ir_rt_info(role, export_id).items():
                    models[role].set_rt_info(value, [section, key])
    hashes = {}
    for role in roles:
        with stage(f"save {role} IR"):
            xml = work / IR_FILES[role]
            # INT8: the quantized weights are int8 already; the rest stays f32 (as measured).
            ov.save_model(models[role], str(xml), compress_to_fp16=(precision == "FP16"))
            hashes[role] = sha256_of(xml.with_suffix(".bin"))
    return hashes


def _export_config(cfg: Config, facts: dict, input_size: tuple[int, int], precision: str,
                   weights_sha256: str | None, export_id: str, files_sha256: dict | None,
                   layout: str = "dynamic", calibration: CalibrationSet | None = None) -> dict[str, Any]:
    import openvino as ov

    import text_spotting

    template = cfg.get("template", {})
    kind = facts["recognizer_kind"]
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "template": str(template.get("name", "")),
        "recognizer_kind": kind,
        "layout": layout,
        "alphabet": facts["alphabet"],
        "case_sensitive": facts["case_sensitive"],
        "input_size": list(input_size),
        "thresholds": facts["thresholds"],
        "precision": precision,
        "source_weights_sha256": weights_sha256,
    }
    if calibration is not None:
        config["calibration"] = calibration.describe()
    config.update((key, facts[key]) for key in KIND_KEYS[kind])
    roles = KIND_ROLES[kind]
    if files_sha256 is not None:
        config["files"] = {role: IR_FILES[role] for role in roles}
        config["files_sha256"] = files_sha256
    config["onnx_files"] = {role: ONNX_FILES[role] for role in roles}
    config["export_id"] = export_id
    config["exported_with"] = {"torch": str(torch.__version__), "openvino": str(ov.get_version()),
                               "text_spotting": str(text_spotting.__version__)}
    return config


class _Timer:
    """Adds a stage's seconds to ``seconds[key]`` and advances the progress bar."""

    def __init__(self, seconds: dict, key: str, bar: tqdm):
        self.seconds, self.key, self.bar = seconds, key, bar

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds[self.key] = self.seconds.get(self.key, 0.0) + time.perf_counter() - self.start
        if exc[0] is None:
            self.bar.update(1)
        return False


def cached_export_dir(cache_root: str | Path, cfg: Config, weights_sha256: str, precision: str = "FP32") -> Path:
    """Where ``export_cached`` keeps the IR of these weights at ``cfg.input_size``: one folder per
    (template, input size, precision, weights)."""
    width, height = (int(v) for v in cfg.input_size)
    name = cfg.get("template", {}).get("name", "model")
    return Path(cache_root) / f"{name}-{width}x{height}-{precision}-{weights_sha256[:12]}"


def export_cached(cfg: Config | str | Path, weights: str | Path, cache_root: str | Path, precision: str = "FP32",
                  progress: bool = True, calibration: CalibrationSet | None = None) -> tuple[Path, bool]:
    """The IR of ``weights`` at ``cfg.input_size``, exported once into ``cache_root`` and reused while it checks out.

    Reuse needs ``load_export_config`` to pass (every file present, rt_info and .bin digests right) and the export to
    name the same source weights, input size, precision and thresholds (the detection threshold is part of the
    graph: after ``tune_thresholds.py --update-template`` the demo exports again) and, for INT8, the same
    calibration set (``calibration``); anything else is exported again (atomically, so a half-written cache never
    shadows a good one). Returns ``(export_dir, reused)``.
    """
    from ..checkpoint import sha256_of
    if not isinstance(cfg, Config):
        cfg = load_config(cfg)
    digest = sha256_of(weights)
    directory = cached_export_dir(cache_root, cfg, digest, precision)
    if (directory / EXPORT_CONFIG_FILE).is_file():
        try:
            config = load_export_config(directory)
            thresholds = {key: float(value) for key, value in config.get("thresholds", {}).items()}
            if (config.get("source_weights_sha256") == digest and config.get("precision") == precision
                    and list(config.get("input_size", [])) == [int(v) for v in cfg.input_size]
                    and thresholds == config_thresholds(cfg)
                    and config.get("calibration") == (calibration.describe() if calibration else None)):
                return directory, True
        except ExportFormatError:
            pass  # a stale or damaged cache entry: export again over it
        shutil.rmtree(directory)
    export_model(cfg, directory, weights=weights, precision=precision, progress=progress, calibration=calibration)
    return directory, False
