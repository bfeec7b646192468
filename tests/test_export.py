"""Export to ONNX / OpenVINO IR: the custom ops against mmdet/mmcv, the exported detector, encoder and decoder against
the PyTorch model on the bundled images, FP16, the export directory's checks, and tools/export.py."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from conftest import PYTHON, REPO_ROOT, run_tool_env, torch_threads
from text_spotting.export import (DetectorGraph, ExportError, ExportFormatError, export_model, load_export_config,
                                  read_ir_rt_info, resolve_export_dir)
from text_spotting.export.box_coding import (anchors_for_prior_grid, boxes_for_grouped_nms, decode_box_deltas,
                                             select_class_scores)
from text_spotting.export.exporter import export_onnx
from text_spotting.export.onnx_ops import (CUSTOM_OPSETS, ONNX_OPSET, non_max_suppression, openvino_roi_levels,
                                           prior_grid, roi_features)
from text_spotting.models import EOS_INDEX, SOS_INDEX
from text_spotting.templates import load_config

ov = pytest.importorskip("openvino")

CPU_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"
REFERENCE_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-0003"
SNAPSHOT = CPU_TEMPLATE / "snapshot.pth"
# Until the template ships a trained snapshot, a seeded random model whose classifiers are scaled up (see
# random_model) stands in; a checkpoint given here (e.g. a training run's latest.pth) is used instead.
WEIGHTS_ENV = "TS_EXPORT_TEST_WEIGHTS"
RANDOM_MODEL_SCORE_THR = 0.3
NUM_IMAGES = 4


@pytest.fixture(autouse=True)
def one_torch_thread():
    with torch_threads(1):
        yield


# --------------------------------------------------------------------------------------------------------------------
# Pure box math
def test_decode_box_deltas_is_mmdet_delta2bbox():
    from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox

    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(200, 2, generator=generator) * 600
    boxes = torch.cat([corners, corners + torch.rand(200, 2, generator=generator) * 100 + 1], dim=1)
    deltas = torch.randn(200, 4, generator=generator) * 2  # large dw/dh: the clamp at |log(16/1000)| matters
    stds = [0.1, 0.1, 0.2, 0.2]
    expected = delta2bbox(boxes, deltas, [0.0] * 4, stds, max_shape=(384, 640))
    actual = decode_box_deltas(boxes, deltas, [0.0] * 4, stds, max_shape=(384, 640))
    assert torch.allclose(actual, expected, atol=1e-4)
    assert actual[:, 0::2].max() <= 640 and actual[:, 1::2].max() <= 384 and actual.min() >= 0


def test_grouped_nms_keeps_groups_apart():
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    groups = torch.tensor([0, 1, 0])
    keep = non_max_suppression(boxes_for_grouped_nms(boxes, groups, 11.0), scores, 10, 0.5, 0.0)
    assert keep.tolist() == [0, 1]  # box 1 overlaps box 0 fully but is in another group; box 2 is suppressed


def test_nms_score_threshold_and_max_output():
    boxes = torch.tensor([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [60, 0, 70, 10.]])
    scores = torch.tensor([0.2, 0.9, 0.6, 0.7])
    assert non_max_suppression(boxes, scores, 10, 0.5, 0.5).tolist() == [1, 3, 2]
    assert non_max_suppression(boxes, scores, 2, 0.5, 0.0).tolist() == [1, 3]


def test_select_class_scores_picks_each_rows_class():
    maps = torch.arange(3 * 2 * 2 * 2, dtype=torch.float32).reshape(3, 2, 2, 2)
    picked = select_class_scores(maps, torch.tensor([1, 0, 1]))
    assert torch.equal(picked, torch.stack([maps[0, 1], maps[1, 0], maps[2, 1]]))


def test_openvino_level_rule_is_mmdet_rule():
    from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

    extractor = SingleRoIExtractor(dict(type='RoIAlign', output_size=7, sampling_ratio=0), 8, [4, 8, 16, 32])
    generator = torch.Generator().manual_seed(0)
    sides = torch.exp(torch.rand(500, 2, generator=generator) * 6)  # 1 .. 400 px
    rois = torch.cat([torch.zeros(500, 2), sides], dim=1)
    expected = extractor.map_roi_levels(torch.cat([torch.zeros(500, 1), rois], dim=1), 4)
    assert torch.equal(openvino_roi_levels(rois, 4), expected)
    assert openvino_roi_levels(torch.tensor([[5.0, 5.0, 5.0, 9.0]]), 4).tolist() == [4]  # zero area: no level


# --------------------------------------------------------------------------------------------------------------------
# The custom ops in OpenVINO against mmdet / mmcv
def run_in_openvino(module: torch.nn.Module, inputs: tuple, tmp_path: Path, input_names, output_names):
    file = tmp_path / "op.onnx"
    export_onnx(module, inputs, file, input_names, output_names, custom_opsets=CUSTOM_OPSETS)
    compiled = ov.Core().compile_model(ov.convert_model(str(file)), "CPU")
    result = compiled([x.numpy() for x in inputs])
    return [result[compiled.output(name)] for name in output_names]


class _PriorGrid(torch.nn.Module):
    def __init__(self, priors, stride):
        super().__init__()
        self.priors, self.stride = priors, stride

    def forward(self, feature_map, image):
        return prior_grid(self.priors, feature_map, image, self.stride)


def test_prior_grid_generator_gives_mmdet_anchors(tmp_path):
    from mmdet.models.task_modules.prior_generators import AnchorGenerator

    generator = AnchorGenerator(strides=[8], ratios=[0.2, 0.5, 1.0], scales=[8])
    expected = generator.single_level_grid_priors((12, 20), 0, device="cpu")
    feature_map, image = torch.zeros(1, 4, 12, 20), torch.zeros(1, 3, 96, 160)
    module = _PriorGrid(anchors_for_prior_grid(generator.base_anchors[0], 8), 8)
    assert torch.allclose(module(feature_map, image), expected, atol=1e-4)
    (anchors,) = run_in_openvino(module, (feature_map, image), tmp_path, ["feature_map", "image"], ["anchors"])
    np.testing.assert_allclose(anchors, expected.numpy(), atol=1e-4)


class _RoIFeatures(torch.nn.Module):
    def forward(self, rois, f0, f1, f2, f3):
        return roi_features(rois, (f0, f1, f2, f3), output_size=7, sampling_ratio=0, pyramid_scales=(4, 8, 16, 32))


def test_roi_feature_extractor_gives_mmdet_features(tmp_path):
    from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

    generator = torch.Generator().manual_seed(0)
    feats = tuple(torch.randn(1, 8, 384 // s, 640 // s, generator=generator) for s in (4, 8, 16, 32))
    scales = torch.exp(torch.empty(60).uniform_(np.log(8), np.log(700), generator=generator))  # every level
    aspects = torch.exp(torch.empty(60).uniform_(-1, 1, generator=generator))
    corners = torch.rand(60, 2, generator=generator) * torch.tensor([600.0, 350.0])
    rois = torch.cat([corners, corners + torch.stack([scales * aspects.sqrt(), scales / aspects.sqrt()], 1)], 1)
    extractor = SingleRoIExtractor(dict(type='RoIAlign', output_size=7, sampling_ratio=0), 8, [4, 8, 16, 32])
    expected = extractor(feats, torch.cat([torch.zeros(60, 1), rois], dim=1))
    assert len(set(openvino_roi_levels(rois, 4).tolist())) == 4
    assert torch.allclose(_RoIFeatures()(rois, *feats), expected, atol=1e-5)
    (pooled,) = run_in_openvino(_RoIFeatures(), (rois, *feats), tmp_path, ["rois", "f0", "f1", "f2", "f3"],
                                ["features"])
    np.testing.assert_allclose(pooled, expected.numpy(), atol=1e-4)


class _Nms(torch.nn.Module):
    def forward(self, boxes, scores):
        return non_max_suppression(boxes, scores, 20, 0.5, 0.3)


def test_onnx_nms_in_openvino_is_mmcv_nms(tmp_path):
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(300, 2, generator=generator) * 100
    boxes = torch.cat([corners, corners + torch.rand(300, 2, generator=generator) * 30 + 1], dim=1)
    scores = torch.rand(300, generator=generator)
    expected = _Nms()(boxes, scores)
    assert 0 < len(expected) <= 20
    (kept,) = run_in_openvino(_Nms(), (boxes, scores), tmp_path, ["boxes", "scores"], ["keep"])
    assert kept.tolist() == expected.tolist()


def _detectron_op_model(op: str, inputs: dict, outputs: list, tmp_path: Path, **attributes):
    """OpenVINO's ``op`` alone, compiled from a one-node ONNX model: float inputs ``{name: shape}``, ``outputs``."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node(op, list(inputs), outputs, domain="org.openvinotoolkit", **attributes)
    graph = helper.make_graph([node], op, [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
                                           for name, shape in inputs.items()],
                              [helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None) for name in outputs])
    file = tmp_path / f"{op}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET),
                                                      helper.make_opsetid("org.openvinotoolkit", 1)]), str(file))
    return ov.Core().compile_model(ov.convert_model(str(file)), "CPU")


