"""The export directory's layout (SPEC §4) and ``export_config.yaml``: what an export writes, and the checks that an
export directory holds one consistent export before anything runs it.

Layout::

    model.xml | model.bin                                          detector IR
    model_text_recognition_head_encoder.xml | .bin                 text recognition encoder IR
    model_text_recognition_head_decoder.xml | .bin                 text recognition decoder IR (one step)
    model.onnx, model_text_recognition_head_encoder.onnx, ..._decoder.onnx   the ONNX files the IRs came from
    export_config.yaml                                             everything needed to run them

Each IR carries ``rt_info`` ``text_spotting/format = text-spotting-ir``, ``text_spotting/role`` (detector, encoder,
decoder) and ``text_spotting/export_id`` (one random id per export, also in ``export_config.yaml``), so an IR made by
another tool, a file renamed to another role, or an encoder and a decoder from two different exports are caught.
"""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import yaml

from ..training.checkpoint import sha256_of

FORMAT = "text-spotting-ir"
FORMAT_VERSION = 1
EXPORT_CONFIG_FILE = "export_config.yaml"
ROLES = ("detector", "encoder", "decoder")
IR_FILES = {"detector": "model.xml",
            "encoder": "model_text_recognition_head_encoder.xml",
            "decoder": "model_text_recognition_head_decoder.xml"}
ONNX_FILES = {role: Path(name).with_suffix(".onnx").name for role, name in IR_FILES.items()}
# Every file an export may write: an export directory holding anything else is not replaced.
EXPORT_FILES = frozenset({EXPORT_CONFIG_FILE, *IR_FILES.values(), *ONNX_FILES.values(),
                          *(Path(name).with_suffix(".bin").name for name in IR_FILES.values())})
RT_INFO_SECTION = "text_spotting"

REQUIRED_KEYS = {
    "format": str, "format_version": int, "template": str, "alphabet": str, "case_sensitive": bool,
    "max_length": int, "input_size": list, "thresholds": dict, "precision": str, "text_feature_channels": int,
    "encoder_channels": int, "decoder_hidden_size": int, "num_classes": int, "export_id": str,
    "exported_with": dict,
}


class ExportFormatError(ValueError):
    """An export directory or one of its files is missing, foreign, inconsistent or corrupted; the message (one line)
    names the file and the problem."""


def resolve_export_dir(path: str | Path) -> Path:
    """The export directory of ``path``: the directory itself, or the directory of a file in it (``model.xml``,
    ``model.bin``, ``export_config.yaml``, ...)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return path
    if path.suffix in (".xml", ".bin", ".onnx", ".yaml"):
        return path.parent
    if not path.exists():
        raise ExportFormatError(f"{path}: export directory not found")
    raise ExportFormatError(f"{path}: not an export directory or a file of one (model.xml, model.bin, "
                            f"{EXPORT_CONFIG_FILE})")


def read_ir_rt_info(xml_file: str | Path) -> dict[str, str]:
    """The ``text_spotting`` section of an IR's ``rt_info`` (``{}`` when it has none), read from the XML alone."""
    xml_file = Path(xml_file)
    try:
        root = ElementTree.parse(xml_file).getroot()
    except ElementTree.ParseError as error:
        raise ExportFormatError(f"{xml_file}: not an OpenVINO IR XML file ({error})") from None
    if root.tag != "net":
        raise ExportFormatError(f"{xml_file}: not an OpenVINO IR XML file (root element <{root.tag}>, expected <net>)")
    section = root.find(f"rt_info/{RT_INFO_SECTION}")
    if section is None:
        return {}
    return {child.tag: child.get("value", "") for child in section}


def ir_rt_info(role: str, export_id: str) -> dict[tuple[str, str], str]:
    """The rt_info entries (``(section, key) -> value``) an export writes into its ``role`` IR."""
    return {(RT_INFO_SECTION, "format"): FORMAT, (RT_INFO_SECTION, "format_version"): str(FORMAT_VERSION),
            (RT_INFO_SECTION, "role"): role, (RT_INFO_SECTION, "export_id"): export_id}


def write_export_config(directory: str | Path, config: dict[str, Any]) -> Path:
    """Writes ``export_config.yaml`` into ``directory`` (which is a temporary directory until the export is
    complete, so no partial file is ever seen at the final place)."""
    file = Path(directory) / EXPORT_CONFIG_FILE
    header = ("# Written by tools/export.py (text_spotting.export.export_model); read with\n"
              "# text_spotting.export.load_export_config. Do not edit: sha256 values guard the IR files.\n")
    file.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return file


