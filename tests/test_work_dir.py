"""Work dirs (tools/instantiate_template.py): model.py inherits the template's config instead of a full copy."""
from pathlib import Path

import pytest
import yaml

from text_spotting.templates import CONFIG_FILE, load_config
from text_spotting.work_dir import BASE_DIR, WORK_DIR_SCRIPTS, WorkDirError, instantiate_template

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted(p for p in (REPO_ROOT / "model_templates").iterdir() if (p / "template.yaml").is_file())


@pytest.mark.parametrize("template_dir", TEMPLATES, ids=lambda p: p.name)
def test_work_dir_config_inherits_the_template_and_resolves_to_the_same(template_dir, tmp_path):
    instantiate_template(template_dir, tmp_path / "work")
    work = tmp_path / "work"
    text = (work / CONFIG_FILE).read_text()
    code = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert code == [f"_base_ = ['{BASE_DIR}/{template_dir.name}.py']"]
    assert (work / BASE_DIR / f"{template_dir.name}.py").read_bytes() == (template_dir / CONFIG_FILE).read_bytes()
    assert load_config(work).pretty_text == load_config(template_dir).pretty_text
    for script in WORK_DIR_SCRIPTS:
        assert (work / script).is_file(), script


def test_overrides_in_model_py_apply_and_template_yaml_stays_the_one_source(tmp_path):
    work = tmp_path / "work"
    instantiate_template(REPO_ROOT / "model_templates" / "text-spotting-cpu", work)
    with open(work / CONFIG_FILE, "a") as config:
        config.write("model = dict(rpn_head=dict(anchor_generator=dict(ratios=[0.1, 0.2, 0.5])))\n")
    template = yaml.safe_load((work / "template.yaml").read_text())
    template["input_size"] = [640, 384]
    (work / "template.yaml").write_text(yaml.safe_dump(template))
    cfg = load_config(work)
    assert cfg.model.rpn_head.anchor_generator.ratios == [0.1, 0.2, 0.5]
    assert cfg.model.rpn_head.anchor_generator.strides == [4, 8, 16, 32, 64]  # the rest of the dict is inherited
    assert tuple(cfg.input_size) == (640, 384)
    assert load_config(REPO_ROOT / "model_templates" / "text-spotting-cpu").model.rpn_head.anchor_generator.ratios \
        == [0.2, 0.5, 1.0]


def test_a_template_inheriting_from_outside_the_shared_bases_is_refused(tmp_path):
    source = REPO_ROOT / "model_templates" / "text-spotting-cpu"
    templates = tmp_path / "model_templates"
    (templates / "_base_").mkdir(parents=True)
    (templates / "_base_" / "text_spotter.py").write_bytes((REPO_ROOT / "model_templates" / "_base_" /
                                                            "text_spotter.py").read_bytes())
    (templates / "parent").mkdir()
    (templates / "parent" / "model.py").write_bytes((source / "model.py").read_bytes())
    (templates / "child").mkdir()
    (templates / "child" / "model.py").write_text("_base_ = ['../parent/model.py']\n")
    template = yaml.safe_load((source / "template.yaml").read_text())
    template["name"] = "child"
    template.pop("initial_weights", None)
    template.pop("initial_weights_sha256", None)
    (templates / "child" / "template.yaml").write_text(yaml.safe_dump(template))
    with pytest.raises(WorkDirError, match="inherit from a file outside"):
        instantiate_template(templates / "child", tmp_path / "work")
