"""Predictions on disk: the COCO results file, ICDAR submissions, and ground truth read for scoring.

``predictions.json`` (SPEC §2) is a list of COCO results, one per predicted word::

    {"image_id": 12, "bbox": [x, y, w, h], "segmentation": [[x1, y1, x2, y2, ...]], "score": 0.97,
     "text": "tokyo", "text_score": 0.88}

On read, other tools' files are accepted too: ``segmentation`` may also be a flat ``[x1, y1, ...]`` list or a COCO
RLE mask (``{"size": [h, w], "counts": ...}``, turned into its minimum-area quadrilateral) or missing (the ``bbox``
is used); ``text`` defaults to '' (detection only) and ``text_score`` to unknown.

An ICDAR submission is one ``res_img_<stem>.txt`` per image, one word per line, ``x1,y1,x2,y2,x3,y3,x4,y4,text``
(integer pixels, clockwise), zipped flat as ``submit.zip``. ``<stem>`` is the image file name without extension and
without a leading ``img_``, so ``img_12.jpg`` gives ``res_img_12.txt`` as the RRC site expects, and ``street.png``
gives ``res_img_street.txt``. Lines are written in descending score order, because the RRC script matches them in
file order; reading a submission back gives line ``i`` of ``n`` the score ``(n - i) / n`` so our matching visits
them in the same order.
"""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..geometry import (as_points, bbox_to_quad, mask_to_quad, min_area_quad, polygon_area, polygon_to_bbox,
                        xywh_to_xyxy)
from ..messages import short_repr
from .errors import EvaluationError
from .icdar import ImageGroundTruth, ImagePredictions
from ..values import is_finite_number as _is_number

PREDICTIONS_FILE_NAME = "predictions.json"
# An RLE mask is decoded into a full-image array: larger than OpenCV's largest image (2**30 pixels), it is no mask.
MAX_RLE_PIXELS = 1 << 30
SUBMISSION_ZIP_NAME = "submit.zip"
SUBMISSION_DIR_NAME = "submit"
# A submission is text, one short line per word: anything larger is something else (or a zip bomb).
MAX_SUBMISSION_BYTES = 256 << 20


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Writes a file through a temporary neighbour and a rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------------------------
# predictions.json


def predictions_to_coco_results(image_id: int, predictions: ImagePredictions) -> list[dict]:
    """COCO result records (see the module docstring) of one image, in the order of ``predictions``."""
    records = []
    for index, polygon in enumerate(predictions.polygons):
        points = as_points(polygon)
        x1, y1, x2, y2 = polygon_to_bbox(points)
        text_score = None if predictions.text_scores is None else float(predictions.text_scores[index])
        if text_score is not None and not math.isfinite(text_score):
            text_score = None  # unknown (JSON has no NaN)
        records.append({
            "image_id": int(image_id),
            "bbox": [round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1)],
            "segmentation": [[round(float(v), 2) for v in points.reshape(-1)]],
            "score": float(predictions.scores[index]),
            "text": str(predictions.texts[index]),
            "text_score": text_score,
        })
    return records


def save_predictions(records: Sequence[dict], path: str | Path) -> None:
    """Writes COCO result records as JSON (atomically)."""
    atomic_write_bytes(path, json.dumps(list(records)).encode("utf-8"))


def largest_polygon(parts: Sequence[Sequence[float]]) -> np.ndarray:
    """The part with the largest area of a multi-part polygon ``[[x1, y1, ...], ...]`` as ``[K, 2]``."""
    return max((as_points(part) for part in parts), key=polygon_area)