def test_openvino_detectron_box_ops_still_decode_with_plus_one(tmp_path):
    """Why proposals and detections are decoded with plain ONNX ops (onnx_ops docstring): OpenVINO's
    GenerateProposals and DetectionOutput widen boxes by the legacy +1. If this fails, they may fit now."""
    box, deltas = np.array([[40, 40, 60, 50]], np.float32), np.array([0, 0, np.log(2), 0], np.float32)
    mmdet_box = [30, 40, 70, 50]
    proposals = _detectron_op_model(
        "ExperimentalDetectronGenerateProposalsSingleImage",
        {"im_info": [3], "anchors": [1, 4], "deltas": [4, 1, 1], "scores": [1, 1, 1]}, ["rois", "roi_scores"],
        tmp_path, min_size=0.0, nms_threshold=0.7, post_nms_count=1, pre_nms_count=1)
    rois = proposals([np.array([100, 100, 1], np.float32), box, deltas.reshape(4, 1, 1),
                      np.ones((1, 1, 1), np.float32)])[proposals.output("rois")]
    detections = _detectron_op_model(
        "ExperimentalDetectronDetectionOutput", {"rois": [1, 4], "deltas": [1, 8], "scores": [1, 2], "im_info": [1, 3]},
        ["boxes", "classes", "det_scores"], tmp_path, class_agnostic_box_regression=0,
        deltas_weights=[10.0, 10.0, 5.0, 5.0], max_delta_log_wh=4.135, max_detections_per_image=1,
        nms_threshold=0.5, num_classes=2, post_nms_count=1, score_threshold=0.05)
    boxes = detections([box, np.concatenate([np.zeros(4), deltas * [10, 10, 5, 5]])[None].astype(np.float32),
                        np.array([[0.1, 0.9]], np.float32), np.array([[100, 100, 1]], np.float32)])
    for decoded in (rois[0], boxes[detections.output("boxes")][0]):
        np.testing.assert_allclose(decoded, [29.5, 40, 70.5, 50], atol=1e-4)
        assert not np.allclose(decoded, mmdet_box, atol=0.25)


