"""Export of the ctc kind (SPEC §4): detector IR without text features + ``model_text_recognizer`` (dynamic N and
width), export_config.yaml's crop geometry, and the IR reading the same words as the PyTorch model."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import CTC_TEMPLATE, REPO_ROOT, torch_threads
from text_spotting.export import export_model, load_export_config
from text_spotting.templates import load_config, with_input_size, with_thresholds

INPUT_SIZE = (640, 384)
NUM_IMAGES = 3


@pytest.fixture(scope="module")
def ctc_checkpoint(imported_ppocr, tmp_path_factory):
    """The ctc template's model with the imported PP-OCRv6 weights and seeded detector heads."""
    from mmdet.registry import MODELS

    from text_spotting import register_all_modules

    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(load_config(REPO_ROOT / "model_templates" / CTC_TEMPLATE).model)
    model.init_weights()
    model.load_state_dict(imported_ppocr["state_dict"], strict=False)
    path = tmp_path_factory.mktemp("ctc") / "weights.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)
    return path


@pytest.fixture(scope="module")
def ctc_cfg():
    cfg = with_input_size(load_config(REPO_ROOT / "model_templates" / CTC_TEMPLATE), INPUT_SIZE)
    cfg = with_thresholds(cfg, detection=0.0)
    cfg.model.test_cfg.rcnn.max_per_img = 8  # an untrained detector: a few boxes per image are enough here
    return cfg


@pytest.fixture(scope="module")
def ctc_export(ctc_cfg, ctc_checkpoint, tmp_path_factory):
    with torch_threads(2):
        return export_model(ctc_cfg, tmp_path_factory.mktemp("ctc_export") / "export", ctc_checkpoint,
                            progress=False)


@pytest.fixture(scope="module")
def images(bundled_data):
    files = sorted((bundled_data / "images").iterdir())[:NUM_IMAGES]
    return [cv2.imread(str(f)) for f in files]


def test_ctc_export_layout_and_config(ctc_export, ctc_checkpoint):
    names = sorted(p.name for p in ctc_export.output_dir.iterdir())
    assert names == ["export_config.yaml", "model.bin", "model.onnx", "model.xml", "model_text_recognizer.bin",
                     "model_text_recognizer.onnx", "model_text_recognizer.xml"]
    config = load_export_config(ctc_export.output_dir)
    assert config["recognizer_kind"] == "ctc" and config["num_classes"] == len(config["alphabet"]) + 1 == 96
    assert config["crop"] == {"height": 48, "min_width": 320, "max_width": 960, "width_stride": 8,
                              "vertical_ratio": 1.5}
    assert config["input_size"] == list(INPUT_SIZE)
    import openvino as ov

    core = ov.Core()
    detector = core.read_model(str(ctc_export.output_dir / "model.xml"))
    assert sorted(n for o in detector.outputs for n in o.get_names()) == ["boxes", "labels", "masks"]
    recognizer = core.read_model(str(ctc_export.output_dir / "model_text_recognizer.xml"))
    crops = recognizer.input("crops").get_partial_shape()
    assert crops[0].is_dynamic and crops[3].is_dynamic and crops[1].get_length() == 3 and crops[2].get_length() == 48
    # N words of any width -> [N, W / 8, 96] logits
    compiled = core.compile_model(recognizer, "CPU")
    logits = compiled({"crops": np.full((3, 3, 48, 328), 127.5, np.float32)})["logits"]
    assert logits.shape == (3, 41, 96)


