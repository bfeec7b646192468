"""``export.py --layout omz``: Open Model Zoo's text_spotting_demo runs the attention kind's IR unchanged (SPEC §4).

The demo can't be vendored, so its contract is held here without its code: what it reads (static shapes through
``.shape``, the tensor names it asks for), how it runs (one word at a time: the encoder, then decoder steps from SOS 0
and a zero state until EOS 1, at most 28; its default alphabet; its thresholds taken from export_config.yaml) and what
it must get: the words our runtime reads on the bundled images, which both layouts read alike.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import shlex

import cv2
import numpy as np
import pytest
import torch
import yaml

from conftest import BUNDLED_DATA, REPO_ROOT, torch_threads
from text_spotting.export import (OMZ_ALPHABET, ExportError, ExportFormatError, export_model, load_export_config,
                                  omz_demo_arguments)
from text_spotting.templates import load_config, load_template

ov = pytest.importorskip("openvino")

#: The small attention-kind template with shipped weights (the one place to change when the templates are renamed).
ATTENTION_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"
# What text_spotting_demo.py hard-codes or defaults to (demos/text_spotting_demo/python, OMZ 2024).
DEMO_ALPHABET = "  abcdefghijklmnopqrstuvwxyz0123456789"
DEMO_SOS, DEMO_EOS, DEMO_MAX_SEQ_LEN = 0, 1, 28


@pytest.fixture(scope="module")
def attention_weights():
    template = load_template(ATTENTION_TEMPLATE)
    if not template.get("initial_weights"):
        pytest.skip(f"{ATTENTION_TEMPLATE.name} ships no weights")
    return load_config(ATTENTION_TEMPLATE), ATTENTION_TEMPLATE / template["initial_weights"]


@pytest.fixture(scope="module")
def omz_export(attention_weights, tmp_path_factory):
    """``tools/export.py --layout omz`` on the shipped weights: ``(export dir, what the tool printed)``."""
    spec = importlib.util.spec_from_file_location("export_tool", REPO_ROOT / "tools" / "export.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    _, weights = attention_weights
    output = tmp_path_factory.mktemp("omz") / "export"
    printed = io.StringIO()
    with torch_threads(1), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        assert tool.main(["--template", str(ATTENTION_TEMPLATE), "--load-weights", str(weights),
                          "--save-model-to", str(output), "--layout", "omz"]) == 0
    return output, printed.getvalue()


@pytest.fixture(scope="module")
def dynamic_export(attention_weights, tmp_path_factory):
    cfg, weights = attention_weights
    with torch_threads(1):
        return export_model(cfg, tmp_path_factory.mktemp("dynamic") / "export", weights=weights,
                            progress=False).output_dir


@pytest.fixture(scope="module")
def bundled_images():
    return [(path.name, cv2.imread(str(path))) for path in sorted((BUNDLED_DATA / "images").glob("*.jpg"))]


def demo_arguments(printed: str) -> dict[str, str]:
    """The flags of the demo command line that ``export.py --layout omz`` printed."""
    line = next(line for line in printed.splitlines() if "text_spotting_demo.py" in line)
    words = shlex.split(line)[2:]
    return {flag: value for flag, value in zip(words, words[1:] + [""]) if flag.startswith("-")}


class OMZDemoContract:
    """What text_spotting_demo.py does with the three IRs and its flags, rewritten (not copied): static shapes read
    with ``.shape``, the image resized keeping its aspect ratio (``--keep_aspect_ratio``) and zero-padded, detections
    kept above ``-pt``, then every word alone through the encoder and the one-step decoder (float64 inputs, as it
    feeds them), characters looked up in ``-a``, texts under ``-trt`` blanked. Compiled as the demo compiles (default
    properties) but in f32, on one thread."""

    def __init__(self, arguments: dict[str, str]):
        core = ov.Core()
        detector = core.read_model(arguments["-m_m"])
        self.n, self.c, self.h, self.w = detector.input("image").shape
        encoder = core.read_model(arguments["-m_te"])
        decoder = core.read_model(arguments["-m_td"])
        self.hidden_shape = decoder.input("prev_hidden").shape  # what crashed on a dynamic export
        # f32 as our runtime compiles (the demo's defaults mean bfloat16 on processors that have it, where a few
        # near-tie characters may then differ from ours)
        settings = {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"}
        self.detector = core.compile_model(detector, "CPU", settings).create_infer_request()
        compiled_encoder = core.compile_model(encoder, "CPU", settings)
        self.encoder_output = compiled_encoder.outputs[0]
        self.encoder = compiled_encoder.create_infer_request()
        self.decoder = core.compile_model(decoder, "CPU", settings).create_infer_request()
        self.alphabet = arguments.get("-a", DEMO_ALPHABET)
        self.detection_threshold = float(arguments.get("-pt", 0.5))
        self.recognition_threshold = float(arguments.get("-trt", 0.5))

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(boxes [N, 4] in the frame, labels [N], texts)``."""
        scale = min(self.h / frame.shape[0], self.w / frame.shape[1])
        image = cv2.resize(frame, None, fx=scale, fy=scale)
        image = np.pad(image, ((0, self.h - image.shape[0]), (0, self.w - image.shape[1]), (0, 0)))
        self.detector.infer({"image": image.transpose(2, 0, 1).reshape(self.n, self.c, self.h, self.w)
                             .astype(np.float32)})
        outputs = {name: self.detector.get_tensor(name).data[:] for name in ("boxes", "labels", "masks",
                                                                             "text_features")}
        keep = outputs["boxes"][:, 4] > self.detection_threshold
        texts = []
        for feature in outputs["text_features"][keep]:
            encoded = self.encoder.infer({"input": feature[None]})[self.encoder_output]
            encoded = encoded.reshape(encoded.shape[0], encoded.shape[1], -1).transpose(0, 2, 1)
            hidden, symbol = np.zeros(self.hidden_shape), np.ones((1,)) * DEMO_SOS
            text, confidence = "", 1.0
            for _ in range(DEMO_MAX_SEQ_LEN):
                self.decoder.infer({"prev_symbol": symbol.reshape(1), "prev_hidden": hidden,
                                    "encoder_outputs": encoded})
                logits = self.decoder.get_tensor("output").data[:]
                probabilities = np.exp(logits[0] - logits[0].max())
                probabilities /= probabilities.sum()
                symbol = np.array([logits[0].argmax()])
                confidence *= probabilities[symbol[0]]
                if symbol[0] == DEMO_EOS:
                    break
                text += self.alphabet[symbol[0]]
                hidden = self.decoder.get_tensor("hidden").data[:]
            texts.append(text if confidence >= self.recognition_threshold else "")
        return outputs["boxes"][keep, :4] / scale, outputs["labels"][keep], texts


