"""ONNX / OpenVINO export of the text spotter (SPEC §4): ``export_model`` writes the detector, encoder and decoder
IRs plus ``export_config.yaml`` (INT8: quantized by NNCF, ``quantization.py``); ``load_export_config`` checks an export directory before it is run."""
from .detector_graph import DetectorGraph, ExportError
from .export_config import (EXPORT_CONFIG_FILE, IR_FILES, KIND_ROLES, LAYOUTS, OMZ_ALPHABET, ONNX_FILES,
                            ExportFormatError, export_layout, load_export_config, omz_demo_arguments, read_ir_rt_info,
                            recognizer_kind, resolve_export_dir)
from .exporter import PRECISIONS, ExportResult, cached_export_dir, export_cached, export_model
from .quantization import DEFAULT_CALIBRATION_IMAGES, CalibrationSet, load_calibration_set

__all__ = [
    'CalibrationSet', 'DEFAULT_CALIBRATION_IMAGES', 'DetectorGraph', 'EXPORT_CONFIG_FILE', 'ExportError', 'ExportFormatError', 'ExportResult', 'IR_FILES',
    'KIND_ROLES', 'LAYOUTS', 'OMZ_ALPHABET', 'ONNX_FILES', 'PRECISIONS', 'cached_export_dir', 'export_cached',
    'export_layout', 'export_model', 'load_export_config', 'omz_demo_arguments', 'read_ir_rt_info',
    'load_calibration_set', 'recognizer_kind', 'resolve_export_dir'
]