def _record_polygon(record: dict, where: str) -> np.ndarray:
    """``[K, 2]`` polygon of a result record from its segmentation (polygon or RLE) or, failing that, its bbox."""
    segmentation = record.get("segmentation")
    if isinstance(segmentation, dict):
        quad = _rle_quad(segmentation, where)
        if quad is not None:
            return quad
        segmentation = None  # an empty mask: fall back to the box
    if segmentation is not None and not isinstance(segmentation, list):
        raise EvaluationError(f"{where}: field 'segmentation': expected [[x1, y1, x2, y2, ...]] or an RLE mask, got "
                              f"{short_repr(segmentation)}")
    if segmentation:
        if all(_is_number(value) for value in segmentation):
            parts = [segmentation]
        elif all(isinstance(part, list) and all(_is_number(value) for value in part) for part in segmentation):
            parts = segmentation
        else:
            raise EvaluationError(f"{where}: field 'segmentation': expected [[x1, y1, x2, y2, ...]] "
                                  f"with finite numbers")
        if any(len(part) % 2 or len(part) < 6 for part in parts):
            raise EvaluationError(f"{where}: field 'segmentation': a polygon needs an even number of at least "
                                  f"6 coordinates, got {[len(part) for part in parts]}")
        return largest_polygon(parts)
    bbox = record.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(value) for value in bbox)):
        raise EvaluationError(f"{where}: field 'segmentation' is missing and field 'bbox' is not [x, y, w, h]")
    return bbox_to_quad(xywh_to_xyxy(bbox))


def _rle_quad(rle: dict, where: str) -> np.ndarray | None:
    """The minimum-area quadrilateral ``[4, 2]`` of a COCO RLE mask ``{"size": [h, w], "counts": ...}`` (None when
    the mask is empty)."""
    if "counts" not in rle or "size" not in rle:
        raise EvaluationError(f"{where}: field 'segmentation': an RLE mask needs 'size' and 'counts'")
    size, counts = rle["size"], rle["counts"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                              and v > 0 for v in size)):
        raise EvaluationError(f"{where}: field 'segmentation.size': expected [height, width] in pixels, got "
                              f"{short_repr(size)}")
    if size[0] * size[1] > MAX_RLE_PIXELS:
        raise EvaluationError(f"{where}: field 'segmentation.size': a {short_repr(size[1])}x{short_repr(size[0])} "
                              f"mask is larger than any image")
    if isinstance(counts, str):
        if not counts.isascii():
            raise EvaluationError(f"{where}: field 'segmentation.counts': a compressed RLE string is ASCII, got "
                                  f"{short_repr(counts)}")
        counts = counts.encode("ascii")
    elif isinstance(counts, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= size[0] * size[1] for v in counts):
            raise EvaluationError(f"{where}: field 'segmentation.counts': expected run lengths (integers from 0 to "
                                  f"the mask's area)")
    else:
        raise EvaluationError(f"{where}: field 'segmentation.counts': expected a string or a list of run lengths, "
                              f"got {short_repr(counts)}")
    from pycocotools import mask as mask_utils  # only other tools' files need it

    try:
        if isinstance(counts, list):  # an uncompressed RLE: compress it first, as pycocotools' loadRes does
            encoded = mask_utils.frPyObjects({"size": size, "counts": counts}, size[0], size[1])
        else:
            encoded = {"size": size, "counts": counts}
        mask = mask_utils.decode(encoded)
    except Exception as error:  # pycocotools raises plain Exceptions of several kinds
        raise EvaluationError(f"{where}: field 'segmentation': cannot decode RLE mask ({error})") from None
    return mask_to_quad(mask)


