"""Shipping weights: tools/release_weights.py writes a lean FP16 snapshot into a template, records its sha256, and
instantiate_template copies it (and refuses a tampered one)."""
import shutil
import subprocess

import numpy as np
import pytest
import torch
import yaml

from conftest import PYTHON, REPO_ROOT, run_tool_env
from text_spotting.inference import EagerTextSpotter
from text_spotting.templates import load_config
from text_spotting.checkpoint import atomic_save, read_checkpoint, sha256_of
from text_spotting.work_dir import WorkDirError, instantiate_template


@pytest.fixture
def templates_copy(tmp_path):
    """A copy of model_templates/ (the template's model.py reaches _base_ by a relative path)."""
    copy = tmp_path / "model_templates"
    shutil.copytree(REPO_ROOT / "model_templates", copy, ignore=shutil.ignore_patterns("*.pth"))
    for template in copy.glob("*/template.yaml"):  # start from "no weights shipped"
        text = template.read_text()
        data = yaml.safe_load(text)
        if data.get("initial_weights"):
            text = text.replace(f"initial_weights: {data['initial_weights']}", "initial_weights: null")
            text = text.replace(f"initial_weights_sha256: {data['initial_weights_sha256']}",
                                "initial_weights_sha256: null")
            template.write_text(text)
    return copy


@pytest.fixture
def training_checkpoint(tmp_path):
    """A checkpoint shaped like the trainer's: state_dict, numpy values in meta, an optimizer state."""
    torch.manual_seed(0)
    spotter = EagerTextSpotter(load_config(REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"))
    state = spotter.model.state_dict()
    path = tmp_path / "latest.pth"
    atomic_save({"state_dict": state, "meta": {"epoch": 3, "iter": 1200},
                 "optimizer": {"state": {i: {"momentum_buffer": v.float().clone()} for i, v in enumerate(
                     t for t in state.values() if t.is_floating_point())}}}, path)
    return path, state


def test_release_writes_fp16_snapshot_and_records_it(templates_copy, training_checkpoint, tmp_path):
    checkpoint, state = training_checkpoint
    template = templates_copy / "text-spotting-cpu-attention"
    result = subprocess.run([PYTHON, REPO_ROOT / "tools" / "release_weights.py", "--checkpoint", checkpoint,
                             "--template", template, "--recipe", "test"], env=run_tool_env(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    snapshot = template / "snapshot.pth"
    recorded = yaml.safe_load((template / "template.yaml").read_text())
    assert recorded["initial_weights"] == "snapshot.pth"
    assert recorded["initial_weights_sha256"] == sha256_of(snapshot)
    assert "description" in recorded and recorded["name"] == "text-spotting-cpu-attention"  # the rest of the file is kept
    # weights only, half precision: well under half of the training checkpoint
    assert snapshot.stat().st_size < 0.4 * checkpoint.stat().st_size
    saved = read_checkpoint(snapshot)
    assert set(saved) == {"state_dict", "meta"} and saved["meta"]["epoch"] == 3
    assert saved["meta"]["source_sha256"] == sha256_of(checkpoint) and saved["meta"]["recipe"] == "test"
    assert all(t.dtype == torch.float16 for t in saved["state_dict"].values() if t.is_floating_point())

    # it loads back into the FP32 model, equal up to FP16 rounding
    loaded = EagerTextSpotter(load_config(template), snapshot).model.state_dict()
    for name, tensor in state.items():
        if tensor.is_floating_point():
            np.testing.assert_allclose(loaded[name].numpy(), tensor.numpy(), rtol=1e-3, atol=1e-4, err_msg=name)

    work = instantiate_template(template, tmp_path / "work")
    assert (tmp_path / "work" / "snapshot.pth") in work
    assert sha256_of(tmp_path / "work" / "snapshot.pth") == recorded["initial_weights_sha256"]

    with open(snapshot, "ab") as file:  # a replaced / corrupted shipped file is refused by its digest
        file.write(b"x")
    with pytest.raises(WorkDirError, match="does not match"):
        instantiate_template(template, tmp_path / "work2")


def test_release_refuses_a_checkpoint_of_another_template(templates_copy, tmp_path):
    spotter = EagerTextSpotter(load_config(REPO_ROOT / "model_templates" / "text-spotting-0003"))
    other = tmp_path / "resnet.pth"
    atomic_save({"state_dict": spotter.model.state_dict(), "meta": {}}, other)
    template = templates_copy / "text-spotting-cpu-attention"
    result = subprocess.run([PYTHON, REPO_ROOT / "tools" / "release_weights.py", "--checkpoint", other,
                             "--template", template], env=run_tool_env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(other) in lines[0] and "does not fit template" in lines[0]
    assert not (template / "snapshot.pth").exists()
