"""Other OCR engines behind the interface of our spotters: ``predict(image) -> list[SpottedWord]``.

- RapidOCR (``pip install 'rapidocr>=3,<3.10' onnxruntime``): PaddleOCR's PP-OCR detector and recognizer as ONNX
  models shipped inside the wheel, run by onnxruntime, fully offline. It finds text LINES; each line is split into
  words by character share (:func:`~.word_geometry.split_line_into_words`) so that it is scored on words like us.
- Tesseract (``apt-get install tesseract-ocr`` + ``pip install pytesseract``): the classic engine; ``image_to_data``
  gives word boxes with a confidence in 0..100.

Both are optional: constructing one that is not installed raises :class:`PeerUnavailable` whose message says how
to install it. Each also reads single words cut out of the image (``read_words``), for recognition accuracy and CER
on ground-truth regions.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from typing import Iterator, Sequence

import cv2
import numpy as np

from ..geometry import polygon_to_bbox
from ..inference.words import SpottedWord
from .word_geometry import rectified_crop, split_line_into_words

RAPIDOCR_INSTALL = "pip install 'rapidocr>=3,<3.10' onnxruntime"
TESSERACT_INSTALL = "apt-get install tesseract-ocr && pip install pytesseract"
#: Tesseract page segmentation mode 3, its own default: full page layout analysis. (Mode 11, "sparse text", found
#: fewer words per second and scored lower on both the bundled set and ICDAR 2015 images.)
TESSERACT_AUTO_LAYOUT = 3
#: Tesseract page segmentation mode 7: the image is a single text line (a cut-out word).
TESSERACT_SINGLE_LINE = 7


class PeerUnavailable(RuntimeError):
    """A peer OCR engine cannot run here (not installed); the message says what is missing and how to install it."""


def words_from_text_lines(quads: Sequence, texts: Sequence[str], scores: Sequence[float]) -> list[SpottedWord]:
    """Words of text lines, each line's quadrilateral split by character share.

    Args:
        quads: ``[L, 4, 2]`` line quadrilaterals, top-left, top-right, bottom-right, bottom-left.
        texts: ``[L]`` what was read on each line.
        scores: ``[L]`` the line's confidence; every word of the line gets it as ``score`` and ``text_score``.
    """
    words = []
    for quad, text, score in zip(quads, texts, scores):
        for word_quad, word in split_line_into_words(quad, text):
            words.append(SpottedWord(quad=word_quad, bbox=polygon_to_bbox(word_quad), score=float(score), text=word,
                                     text_score=float(score)))
    return words


def words_from_tesseract_data(data: dict) -> list[SpottedWord]:
    """Words of a ``pytesseract.image_to_data(..., output_type=Output.DICT)`` result.

    Keeps the word-level rows (``level`` 5) with a non-blank text and a confidence >= 0 (Tesseract writes -1 for
    blocks, paragraphs and lines); ``score`` and ``text_score`` are the confidence / 100.
    """
    words = []
    for level, left, top, width, height, conf, text in zip(data["level"], data["left"], data["top"], data["width"],
                                                           data["height"], data["conf"], data["text"]):
        confidence = float(conf)
        if int(level) != 5 or confidence < 0 or not str(text).strip():
            continue
        x1, y1, x2, y2 = float(left), float(top), float(left) + float(width), float(top) + float(height)
        quad = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
        words.append(SpottedWord(quad=quad, bbox=np.array([x1, y1, x2, y2]), score=confidence / 100.0,
                                 text=str(text).strip(), text_score=confidence / 100.0))
    return words


def _distribution_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "(version unknown)"


class RapidOCRSpotter:
    """RapidOCR (PP-OCR detection + direction classifier + recognition on onnxruntime) with its default settings.

    Args:
        threads: onnxruntime intra-op threads (inter-op 1).
    """

    name = "rapidocr"

    def __init__(self, threads: int = 2):
        try:
            from rapidocr import RapidOCR  # first: a missing rapidocr is named before its runtime
            import onnxruntime
        except ImportError as error:
            raise PeerUnavailable(f"rapidocr: cannot import {error.name} ({RAPIDOCR_INSTALL})") from None
        self._engine = RapidOCR(params={"Global.log_level": "error",
                                        "EngineConfig.onnxruntime.intra_op_num_threads": int(threads),
                                        "EngineConfig.onnxruntime.inter_op_num_threads": 1})
        cfg = self._engine.cfg
        self.description = (f"RapidOCR {_distribution_version('rapidocr')} ({cfg.Det.ocr_version.value} det/rec "
                            f"{cfg.Det.model_type.value}, onnxruntime {onnxruntime.__version__})")

    def predict(self, image: np.ndarray) -> list[SpottedWord]:
        """Words in a BGR image ``[H, W, 3]`` uint8, in its pixel coordinates."""
        # The engine keeps use_* flags between calls, so every call states all three.
        result = self._engine(image, use_det=True, use_cls=True, use_rec=True)
        if result.boxes is None or not result.txts:
            return []
        return words_from_text_lines(np.asarray(result.boxes, dtype=np.float64), result.txts, result.scores)

    def read_words(self, image: np.ndarray, polygons: Sequence) -> list[str]:
        """The recognizer alone on each region (``[K, 2]`` polygons), cut out upright."""
        texts = []
        for polygon in polygons:
            result = self._engine(rectified_crop(image, polygon), use_det=False, use_cls=False, use_rec=True)
            texts.append(str(result.txts[0]) if result.txts else "")
        return texts


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


class TesseractSpotter:
    """Tesseract through pytesseract (a ``tesseract`` process per call).

    Args:
        threads: OpenMP threads of the tesseract process (``OMP_THREAD_LIMIT``).
        psm: page segmentation mode for whole images (default 3, Tesseract's own default).
        lang: Tesseract language(s), e.g. ``eng`` or ``eng+deu``.
    """

    name = "tesseract"

    def __init__(self, threads: int = 2, psm: int = TESSERACT_AUTO_LAYOUT, lang: str = "eng"):
        try:
            import pytesseract
        except ImportError:
            raise PeerUnavailable(f"tesseract: cannot import pytesseract ({TESSERACT_INSTALL})") from None
        try:
            version = pytesseract.get_tesseract_version()
        except (pytesseract.TesseractNotFoundError, OSError):
            raise PeerUnavailable(f"tesseract: the tesseract program is not installed ({TESSERACT_INSTALL})") \
                from None
        self._pytesseract = pytesseract
        self.threads, self.psm, self.lang = int(threads), int(psm), lang
        self.description = f"Tesseract {version} (lang {lang}, psm {psm}, pytesseract {pytesseract.__version__})"

    def _run(self, function, image: np.ndarray, psm: int, **kwargs):
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        with _environment("OMP_THREAD_LIMIT", str(self.threads)):
            return function(rgb, lang=self.lang, config=f"--psm {psm}", **kwargs)

    def predict(self, image: np.ndarray) -> list[SpottedWord]:
        """Words in a BGR image ``[H, W, 3]`` uint8, in its pixel coordinates."""
        data = self._run(self._pytesseract.image_to_data, image, self.psm,
                         output_type=self._pytesseract.Output.DICT)
        return words_from_tesseract_data(data)

    def read_words(self, image: np.ndarray, polygons: Sequence) -> list[str]:
        """Tesseract on each region (``[K, 2]`` polygons) cut out upright, as a single text line.

        All regions of the image go to ONE tesseract process as a list of page images: a process per word would
        spend most of its time starting up and loading the language model.
        """
        if not len(polygons):
            return []
        with tempfile.TemporaryDirectory(prefix="tesseract_words_") as folder:
            pages = []
            for index, polygon in enumerate(polygons):
                page = os.path.join(folder, f"{index:05d}.png")
                cv2.imwrite(page, rectified_crop(image, polygon))
                pages.append(page)
            page_list = os.path.join(folder, "pages.txt")
            with open(page_list, "w", encoding="utf-8") as file:
                file.write("\n".join(pages) + "\n")
            command = [self._pytesseract.pytesseract.tesseract_cmd, page_list, "stdout", "-l", self.lang,
                       "--psm", str(TESSERACT_SINGLE_LINE)]
            environment = dict(os.environ, OMP_THREAD_LIMIT=str(self.threads))
            completed = subprocess.run(command, capture_output=True, env=environment, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"tesseract failed on {len(pages)} word images: "
                               f"{completed.stderr.decode('utf-8', 'replace').strip().splitlines()[-1:]}")
        return texts_of_pages(completed.stdout.decode("utf-8", "replace"), len(pages))


def texts_of_pages(output: str, count: int) -> list[str]:
    """Per-page texts of a multi-page tesseract run: pages are separated by form feeds (``\\f``); each text is
    stripped of surrounding whitespace and its lines are joined by spaces."""
    pages = output.split("\f")
    if len(pages) == count + 1 and not pages[-1].strip():
        pages = pages[:-1]  # a trailing separator after the last page
    if len(pages) != count:
        raise RuntimeError(f"tesseract returned {len(pages)} pages of text for {count} word images")
    return [" ".join(page.split()) for page in pages]


PEER_ENGINES = {RapidOCRSpotter.name: RapidOCRSpotter, TesseractSpotter.name: TesseractSpotter}


def load_peer(name: str, threads: int = 2, **options):
    """A peer engine by name (:data:`PEER_ENGINES`) with its constructor's ``options`` (e.g. ``psm`` for
    Tesseract); raises :class:`PeerUnavailable` when it is not installed."""
    if name not in PEER_ENGINES:
        raise ValueError(f"unknown peer '{name}' (known: {', '.join(PEER_ENGINES)})")
    return PEER_ENGINES[name](threads=threads, **options)