def coco_results_to_predictions(records: Any, source: str = "predictions") -> dict[int, ImagePredictions]:
    """Groups validated COCO result records by ``image_id`` (record order kept within an image)."""
    if not isinstance(records, list):
        raise EvaluationError(f"{source}: expected a JSON list of COCO result records, got {type(records).__name__}")
    grouped: dict[int, ImagePredictions] = {}
    for index, record in enumerate(records):
        where = f"{source}: record #{index}"
        if not isinstance(record, dict):
            raise EvaluationError(f"{where}: expected an object, got {type(record).__name__}")
        image_id = record.get("image_id")
        if not isinstance(image_id, int) or isinstance(image_id, bool):
            raise EvaluationError(f"{where}: field 'image_id': expected an integer, got {short_repr(image_id)}")
        score = record.get("score", None)
        if not _is_number(score):
            raise EvaluationError(f"{where}: field 'score': expected a finite number, got {short_repr(score)}")
        text = record.get("text", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise EvaluationError(f"{where}: field 'text': expected a string, got {short_repr(text)}")
        text_score = record.get("text_score")
        if text_score is not None and not _is_number(text_score):
            raise EvaluationError(f"{where}: field 'text_score': expected a finite number or null, "
                                  f"got {short_repr(text_score)}")
        polygon = _record_polygon(record, where)
        image = grouped.setdefault(image_id, ImagePredictions(text_scores=[]))
        image.polygons.append(polygon)
        image.scores.append(float(score))
        image.texts.append(text)
        image.text_scores.append(float("nan") if text_score is None else float(text_score))
    return grouped


def load_predictions(path: str | Path) -> dict[int, ImagePredictions]:
    """Reads a COCO results file (``predictions.json``) into per-image predictions keyed by ``image_id``.

    Missing text scores read as NaN. Raises :class:`EvaluationError` with one line naming the file, the record and
    the field on a bad file.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
        records = json.loads(text)
    except FileNotFoundError:
        raise EvaluationError(f"{path}: predictions file not found") from None
    except OSError as error:
        raise EvaluationError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise EvaluationError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise EvaluationError(f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") \
            from None
    except ValueError:  # Python refuses integer literals of more than 4300 digits
        raise EvaluationError(f"{path}: not valid JSON: a number of thousands of digits") from None
    except RecursionError:
        raise EvaluationError(f"{path}: not valid JSON: nested too deeply") from None
    return coco_results_to_predictions(records, str(path))


# ---------------------------------------------------------------------------------------------------------------
# ICDAR submissions


def submission_file_name(image_file_name: str) -> str:
    """``res_img_<stem>.txt``: ``img_12.jpg`` -> ``res_img_12.txt``, ``dir/street.png`` -> ``res_img_street.txt``."""
    stem = Path(image_file_name).stem
    if stem.startswith("img_"):
        stem = stem[len("img_"):]
    return f"res_img_{stem}.txt"


def submission_quad(polygon: np.ndarray) -> np.ndarray:
    """``[4, 2]`` quadrilateral for a submission line: the polygon itself if it has 4 points, else its minimum-area
    rectangle."""
    points = as_points(polygon)
    return points if points.shape[0] == 4 else min_area_quad(points)


def icdar_result_lines(predictions: ImagePredictions) -> list[str]:
    """``x1,y1,...,x4,y4,text`` lines (integer pixels) in descending score order."""
    order = np.argsort(-np.asarray(predictions.scores, dtype=np.float64), kind="stable")
    lines = []
    for index in order:
        quad = np.rint(submission_quad(predictions.polygons[index])).astype(np.int64).reshape(-1)
        text = str(predictions.texts[index]).replace("\r", " ").replace("\n", " ")  # one record, one line
        lines.append(",".join(str(int(v)) for v in quad) + "," + text)
    return lines


def _submission_names(image_file_names: Sequence[str]) -> list[str]:
    names = [submission_file_name(name) for name in image_file_names]
    seen: dict[str, str] = {}
    for image_name, name in zip(image_file_names, names):
        if name in seen:
            raise EvaluationError(f"images '{seen[name]}' and '{image_name}' would both be written as {name}")
        seen[name] = image_name
    return names


def write_icdar_submission(images: Sequence[tuple[str, ImagePredictions]], out_dir: str | Path) -> Path:
    """Writes ``out_dir/submit/res_img_<stem>.txt`` for every image (empty files included) and ``out_dir/submit.zip``
    holding the same files flat.

    Args:
        images: ``(image file name, predictions)`` per image.
        out_dir: output directory (created).

    Returns:
        The path of ``submit.zip``.
    """
    out_dir = Path(out_dir)
    names = _submission_names([file_name for file_name, _ in images])
    text_dir = out_dir / SUBMISSION_DIR_NAME
    text_dir.mkdir(parents=True, exist_ok=True)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zip_file:
        for name, (_, predictions) in zip(names, images):
            lines = icdar_result_lines(predictions)
            payload = "".join(line + "\n" for line in lines).encode("utf-8")
            (text_dir / name).write_bytes(payload)
            zip_file.writestr(name, payload)
    zip_path = out_dir / SUBMISSION_ZIP_NAME
    atomic_write_bytes(zip_path, archive.getvalue())
    return zip_path


def parse_icdar_result_lines(content: str, source: str) -> ImagePredictions:
    """Parses one ``res_img_*.txt`` (lines ``x1,y1,...,x4,y4[,text]``; the text may contain commas)."""
    predictions = ImagePredictions()
    lines = [(number, line) for number, line in enumerate(content.splitlines(), start=1) if line.strip()]
    for rank, (number, line) in enumerate(lines):
        fields = line.split(",", 8)
        try:
            coordinates = [float(value) for value in fields[:8]]
        except ValueError:
            coordinates = []
        if len(coordinates) != 8 or not all(math.isfinite(value) for value in coordinates):
            raise EvaluationError(f"{source}: line {number}: expected x1,y1,x2,y2,x3,y3,x4,y4[,transcription], "
                                  f"got {line.strip()[:80]!r}")
        predictions.polygons.append(np.array(coordinates, dtype=np.float64).reshape(4, 2))
        predictions.scores.append((len(lines) - rank) / len(lines))
        predictions.texts.append(fields[8] if len(fields) > 8 else "")
    return predictions


def _read_submission_zip(path: Path) -> dict[str, bytes]:
    """``{file name: bytes}`` of the ``res_*.txt`` members of a submission zip (folders inside it ignored)."""
    contents: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as zip_file:
            declared = _declared_zip_entries(path)
            if declared is not None and declared != len(zip_file.infolist()):
                raise EvaluationError(f"{path}: a damaged zip (its directory lists {declared} files, "
                                      f"{len(zip_file.infolist())} of them readable)")
            if sum(info.file_size for info in zip_file.infolist()) > MAX_SUBMISSION_BYTES:
                raise EvaluationError(f"{path}: its files hold more than {MAX_SUBMISSION_BYTES >> 20} MiB: not a "
                                      f"submission")
            # Every member, not only the res_*.txt ones: a damaged name would otherwise hide a file silently.
            bad = zip_file.testzip()
            if bad is not None:
                raise EvaluationError(f"{path}: a damaged zip ({short_repr(bad)} fails its CRC or header check)")
            members = [info for info in zip_file.infolist()
                       if Path(info.filename).name.startswith("res_") and info.filename.endswith(".txt")]
            for info in members:
                name = Path(info.filename).name
                if name in contents:
                    raise EvaluationError(f"{path}: {info.filename}: a second {name} in the zip")
                contents[name] = zip_file.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: an unsupported compression method
        raise EvaluationError(f"{path}: a damaged or unsupported zip ({str(error)[:80]})") from None
    return contents


def _declared_zip_entries(path: Path) -> int | None:
    """The number of files the zip's end-of-central-directory record declares (None for a ZIP64 count).

    ``zipfile`` trusts the entries it can parse, so damage inside the central directory (a comment length that
    swallows the next entry) would silently drop files of a submission; this count shows it.
    """
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        file.seek(max(0, file.tell() - (1 << 16) - 22))
        tail = file.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 12:
        return None
    count = int.from_bytes(tail[at + 10:at + 12], "little")
    return None if count == 0xFFFF else count


def load_icdar_submission(path: str | Path, image_file_names: Mapping[int, str]) -> dict[int, ImagePredictions]:
    """Reads ``res_img_<stem>.txt`` files from a directory or a zip into predictions keyed by image id.

    Args:
        path: a directory or a ``.zip``.
        image_file_names: ``{image_id: file name}`` of the ground truth, to map file names to ids.
    """
    path = Path(path)
    ids_by_name = dict(zip(_submission_names(list(image_file_names.values())), image_file_names.keys()))
    contents: dict[str, bytes] = {}
    if path.is_dir():
        contents = {file.name: file.read_bytes() for file in sorted(path.glob("res_*.txt"))}
    elif zipfile.is_zipfile(path):
        contents = _read_submission_zip(path)
    elif path.exists():
        raise EvaluationError(f"{path}: expected predictions.json, a directory of res_img_*.txt files or a .zip")
    else:
        raise EvaluationError(f"{path}: predictions not found")
    if not contents:
        raise EvaluationError(f"{path}: no res_*.txt files found")
    predictions = {}
    for name, payload in contents.items():
        if name not in ids_by_name:
            raise EvaluationError(f"{path}: {name}: matches no image of the ground truth (expected names like "
                                  f"{next(iter(ids_by_name), 'res_img_1.txt')})")
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise EvaluationError(f"{path}: {name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
        predictions[ids_by_name[name]] = parse_icdar_result_lines(text, f"{path}: {name}")
    return predictions


def write_prediction_outputs(out_dir: str | Path,
                             images: Iterable[tuple[int, str, ImagePredictions]]) -> dict[str, Path]:
    """Writes ``predictions.json`` and the ICDAR submission (``submit/`` and ``submit.zip``) of a set.

    Args:
        out_dir: output directory (created).
        images: ``(image_id, image file name, predictions)`` per image.

    Returns:
        ``{'predictions': path, 'submission': zip path}``.
    """
    images = list(images)
    out_dir = Path(out_dir)
    records = [record for image_id, _, predictions in images
               for record in predictions_to_coco_results(image_id, predictions)]
    save_predictions(records, out_dir / PREDICTIONS_FILE_NAME)
    zip_path = write_icdar_submission([(file_name, predictions) for _, file_name, predictions in images], out_dir)
    return {"predictions": out_dir / PREDICTIONS_FILE_NAME, "submission": zip_path}


# ---------------------------------------------------------------------------------------------------------------
# ground truth


@dataclass
class GroundTruthSet:
    """Ground truth of a COCO-with-text file, images in file order.

    Attributes:
        annotation_file: where it was read from.
        image_ids: ``[I]`` COCO image ids.
        file_names: ``[I]`` image file names (relative to the data root).
        images: ``[I]`` per-image ground truth, regions in file order.
    """

    annotation_file: str
    image_ids: list[int]
    file_names: list[str]
    images: list[ImageGroundTruth]


def annotation_polygon(annotation: dict) -> np.ndarray:
    """``[K, 2]`` polygon of a COCO annotation: its (largest) segmentation polygon, or its bbox when it has none."""
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, list) and segmentation and isinstance(segmentation[0], list):
        return largest_polygon(segmentation)
    return bbox_to_quad(xywh_to_xyxy(annotation["bbox"]))


def ground_truth_from_coco(coco: dict, annotation_file: str = "") -> GroundTruthSet:
    """Per-image ground truth of a validated COCO-with-text dict (SPEC §1)."""
    from ..datasets.annotation_io import is_dont_care, word_text

    by_image: dict[int, ImageGroundTruth] = {image["id"]: ImageGroundTruth() for image in coco["images"]}
    for annotation in coco["annotations"]:
        image = by_image[annotation["image_id"]]
        image.polygons.append(annotation_polygon(annotation))
        image.texts.append(word_text(annotation)[0])
        image.dont_care.append(bool(is_dont_care(annotation)))
    return GroundTruthSet(annotation_file=str(annotation_file),
                          image_ids=[image["id"] for image in coco["images"]],
                          file_names=[image["file_name"] for image in coco["images"]],
                          images=[by_image[image["id"]] for image in coco["images"]])


def load_ground_truth(annotation_file: str | Path) -> GroundTruthSet:
    """Reads and validates a COCO-with-text file (``AnnotationError`` on a bad one) into per-image ground truth."""
    from ..datasets.annotation_io import load_coco_text

    return ground_truth_from_coco(load_coco_text(str(annotation_file)), str(annotation_file))


def align_predictions(gt: GroundTruthSet, predictions: Mapping[int, ImagePredictions],
                      source: str = "predictions") -> list[ImagePredictions]:
    """Predictions in the ground truth's image order (empty for images without any); ids unknown to the ground
    truth are an error."""
    unknown = sorted(set(predictions) - set(gt.image_ids))
    if unknown:
        raise EvaluationError(f"{source}: {len(unknown)} image id(s) not in {gt.annotation_file or 'the ground truth'}"
                              f" (first: {unknown[0]})")
    return [predictions.get(image_id, ImagePredictions()) for image_id in gt.image_ids]
