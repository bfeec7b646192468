"""Running a trained text spotter: ``TextSpotter``'s one test-time loop (``spotter.py``) over two backends, the eager
(PyTorch) and the OpenVINO one, the word structure they return, and ``load_text_spotter`` that picks one for a model
file."""
from .eager import EagerTextSpotter
from .errors import InferenceError
from .latency import LATENCY_KEYS
from .loading import is_openvino_export, load_text_spotter, template_of_checkpoint
from .openvino_spotter import AsyncResult, OpenVINOTextSpotter
from .spotter import TextSpotter
from .processing import (NetworkDetections, fit_and_pad, fitted_size, paste_mask, texts_from_symbols,
                         words_from_detections)
from .words import SpottedWord, instances_from_words, words_from_instances

__all__ = [
    "AsyncResult", "EagerTextSpotter", "InferenceError", "LATENCY_KEYS", "NetworkDetections", "OpenVINOTextSpotter",
    "SpottedWord", "TextSpotter", "fit_and_pad", "fitted_size", "instances_from_words", "is_openvino_export",
    "load_text_spotter", "paste_mask", "template_of_checkpoint", "texts_from_symbols", "words_from_detections",
    "words_from_instances",
]
