"""ONNX / OpenVINO export of the text spotter (SPEC §4): ``export_model`` writes the detector, encoder and decoder
IRs plus ``export_config.yaml``; ``load_export_config`` checks an export directory before it is run."""
from .detector_graph import DetectorGraph, ExportError
from .export_config import (EXPORT_CONFIG_FILE, IR_FILES, KIND_ROLES, LAYOUTS, OMZ_ALPHABET, ONNX_FILES,
                            ExportFormatError, export_layout, load_export_config, omz_demo_arguments, read_ir_rt_info,
                            recognizer_kind, resolve_export_dir)
from .exporter import PRECISIONS, ExportResult, cached_export_dir, export_cached, export_model

__all__ = [
    'DetectorGraph', 'EXPORT_CONFIG_FILE', 'ExportError', 'ExportFormatError', 'ExportResult', 'IR_FILES',
    'KIND_ROLES', 'LAYOUTS', 'OMZ_ALPHABET', 'ONNX_FILES', 'PRECISIONS', 'cached_export_dir', 'export_cached',
    'export_layout', 'export_model', 'load_export_config', 'omz_demo_arguments', 'read_ir_rt_info',
    'recognizer_kind', 'resolve_export_dir'
]