def test_omz_export_has_text_spotting_0005_names_and_static_shapes(omz_export):
    directory, printed = omz_export
    config = load_export_config(directory)
    assert config["layout"] == "omz" and config["alphabet"] == OMZ_ALPHABET == DEMO_ALPHABET[2:]
    channels, hidden, encoded = (config[key] for key in ("text_feature_channels", "decoder_hidden_size",
                                                         "encoder_channels"))
    core = ov.Core()
    detector = core.read_model(directory / "model.xml")
    width, height = config["input_size"]
    assert list(detector.input("image").shape) == [1, 3, height, width]
    assert {name for port in detector.outputs for name in port.get_names()} == {"boxes", "labels", "masks",
                                                                                 "text_features"}
    encoder = core.read_model(directory / config["files"]["encoder"])
    assert [list(port.shape) for port in encoder.inputs] == [[1, channels, 28, 28]]
    assert list(encoder.input("input").shape) == [1, channels, 28, 28]
    assert list(encoder.output("output").shape) == [1, encoded, 28, 28]
    decoder = core.read_model(directory / config["files"]["decoder"])
    assert {name: list(decoder.input(name).shape) for name in ("prev_symbol", "prev_hidden", "encoder_outputs")} == {
        "prev_symbol": [1], "prev_hidden": [1, 1, hidden], "encoder_outputs": [1, 28 * 28, encoded]}
    assert list(decoder.output("output").shape) == [1, len(DEMO_ALPHABET)]
    assert list(decoder.output("hidden").shape) == [1, 1, hidden]
    # the printed command line: the three IRs, our thresholds, and no -a (the demo's default alphabet is ours)
    arguments = demo_arguments(printed)
    assert arguments["-m_m"] == str(directory / "model.xml") and "-a" not in arguments
    assert float(arguments["-pt"]) == config["thresholds"]["detection"]
    assert float(arguments["-trt"]) == config["thresholds"]["recognition"]
    assert "--keep_aspect_ratio" in arguments


