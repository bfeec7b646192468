"""Inference: the shared pre/post-processing against mmdet's own, the eager spotter's image path against its dataset
path, the OpenVINO spotter against the eager one, load_text_spotter and eval.py / benchmark.py on an IR."""
import json
import subprocess

import cv2
import numpy as np
import pytest
import torch
import yaml

from conftest import BUNDLED_DATA, PYTHON, REPO_ROOT, run_tool_env, torch_threads
from text_spotting.inference import (EagerTextSpotter, InferenceError, fit_and_pad, fitted_size, load_text_spotter,
                                     paste_mask, texts_from_symbols, words_from_detections)
from text_spotting.inference.latency import LATENCY_KEYS
from text_spotting.inference.timing import latency_summary
from text_spotting.models.text_codec import EOS_INDEX, TextCodec
from text_spotting.templates import load_config

TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"
SNAPSHOT = TEMPLATE / "snapshot.pth"
BUNDLED_IMAGES = sorted((BUNDLED_DATA / "images").glob("*.jpg"))


@pytest.fixture(autouse=True)
def two_torch_threads():
    with torch_threads(2):
        yield


# --------------------------------------------------------------------------------------------------------------------
# fit_and_pad: mmdet's FixShapeResize(width, height, keep_ratio=True)
@pytest.mark.parametrize("input_size", [(640, 384), (1280, 768)])
@pytest.mark.parametrize("image_size", [(640, 384), (1280, 720), (333, 777), (100, 1000), (50, 31), (1919, 1080)])
def test_fit_and_pad_is_mmdets_fix_shape_resize(image_size, input_size):
    from mmdet.datasets.transforms import FixShapeResize

    rng = np.random.default_rng(sum(image_size))
    image = rng.integers(0, 256, (image_size[1], image_size[0], 3), dtype=np.uint8)
    expected = FixShapeResize(width=input_size[0], height=input_size[1], keep_ratio=True).transform(
        dict(img=image.copy()))
    padded, scale = fit_and_pad(image, input_size)
    assert padded.shape == (input_size[1], input_size[0], 3) and padded.dtype == np.uint8
    assert np.array_equal(padded, expected["img"])
    assert (scale, scale) == expected["scale_factor"]


def test_fitted_size_rounds_twice_like_mmcv():
    assert fitted_size((1280, 720), (640, 384)) == ((640, 360), 0.5)
    # A portrait image in a landscape input: mmcv.imrescale reads the rounded size (38, 384) as long/short edge
    # limits, which gives 38x380, not 38x384; predictions are still divided by min(W / w, H / h).
    assert fitted_size((100, 1000), (640, 384)) == ((38, 380), 0.384)
    with pytest.raises(ValueError, match="positive"):
        fitted_size((0, 10), (640, 384))


def test_fit_and_pad_pads_bottom_right_with_zeros():
    image = np.full((100, 400, 3), 200, np.uint8)
    padded, scale = fit_and_pad(image, (640, 384))
    assert scale == 1.6 and padded[:160, :640].min() == 200 and padded[160:].max() == 0


def test_fit_and_pad_rejects_what_is_not_a_bgr_image():
    with pytest.raises(ValueError, match=r"expected a BGR image \[H, W, 3\] uint8, got shape \(10, 10\)"):
        fit_and_pad(np.zeros((10, 10), np.uint8), (640, 384))
    with pytest.raises(ValueError, match="float32"):
        fit_and_pad(np.zeros((10, 10, 3), np.float32), (640, 384))


# --------------------------------------------------------------------------------------------------------------------
# paste_mask: mmdet's _do_paste_mask at threshold 0.5
def mmdet_pasted_mask(mask, box, height, width):
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask

    pasted, (rows, columns) = _do_paste_mask(torch.from_numpy(mask)[None, None], torch.from_numpy(box)[None],
                                             height, width, skip_empty=True)
    full = np.zeros((height, width), bool)
    full[rows, columns] = (pasted[0] >= 0.5).numpy()
    return full


