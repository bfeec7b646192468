"""An export folder with a missing, truncated or mismatched ``.bin`` / ``.xml`` / ``export_config.yaml``: eval.py,
visualize.py and demo.py each say so in one line (``error: ...``, exit code 2), naming the file, without a traceback.

A small model is exported once for the module; each case damages a copy. The suite runs six damages through one tool
each (every tool twice); each expects its own message, so a tool that fails for another reason fails the test. The whole
matrix (README, Reliability):

    TS_IR_DAMAGE_MATRIX=1 venv/bin/python -m pytest tests/test_broken_ir_tools.py
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BUNDLED_DATA, PYTHON, REPO_ROOT, run_tool_env, torch_threads

pytest.importorskip("openvino")

TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"
ENCODER = "model_text_recognition_head_encoder"
DECODER = "model_text_recognition_head_decoder"


def damage_missing_bin(export: Path) -> str:
    (export / "model.bin").unlink()
    return "model.bin: file missing"


def damage_truncated_bin(export: Path) -> str:
    data = (export / f"{ENCODER}.bin").read_bytes()
    (export / f"{ENCODER}.bin").write_bytes(data[:len(data) // 3])
    return f"{ENCODER}.bin: sha256"


def damage_truncated_xml(export: Path) -> str:
    data = (export / f"{DECODER}.xml").read_bytes()
    (export / f"{DECODER}.xml").write_bytes(data[:len(data) // 2])
    return f"{DECODER}.xml: not an OpenVINO IR XML file"


def damage_xml_of_another_export(export: Path) -> str:
    xml = export / f"{DECODER}.xml"
    text = xml.read_text(encoding="utf-8")
    xml.write_text(re.sub(r'(<export_id value=")[0-9a-f]+', r"\g<1>" + "f" * 32, text), encoding="utf-8")
    return f"{DECODER}.xml: comes from another export"


def damage_xml_graph(export: Path) -> str:
    """The detector's graph broken while its rt_info (what the export checks read) stays intact."""
    xml = export / "model.xml"
    text = xml.read_text(encoding="utf-8")
    xml.write_text(text.replace('<edge from-layer="', '<edge from-layer="9', 1), encoding="utf-8")
    return "model.xml: cannot be read as an OpenVINO IR"


def damage_config_input_size(export: Path) -> str:
    config = export / "export_config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"input_size:\n- \d+", "input_size:\n- 320", text), encoding="utf-8")
    return "model.xml: input 'image' has shape"


def damage_config_alphabet(export: Path) -> str:
    config = export / "export_config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^alphabet: .*$", "alphabet: abc", text), encoding="utf-8")
    return "export_config.yaml: field 'num_classes'"


def damage_missing_config(export: Path) -> str:
    (export / "export_config.yaml").unlink()
    return "export_config.yaml"  # "no export_config.yaml here", or for a folder: "a folder without export_config.yaml"


DAMAGES = {fn.__name__.removeprefix("damage_"): fn for fn in (
    damage_missing_bin, damage_truncated_bin, damage_truncated_xml, damage_xml_of_another_export, damage_xml_graph,
    damage_config_input_size, damage_config_alphabet, damage_missing_config)}
TOOLS = ("eval", "visualize", "demo")
# The suite's cases: six damages, each tool twice. The other two (an .xml of another export, no export_config.yaml)
# are checked at the loader in test_export.py, and through every tool by the matrix.
SUITE_CASES = [("missing_bin", "eval"), ("truncated_bin", "visualize"), ("truncated_xml", "demo"),
               ("xml_graph", "eval"), ("config_input_size", "visualize"), ("config_alphabet", "demo")]
CASES = ([(damage, tool) for damage in DAMAGES for tool in TOOLS] if os.environ.get("TS_IR_DAMAGE_MATRIX")
         else SUITE_CASES)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """The CPU template's model with random weights at 160x96, exported to an IR folder; and a 1-image set."""
    from text_spotting.export import export_model
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.templates import TEMPLATE_FILE, load_config, replace_top_level_block
    from text_spotting.checkpoint import atomic_save
    from text_spotting.work_dir import instantiate_template

    root = tmp_path_factory.mktemp("broken_ir")
    work = root / "work"
    instantiate_template(TEMPLATE, work, force=True)
    template_file = work / TEMPLATE_FILE
    template_file.write_text(replace_top_level_block(template_file.read_text(), "input_size", [160, 96]))
    with torch_threads(2):
        cfg = load_config(work)
        atomic_save({"state_dict": EagerTextSpotter(cfg).model.state_dict(), "meta": {}}, root / "random.pth")
        export_model(cfg, root / "export", weights=root / "random.pth", progress=False)
    coco = json.loads((BUNDLED_DATA / "annotation.json").read_text())
    image = coco["images"][0]
    subset = dict(coco, images=[image], annotations=[a for a in coco["annotations"] if a["image_id"] == image["id"]])
    (root / "one.json").write_text(json.dumps(subset))
    return root


def tool_command(tool: str, export: Path, root: Path, out: Path) -> list[str]:
    image = BUNDLED_DATA / json.loads((root / "one.json").read_text())["images"][0]["file_name"]
    script = str(REPO_ROOT / "tools" / f"{tool}.py")
    if tool == "eval":
        return [PYTHON, script, "--load-weights", str(export / "model.xml"), "--test-ann-files",
                str(root / "one.json"), "--test-data-roots", str(BUNDLED_DATA)]
    if tool == "visualize":
        return [PYTHON, script, "--load-weights", str(export / "model.bin"), "--images", str(image), "--no-show",
                "--output", str(out), "--no-progress"]
    return [PYTHON, script, "--load-weights", str(export), "--images", str(image), "--output", str(out)]


@pytest.mark.parametrize("damage, tool", CASES, ids=[f"{damage}-{tool}" for damage, tool in CASES])
def test_broken_export_is_one_clear_line(exported, tmp_path, damage, tool):
    export = tmp_path / "export"
    shutil.copytree(exported / "export", export)
    expected = DAMAGES[damage](export)
    env = run_tool_env()
    env["OMP_NUM_THREADS"] = "1"
    completed = subprocess.run(tool_command(tool, export, exported, tmp_path / "out"), cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300)
    lines = completed.stderr.strip().splitlines()
    assert completed.returncode == 2 and len(lines) == 1, (completed.returncode, completed.stderr[-3000:])
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert str(export) in lines[0]

