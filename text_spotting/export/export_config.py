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

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import yaml

from ..messages import short_repr as _short
from ..checkpoint import sha256_of
from ..values import is_finite_number as _is_number, is_int as _is_int

FORMAT = "text-spotting-ir"
FORMAT_VERSION = 1
EXPORT_CONFIG_FILE = "export_config.yaml"
ROLES = ("detector", "encoder", "decoder")  # the IRs of an attention-kind export
#: The IRs of an export by recognizer kind (``recognizer_kind`` in export_config.yaml; older exports are attention).
KIND_ROLES = {"attention": ROLES, "ctc": ("detector", "recognizer")}
IR_FILES = {"detector": "model.xml",
            "encoder": "model_text_recognition_head_encoder.xml",
            "decoder": "model_text_recognition_head_decoder.xml",
            "recognizer": "model_text_recognizer.xml"}
ONNX_FILES = {role: Path(name).with_suffix(".onnx").name for role, name in IR_FILES.items()}
# Every file an export may write: an export directory holding anything else is not replaced.
EXPORT_FILES = frozenset({EXPORT_CONFIG_FILE, *IR_FILES.values(), *ONNX_FILES.values(),
                          *(Path(name).with_suffix(".bin").name for name in IR_FILES.values())})
RT_INFO_SECTION = "text_spotting"
#: What ``precision`` may say: the weights' storage (FP32, FP16) or NNCF's 8-bit quantization (INT8).
IR_PRECISIONS = ("FP32", "FP16", "INT8")

REQUIRED_KEYS = {
    "format": str, "format_version": int, "template": str, "alphabet": str, "case_sensitive": bool,
    "input_size": list, "thresholds": dict, "precision": str, "export_id": str, "exported_with": dict,
}
#: What each recognizer kind adds to ``REQUIRED_KEYS``.
KIND_REQUIRED_KEYS = {
    "attention": {"max_length": int, "text_feature_channels": int, "encoder_channels": int,
                  "decoder_hidden_size": int, "num_classes": int},
    "ctc": {"num_classes": int, "crop": dict},
}
KIND_KEYS = {kind: tuple(keys) for kind, keys in KIND_REQUIRED_KEYS.items()}
#: Classes a recognizer has besides the alphabet's characters: SOS and EOS (attention), the blank (ctc).
CLASSES_BEYOND_ALPHABET = {"attention": 2, "ctc": 1}
CROP_KEYS = ("height", "min_width", "max_width", "width_stride", "vertical_ratio")
#: How the IRs are shaped (``layout`` in export_config.yaml; older exports are dynamic). ``dynamic``: N words in one
#: call, what our runtime runs. ``omz``: exactly Open Model Zoo's text-spotting-0005 (attention kind only): batch-1
#: encoder and decoder, labels 1-based (0 = background), the alphabet in OMZ's order where the model's characters allow.
LAYOUTS = ("dynamic", "omz")
#: Open Model Zoo text_spotting_demo's default ``--alphabet`` without its two placeholders for SOS and EOS.
OMZ_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
#: The demo's ``MAX_SEQ_LEN``: it reads at most this many decoder steps per word.
OMZ_MAX_STEPS = 28


def recognizer_kind(config: dict) -> str:
    """The export's recognizer kind (``attention`` for exports written before the ctc kind existed)."""
    return config.get("recognizer_kind", "attention")


def export_layout(config: dict) -> str:
    """The export's layout (``dynamic`` for exports written before ``--layout omz`` existed)."""
    return config.get("layout", "dynamic")


def omz_demo_arguments(export_dir: str | Path, config: dict) -> list[str]:
    """The arguments that make Open Model Zoo's ``text_spotting_demo.py`` read an omz-layout export as our runtime
    does: its three IRs, our thresholds (its defaults are 0.5 and 0.5) and, for an alphabet other than its default,
    ``-a`` with two placeholder characters for SOS and EOS in front. ``--keep_aspect_ratio``: the demo otherwise
    stretches the image to the input size, where we resize keeping the aspect ratio and pad bottom/right."""
    directory = Path(export_dir)
    files = config["files"]
    arguments = ["-m_m", str(directory / files["detector"]), "-m_te", str(directory / files["encoder"]),
                 "-m_td", str(directory / files["decoder"]), "--keep_aspect_ratio",
                 "-pt", str(config["thresholds"]["detection"]), "-trt", str(config["thresholds"]["recognition"])]
    if config["alphabet"] != OMZ_ALPHABET:
        arguments += ["-a", "  " + config["alphabet"]]
    return arguments


