"""README's commands for the ctc template, end to end on bundled images: import the text-pretrained weights, make a work
dir, train two steps, evaluate the checkpoint (the imported recognizer reads the bundled words from their ground-truth
quads before any training of it), export it and evaluate the IR."""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from conftest import CTC_TEMPLATE, PYTHON, REPO_ROOT, run_tool_env

NUM_IMAGES = 3


def run(args, cwd, **kwargs):
    result = subprocess.run([PYTHON, *map(str, args)], cwd=cwd, env=run_tool_env(), capture_output=True, text=True,
                            timeout=600, **kwargs)
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def subset(bundled_data, tmp_path_factory):
    """The first bundled images' annotation (the images stay in the bundled folder)."""
    annotation = json.loads((bundled_data / "annotation.json").read_text())
    images = annotation["images"][:NUM_IMAGES]
    ids = {image["id"] for image in images}
    annotation.update(images=images, annotations=[a for a in annotation["annotations"] if a["image_id"] in ids])
    path = tmp_path_factory.mktemp("subset") / "annotation.json"
    path.write_text(json.dumps(annotation))
    return path


@pytest.mark.slow
def test_readme_workflow_for_the_ctc_template(rapidocr_wheel, bundled_data, subset, tmp_path):
    template = REPO_ROOT / "model_templates" / CTC_TEMPLATE
    imported = tmp_path / "imported.pth"
    printed = run(["tools/import_pretrained.py", "--source", rapidocr_wheel, "--template", template / "template.yaml",
                   "--output", imported], REPO_ROOT).stdout
    assert "96 classes" in printed and imported.is_file()

    work = tmp_path / "work"
    run(["tools/instantiate_template.py", template / "template.yaml", work], REPO_ROOT)
    assert (work / "NOTICE").is_file() and (work / "LICENSE-weights").is_file()

    data = ["--test-ann-files", subset, "--test-data-roots", bundled_data]
    run(["train.py", "--train-ann-files", subset, "--train-data-roots", bundled_data, "--load-weights", imported,
         "--save-checkpoints-to", work / "outputs", "--epochs", 1, "--batch-size", 2, "--workers", 0], work)
    checkpoint = work / "outputs" / "latest.pth"
    assert checkpoint.is_file()

    run(["eval.py", "--load-weights", checkpoint, *data, "--save-metrics-to", work / "pth.yaml"], work)
    pth = yaml.safe_load((work / "pth.yaml").read_text())
    # the imported recognizer, frozen by the template, reads the generated words from their ground-truth quads
    assert pth["recognition"]["accuracy"] >= 0.8, pth["recognition"]
    assert pth["model"]["format"] == "pytorch" and pth["counts"]["images"] == NUM_IMAGES

    run(["export.py", "--load-weights", checkpoint, "--save-model-to", work / "export"], work)
    config = yaml.safe_load((work / "export" / "export_config.yaml").read_text())
    assert config["recognizer_kind"] == "ctc" and (work / "export" / "model_text_recognizer.xml").is_file()

    run(["eval.py", "--load-weights", work / "export" / "model.xml", *data, "--save-metrics-to", work / "ir.yaml"], work)
    ir = yaml.safe_load((work / "ir.yaml").read_text())
    assert ir["model"]["format"] == "openvino"
    for mode in ("detection", "word_spotting"):
        assert abs(ir[mode]["hmean"] - pth[mode]["hmean"]) <= 0.05, (mode, ir[mode], pth[mode])
    # the IR's recognizer reads the same ground-truth words (cut from the image it was given) as the checkpoint's
    assert "recognition" in ir and "not_available" not in ir
    assert abs(ir["recognition"]["accuracy"] - pth["recognition"]["accuracy"]) <= 0.05, (ir, pth)
