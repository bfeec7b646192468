"""One entry point for any trained model file: a PyTorch checkpoint or an exported OpenVINO IR."""
from __future__ import annotations

from pathlib import Path

from ..export import EXPORT_CONFIG_FILE as CONFIG_FILE
from ..templates import TEMPLATE_FILE, TemplateError, load_config
from ..checkpoint import CheckpointError, read_checkpoint
from .eager import EagerTextSpotter
from .errors import InferenceError
from .openvino_spotter import OpenVINOTextSpotter

#: The repository's templates, where a checkpoint's recorded template name is looked up.
REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "model_templates"
CHECKPOINT_SUFFIXES = (".pth", ".pt")
#: How many parent folders of a checkpoint are searched for a work dir's template.yaml (work_dir/outputs/ckpt/x.pth).
WORK_DIR_DEPTH = 3


def is_openvino_export(path: str | Path) -> bool:
    """Whether ``path`` names an exported IR (an ``.xml`` / ``.bin`` file or a folder with ``export_config.yaml``)
    rather than a checkpoint."""
    path = Path(path).expanduser()
    return path.suffix in (".xml", ".bin") or (path.is_dir() and (path / CONFIG_FILE).is_file())


def load_text_spotter(weights: str | Path, template: str | Path | None = None, device: str = "CPU", *,
                      num_threads: int | None = None,
                      num_requests: int = 1) -> EagerTextSpotter | OpenVINOTextSpotter:
    """The text spotter for a model file, chosen by what the file is.

    Args:
        weights: an export dir (with ``export_config.yaml``), its ``model.xml`` or ``model.bin`` -> an
            ``OpenVINOTextSpotter``; a ``.pth`` checkpoint -> an ``EagerTextSpotter``.
        template: template or work dir for a checkpoint. Default: the first ``template.yaml`` found in the
            checkpoint's folder or up to three folders above it (a work dir), else the repository template named in
            the checkpoint's meta. Ignored for an IR, which carries its own settings.
        device: ``CPU`` (or any OpenVINO device for an IR; torch device names work for a checkpoint).
        num_threads, num_requests: OpenVINO settings for an IR (see ``OpenVINOTextSpotter``).

    Raises:
        InferenceError: one line naming the file, for a missing, unknown or broken model file or template.
    """
    path = Path(weights).expanduser()
    if is_openvino_export(path):
        return OpenVINOTextSpotter(path, device=device, num_threads=num_threads, num_requests=num_requests)
    if path.is_dir():
        raise InferenceError(f"{path}: a folder without {CONFIG_FILE}: expected an export dir, model.xml, model.bin "
                             f"or a .pth checkpoint")
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise InferenceError(f"{path}: unknown model file type {path.suffix or '(no suffix)'!r}: expected a .pth "
                             f"checkpoint, an export dir, model.xml or model.bin")
    if not path.is_file():
        raise InferenceError(f"{path}: file not found")
    try:
        cfg = load_config(template if template is not None else template_of_checkpoint(path))
        return EagerTextSpotter(cfg, path, device=_torch_device(device))
    except (CheckpointError, TemplateError) as error:
        raise InferenceError(str(error)) from None


def template_of_checkpoint(checkpoint: str | Path) -> Path:
    """The template dir a checkpoint belongs to: a work dir above it, else the repository template it names.

    Raises ``InferenceError`` when neither is found and ``CheckpointError`` when the file can't be read.
    """
    checkpoint = Path(checkpoint).resolve()
    for directory in list(checkpoint.parents)[:WORK_DIR_DEPTH + 1]:
        if (directory / TEMPLATE_FILE).is_file():
            return directory
    recorded = read_checkpoint(checkpoint).get("meta", {}).get("template")
    name = recorded.get("name") if isinstance(recorded, dict) else recorded
    if isinstance(name, str) and (REPO_TEMPLATES / name / TEMPLATE_FILE).is_file():
        return REPO_TEMPLATES / name
    found = f"names template {name!r}, which is not in {REPO_TEMPLATES}" if name else "records no template"
    raise InferenceError(f"{checkpoint}: no {TEMPLATE_FILE} in its folder or above it and the checkpoint {found}: "
                         f"pass the template (e.g. model_templates/text-spotting-cpu)")


def _torch_device(device: str) -> str:
    return "cpu" if device.upper() == "CPU" else device