def our_pasted_mask(mask, box, height, width):
    region, (x0, y0) = paste_mask(mask, box, (height, width))
    full = np.zeros((height, width), bool)
    full[y0:y0 + region.shape[0], x0:x0 + region.shape[1]] = region
    return full


def test_paste_mask_is_mmdets_paste_pixel_for_pixel():
    rng = np.random.default_rng(0)
    compared = 0
    for trial in range(300):
        height, width = (int(v) for v in rng.integers(20, 300, 2))
        x1, y1 = rng.uniform(-10, width - 2), rng.uniform(-10, height - 2)
        box = np.array([x1, y1, x1 + rng.uniform(0.5, 250), y1 + rng.uniform(0.5, 80)], np.float32)
        if box[2] < 0 or box[3] < 0:
            continue  # mmdet fails on boxes wholly left of / above the image
        # probabilities near 0.5 everywhere (random) or clearly in/out (a trained mask head)
        mask = rng.random((28, 28), dtype=np.float32) if trial % 2 else \
            np.where(rng.random((28, 28)) > 0.5, 0.95, 0.05).astype(np.float32)
        expected = mmdet_pasted_mask(mask, box, height, width)
        assert np.array_equal(our_pasted_mask(mask, box, height, width), expected), f"trial {trial}, box {box}"
        compared += int(expected.sum())
    assert compared > 10000


def test_paste_mask_of_a_box_outside_the_image_is_empty():
    region, _ = paste_mask(np.ones((28, 28), np.float32), np.array([500, 10, 600, 40], np.float32), (100, 400))
    assert region.size == 0 or not region.any()


def test_paste_mask_of_a_full_mask_covers_the_box():
    full = our_pasted_mask(np.ones((28, 28), np.float32), np.array([10, 20, 110, 50], np.float32), 100, 200)
    rows, columns = np.nonzero(full)
    assert (columns.min(), columns.max(), rows.min(), rows.max()) == (10, 109, 20, 49)


# --------------------------------------------------------------------------------------------------------------------
# words_from_detections, texts_from_symbols
def test_words_from_detections_brings_boxes_masks_and_texts_to_the_image():
    boxes = np.array([[20, 10, 120, 40, 0.9], [200, 100, 260, 130, 0.6]], np.float32)
    masks = np.zeros((2, 28, 28), np.float32)
    masks[0] = 0.9  # the whole box
    words = words_from_detections(boxes, masks, ["hello", ""], np.array([0.8, 0.1], np.float32), scale=0.5,
                                  image_shape=(768, 1280, 3), keep_masks=True)
    assert [w.text for w in words] == ["hello", ""] and [w.score for w in words] == pytest.approx([0.9, 0.6])
    assert words[0].text_score == pytest.approx(0.8)
    assert words[0].bbox.tolist() == [40, 20, 240, 80]
    assert np.allclose(words[0].quad, [[40, 20], [240, 20], [240, 80], [40, 80]], atol=1.0)
    rows, columns = np.nonzero(words[0].mask)
    assert words[0].mask.shape == (768, 1280) and (columns.min(), columns.max(), rows.min(), rows.max()) == \
        (40, 239, 20, 79)
    assert not words[1].mask.any()
    assert np.allclose(words[1].quad, [[400, 200], [520, 200], [520, 260], [400, 260]])  # empty mask: the box
    assert words_from_detections(boxes, masks, ["a", "b"], np.ones(2), 1.0, (384, 640))[0].mask is None