_SHA256 = re.compile("[0-9a-f]{64}")


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
    except (LookupError, ValueError) as error:  # an unknown or unsupported encoding="..." in the XML declaration
        raise ExportFormatError(f"{xml_file}: not an OpenVINO IR XML file ({_short(str(error))})") from None
    except OSError as error:
        raise ExportFormatError(f"{xml_file}: cannot read: {error.strerror or error}") from None
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
        raise ExportFormatError(f"{file}: field 'format': expected '{FORMAT}', got {_short(config.get('format'))} "
                                "(not written by tools/export.py)")
    version = config.get("format_version")
    if not _is_int(version) or not 1 <= version <= FORMAT_VERSION:
        raise ExportFormatError(f"{file}: field 'format_version': {_short(version)} is not supported (this toolkit "
                                f"reads version {FORMAT_VERSION})")
    kind_name = config.get("recognizer_kind", "attention")
    if kind_name not in KIND_REQUIRED_KEYS:
        raise ExportFormatError(f"{file}: field 'recognizer_kind' must be one of {', '.join(KIND_REQUIRED_KEYS)}, "
                                f"got {_short(kind_name)}")
    for key, kind in {**REQUIRED_KEYS, **KIND_REQUIRED_KEYS[kind_name]}.items():
        if key not in config:
            raise ExportFormatError(f"{file}: field '{key}' is missing")
        if not isinstance(config[key], kind) or (kind is int and isinstance(config[key], bool)):
            raise ExportFormatError(f"{file}: field '{key}' must be {kind.__name__}, got {_short(config[key])}")
    size = config["input_size"]
    if len(size) != 2 or not all(_is_int(v) and 32 <= v <= 1 << 15 for v in size):
        raise ExportFormatError(f"{file}: field 'input_size' must be [width, height] in pixels, got {_short(size)}")
    for key in ("detection", "recognition"):
        value = config["thresholds"].get(key)
        if not _is_number(value) or not 0 <= value <= 1:
            raise ExportFormatError(f"{file}: field 'thresholds.{key}' must be a number in [0, 1], got "
                                    f"{_short(value)}")
    if config["precision"] not in IR_PRECISIONS:
        raise ExportFormatError(f"{file}: field 'precision' must be one of {', '.join(IR_PRECISIONS)}, got "
                                f"{_short(config['precision'])}")
    if config["precision"] == "INT8" and not isinstance(config.get("calibration"), dict):
        raise ExportFormatError(f"{file}: an INT8 export must record its 'calibration' (annotation files, images, "
                                f"words), got {_short(config.get('calibration'))}")
    if not config["alphabet"]:
        raise ExportFormatError(f"{file}: field 'alphabet' is empty")
    for key, kind in KIND_REQUIRED_KEYS[kind_name].items():
        if kind is int and config[key] <= 0:
            raise ExportFormatError(f"{file}: field '{key}' must be positive, got {_short(config[key])}")
    _check_alphabet(config, kind_name, file)
    layout = config.get("layout", "dynamic")
    if layout not in LAYOUTS:
        raise ExportFormatError(f"{file}: field 'layout' must be one of {', '.join(LAYOUTS)}, got {_short(layout)}")
    if layout == "omz" and kind_name != "attention":
        raise ExportFormatError(f"{file}: field 'layout': omz is Open Model Zoo's attention-kind layout, but "
                                f"'recognizer_kind' is {kind_name}")
    if kind_name == "ctc":
        crop = config["crop"]
        for key in CROP_KEYS:
            if not _is_number(crop.get(key)) or crop[key] <= 0:
                raise ExportFormatError(f"{file}: field 'crop.{key}' must be a positive number, got "
                                        f"{_short(crop.get(key))}")