# --------------------------------------------------------------------------------------------------------------------
# The whole export against the PyTorch model
def random_model(cfg):
    """A seeded random ``TextMaskRCNN`` that detects something. A fresh model scores every box ~0.5 (ties
    everywhere: any rounding reorders NMS, and nothing is compared), so its RPN and box classifiers and its box
    regressor are rescaled until, on the first bundled image, their outputs spread like a trained model's: logits
    with mean -1 and std 1 (RPN: its logits spread several times wider on other images, and a saturated sigmoid
    ties again) or 3 (box classifier), box deltas with std 1."""
    from mmdet.structures.bbox import bbox2roi
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.inference.processing import fit_and_pad

    torch.manual_seed(0)
    model = EagerTextSpotter(cfg, None).model
    image = cv2.imread(str(sorted((REPO_ROOT / "data" / "horizontal_text_detection" / "images").glob("*.jpg"))[0]))
    padded, _ = fit_and_pad(image, tuple(cfg.input_size))
    inputs = model.data_preprocessor(dict(inputs=[torch.from_numpy(padded.transpose(2, 0, 1).copy())]),
                                     False)["inputs"]
    rpn_head, roi_head = model.rpn_head, model.roi_head
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        logits = torch.cat([level.flatten() for level in rpn_head(feats)[0]])
        _respread(rpn_head.rpn_cls, logits.mean(), logits.std() * 3, rows=slice(None))
        proposals = rpn_head.predict(feats, [_sample(padded)], rescale=False)[0].bboxes
        outputs = roi_head._bbox_forward(feats, bbox2roi([proposals]))
        margin = outputs["cls_score"][:, 0] - outputs["cls_score"][:, 1]  # word vs background
        _respread(roi_head.bbox_head.fc_cls, margin.mean(), margin.std(), rows=slice(0, 1))
        roi_head.bbox_head.fc_reg.weight.mul_(1.0 / outputs["bbox_pred"].std())
    return model