def test_words_from_detections_quads_are_predicted_polygons_of_the_full_masks():
    from text_spotting.evaluation import predicted_polygons

    rng = np.random.default_rng(3)
    boxes = np.array([[30, 40, 230, 90, 0.9], [300, 200, 380, 260, 0.8], [5, 5, 60, 25, 0.7]], np.float32)
    masks = (rng.random((3, 28, 28)) > 0.3).astype(np.float32)
    words = words_from_detections(boxes, masks, ["a", "b", "c"], np.ones(3), 0.75, (600, 900), keep_masks=True)
    expected = predicted_polygons(np.stack([w.bbox for w in words]), np.stack([w.mask for w in words]))
    for word, quad in zip(words, expected):
        assert np.allclose(word.quad, quad)


def test_words_from_detections_rejects_misaligned_detections():
    with pytest.raises(ValueError, match="2 boxes, 2 masks, 1 texts"):
        words_from_detections(np.zeros((2, 5)), np.zeros((2, 28, 28)), ["a"], np.zeros(2), 1.0, (10, 10))


def test_texts_from_symbols_cuts_at_eos_and_max_length_and_applies_the_threshold():
    codec = TextCodec("abc", max_length=3)
    a, b, c = 2, 3, 4
    symbols = np.array([[a, b, EOS_INDEX, EOS_INDEX], [c, c, c, c], [a, EOS_INDEX, EOS_INDEX, EOS_INDEX]])
    assert texts_from_symbols(symbols, np.array([0.9, 0.6, 0.2]), codec, 0.5) == ["ab", "ccc", ""]


def test_latency_summary():
    assert latency_summary([10, 20, 30, 40, 50]) == {"mean": 30.0, "p50": 30.0, "p90": 46.0}
    with pytest.raises(ValueError):
        latency_summary([])


