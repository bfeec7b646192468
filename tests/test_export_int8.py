"""INT8 export (NNCF post-training quantization): the shipped ctc model quantized on a few generated scenes, its
export_config.yaml, the quantized graphs, and the INT8 IR reading the bundled images like the FP32 IR."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

from conftest import CTC_TEMPLATE, REPO_ROOT, run_tool_env, torch_threads
from text_spotting.export import (ExportError, ExportFormatError, export_cached, export_model, load_calibration_set,
                                  load_export_config)
from text_spotting.export.quantization import (RECOGNIZER_MAX_ACCURACY_DROP, detector_inputs, keeps_int8,
                                               recognizer_inputs)
from text_spotting.models.word_crops import CropSpec
from text_spotting.templates import load_config, with_input_size

INPUT_SIZE = (640, 384)
TEMPLATE = REPO_ROOT / "model_templates" / CTC_TEMPLATE
WEIGHTS = TEMPLATE / "snapshot.pth"
CALIBRATION_IMAGES = 6
NUM_IMAGES = 6


@pytest.fixture(scope="module")
def calibration_dir(tmp_path_factory):
    from text_spotting.synthetic import PRESETS, generate_dataset

    out = tmp_path_factory.mktemp("calibration") / "scenes"
    config = dataclasses.replace(PRESETS["horizontal"], width=INPUT_SIZE[0], height=INPUT_SIZE[1])
    generate_dataset(out, CALIBRATION_IMAGES, 5, config, progress=False)
    return out


@pytest.fixture(scope="module")
def calibration(calibration_dir):
    return load_calibration_set([calibration_dir / "annotation.json"], [calibration_dir])


@pytest.fixture(scope="module")
def cfg():
    return with_input_size(load_config(TEMPLATE), INPUT_SIZE)


@pytest.fixture(scope="module")
def exports(cfg, calibration, tmp_path_factory):
    root = tmp_path_factory.mktemp("int8")
    with torch_threads(2):
        fp32 = export_model(cfg, root / "fp32", WEIGHTS, progress=False)
        int8 = export_model(cfg, root / "int8", WEIGHTS, precision="INT8", calibration=calibration, progress=False)
    return fp32, int8


def test_calibration_set_reads_words_and_spreads_its_picks(calibration_dir, calibration):
    coco = json.loads((calibration_dir / "annotation.json").read_text())
    legible = sum(1 for a in coco["annotations"] if a["text"]["legible"] and not a.get("iscrowd"))
    assert len(calibration.images) == CALIBRATION_IMAGES
    assert calibration.num_words == legible > 0
    assert calibration.describe() == {"ann_files": [str(calibration_dir / "annotation.json")],
                                      "images": CALIBRATION_IMAGES, "words": legible}
    picked = load_calibration_set([calibration_dir / "annotation.json"], [calibration_dir], max_images=3)
    names = [image.path.name for image in picked.images]
    all_names = [image.path.name for image in calibration.images]
    assert len(set(names)) == 3 and names[0] == all_names[0] and names[-1] == all_names[-1]


def test_calibration_inputs_are_what_the_runtime_feeds(calibration):
    blobs = list(detector_inputs(calibration, INPUT_SIZE))
    assert len(blobs) == CALIBRATION_IMAGES
    assert all(b.shape == (1, 3, INPUT_SIZE[1], INPUT_SIZE[0]) and b.dtype == np.float32 for b in blobs)
    spec = CropSpec()
    crops = list(recognizer_inputs(calibration, INPUT_SIZE, spec))
    assert sum(len(c) for c in crops) == calibration.num_words
    assert all(c.shape[1:3] == (3, spec.height) and c.shape[3] % spec.width_stride == 0 for c in crops)
    # raw BGR pixels (bicubic rectification may overshoot 0..255 a little, as at run time)
    assert -64 < min(c.min() for c in crops) and max(c.max() for c in crops) < 320


def test_calibration_set_errors_name_the_file(calibration_dir, tmp_path):
    ann = calibration_dir / "annotation.json"
    with pytest.raises(ExportError, match="1 annotation file.*2 data root"):
        load_calibration_set([ann], [calibration_dir, calibration_dir])
    with pytest.raises(ExportError, match="calibration image not found"):
        load_calibration_set([ann], [tmp_path])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ExportError, match="broken.json"):
        load_calibration_set([broken], [calibration_dir])


def test_int8_export_is_quantized_and_records_its_calibration(exports, calibration):
    import openvino as ov

    fp32, int8 = exports
    config = load_export_config(int8.output_dir)  # checks every file's digest and rt_info
    assert config["precision"] == "INT8"
    assert config["calibration"] == calibration.describe()
    assert set(config["files"]) == {"detector", "recognizer"}
    # the detector is always INT8; the recognizer only if it reads the calibration words about as well as FP32
    quantization = config["quantization"]
    assert quantization["detector"] == {"precision": "INT8"}
    recognizer = quantization["recognizer"]
    accuracy = recognizer["word_accuracy"]
    assert accuracy["FP32"] >= 0.8 and 0 <= accuracy["INT8"] <= 1  # the shipped recognizer reads generated words
    assert recognizer["max_accuracy_drop"] == RECOGNIZER_MAX_ACCURACY_DROP
    assert recognizer["precision"] == ("INT8" if keeps_int8(accuracy["FP32"], accuracy["INT8"],
                                                            RECOGNIZER_MAX_ACCURACY_DROP) else "FP32")
    core = ov.Core()
    for role, name in config["files"].items():
        ops = {op.get_type_name() for op in core.read_model(int8.output_dir / name).get_ops()}
        assert ("FakeQuantize" in ops or "FakeConvert" in ops) == (quantization[role]["precision"] == "INT8"), role
        fp32_ops = {op.get_type_name() for op in core.read_model(fp32.output_dir / name).get_ops()}
        assert "FakeQuantize" not in fp32_ops
    assert "quantize" in int8.seconds


def test_an_int8_network_replaces_the_float_one_only_within_the_allowed_drop():
    assert keeps_int8(0.90, 0.895, 0.01) and keeps_int8(0.90, 0.89, 0.01) and keeps_int8(0.5, 0.6, 0.0)
    assert not keeps_int8(0.90, 0.885, 0.01) and not keeps_int8(0.90, 0.8999, 0.0)


def test_int8_ir_reads_the_bundled_images_like_the_fp32_ir(exports, bundled_data):
    from text_spotting.inference import OpenVINOTextSpotter

    fp32, int8 = exports
    files = sorted((bundled_data / "images").iterdir())[:NUM_IMAGES]
    images = [cv2.imread(str(f)) for f in files]
    with OpenVINOTextSpotter(fp32.output_dir, num_threads=2) as a, OpenVINOTextSpotter(int8.output_dir,
                                                                                       num_threads=2) as b:
        words_a, words_b = a.predict(images), b.predict(images)
    texts_a = [w.text for words in words_a for w in words if w.text]
    texts_b = [w.text for words in words_b for w in words if w.text]
    assert len(texts_a) >= 10  # the shipped model reads these images
    common = sum(min(texts_a.count(t), texts_b.count(t)) for t in set(texts_a))
    assert common >= 0.8 * len(texts_a), (texts_a, texts_b)


def test_int8_needs_calibration_and_calibration_needs_int8(cfg, calibration, tmp_path):
    with pytest.raises(ExportError, match="INT8 needs calibration images"):
        export_model(cfg, tmp_path / "a", WEIGHTS, precision="INT8", progress=False)
    with pytest.raises(ExportError, match="calibration images are for INT8"):
        export_model(cfg, tmp_path / "b", WEIGHTS, precision="FP16", calibration=calibration, progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_int8_export_is_refused_for_the_attention_kind(calibration, tmp_path):
    attention = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"
    cfg = with_input_size(load_config(attention), INPUT_SIZE)
    with torch_threads(2), pytest.raises(ExportError, match="INT8 export is made for the ctc kind"):
        export_model(cfg, tmp_path / "export", attention / "snapshot.pth", precision="INT8",
                     calibration=calibration, progress=False)
    assert not (tmp_path / "export").exists()


def test_cached_int8_export_is_reused_only_for_the_same_calibration(exports, cfg, calibration, calibration_dir,
                                                                    tmp_path):
    _, int8 = exports
    from text_spotting.export import cached_export_dir
    from text_spotting.checkpoint import sha256_of

    directory = cached_export_dir(tmp_path, cfg, sha256_of(WEIGHTS), "INT8")
    import shutil
    shutil.copytree(int8.output_dir, directory)
    assert export_cached(cfg, WEIGHTS, tmp_path, precision="INT8", calibration=calibration) == (directory, True)
    fewer = load_calibration_set([calibration_dir / "annotation.json"], [calibration_dir], max_images=2)
    with torch_threads(2):
        again, reused = export_cached(cfg, WEIGHTS, tmp_path, precision="INT8", calibration=fewer, progress=False)
    assert again == directory and not reused
    assert load_export_config(directory)["calibration"]["images"] == 2


def test_export_config_of_int8_must_name_its_calibration(exports, tmp_path):
    import shutil

    _, int8 = exports
    copy = tmp_path / "copy"
    shutil.copytree(int8.output_dir, copy)
    config = yaml.safe_load((copy / "export_config.yaml").read_text())
    del config["calibration"]
    (copy / "export_config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(ExportFormatError, match="INT8 export must record its 'calibration'"):
        load_export_config(copy)


def test_export_tool_refuses_int8_without_calibration(tmp_path):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "export.py"), "--template", str(TEMPLATE),
                             "--load-weights", str(WEIGHTS), "--save-model-to", str(tmp_path / "x"),
                             "--precision", "INT8"], capture_output=True, text=True, env=run_tool_env())
    assert result.returncode == 2
    assert "--precision INT8 needs --calibration-ann-files" in result.stderr
    result = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "export.py"), "--template", str(TEMPLATE),
                             "--load-weights", str(WEIGHTS), "--save-model-to", str(tmp_path / "x"),
                             "--calibration-ann-files", "a.json", "--calibration-data-roots", "."],
                            capture_output=True, text=True, env=run_tool_env())
    assert result.returncode == 2 and "the calibration flags are for --precision INT8" in result.stderr


def test_demo_runs_an_int8_ir_calibrated_on_scenes_it_generates(tmp_path):
    """demo.py --precision INT8 without calibration files: scenes generated at the input size into the IR cache
    (once), the quantized IR exported, run and cached."""
    def demo(*extra):
        return subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "demo.py"), "--output", str(tmp_path / "out"),
                               "--ir-cache", str(tmp_path / "ir"), "--input-size", "640x384", "--limit", "2",
                               "--images", str(REPO_ROOT / "data" / "horizontal_text_detection" / "images"),
                               "--precision", "INT8", "--calibration-images", "3", *extra],
                              capture_output=True, text=True, env=run_tool_env(), cwd=tmp_path, timeout=900)

    result = demo()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "generating 3 calibration scenes (640x384, seed 7)" in result.stdout
    assert "exported now" in result.stdout
    exports = [d for d in (tmp_path / "ir").iterdir() if d.name.startswith(f"{CTC_TEMPLATE}-640x384-INT8-")]
    assert len(exports) == 1
    config = load_export_config(exports[0])
    assert config["precision"] == "INT8" and config["calibration"]["images"] == 3
    assert len(list((tmp_path / "out" / "annotated").glob("*.jpg"))) == 2
    again = demo()
    assert again.returncode == 0 and "cached" in again.stdout and "generating" not in again.stdout