def test_ir_reads_the_same_words_as_the_pytorch_model(ctc_export, ctc_cfg, ctc_checkpoint, images):
    from text_spotting.inference import EagerTextSpotter, OpenVINOTextSpotter

    with torch_threads(2):
        eager = EagerTextSpotter(ctc_cfg, ctc_checkpoint).predict(images)
    ir = OpenVINOTextSpotter(ctc_export.output_dir, num_threads=2).predict(images)
    pairs, same, total = 0, 0, 0
    for eager_words, ir_words in zip(eager, ir):
        assert len(eager_words) == len(ir_words) > 0
        total += len(eager_words)
        # random detector heads score many boxes alike: the two runtimes may order (or NMS) near-ties differently,
        # so words are paired by their boxes
        for a in eager_words:
            b = max(ir_words, key=lambda w: box_iou(a.bbox, w.bbox))
            if box_iou(a.bbox, b.bbox) > 0.95:
                pairs += 1
                same += a.text == b.text
    assert pairs >= 0.8 * total and same >= 0.9 * pairs, (same, pairs, total)


def box_iou(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_ir_reads_ground_truth_words_exactly_as_pytorch(ctc_export, ctc_cfg, ctc_checkpoint, bundled_data):
    """The recognizer IR and the PyTorch head on the same crops of real words (one crop routine for both)."""
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.models.word_crops import CropSpec, cut_word_crops
    import openvino as ov

    annotation = json.loads((bundled_data / "annotation.json").read_text())
    image_info = annotation["images"][0]
    image = cv2.imread(str(bundled_data / image_info["file_name"]))
    quads = [np.reshape(a["segmentation"][0], (-1, 2)) for a in annotation["annotations"]
             if a["image_id"] == image_info["id"] and not a.get("iscrowd")]
    crops, _ = cut_word_crops(image, quads, CropSpec(**load_export_config(ctc_export.output_dir)["crop"]))
    # f32: OpenVINO's CPU plugin otherwise runs in bf16 where the processor has it (this one does)
    compiled = ov.Core().compile_model(str(ctc_export.output_dir / "model_text_recognizer.xml"), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    ir_logits = compiled({"crops": crops})["logits"]
    head = EagerTextSpotter(ctc_cfg, ctc_checkpoint).model.text_recognizer
    with torch.no_grad(), torch_threads(2):
        eager_logits = head(torch.from_numpy((crops - 127.5) / 127.5)).numpy()
    np.testing.assert_allclose(ir_logits, eager_logits, atol=2e-3 * np.abs(eager_logits).max())
    ir_texts, _ = head.decode(torch.from_numpy(ir_logits).softmax(2).numpy())
    eager_texts, _ = head.decode(torch.from_numpy(eager_logits).softmax(2).numpy())
    assert ir_texts == eager_texts and sum(map(len, eager_texts)) > 0


def test_both_spotters_read_given_words_alike(ctc_export, ctc_cfg, ctc_checkpoint, bundled_data):
    """``read_given_words`` (eval's recognition metric): the IR cuts and reads the ground-truth words of an image as
    the PyTorch model does through ``TextMaskRCNN.read_words``."""
    from text_spotting.inference import EagerTextSpotter, OpenVINOTextSpotter
    from text_spotting.models.ground_truth import legible_word_quads

    annotation = json.loads((bundled_data / "annotation.json").read_text())
    image_info = annotation["images"][0]
    image = cv2.imread(str(bundled_data / image_info["file_name"]))
    instances = [{"mask": a["segmentation"], "bbox": a["bbox"], "ignore_flag": int(bool(a.get("iscrowd")))}
                 for a in annotation["annotations"] if a["image_id"] == image_info["id"]]
    quads = legible_word_quads(instances)
    eager = EagerTextSpotter(ctc_cfg, ctc_checkpoint)
    with torch_threads(2):
        eager_texts = eager.read_given_words(image, quads)
    ir_texts = OpenVINOTextSpotter(ctc_export.output_dir).read_given_words(image, quads)
    assert len(eager_texts) == len(quads) > 0 and sum(map(len, eager_texts)) > 0
    assert ir_texts == eager_texts
    assert eager.read_given_words(image, []) == [] and OpenVINOTextSpotter(ctc_export.output_dir).read_given_words(
        image, []) == []