# --------------------------------------------------------------------------------------------------------------------
# greedy decoding over a one-step decoder IR
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # ov.convert_model traces the GRU
def test_greedy_decode_ir_is_the_pytorch_greedy_decode():
    import openvino as ov

    from text_spotting.inference.openvino_spotter import greedy_decode_ir
    from text_spotting.models.text_recognition_head import AttentionDecoderStep, greedy_decode

    torch.manual_seed(1)
    decoder = AttentionDecoderStep(num_classes=12, encoder_channels=16, hidden_size=16).eval()
    with torch.no_grad():  # sharper, EOS-prone outputs: words end at different steps
        decoder.classifier.weight.mul_(9)
        decoder.classifier.bias[EOS_INDEX] += 2
    encoder_outputs = torch.randn(16, 20, 16) * 3
    expected_ids, expected_scores = greedy_decode(decoder, encoder_outputs, max_steps=12)
    lengths = (expected_ids != EOS_INDEX).sum(dim=1)
    assert len(set(lengths.tolist())) >= 3 and 0 < lengths.float().mean() < 12  # the loop's cases all happen

    model = ov.convert_model(decoder, example_input=(torch.zeros(16, dtype=torch.long), torch.zeros(1, 16, 16),
                                                     encoder_outputs))
    for port, name in zip(model.outputs, ("output", "hidden")):
        port.get_tensor().set_names({name})
    request = ov.Core().compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": "1", "INFERENCE_PRECISION_HINT": "f32"}
                                      ).create_infer_request()
    ids, scores = greedy_decode_ir(request, encoder_outputs.numpy(), hidden_size=16, max_steps=12)
    assert np.array_equal(ids, expected_ids.numpy())
    assert np.allclose(scores, expected_scores.numpy(), rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------------------------------------------------
# A model to run: the template's trained snapshot when there is one, else a seeded random model made decisive (its
# scores and masks spread away from 0.5) in a temporary template with lower thresholds, so that it finds words.
def spread_random_weights(model) -> None:
    with torch.no_grad():
        model.rpn_head.rpn_cls.weight.mul_(50)
        model.roi_head.bbox_head.fc_cls.weight.mul_(300)
        model.roi_head.bbox_head.fc_reg.weight.mul_(30)
        model.roi_head.mask_head.conv_logits.weight.mul_(100)
        model.roi_head.text_head.decoder.classifier.weight.mul_(20)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``(template_dir, checkpoint, export_dir)``; the export is made once with the EXPORT helper's API."""
    from text_spotting.export import export_model

    root = tmp_path_factory.mktemp("inference")
    if SNAPSHOT.is_file():
        template_dir, checkpoint = TEMPLATE, SNAPSHOT
    else:
        template_dir, checkpoint = root / "template", root / "template" / "random.pth"
        template_dir.mkdir()
        (template_dir / "model.py").write_text(f"_base_ = ['{TEMPLATE / 'model.py'}']\n")
        template = yaml.safe_load((TEMPLATE / "template.yaml").read_text())
        template["thresholds"] = {"detection": 0.45, "recognition": 0.0}
        template["max_length"] = 8  # a random decoder never emits EOS: every step runs for every word
        (template_dir / "template.yaml").write_text(yaml.safe_dump(template))
        with torch_threads(2):
            torch.manual_seed(0)
            spotter = EagerTextSpotter(load_config(template_dir))
            spread_random_weights(spotter.model)
            torch.save({"state_dict": spotter.model.state_dict(), "meta": {"template": "text-spotting-cpu-attention"}},
                       checkpoint)
    with torch_threads(2):
        export_model(load_config(template_dir), root / "export", weights=checkpoint, progress=False)
    return template_dir, checkpoint, root / "export"


@pytest.fixture(scope="module")
def test_images():
    """Bundled images at their size, enlarged, and cut to a portrait (every way fit_and_pad scales)."""
    first, second, third = (cv2.imread(str(path)) for path in BUNDLED_IMAGES[:3])
    return [first, cv2.resize(second, (1000, 700)), np.ascontiguousarray(third[:, 100:400])]


@pytest.fixture(scope="module")
def eager_spotter(trained):
    template_dir, checkpoint, _ = trained
    return EagerTextSpotter(load_config(template_dir), checkpoint)


@pytest.fixture(scope="module")
def eager_words(eager_spotter, test_images):
    """``(words, last_latency_ms)`` of the eager spotter's ``predict`` per test image."""
    found = []
    with torch_threads(2):
        for image in test_images:
            found.append((eager_spotter.predict(image)[0], dict(eager_spotter.last_latency_ms)))
    return found


def test_eager_predict_equals_the_dataset_path(eager_spotter, eager_words, test_images):
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate

    from text_spotting.inference import words_from_instances

    steps = [step for step in eager_spotter.cfg.test_pipeline if step["type"] != "LoadWordAnnotations"]
    pipeline = Compose([dict(type="mmdet.LoadImageFromNDArray")] + steps[1:])
    found = 0
    for image, (words, latency) in zip(test_images, eager_words):
        assert set(latency) == set(LATENCY_KEYS)
        assert latency["crops"] == latency["recognizer"] == 0  # stages of the ctc kind: not this model's
        assert latency["total"] >= sum(value for key, value in latency.items() if key != "total") * 0.99
        samples, _ = eager_spotter.predict_batch(pseudo_collate([pipeline(dict(img=image, img_id=0))]))
        expected = words_from_instances(samples[0].pred_instances)
        assert len(words) == len(expected)
        for word, reference in zip(words, expected):
            assert np.array_equal(word.bbox, reference.bbox) and word.score == reference.score
            assert word.text == reference.text and word.text_score == pytest.approx(reference.text_score, abs=1e-7)
            assert np.allclose(word.quad, reference.quad)
        found += len(words)
    assert found > 0


def box_iou(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union


def assert_same_words(words, expected):
    assert len(words) == len(expected)
    for word, reference in zip(words, expected):
        assert np.abs(word.bbox - reference.bbox).max() <= 1.0 or box_iou(word.bbox, reference.bbox) >= 0.99
        assert word.text == reference.text
        assert word.score == pytest.approx(reference.score, abs=1e-3)
        assert word.text_score == pytest.approx(reference.text_score, abs=1e-3)


def test_openvino_spotter_reads_what_the_eager_spotter_reads(trained, eager_words, test_images):
    from text_spotting.inference import OpenVINOTextSpotter

    _, _, export_dir = trained
    spotter = OpenVINOTextSpotter(export_dir / "model.xml", num_threads=2)
    assert spotter.config["input_size"] == [640, 384]
    for image, (expected, latency) in zip(test_images, eager_words):
        assert_same_words(spotter.predict(image)[0], expected)
        assert set(spotter.last_latency_ms) == set(latency)
        assert spotter.last_latency_ms["total"] >= spotter.last_latency_ms["detector"] > 0


def test_openvino_async_results_come_in_order_and_equal_sync_ones(trained, test_images):
    from text_spotting.inference import OpenVINOTextSpotter

    _, _, export_dir = trained
    with OpenVINOTextSpotter(export_dir / "model.bin", num_threads=2, num_requests=2) as spotter:
        expected = spotter.predict(test_images)
        stream = test_images * 2
        results = list(spotter.predict_async(stream, keep_masks=True))
        assert [result.userdata is image for result, image in zip(results, stream)] == [True] * len(stream)
        for result, reference in zip(results, expected * 2):
            assert_same_words(result.words, reference)
            assert all(word.mask is not None for word in result.words)
            assert result.latency_ms["total"] > 0
        spotter.submit(test_images[0], userdata="a")
        spotter.submit(test_images[1], userdata="b")
        assert [r.userdata for r in spotter.results(wait=True)] == ["a", "b"] and spotter.in_flight == 0


def test_load_text_spotter_picks_the_runtime_by_file(trained):
    from text_spotting.inference import OpenVINOTextSpotter

    template_dir, checkpoint, export_dir = trained
    assert isinstance(load_text_spotter(export_dir), OpenVINOTextSpotter)
    assert isinstance(load_text_spotter(export_dir / "model.bin", num_requests=2), OpenVINOTextSpotter)
    # the template is found next to the checkpoint (a work dir) or named by the checkpoint
    assert isinstance(load_text_spotter(checkpoint), EagerTextSpotter)
    assert load_text_spotter(checkpoint, template=template_dir).cfg.template["thresholds"] == \
        yaml.safe_load((template_dir / "template.yaml").read_text())["thresholds"]


def test_load_text_spotter_reports_bad_model_files_in_one_line(trained, tmp_path):
    import shutil

    template_dir, checkpoint, export_dir = trained
    broken = tmp_path / "broken"
    shutil.copytree(export_dir, broken)
    (broken / "model_text_recognition_head_decoder.bin").write_bytes(b"not weights")
    missing = tmp_path / "missing"
    shutil.copytree(export_dir, missing)
    (missing / "model_text_recognition_head_encoder.xml").unlink()
    no_template = tmp_path / "alone.pth"
    torch.save({"state_dict": {}, "meta": {}}, no_template)
    cases = [
        (tmp_path / "weights.onnx", "unknown model file type '.onnx'"),
        (tmp_path / "nothing.pth", "file not found"),
        (tmp_path, "a folder without export_config.yaml"),
        (broken / "model.xml", "sha256"),
        (missing, "model_text_recognition_head_encoder.xml: file missing"),
        (export_dir / "model_text_recognition_head_encoder.xml", "not the detector"),
        (no_template, "records no template"),
    ]
    for path, problem in cases:
        with pytest.raises(InferenceError) as error:
            load_text_spotter(path)
        message = str(error.value)
        assert problem in message and "\n" not in message, message


# --------------------------------------------------------------------------------------------------------------------
# eval.py on an IR
def run_eval(*args, cwd):
    return subprocess.run([PYTHON, REPO_ROOT / "tools" / "eval.py", *map(str, args)], cwd=cwd, env=run_tool_env(),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def two_images(tmp_path_factory):
    coco = json.loads((BUNDLED_DATA / "annotation.json").read_text())
    images = coco["images"][:2]
    ids = {image["id"] for image in images}
    subset = dict(coco, images=images, annotations=[a for a in coco["annotations"] if a["image_id"] in ids])
    path = tmp_path_factory.mktemp("data") / "two.json"
    path.write_text(json.dumps(subset))
    return path


def test_eval_scores_the_ir_like_the_checkpoint(trained, two_images, tmp_path):
    template_dir, checkpoint, export_dir = trained
    data = ("--test-ann-files", two_images, "--test-data-roots", BUNDLED_DATA)
    scored, predicted = {}, {}
    for name, weights in (("pth", checkpoint), ("ir", export_dir / "model.xml")):
        result = run_eval("--load-weights", weights, "--template", template_dir, *data,
                          "--save-metrics-to", tmp_path / f"{name}.yaml", "--save-output-to", tmp_path / name,
                          cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        scored[name] = yaml.safe_load((tmp_path / f"{name}.yaml").read_text())
        predicted[name] = json.loads((tmp_path / name / "predictions.json").read_text())
    pth, ir = scored["pth"], scored["ir"]
    for mode in ("detection", "word_spotting", "e2e_recognition"):
        assert ir[mode]["hmean"] == pytest.approx(pth[mode]["hmean"], abs=0.005), mode
    assert ir["counts"] == pth["counts"] and ir["counts"]["images"] == 2
    assert len(predicted["ir"]) == len(predicted["pth"]) > 0
    for word, reference in zip(predicted["ir"], predicted["pth"]):
        assert word["image_id"] == reference["image_id"] and word["text"] == reference["text"]
        assert np.allclose(word["bbox"], reference["bbox"], atol=1.0)
    assert "recognition" in pth and "recognition" not in ir and "ground-truth boxes" in ir["not_available"][
        "recognition"]
    config = yaml.safe_load((export_dir / "export_config.yaml").read_text())
    assert ir["model"]["format"] == "openvino" and ir["model"]["precision"] == "FP32"
    assert ir["model"]["sha256"] == config["files_sha256"]["detector"]
    assert ir["model"]["files_sha256"] == config["files_sha256"]
    assert ir["model"]["source_weights_sha256"] == pth["model"]["sha256"]


def test_eval_on_a_broken_ir_is_one_error_line(trained, two_images, tmp_path):
    import shutil

    _, _, export_dir = trained
    broken = tmp_path / "export"
    shutil.copytree(export_dir, broken)
    (broken / "model.bin").write_bytes((export_dir / "model.bin").read_bytes()[:1000])
    result = run_eval("--load-weights", broken / "model.xml", "--test-ann-files", two_images,
                      "--test-data-roots", BUNDLED_DATA, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "model.bin" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_speed_measurements_on_the_ir(trained, test_images):
    from text_spotting.inference import OpenVINOTextSpotter
    from text_spotting.inference.timing import format_speed_table, measure_async_throughput, measure_latency

    _, _, export_dir = trained
    with OpenVINOTextSpotter(export_dir, num_threads=2, num_requests=2) as spotter:
        latency = measure_latency(spotter, test_images[:2], "openvino", warmup=1, runs=1, progress=False)
        throughput = measure_async_throughput(spotter, test_images[:2], "openvino async", warmup=1, runs=1,
                                              progress=False)
    assert latency.latency_ms["p90"] >= latency.latency_ms["p50"] > 0 and latency.throughput > 0
    assert sum(latency.stages_ms.values()) <= latency.latency_ms["mean"] * 1.01
    assert throughput.throughput > 0 and throughput.latency_ms == {}
    assert latency.words_per_image == throughput.words_per_image
    table = format_speed_table([("text-spotting-cpu-attention", latency), ("text-spotting-cpu-attention", throughput)]).splitlines()
    assert len(table) == 4 and table[0].startswith("| template | runtime | words/img | mean ms")