def _respread(layer: torch.nn.Module, mean: torch.Tensor, std: torch.Tensor, rows: slice) -> None:
    """Rescales ``layer`` (conv or linear) so that outputs with ``mean`` / ``std`` get mean -1 and std 3 (so ``std``
    three times the real one gives std 1); ``rows``: the output channels whose bias absorbs the shift."""
    scale = 3.0 / std
    layer.weight.mul_(scale)
    layer.bias.mul_(scale)
    layer.bias[rows] -= scale * mean + 1.0


def _sample(padded: np.ndarray):
    from mmdet.structures import DetDataSample

    height, width = padded.shape[:2]
    return DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                       pad_shape=(height, width), scale_factor=(1.0, 1.0)))


@pytest.fixture(scope="module")
def cpu_weights(tmp_path_factory):
    """``(cfg, checkpoint)`` the export tests use: the template's snapshot, else $TS_EXPORT_TEST_WEIGHTS, else a
    seeded random model (saved as a checkpoint) with the detection threshold lowered to RANDOM_MODEL_SCORE_THR and
    every text kept."""
    cfg = load_config(CPU_TEMPLATE)
    for candidate in (SNAPSHOT, os.environ.get(WEIGHTS_ENV)):
        if candidate and Path(candidate).is_file():
            return cfg, Path(candidate)
    cfg.model.test_cfg.rcnn.score_thr = RANDOM_MODEL_SCORE_THR
    cfg.model.roi_head.text_head.recognition_threshold = 0.0  # keep every (random) text, to compare them
    checkpoint = tmp_path_factory.mktemp("weights") / "random.pth"
    with torch_threads(1):
        torch.save({"state_dict": random_model(cfg).state_dict()}, checkpoint)
    return cfg, checkpoint


@pytest.fixture(scope="module")
def eager_model(cpu_weights):
    from text_spotting.inference import EagerTextSpotter

    cfg, weights = cpu_weights
    return EagerTextSpotter(cfg, weights).model


@pytest.fixture(scope="module")
def fp32_export(cpu_weights, tmp_path_factory):
    cfg, weights = cpu_weights
    with torch_threads(1):
        return export_model(cfg, tmp_path_factory.mktemp("fp32") / "export", weights=weights, progress=False)


@pytest.fixture(scope="module")
def fp16_export(cpu_weights, tmp_path_factory):
    cfg, weights = cpu_weights
    with torch_threads(1):
        return export_model(cfg, tmp_path_factory.mktemp("fp16") / "export", weights=weights, precision="FP16",
                            progress=False)


@pytest.fixture(scope="module")
def network_inputs(cpu_weights, bundled_data):
    """The first NUM_IMAGES bundled images, fitted and padded to the template's input size: ``[H, W, 3]`` uint8."""
    from text_spotting.inference.processing import fit_and_pad

    cfg, _ = cpu_weights
    files = sorted((bundled_data / "images").glob("*.jpg"))[:NUM_IMAGES]
    return [fit_and_pad(cv2.imread(str(file)), tuple(cfg.input_size))[0] for file in files]


@torch.no_grad()
def eager_outputs(model, padded: np.ndarray) -> dict:
    """What the PyTorch model predicts for a network-input image (``rescale=False``): boxes [N, 5], labels, 28x28
    mask probabilities of each box's class, text RoI features, texts."""
    from mmdet.structures.bbox import bbox2roi

    data = model.data_preprocessor(dict(inputs=[torch.from_numpy(padded.transpose(2, 0, 1).copy())],
                                        data_samples=[_sample(padded)]), False)
    feats = model.extract_feat(data["inputs"])
    proposals = model.rpn_head.predict(feats, data["data_samples"], rescale=False)
    found = model.roi_head.predict(feats, proposals, data["data_samples"], rescale=False)[0]
    rois = bbox2roi([found.bboxes])
    masks = model.roi_head.mask_probabilities(feats, rois, found.labels)
    return {"boxes": torch.cat([found.bboxes, found.scores[:, None]], dim=1).numpy(), "labels": found.labels.numpy(),
            "masks": masks.numpy(), "text_features": model.roi_head.text_features(feats, rois).numpy(),
            "texts": list(found.texts)}


