"""Instantiating a model template into a self-contained work dir (``tools/instantiate_template.py``)."""
from __future__ import annotations

import shutil
from pathlib import Path

from .templates import CONFIG_FILE, TEMPLATE_FILE, TemplateError, find_template_dir, load_config, load_template
from .checkpoint import sha256_of

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = REPO_ROOT / "tools"
# The per-model scripts a work dir gets (SPEC §3, plus threshold tuning and recognizer training); each finds
# template.yaml next to itself.
WORK_DIR_SCRIPTS = ("train.py", "eval.py", "export.py", "visualize.py", "tune_thresholds.py", "train_recognizer.py")
#: Where a work dir keeps the configs its model.py inherits: the template's model.py (as ``<template name>.py``)
#: beside the shared bases it names as ``../_base_/<file>``, so the same relative paths resolve in the work dir.
BASE_DIR = "_base_"
TEMPLATES_BASE_DIR = REPO_ROOT / "model_templates" / BASE_DIR
SNAPSHOT = "snapshot.pth"
# Licence files a template ships beside weights derived from someone else's (they travel with the weights).
LICENCE_FILES = ("NOTICE", "LICENSE-weights")


def work_dir_config(template_name: str, template_dir: Path) -> str:
    """The text of a new work dir's ``model.py``: inherit the template's config, override below."""
    return (f"# Config of this work dir, made by tools/instantiate_template.py from template '{template_name}'.\n"
            f"# It inherits the template's config ({BASE_DIR}/{template_name}.py, a copy of\n"
            f"# {template_dir / CONFIG_FILE}); template.yaml next to this file is applied on top when it is loaded\n"
            "# (input size, alphabet, thresholds, schedule: change those there). Add your changes below as\n"
            "# overrides of the inherited dicts, e.g.\n"
            "#   model = dict(rpn_head=dict(anchor_generator=dict(ratios=[0.1, 0.2, 0.5])))\n"
            f"_base_ = ['{BASE_DIR}/{template_name}.py']\n")


class WorkDirError(ValueError):
    """The work dir can't be made; the message says why."""


def _resolved(directory: Path) -> str:
    """The config of a template or work dir as text, template.yaml applied (what training and export read)."""
    return load_config(directory).pretty_text


def instantiate_template(template: str | Path, work_dir: str | Path, force: bool = False) -> list[Path]:
    """Writes template.yaml, model.py, ``_base_/`` (the configs model.py inherits), the scripts, snapshot.pth and
    the template's licence files (``NOTICE``, ``LICENSE-weights``) into ``work_dir``.

    ``model.py`` holds only ``_base_ = ['_base_/<template name>.py']`` and room for the user's overrides: the
    template's own config is a copy under ``_base_/``, and template.yaml is applied on top when the config is loaded
    (``templates.load_config``), so each value lives in one place.

    Returns the written paths. Refuses a non-empty ``work_dir`` unless ``force``.
    """
    template_dir = find_template_dir(template)
    work_dir = Path(work_dir).expanduser().resolve()
    if work_dir.exists() and not work_dir.is_dir():
        raise WorkDirError(f"{work_dir}: exists and is not a directory")
    if work_dir.is_dir() and any(work_dir.iterdir()) and not force:
        raise WorkDirError(f"{work_dir}: not empty (pass --force to overwrite its files)")
    template_data = load_template(template_dir)
    template_config = _resolved(template_dir)  # a template whose config does not load makes no work dir
    base_config = f"{template_data['name']}.py"

    weights = template_data.get("initial_weights")
    if weights:
        source = (template_dir / weights).resolve()
        if not source.is_file():
            raise WorkDirError(f"{template_dir / TEMPLATE_FILE}: initial_weights '{weights}' not found at {source}")
        expected = template_data.get("initial_weights_sha256")
        actual = sha256_of(source)
        if expected and actual != expected:
            raise WorkDirError(f"{source}: sha256 {actual} does not match template.yaml's {expected} "
                               "(corrupted or replaced weights file)")

    work_dir.mkdir(parents=True, exist_ok=True)
    written = []
    shutil.copyfile(template_dir / TEMPLATE_FILE, work_dir / TEMPLATE_FILE)
    written.append(work_dir / TEMPLATE_FILE)
    base_dir = work_dir / BASE_DIR
    base_dir.mkdir(exist_ok=True)
    for shared in sorted(TEMPLATES_BASE_DIR.glob("*.py")):
        shutil.copyfile(shared, base_dir / shared.name)
    shutil.copyfile(template_dir / CONFIG_FILE, base_dir / base_config)
    written.append(base_dir)
    (work_dir / CONFIG_FILE).write_text(work_dir_config(template_data["name"], template_dir), encoding="utf-8")
    written.append(work_dir / CONFIG_FILE)
    try:
        resolved = _resolved(work_dir)
    except TemplateError:
        resolved = None
    if resolved != template_config:  # e.g. a template config inheriting from a file outside model_templates/_base_
        raise WorkDirError(f"{work_dir / CONFIG_FILE}: does not resolve to the config of {template_dir / CONFIG_FILE} "
                           f"(does that config inherit from a file outside {TEMPLATES_BASE_DIR}?)")
    for script in WORK_DIR_SCRIPTS:
        if (SCRIPTS_DIR / script).is_file():
            shutil.copyfile(SCRIPTS_DIR / script, work_dir / script)
            (work_dir / script).chmod(0o755)
            written.append(work_dir / script)
    if weights:
        shutil.copyfile(source, work_dir / SNAPSHOT)
        written.append(work_dir / SNAPSHOT)
    for name in LICENCE_FILES:
        if (template_dir / name).is_file():
            shutil.copyfile(template_dir / name, work_dir / name)
            written.append(work_dir / name)
    return written
