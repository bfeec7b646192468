"""Instantiating a model template into a self-contained work dir (``tools/instantiate_template.py``)."""
from __future__ import annotations

import shutil
from pathlib import Path

from .templates import CONFIG_FILE, TEMPLATE_FILE, find_template_dir, load_config, load_template
from .checkpoint import sha256_of

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = REPO_ROOT / "tools"
# The per-model scripts a work dir gets (SPEC §3); each finds template.yaml next to itself.
WORK_DIR_SCRIPTS = ("train.py", "eval.py", "export.py", "visualize.py")
SNAPSHOT = "snapshot.pth"
# Licence files a template ships beside weights derived from someone else's (they travel with the weights).
LICENCE_FILES = ("NOTICE", "LICENSE-weights")


class WorkDirError(ValueError):
    """The work dir can't be made; the message says why."""


def instantiate_template(template: str | Path, work_dir: str | Path, force: bool = False) -> list[Path]:
    """Writes template.yaml, model.py (resolved config), the scripts, snapshot.pth and the template's licence files
    (``NOTICE``, ``LICENSE-weights``) into ``work_dir``.

    Returns the written paths. Refuses a non-empty ``work_dir`` unless ``force``.
    """
    template_dir = find_template_dir(template)
    work_dir = Path(work_dir).expanduser().resolve()
    if work_dir.exists() and not work_dir.is_dir():
        raise WorkDirError(f"{work_dir}: exists and is not a directory")
    if work_dir.is_dir() and any(work_dir.iterdir()) and not force:
        raise WorkDirError(f"{work_dir}: not empty (pass --force to overwrite its files)")
    template_data = load_template(template_dir)
    cfg = load_config(template_dir)
    cfg.pop("template", None)  # template.yaml sits next to model.py and is re-applied on load

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
    header = (f"# Full config of template '{template_data['name']}' (made by tools/instantiate_template.py from\n"
              f"# {template_dir / CONFIG_FILE}). template.yaml next to it is applied on top when loaded.\n")
    (work_dir / CONFIG_FILE).write_text(header + cfg.pretty_text, encoding="utf-8")
    written.append(work_dir / CONFIG_FILE)
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