class ExportedSpotter:
    """The three IRs of an export, run on a network-input image: detector, then greedy decoding of every word."""

    def __init__(self, export_dir: Path):
        config = load_export_config(export_dir)
        core = ov.Core()
        self.config = config
        # f32 explicitly: on CPUs with bf16 support OpenVINO would otherwise compute in bf16.
        settings = {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"}
        self.models = {role: core.compile_model(str(export_dir / name), "CPU", settings)
                       for role, name in config["files"].items()}

    def __call__(self, padded: np.ndarray) -> dict:
        from text_spotting.models import TextCodec

        detector, encoder, decoder = self.models["detector"], self.models["encoder"], self.models["decoder"]
        image = padded.transpose(2, 0, 1)[None].astype(np.float32)
        result = detector(image)
        outputs = {name: result[detector.output(name)] for name in ("boxes", "labels", "masks", "text_features")}
        words = len(outputs["boxes"])
        texts = []
        if words:
            encoded = encoder(outputs["text_features"])[encoder.output("output")]
            encoded = encoded.reshape(words, encoded.shape[1], -1).transpose(0, 2, 1)  # [N, 784, D]
            codec = TextCodec(self.config["alphabet"], self.config["max_length"], self.config["case_sensitive"])
            symbol = np.full(words, SOS_INDEX, np.int64)
            hidden = np.zeros((1, words, self.config["decoder_hidden_size"]), np.float32)
            ids = np.full((words, codec.sequence_length), EOS_INDEX, np.int64)
            scores, finished = np.ones(words), np.zeros(words, bool)
            for step in range(codec.sequence_length):
                step_result = decoder({"prev_symbol": symbol, "prev_hidden": hidden, "encoder_outputs": encoded})
                logits, hidden = step_result[decoder.output("output")], step_result[decoder.output("hidden")]
                probabilities = np.exp(logits - logits.max(1, keepdims=True))
                probabilities /= probabilities.sum(1, keepdims=True)
                symbol = probabilities.argmax(1)
                scores = np.where(finished, scores, scores * probabilities.max(1))
                ids[:, step] = np.where(finished, ids[:, step], symbol)
                finished |= symbol == EOS_INDEX
                if finished.all():
                    break
            texts = codec.decode(ids[:, :codec.max_length])
            threshold = self.config["thresholds"]["recognition"]
            texts = [text if score >= threshold else "" for text, score in zip(texts, scores)]
        outputs["texts"] = texts
        return outputs


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes ``[N, 4]`` x ``[M, 4]``."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:4] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def match_detections(eager: dict, exported: dict, min_iou: float, max_shift: float):
    """Pairs ``(eager index, exported index)`` of the same detection: same label and IoU >= ``min_iou`` or corners
    within ``max_shift`` px; each exported detection pairs at most once."""
    eager_boxes, exported_boxes = eager["boxes"], exported["boxes"]
    if not len(eager_boxes) or not len(exported_boxes):
        return []
    iou = box_iou(eager_boxes, exported_boxes)
    shift = np.abs(eager_boxes[:, None, :4] - exported_boxes[None, :, :4]).max(axis=2)
    same = ((iou >= min_iou) | (shift <= max_shift)) & (eager["labels"][:, None] == exported["labels"][None])
    pairs, taken = [], set()
    for i in range(len(eager_boxes)):
        candidates = [j for j in np.flatnonzero(same[i]) if j not in taken]
        if candidates:
            j = min(candidates, key=lambda j: shift[i, j])
            taken.add(j)
            pairs.append((i, j))
    return pairs


def unpaired(boxes: np.ndarray, paired: set, threshold: float, margin: float) -> np.ndarray:
    """Detections without a partner that score above ``threshold + margin`` (one just above the threshold may
    fall below it on the other side, legitimately)."""
    return boxes[[i for i in range(len(boxes)) if i not in paired and boxes[i, 4] > threshold + margin]]


def test_export_dir_layout_and_config(fp32_export, cpu_weights):
    cfg, weights = cpu_weights
    directory = fp32_export.output_dir
    names = {path.name for path in directory.iterdir()}
    assert names == {"export_config.yaml", "model.xml", "model.bin", "model.onnx",
                     *(f"model_text_recognition_head_{part}.{ext}" for part in ("encoder", "decoder")
                       for ext in ("xml", "bin", "onnx"))}
    config = load_export_config(directory / "model.xml")  # any file of the export finds it
    assert config == fp32_export.config
    assert config["template"] == "text-spotting-cpu-attention" and config["input_size"] == [640, 384]
    assert config["precision"] == "FP32" and config["thresholds"]["detection"] == cfg.model.test_cfg.rcnn.score_thr
    from text_spotting.checkpoint import sha256_of

    assert config["source_weights_sha256"] == sha256_of(weights)
    assert (config["text_feature_channels"], config["encoder_channels"], config["decoder_hidden_size"],
            config["num_classes"]) == (64, 64, 128, 38)
    ids = {read_ir_rt_info(directory / name)["export_id"] for name in config["files"].values()}
    assert ids == {config["export_id"]}

    core = ov.Core()
    detector = core.read_model(directory / "model.xml")
    assert [port.get_any_name() for port in detector.inputs] == ["image"]
    assert list(detector.input("image").get_partial_shape().to_shape()) == [1, 3, 384, 640]
    assert [port.get_any_name() for port in detector.outputs] == ["boxes", "labels", "masks", "text_features"]
    encoder = core.read_model(directory / config["files"]["encoder"])
    assert [p.get_any_name() for p in encoder.inputs] == ["input"] and encoder.input().get_partial_shape()[0].is_dynamic
    decoder = core.read_model(directory / config["files"]["decoder"])
    assert [p.get_any_name() for p in decoder.inputs] == ["prev_symbol", "prev_hidden", "encoder_outputs"]
    assert [p.get_any_name() for p in decoder.outputs] == ["output", "hidden"]


def test_ir_agrees_with_pytorch_on_bundled_images(fp32_export, eager_model, network_inputs):
    spotter = ExportedSpotter(fp32_export.output_dir)
    threshold = fp32_export.config["thresholds"]["detection"]
    total = 0
    for padded in network_inputs:
        eager, exported = eager_outputs(eager_model, padded), spotter(padded)
        assert exported["boxes"].shape[1:] == (5,) and exported["masks"].shape[1:] == (28, 28)
        pairs = match_detections(eager, exported, min_iou=0.99, max_shift=1.0)
        for name, boxes, side in (("eager", eager["boxes"], 0), ("exported", exported["boxes"], 1)):
            lonely = unpaired(boxes, {pair[side] for pair in pairs}, threshold, margin=1e-3)
            assert not len(lonely), f"{name} detections without a partner: {lonely}"
        total += len(pairs)
        for i, j in pairs:
            assert abs(eager["boxes"][i, 4] - exported["boxes"][j, 4]) < 1e-3
            differing = int(((eager["masks"][i] >= 0.5) != (exported["masks"][j] >= 0.5)).sum())
            assert differing <= 3, f"mask of detection {i}: {differing} pixels differ"
            reference = eager["text_features"][i]
            assert np.abs(reference - exported["text_features"][j]).max() <= 1e-3 * max(1.0, np.abs(reference).max())
            assert eager["texts"][i] == exported["texts"][j]
    assert total >= NUM_IMAGES, "too few detections to compare"


def test_detector_graph_refuses_what_openvino_would_compute_differently():
    from mmdet.registry import MODELS
    from model_configs import tiny_text_spotter_cfg

    cfg = tiny_text_spotter_cfg()
    cfg.roi_head.mask_roi_extractor.roi_layer.aligned = False
    with torch_threads(1):
        model = MODELS.build(cfg).eval()
    with pytest.raises(ExportError, match="mask_roi_extractor: .*aligned=False"):
        DetectorGraph(model, (128, 128))


def test_detector_graph_is_the_model_in_pytorch(eager_model, network_inputs, cpu_weights):
    """The graph that gets traced, run eagerly, gives the model's own detections (before any export)."""
    cfg, _ = cpu_weights
    graph = DetectorGraph(eager_model, tuple(cfg.input_size)).eval()
    with torch.no_grad():
        image = torch.from_numpy(network_inputs[0].transpose(2, 0, 1)[None]).float()
        boxes, labels, masks, text_features = graph(image)
    eager = eager_outputs(eager_model, network_inputs[0])
    assert len(boxes) == len(eager["boxes"]) > 0
    np.testing.assert_allclose(boxes.numpy(), eager["boxes"], atol=1e-4)
    np.testing.assert_array_equal(labels.numpy(), eager["labels"])
    np.testing.assert_allclose(masks.numpy(), eager["masks"], atol=1e-5)
    np.testing.assert_allclose(text_features.numpy(), eager["text_features"], atol=1e-5)


def test_ir_without_detections_returns_empty_outputs(fp32_export, eager_model, cpu_weights):
    cfg, _ = cpu_weights
    black = np.zeros((cfg.input_size[1], cfg.input_size[0], 3), np.uint8)
    assert len(eager_outputs(eager_model, black)["boxes"]) == 0  # no words in a black image
    exported = ExportedSpotter(fp32_export.output_dir)(black)
    shapes = [exported[name].shape for name in ("boxes", "labels", "masks", "text_features")]
    assert shapes == [(0, 5), (0,), (0, 28, 28), (0, 64, 28, 28)] and exported["texts"] == []


def test_fp16_ir_agrees_within_a_looser_tolerance(fp16_export, eager_model, network_inputs):
    assert fp16_export.config["precision"] == "FP16"
    ir_size = sum(p.stat().st_size for p in fp16_export.output_dir.glob("*.bin"))
    onnx_size = sum(p.stat().st_size for p in fp16_export.output_dir.glob("*.onnx"))  # FP32
    assert ir_size < 0.6 * onnx_size  # weights stored in half precision
    spotter = ExportedSpotter(fp16_export.output_dir)
    threshold = fp16_export.config["thresholds"]["detection"]
    matched = total = 0
    for padded in network_inputs:
        eager, exported = eager_outputs(eager_model, padded), spotter(padded)
        pairs = match_detections(eager, exported, min_iou=0.95, max_shift=2.0)
        total += len(eager["boxes"])
        matched += len(pairs)
        for i, j in pairs:
            assert abs(eager["boxes"][i, 4] - exported["boxes"][j, 4]) < 0.02
            differing = int(((eager["masks"][i] >= 0.5) != (exported["masks"][j] >= 0.5)).sum())
            assert differing <= 20
    # Half-precision weights move scores a little, so a detection may give way to a neighbour in NMS: most match.
    assert matched >= 0.8 * total


# --------------------------------------------------------------------------------------------------------------------
# Broken export directories: one clear line each
@pytest.fixture
def export_copy(fp32_export, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(fp32_export.output_dir, copy)
    return copy


def load_error(path) -> str:
    with pytest.raises(ExportFormatError) as info:
        load_export_config(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file_is_named(export_copy):
    (export_copy / "model_text_recognition_head_decoder.bin").unlink()
    message = load_error(export_copy)
    assert "model_text_recognition_head_decoder.bin" in message and "missing" in message
    (export_copy / "export_config.yaml").unlink()
    assert "no export_config.yaml" in load_error(export_copy)
    assert "not found" in load_error(export_copy / "absent")


def test_ir_from_another_tool_is_caught(export_copy):
    xml = export_copy / "model.xml"
    text = xml.read_text(encoding="utf-8")
    start, end = text.index("<text_spotting>"), text.index("</text_spotting>") + len("</text_spotting>")
    xml.write_text(text[:start] + text[end:], encoding="utf-8")
    message = load_error(export_copy)
    assert "model.xml" in message and "not a text_spotting IR" in message


def test_encoder_and_decoder_from_different_exports_are_caught(export_copy, fp16_export):
    for ext in ("xml", "bin"):
        shutil.copyfile(fp16_export.output_dir / f"model_text_recognition_head_decoder.{ext}",
                        export_copy / f"model_text_recognition_head_decoder.{ext}")
    message = load_error(export_copy)
    assert "model_text_recognition_head_decoder.xml" in message and "another export" in message


def test_swapped_roles_are_caught(export_copy):
    config_file = export_copy / "export_config.yaml"
    config = yaml.safe_load(config_file.read_text())
    files = config["files"]
    files["encoder"], files["decoder"] = files["decoder"], files["encoder"]
    config_file.write_text(yaml.safe_dump(config))
    assert "is the 'decoder' IR" in load_error(export_copy)


def test_changed_weights_file_is_caught(export_copy):
    data = bytearray((export_copy / "model.bin").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (export_copy / "model.bin").write_bytes(bytes(data))
    message = load_error(export_copy / "model.bin")
    assert "model.bin" in message and "sha256" in message


def test_bad_yaml_is_caught(export_copy):
    (export_copy / "export_config.yaml").write_text("format: [text-spotting-ir\n")
    assert "not valid YAML" in load_error(export_copy)
    (export_copy / "export_config.yaml").write_text("format: something-else\n")
    assert "field 'format'" in load_error(export_copy)
    (export_copy / "export_config.yaml").write_text("format: text-spotting-ir\nformat_version: 1\n")
    assert "field 'template' is missing" in load_error(export_copy)


def test_resolve_export_dir_accepts_the_dir_or_any_file_in_it(fp32_export):
    directory = fp32_export.output_dir
    assert resolve_export_dir(directory) == directory
    assert resolve_export_dir(directory / "model.bin") == directory


# --------------------------------------------------------------------------------------------------------------------
# Writing the export directory
def test_failed_export_leaves_the_previous_export_untouched(fp32_export, cpu_weights, export_copy, monkeypatch):
    import text_spotting.export.exporter as exporter

    before = {path.name: path.read_bytes() for path in export_copy.iterdir()}

    def fail(*args, **kwargs):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(exporter, "_write_irs", fail)
    cfg, weights = cpu_weights
    with pytest.raises(RuntimeError, match="conversion failed"):
        export_model(cfg, export_copy, weights=weights, progress=False)
    assert {path.name: path.read_bytes() for path in export_copy.iterdir()} == before
    assert [p.name for p in export_copy.parent.iterdir()] == ["copy"]  # no temporary directory left behind


def test_output_dir_with_other_files_is_refused(cpu_weights, tmp_path):
    cfg, weights = cpu_weights
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="notes.txt"):
        export_model(cfg, tmp_path, weights=weights, progress=False)
    with pytest.raises(ExportError, match="onnx-only"):
        export_model(cfg, tmp_path / "new", weights=weights, precision="FP16", onnx_only=True, progress=False)


def test_tool_exports_onnx_only_and_replaces_the_export(cpu_weights, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("export_tool", REPO_ROOT / "tools" / "export.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cfg, weights = cpu_weights
    output = tmp_path / "export"
    output.mkdir()
    (output / "model.xml").write_text("stale")  # an older export's file: replaced with the whole directory
    assert tool.main(["--load-weights", str(weights), "--save-model-to", str(output), "--onnx-only",
                      "--template", str(CPU_TEMPLATE)]) == 0
    assert sorted(p.name for p in output.iterdir()) == ["export_config.yaml", "model.onnx",
                                                        "model_text_recognition_head_decoder.onnx",
                                                        "model_text_recognition_head_encoder.onnx"]
    assert "--onnx-only" in load_error(output)
    assert str(output) in capsys.readouterr().out
    with pytest.raises(SystemExit):
        tool.parse_args(["--load-weights", str(weights), "--save-model-to", str(output), "--onnx-only",
                         "--precision", "FP16", "--template", str(CPU_TEMPLATE)])


def test_work_dir_export_script_reports_bad_weights_in_one_line(tmp_path):
    from text_spotting.work_dir import instantiate_template

    work = tmp_path / "work"
    instantiate_template(CPU_TEMPLATE, work)
    assert (work / "export.py").is_file()
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    # The work dir's copy finds its template.yaml itself; run from another directory.
    done = subprocess.run([PYTHON, str(work / "export.py"), "--load-weights", str(bad), "--save-model-to", "out"],
                          cwd=tmp_path, env=run_tool_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.pth" in lines[0]
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_reference_template_exports_and_agrees(tmp_path):
    from text_spotting.inference.processing import fit_and_pad

    cfg = load_config(REFERENCE_TEMPLATE)
    cfg.model.test_cfg.rcnn.score_thr = RANDOM_MODEL_SCORE_THR
    cfg.model.roi_head.text_head.recognition_threshold = 0.0
    with torch_threads(2):
        model = random_model(cfg)
        result = export_model(cfg, tmp_path / "export", model=model, progress=False)
        spotter = ExportedSpotter(result.output_dir)
        image = cv2.imread(str(sorted((REPO_ROOT / "data" / "horizontal_text_detection" / "images").glob("*.jpg"))[0]))
        padded, _ = fit_and_pad(image, tuple(cfg.input_size))
        eager, exported = eager_outputs(model, padded), spotter(padded)
    assert result.config["template"] == "text-spotting-0003" and result.config["input_size"] == [1280, 768]
    pairs = match_detections(eager, exported, min_iou=0.99, max_shift=1.0)
    assert pairs and len(pairs) == len(eager["boxes"]) == len(exported["boxes"])
    for i, j in pairs:
        assert eager["texts"][i] == exported["texts"][j]