def _check_fields(config: Any, file: Path) -> None:
    if not isinstance(config, dict):
        raise ExportFormatError(f"{file}: expected a mapping at the top level")
    if config.get("format") != FORMAT:
        raise ExportFormatError(f"{file}: field 'format': expected '{FORMAT}', got {config.get('format')!r} "
                                "(not written by tools/export.py)")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ExportFormatError(f"{file}: field 'format_version': {version!r} is not supported (this toolkit reads "
                                f"version {FORMAT_VERSION})")
    for key, kind in REQUIRED_KEYS.items():
        if key not in config:
            raise ExportFormatError(f"{file}: field '{key}' is missing")
        if not isinstance(config[key], kind) or (kind is int and isinstance(config[key], bool)):
            raise ExportFormatError(f"{file}: field '{key}' must be {kind.__name__}, got {config[key]!r}")
    size = config["input_size"]
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise ExportFormatError(f"{file}: field 'input_size' must be [width, height], got {size!r}")
    for key in ("detection", "recognition"):
        value = config["thresholds"].get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ExportFormatError(f"{file}: field 'thresholds.{key}' must be a number, got {value!r}")
    if config["precision"] not in ("FP32", "FP16"):
        raise ExportFormatError(f"{file}: field 'precision' must be FP32 or FP16, got {config['precision']!r}")


def load_export_config(path: str | Path, verify_files: bool = True) -> dict[str, Any]:
    """Reads and checks an export's ``export_config.yaml`` and the IRs it names.

    Args:
        path: the export directory, or any file in it (``model.xml``, ``model.bin``, ``export_config.yaml``).
        verify_files: also check each IR: its XML carries this export's rt_info (format, role, export_id) and its
            ``.bin`` has the recorded sha256.

    Returns:
        The config (see INTERFACES.md §6): ``format``, ``format_version``, ``template``, ``alphabet``,
        ``case_sensitive``, ``max_length``, ``input_size`` [w, h], ``thresholds`` {detection, recognition},
        ``precision``, ``source_weights_sha256``, ``text_feature_channels``, ``encoder_channels``,
        ``decoder_hidden_size``, ``num_classes``, ``files`` / ``files_sha256`` {detector, encoder, decoder},
        ``onnx_files``, ``export_id``, ``exported_with``. IR paths are ``resolve_export_dir(path) / files[role]``.

    Raises:
        ExportFormatError: one line naming the file and the problem (missing file, bad YAML, an IR from another tool
            or another export, a ``.bin`` whose sha256 differs, an export made with ``--onnx-only``).
    """
    directory = resolve_export_dir(path)
    file = directory / EXPORT_CONFIG_FILE
    if not directory.is_dir():
        raise ExportFormatError(f"{directory}: export directory not found")
    if not file.is_file():
        raise ExportFormatError(f"{directory}: no {EXPORT_CONFIG_FILE} here (not an export made by tools/export.py)")
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportFormatError(f"{file}: not valid YAML ({reason})") from None
    _check_fields(config, file)
    files = config.get("files")
    if files is None:
        raise ExportFormatError(f"{file}: this export has no OpenVINO IR (made with --onnx-only); run export.py "
                                "without --onnx-only")
    hashes = config.get("files_sha256")
    for field, value in (("files", files), ("files_sha256", hashes)):
        if not isinstance(value, dict) or sorted(value) != sorted(ROLES):
            raise ExportFormatError(f"{file}: field '{field}' must map {', '.join(ROLES)} to "
                                    f"{'file names' if field == 'files' else 'sha256 values'}, got {value!r}")
    for role in ROLES:
        xml_file = directory / str(files[role])
        bin_file = xml_file.with_suffix(".bin")
        for needed in (xml_file, bin_file):
            if not needed.is_file():
                raise ExportFormatError(f"{needed}: file missing ({role} IR named in {file.name})")
        if not verify_files:
            continue
        info = read_ir_rt_info(xml_file)
        if info.get("format") != FORMAT:
            raise ExportFormatError(f"{xml_file}: not a text_spotting IR (rt_info has no {RT_INFO_SECTION}/format="
                                    f"{FORMAT}; made by another tool?)")
        if info.get("role") != role:
            raise ExportFormatError(f"{xml_file}: is the {info.get('role')!r} IR, but {file.name} names it as the "
                                    f"{role}")
        if info.get("export_id") != config["export_id"]:
            raise ExportFormatError(f"{xml_file}: comes from another export (export_id {info.get('export_id')}, "
                                    f"{file.name} says {config['export_id']}); re-export the whole directory")
        actual = sha256_of(bin_file)
        if actual != hashes[role]:
            raise ExportFormatError(f"{bin_file}: sha256 {actual[:16]}... does not match {file.name} "
                                    f"({str(hashes[role])[:16]}...): replaced or corrupted")
    return config