def _check_alphabet(config: dict, kind_name: str, file: Path) -> None:
    """The alphabet is one the text codecs accept, and the recognizer's classes are its characters plus the kind's
    extra classes: a config edited (or taken from another export) would otherwise read every word wrong."""
    alphabet = config["alphabet"]
    if len(set(alphabet)) != len(alphabet):
        raise ExportFormatError(f"{file}: field 'alphabet' has repeated characters")
    if not config["case_sensitive"] and alphabet != alphabet.lower():
        raise ExportFormatError(f"{file}: field 'alphabet' has upper-case characters, but 'case_sensitive' is false")
    expected = len(alphabet) + CLASSES_BEYOND_ALPHABET[kind_name]
    if config["num_classes"] != expected:
        raise ExportFormatError(f"{file}: field 'num_classes': {_short(config['num_classes'])} classes do not fit the "
                                f"{len(alphabet)}-character alphabet (expected {expected}); the config and the IRs "
                                f"come from different models")


def _check_file_names(files: Any, hashes: Any, roles: tuple[str, ...], file: Path) -> None:
    """``files`` maps each role to a file name in the export directory, ``files_sha256`` each role to a digest."""
    for field, value in (("files", files), ("files_sha256", hashes)):
        if not isinstance(value, dict) or sorted(map(str, value)) != sorted(roles):
            raise ExportFormatError(f"{file}: field '{field}' must map {', '.join(roles)} to "
                                    f"{'file names' if field == 'files' else 'sha256 values'}, got {_short(value)}")
    for role in roles:
        name = files[role]
        # A plain name: the IRs live beside export_config.yaml, never elsewhere on the disk.
        if not isinstance(name, str) or not name.endswith(".xml") or Path(name).name != name or "\0" in name:
            raise ExportFormatError(f"{file}: field 'files.{role}' must be the name of an .xml file in this folder, "
                                    f"got {_short(name)}")
        if not isinstance(hashes[role], str) or not _SHA256.fullmatch(hashes[role]):
            raise ExportFormatError(f"{file}: field 'files_sha256.{role}' must be a sha256 (64 hex digits), got "
                                    f"{_short(hashes[role])}")


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
        ``onnx_files``, ``export_id``, ``exported_with``, ``layout`` (absent before ``--layout omz``: read it with
        ``export_layout``). IR paths are ``resolve_export_dir(path) / files[role]``.

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
    except RecursionError:
        raise ExportFormatError(f"{file}: not valid YAML (nested too deeply)") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise ExportFormatError(f"{file}: not valid YAML (a number of thousands of digits)") from None
    except OSError as error:
        raise ExportFormatError(f"{file}: cannot read: {error.strerror or error}") from None
    _check_fields(config, file)
    files = config.get("files")
    if files is None:
        raise ExportFormatError(f"{file}: this export has no OpenVINO IR (made with --onnx-only); run export.py "
                                "without --onnx-only")
    hashes = config.get("files_sha256")
    roles = KIND_ROLES[recognizer_kind(config)]
    _check_file_names(files, hashes, roles, file)
    for role in roles:
        xml_file = directory / files[role]
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
            raise ExportFormatError(f"{xml_file}: is the {_short(info.get('role'))} IR, but {file.name} names it as "
                                    f"the {role}")
        if info.get("export_id") != config["export_id"]:
            raise ExportFormatError(f"{xml_file}: comes from another export (export_id "
                                    f"{_short(info.get('export_id'))}, {file.name} says "
                                    f"{_short(config['export_id'])}); re-export the whole directory")
        try:
            actual = sha256_of(bin_file)
        except OSError as error:
            raise ExportFormatError(f"{bin_file}: cannot read: {error.strerror or error}") from None
        if actual != hashes[role]:
            raise ExportFormatError(f"{bin_file}: sha256 {actual[:16]}... does not match {file.name} "
                                    f"({hashes[role][:16]}...): replaced or corrupted")
    return config
