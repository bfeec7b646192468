"""The README's first command: tools/demo.py with the shipped weights through OpenVINO on the bundled set, on a video
file, and the IR cache it relies on."""
import subprocess

import cv2
import pytest
import torch
import yaml

from conftest import BUNDLED_DATA, PYTHON, REPO_ROOT, run_tool_env
from text_spotting.export import export_cached, load_export_config
from text_spotting.inference import EagerTextSpotter
from text_spotting.templates import TemplateError, load_config, load_template, with_input_size, with_thresholds
from text_spotting.checkpoint import atomic_save

CPU_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu"
# a small model of the attention kind, for the tests of export caching and input sizes
ATTENTION_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"


def run_demo(*args, cwd, timeout=900):
    return subprocess.run([PYTHON, REPO_ROOT / "tools" / "demo.py", *map(str, args)], cwd=cwd, env=run_tool_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_with_input_size_changes_only_inference():
    cfg = load_config(ATTENTION_TEMPLATE)
    big = with_input_size(cfg, (1280, 768))
    assert tuple(big.input_size) == (1280, 768) and tuple(cfg.input_size) == (640, 384)
    resize = [t for t in big.test_pipeline if t["type"] == "FixShapeResize"][0]
    assert (resize["width"], resize["height"]) == (1280, 768)
    train_resize = [t for t in big.train_pipeline if t["type"] == "FixShapeResize"][0]
    assert (train_resize["width"], train_resize["height"]) == (640, 384)
    assert EagerTextSpotter(big).input_size == (1280, 768)
    assert with_input_size(cfg, None) is cfg
    with pytest.raises(TemplateError, match="at least 32x32"):
        with_input_size(cfg, (16, 384))


def test_export_cache_reuses_a_good_export_and_replaces_a_damaged_one(tmp_path):
    torch.manual_seed(0)
    cfg = load_config(ATTENTION_TEMPLATE)
    weights = tmp_path / "w.pth"
    atomic_save({"state_dict": EagerTextSpotter(cfg).model.state_dict(), "meta": {}}, weights)
    first, reused = export_cached(cfg, weights, tmp_path / "cache", progress=False)
    assert not reused and load_export_config(first)["input_size"] == [640, 384]
    export_id = load_export_config(first)["export_id"]
    again, reused = export_cached(cfg, weights, tmp_path / "cache", progress=False)
    assert (again, reused) == (first, True) and load_export_config(again)["export_id"] == export_id
    (first / "model_text_recognition_head_decoder.bin").write_bytes(b"damaged")
    fixed, reused = export_cached(cfg, weights, tmp_path / "cache", progress=False)
    assert fixed == first and not reused and load_export_config(fixed)["export_id"] != export_id
    # new thresholds (tune_thresholds.py --update-template) change the graph: exported again
    retuned, reused = export_cached(with_thresholds(cfg, detection=0.9), weights, tmp_path / "cache", progress=False)
    assert not reused and load_export_config(retuned)["thresholds"]["detection"] == 0.9


@pytest.fixture(scope="module")
def shipped_weights():
    template = load_template(CPU_TEMPLATE)
    assert template.get("initial_weights"), "the CPU template ships no weights (initial_weights in template.yaml)"
    return template


def test_demo_spots_the_bundled_set_with_the_shipped_model(shipped_weights, tmp_path):
    out = tmp_path / "demo"
    result = run_demo("--output", out, "--ir-cache", tmp_path / "ir", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OpenVINO IR" in result.stdout and "metrics on the bundled set" in result.stdout
    images = sorted((BUNDLED_DATA / "images").iterdir())
    assert len(list((out / "annotated").glob("*.jpg"))) == len(images)
    assert cv2.imread(str(out / "contact_sheet.jpg")) is not None
    for image in images:  # the table: one row per image
        assert image.name in result.stdout
    metrics = yaml.safe_load((out / "metrics.yaml").read_text())
    assert metrics["model"]["format"] == "openvino" and metrics["counts"]["images"] == len(images)
    # The numbers recorded for the shipped weights are what the demo measures (IR vs the eager eval that wrote them).
    recorded = shipped_weights["metrics"].get("horizontal_text_detection")
    assert recorded, "template.yaml has no metrics for the bundled set (eval.py --update-template)"
    assert recorded["weights_sha256"] == shipped_weights["initial_weights_sha256"]
    for mode in ("detection", "word_spotting"):
        assert metrics[mode]["hmean"] == pytest.approx(recorded[mode], abs=0.005), mode

    second = run_demo("--output", out, "--ir-cache", tmp_path / "ir", "--images", BUNDLED_DATA / "images" / images[0].name,
                      cwd=tmp_path)
    assert second.returncode == 0 and "cached" in second.stdout, second.stderr[-2000:]


def test_demo_on_a_video_file_writes_an_annotated_mp4(shipped_weights, tmp_path):
    video = tmp_path / "clip.mp4"
    frames = [cv2.imread(str(p)) for p in sorted((BUNDLED_DATA / "images").iterdir())[:5]]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    result = run_demo("--video", video, "--no-show", "--output", tmp_path / "out", "--ir-cache", tmp_path / "ir",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    written = list((tmp_path / "out").glob("*.mp4"))
    assert len(written) == 1
    capture = cv2.VideoCapture(str(written[0]))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == len(frames)
    # visualize.py's defaults: words tracked (the summary line counts tracks), and the tracks file on request
    assert " track" in result.stdout and "ms/frame tracking" in result.stdout, result.stdout
    tracks = tmp_path / "tracks.jsonl"
    tracked = run_demo("--video", video, "--no-show", "--output", tmp_path / "out2", "--ir-cache", tmp_path / "ir",
                       "--save-tracks-to", tracks, "--async-requests", "1", cwd=tmp_path)
    assert tracked.returncode == 0 and tracks.is_file() and tracks.read_text().strip(), tracked.stderr[-2000:]
    refused = run_demo("--images", BUNDLED_DATA / "images", "--track", cwd=tmp_path)
    assert refused.returncode == 2 and "--video" in refused.stderr.strip().splitlines()[-1]

    missing = run_demo("--video", tmp_path / "nope.mp4", "--no-show", cwd=tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "nope.mp4" in missing.stderr
