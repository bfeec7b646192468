"""Model templates: both build, train one step (losses) and predict at a small input size; template.yaml handling."""
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from text_spotting import register_all_modules
from text_spotting.templates import (CONFIG_FILE, TemplateError, apply_template, load_config, load_template,
                                     record_model_stats, replace_top_level_block)

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted(p for p in (REPO_ROOT / "model_templates").iterdir() if (p / "template.yaml").is_file())
SMALL_INPUT = [256, 160]


def test_both_reference_templates_exist():
    assert {p.name for p in TEMPLATES} >= {"text-spotting-0003", "text-spotting-cpu-attention"}


@pytest.mark.parametrize("template_dir", TEMPLATES, ids=lambda p: p.name)
def test_template_trains_one_step_and_predicts(template_dir, bundled_data):
    from mmdet.registry import DATASETS, MODELS

    register_all_modules()
    template = load_template(template_dir)
    template["input_size"] = SMALL_INPUT
    if "crop_size" in template["training"]:
        template["training"]["crop_size"] = list(SMALL_INPUT)
    template["training"]["frozen_modules"] = []  # every part trains here, so every part must get a gradient
    cfg = apply_template(Config.fromfile(str(template_dir / CONFIG_FILE)), template)
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg.update(ann_file=str(bundled_data / "annotation.json"), data_root=str(bundled_data))
    dataset = DATASETS.build(dataset_cfg)
    torch.manual_seed(0)
    np.random.seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    batch = pseudo_collate([dataset[0], dataset[1]])
    data = model.data_preprocessor(batch, True)
    assert tuple(data["inputs"].shape[2:]) == (SMALL_INPUT[1], SMALL_INPUT[0])
    model.train()
    losses = model.loss(data["inputs"], data["data_samples"])
    for key in ("loss_rpn_cls", "loss_cls", "loss_bbox", "loss_mask", "loss_text"):
        assert key in losses
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    classifier = model.text_recognizer.recognizer.classifier if model.recognizer_kind == "ctc" \
        else model.roi_head.text_head.decoder.classifier
    assert classifier.weight.grad is not None

    model.eval()
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # keep the untrained model's detections
    model.test_cfg.rcnn.score_thr = 0.0
    test_cfg = cfg.test_dataloader.dataset.copy()
    test_cfg.update(ann_file=str(bundled_data / "annotation.json"), data_root=str(bundled_data))
    test_set = DATASETS.build(test_cfg)
    with torch.no_grad():
        sample = model.test_step(pseudo_collate([test_set[0]]))[0]
    pred = sample.pred_instances
    n = len(pred)
    assert n > 0
    assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n,)
    assert pred.masks.shape[1:] == tuple(sample.metainfo["ori_shape"])
    assert len(pred.texts) == n and pred.text_scores.shape == (n,)
    assert set("".join(pred.texts)) <= set(template["alphabet"])


def test_template_values_reach_the_config():
    cfg = load_config(REPO_ROOT / "model_templates" / "text-spotting-cpu-attention")
    template = cfg.template
    assert cfg.model.roi_head.text_head.alphabet == template["alphabet"]
    assert cfg.model.roi_head.text_head.max_length == template["max_length"]
    assert cfg.model.test_cfg.rcnn.score_thr == template["thresholds"]["detection"]
    resizes = [t for t in cfg.train_pipeline + cfg.test_pipeline if t["type"] == "FixShapeResize"]
    assert resizes and all([t["width"], t["height"]] == template["input_size"] for t in resizes)
    assert cfg.train_cfg.max_epochs == template["training"]["epochs"]
    assert cfg.optim_wrapper.optimizer.lr == template["training"]["base_learning_rate"]


def test_bad_template_is_one_clear_line(tmp_path):
    (tmp_path / "model.py").write_text("_base_ = []\n")
    (tmp_path / "template.yaml").write_text("name: x\ninput_size: [640, 380]\n")
    with pytest.raises(TemplateError, match="field 'alphabet' is missing"):
        load_template(tmp_path)
    (tmp_path / "template.yaml").write_text(
        "name: x\ninput_size: [640, 380]\nalphabet: ab\nmax_length: 4\nthresholds: {detection: 0.5, recognition: 0.5}"
        "\ntraining: {batch_size: 1, base_learning_rate: 0.1, epochs: 1}\n")
    with pytest.raises(TemplateError, match=r"template.yaml: field 'input_size': 640x380 must be multiples of 32"):
        load_template(tmp_path)


def test_replace_top_level_block_keeps_everything_else():
    text = "# a comment\nname: x  # why\nmetrics: {}\n# after\nother:\n  a: 1\n"
    out = replace_top_level_block(text, "metrics", {"dev": {"detection": 0.5}})
    assert out == "# a comment\nname: x  # why\nmetrics:\n  dev:\n    detection: 0.5\n# after\nother:\n  a: 1\n"
    appended = replace_top_level_block("name: x\n", "model_stats", {"mparams": 1.5})
    assert yaml.safe_load(appended) == {"name": "x", "model_stats": {"mparams": 1.5}}


def test_record_model_stats_rewrites_only_that_block(tmp_path):
    source = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"
    for name in ("template.yaml", "model.py"):
        (tmp_path / name).write_text((source / name).read_text())
    before = (tmp_path / "template.yaml").read_text()
    record_model_stats(tmp_path, {"mparams": 3.7, "gflops": 8.8, "input_size": [640, 384]})
    after = (tmp_path / "template.yaml").read_text()
    assert load_template(tmp_path)["model_stats"] == {"mparams": 3.7, "gflops": 8.8, "gflops_input_size": [640, 384]}
    lines = before.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("model_stats:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    assert after.splitlines()[:start] == lines[:start]
    assert after.splitlines()[-(len(lines) - end):] == lines[end:]