def test_omz_demo_reads_what_our_runtime_reads_on_the_bundled_images(omz_export, dynamic_export, bundled_images):
    from text_spotting.inference import OpenVINOTextSpotter

    directory, printed = omz_export
    demo = OMZDemoContract(demo_arguments(printed))
    ours = OpenVINOTextSpotter(dynamic_export, num_threads=1)  # what eval.py / visualize.py run
    ours_on_omz = OpenVINOTextSpotter(directory, num_threads=1)  # the omz layout, made batched again on loading
    read = 0
    for name, image in bundled_images:
        boxes, labels, texts = demo(image)
        words = ours.predict(image)[0]
        assert texts == [word.text for word in words], name
        assert len(boxes) == 0 or np.abs(boxes - np.stack([word.bbox for word in words])).max() < 0.5, name
        assert (labels == 1).all(), f"{name}: OMZ's labels are 1-based (0 = background)"
        assert [(w.text, w.score) for w in ours_on_omz.predict(image)[0]] == [(w.text, w.score) for w in words], name
        read += sum(bool(text) for text in texts)
    assert read >= len(bundled_images), "too few words read to compare"
    labels = ov.Core().compile_model(str(dynamic_export / "model.xml"), "CPU")(
        np.zeros((1, 3, *ours.input_size[::-1]), np.float32))["labels"]
    assert labels.size == 0 or (labels == 0).all()  # the dynamic layout keeps mmdet's 0-based labels


def test_omz_layout_reorders_an_alphabet_of_omz_characters_and_keeps_the_words(attention_weights):
    from text_spotting.export.exporter import _omz_text_head
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.models import TextCodec

    cfg, weights = attention_weights
    with torch_threads(1):
        head = EagerTextSpotter(cfg, weights).model.roi_head.text_head
        head.reorder_alphabet("0123456789" + OMZ_ALPHABET[:26])  # a checkpoint of the order before issue 15
        facts = {"recognizer_kind": "attention", "alphabet": head.codec.alphabet}
        exported = _omz_text_head(head, facts)
        assert facts["alphabet"] == exported.codec.alphabet == OMZ_ALPHABET
        assert head.codec.alphabet != OMZ_ALPHABET  # the model itself is left alone
        features = torch.randn(6, head.encoder.convs[0].conv.in_channels, 28, 28,
                               generator=torch.Generator().manual_seed(0))
        assert exported.predict(features)[0] == head.predict(features)[0]
    # another character set is exported as it is, and the demo is told the alphabet
    other = type("Head", (), {"codec": TextCodec(OMZ_ALPHABET[:-1] + "-", 28)})()
    facts = {"recognizer_kind": "attention", "alphabet": other.codec.alphabet}
    assert _omz_text_head(other, facts) is other and facts["alphabet"] == OMZ_ALPHABET[:-1] + "-"
    config = {"files": {"detector": "model.xml", "encoder": "e.xml", "decoder": "d.xml"},
              "thresholds": {"detection": 0.5, "recognition": 0.25}, "alphabet": facts["alphabet"]}
    arguments = omz_demo_arguments("export", config)
    assert arguments[arguments.index("-a") + 1] == "  " + facts["alphabet"]
    assert arguments[arguments.index("-trt") + 1] == "0.25"
    with pytest.raises(ExportError, match="attention kind"):
        _omz_text_head(None, {"recognizer_kind": "ctc"})


def test_omz_layout_is_refused_where_it_cannot_apply(omz_export, attention_weights, tmp_path):
    cfg, weights = attention_weights
    with pytest.raises(ExportError, match="--onnx-only"):
        export_model(cfg, tmp_path / "onnx", weights=weights, onnx_only=True, layout="omz", progress=False)
    with pytest.raises(ExportError, match="layout must be one of dynamic, omz"):
        export_model(cfg, tmp_path / "other", weights=weights, layout="batch1", progress=False)
    directory, _ = omz_export
    copy = tmp_path / "export"
    copy.mkdir()
    for path in directory.iterdir():
        (copy / path.name).symlink_to(path)
    config = yaml.safe_load((directory / "export_config.yaml").read_text())
    (copy / "export_config.yaml").unlink()
    for change, message in ((dict(layout="batch1"), "field 'layout' must be one of dynamic, omz"),
                            (dict(recognizer_kind="ctc", num_classes=37, crop={}), "omz is Open Model Zoo's")):
        (copy / "export_config.yaml").write_text(yaml.safe_dump({**config, **change}))
        with pytest.raises(ExportFormatError, match=message):
            load_export_config(copy, verify_files=False)
