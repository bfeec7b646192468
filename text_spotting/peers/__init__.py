"""Other OCR engines (RapidOCR, Tesseract) as text spotters, and the benchmark that runs them next to ours."""
from .benchmark import (BenchmarkSet, Method, MethodResult, benchmark_context, eager_method,
                        format_results_table, ir_method, load_benchmark_set, peer_method,
                        results_markdown, run_method, save_results, words_to_predictions)
from .engines import (PEER_ENGINES, PeerUnavailable, RapidOCRSpotter, TesseractSpotter, load_peer,
                      words_from_tesseract_data, words_from_text_lines)
from .word_geometry import rectified_crop, split_line_into_words, word_spans

__all__ = [
    "BenchmarkSet", "Method", "MethodResult", "benchmark_context", "eager_method",
    "format_results_table", "ir_method", "load_benchmark_set", "peer_method", "results_markdown",
    "run_method", "save_results", "words_to_predictions", "PEER_ENGINES", "PeerUnavailable", "RapidOCRSpotter",
    "TesseractSpotter", "load_peer", "words_from_tesseract_data", "words_from_text_lines", "rectified_crop",
    "split_line_into_words", "word_spans",
]
