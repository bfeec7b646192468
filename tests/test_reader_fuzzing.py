"""Property tests (hypothesis) of every reader of users' files: "COCO with text" (load_coco_text, check_dataset), the
ICDAR and CVAT importers, predictions.json and ICDAR submissions, export_config.yaml, template.yaml and checkpoints.

Each reader gets valid inputs, inputs with one part changed to something wrong (wrong types, missing keys, NaN,
infinities, negative or huge coordinates, self-intersecting and degenerate polygons, empty texts, duplicate ids,
images that are missing or not images) and files damaged as bytes (truncated, bytes changed or inserted, not UTF-8,
a BOM, nested too deep, numbers of thousands of digits). The property, for every input: the reader returns a result
whose counts are those of the input, or raises its own error with one line naming the file -- never another
exception, a hang or a silently wrong count.

The suite runs a bounded, derandomized search (a few seconds per reader). A longer, random one (see README,
Reliability):

    TS_FUZZ_EXAMPLES=3000 venv/bin/python -m pytest tests/test_reader_fuzzing.py --hypothesis-show-statistics
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import cv2
import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import REPO_ROOT
from text_spotting.datasets.annotation_io import (AnnotationError, check_dataset, convert_cvat, convert_icdar,
                                                  load_coco_text, word_text)
from text_spotting.evaluation import EvaluationError
from text_spotting.evaluation.icdar import ImageGroundTruth, ImagePredictions, evaluate_set
from text_spotting.evaluation.predictions_io import (ground_truth_from_coco, load_icdar_submission,
                                                     load_predictions)
from text_spotting.export.export_config import (EXPORT_CONFIG_FILE, FORMAT, ROLES, ExportFormatError,
                                                load_export_config)
from text_spotting.templates import TemplateError, apply_template, load_template
from text_spotting.checkpoint import CheckpointError, read_checkpoint

# 0: the suite's bounded, derandomized run; N > 0: N random examples per test (the longer run of the README).
FUZZ_EXAMPLES = int(os.environ.get("TS_FUZZ_EXAMPLES", "0"))
# A reader that takes longer than this on a tiny input hangs.
HANG_SECONDS = 30
# A one-line message quotes at most a short piece of the bad value.
MAX_MESSAGE_EXTRA = 300
CPU_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"


def fuzz(examples: int):
    """Hypothesis settings: ``examples`` derandomized examples in the suite, ``TS_FUZZ_EXAMPLES`` random ones when
    set. No example database (nothing is written into the repository) and no deadline (a shared CPU is slow at
    times; hangs are caught by :func:`no_hang`)."""
    return settings(max_examples=FUZZ_EXAMPLES or examples, derandomize=not FUZZ_EXAMPLES, deadline=None,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example, HealthCheck.filter_too_much])


class Hang(BaseException):
    """Raised by :func:`no_hang`; a BaseException, so that no reader's ``except Exception`` can swallow it."""


@contextlib.contextmanager
def no_hang(seconds: float = HANG_SECONDS):
    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_one_line(error: BaseException | str, names: str | Path) -> str:
    """The message is one short line that names ``names`` (a file, or the folder the culprit is in)."""
    message = str(error)
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    assert str(names) in message, f"{names} not named in {message!r}"
    assert len(message) <= len(str(names)) * 2 + MAX_MESSAGE_EXTRA, f"too long: {message[:2000]!r}"
    return message


def rejected(error: BaseException, names: str | Path) -> str:
    """:func:`assert_one_line`, and the kind of message counted in hypothesis' statistics."""
    message = assert_one_line(error, names)
    last = message.removeprefix(str(names)).split(": ")[-1]
    event("rejected: " + re.sub(r"'[^']*'|\"[^\"]*\"|-?\d[\d.e+-]*", "_", last)[:50])
    return message


# ---------------------------------------------------------------------------------------------------------------------
# Shared strategies: wrong values, document mutations, damaged bytes

ODD_NUMBERS = st.sampled_from([0, -1, -0.0, 0.5, 1e308, -1e308, 5e-324, 2 ** 63, -2 ** 63, 10 ** 400,
                               float("nan"), float("inf"), float("-inf")])
NUMBERS = st.one_of(st.integers(-10 ** 6, 10 ** 6), st.floats(allow_nan=True, allow_infinity=True), ODD_NUMBERS)
ODD_TEXTS = st.sampled_from(["", " ", "###", "\ufeff", "\x00", "a\nb", "a\rb", "a,b", '"q"', "\\", "é", "\u2028",
                             "\ud7ff", "x" * 500, "1", "nan", "true"])
TEXTS = st.one_of(st.text(max_size=12), ODD_TEXTS)
JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), NUMBERS, TEXTS),
                           lambda children: st.one_of(st.lists(children, max_size=4),
                                                      st.dictionaries(st.text(max_size=6), children, max_size=3)),
                           max_leaves=8)
# Polygons as a user's file may hold them: self-intersecting (a bow tie), degenerate, collinear, huge, negative,
# too short, odd, nested wrongly.
ODD_POLYGONS = st.sampled_from([
    [0, 0, 10, 10, 10, 0, 0, 10], [0, 0, 10, 10, 0, 10, 10, 0], [5, 5, 5, 5, 5, 5, 5, 5], [0, 0, 5, 5, 10, 10],
    [0, 0, 1e308, 0, 1e308, 1e308], [-5, -5, -1, -5, -1, -1], [0, 0, 10, 0], [0, 0, 10, 0, 10, 10, 0],
    [[0, 0, 10, 0, 10, 10]], [], [0, 0, float("nan"), 0, 10, 10], [0, 0, 10 ** 400, 0, 10, 10],
    [0, 0, 4, 0, 4, 4, 2, 6, 0, 4, 3, 3, 1, 1],
])


def json_paths(value, path=()):
    """Every ``(path, value)`` inside a JSON-like document, the root included."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from json_paths(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from json_paths(child, path + (index,))


@st.composite
def mutated(draw, document, replacements=JSON_VALUES, changes=(0, 2)):
    """``document`` with a few parts changed: replaced by a wrong value or a bad polygon, deleted, duplicated (same
    ids twice), or a list emptied."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(*changes))):
        paths = [path for path, _ in json_paths(document) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "polygon", "delete", "duplicate", "empty"]))
        if action == "replace":  # a copy: sampled values are shared between examples
            parent[key] = copy.deepcopy(draw(replacements))
        elif action == "polygon":
            parent[key] = copy.deepcopy(draw(ODD_POLYGONS))
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif action == "empty" and isinstance(parent[key], (list, dict)):
            parent[key] = type(parent[key])()
    return document


NUMBER_TOKEN = re.compile(rb"-?\d+(\.\d+)?([eE][+-]?\d+)?")
ODD_LITERALS = [b"1e999", b"-1e999", b"NaN", b"Infinity", b"9" * 5000, b"1" + b"0" * 400, b"-0", b"0x10", b"1_0",
                b"\"3\"", b"true", b"null"]


@st.composite
def damaged(draw, data: bytes, deep_prefix: bytes = b"[") -> bytes:
    """``data`` as a disk might hand it back: unchanged (most often), truncated, with bits flipped or bytes inserted,
    a BOM or another encoding, a number token replaced by an odd literal, or nested very deep."""
    kind = draw(st.sampled_from(["none", "none", "none", "truncate", "flip", "insert", "bom", "utf16", "literal",
                                 "deep", "latin1"]))
    event(f"damage: {kind}")
    if kind == "truncate" and data:
        return data[:draw(st.integers(0, len(data) - 1))]
    if kind == "flip" and data:
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16")
    if kind == "latin1":
        return data.decode("utf-8", "replace").encode("latin-1", "replace") + b"\xe9\xff"
    if kind == "literal":
        tokens = list(NUMBER_TOKEN.finditer(data))
        if tokens:
            token = draw(st.sampled_from(tokens))
            return data[:token.start()] + draw(st.sampled_from(ODD_LITERALS)) + data[token.end():]
    if kind == "deep":
        return deep_prefix * draw(st.sampled_from([50, 5000, 100000])) + data
    return data


@pytest.fixture(scope="module")
def scratch():
    """A folder for the files of one example at a time (hypothesis runs many examples per test)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as directory:
        yield Path(directory)


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def png_bytes(width: int, height: int) -> bytes:
    return cv2.imencode(".png", np.full((height, width, 3), 127, np.uint8))[1].tobytes()


# ---------------------------------------------------------------------------------------------------------------------
# "COCO with text": load_coco_text and check_dataset

GOOD_IMAGE = ("good.png", 32, 24)  # the one decodable image of the data root; the other names are broken
IMAGE_NAMES = ["good.png", "text.png", "empty.png", "missing.png", "folder.png", "../outside.png", "sub/good.png"]
RECORD_PATTERN = re.compile(r": (top level|(images|annotations|categories)\[\d+\]|(image|annotation|category) id "
                            r"-?\d+)(: field '[^']+')?: |: (not valid JSON|not UTF-8 text|cannot read)")


@st.composite
def coco_documents(draw):
    """A valid "COCO with text" document: 1-3 images (often the data root's good.png at its real size), 0-5 words
    with rectangles inside their image."""
    images = []
    for index in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(IMAGE_NAMES)) if index else "good.png"
        width, height = (GOOD_IMAGE[1:] if draw(st.booleans())
                         else (draw(st.integers(8, 64)), draw(st.integers(8, 64))))
        if any(image["file_name"] == name for image in images):
            name = f"{index}_{name.replace('/', '_')}"
        images.append({"id": index + 1, "file_name": name, "width": width, "height": height})
    annotations = []
    for index in range(draw(st.integers(0, 5))):
        image = draw(st.sampled_from(images))
        x, y = draw(st.integers(0, image["width"] - 2)), draw(st.integers(0, image["height"] - 2))
        w, h = draw(st.integers(1, image["width"] - x)), draw(st.integers(1, image["height"] - y))
        transcription = draw(st.one_of(st.text(max_size=8), st.sampled_from(["###", "", "Hello", "Über"])))
        legible = draw(st.booleans()) and transcription not in ("", "###")
        key = draw(st.sampled_from(["text", "attributes"]))
        annotations.append({"id": index + 1, "image_id": image["id"], "category_id": 1,
                            "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]], "bbox": [x, y, w, h],
                            "iscrowd": int(not legible),
                            key: {"transcription": transcription, "legible": legible, "language": "en"}})
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "text"}]}


@st.composite
def coco_files(draw):
    document = draw(coco_documents())
    changed = draw(mutated(document))
    text = json.dumps(changed, ensure_ascii=draw(st.booleans()))
    return document, changed, draw(damaged(text.encode("utf-8")))


@pytest.fixture(scope="module")
def data_root(scratch):
    root = scratch / "data_root"
    root.mkdir()
    (root / "good.png").write_bytes(png_bytes(*GOOD_IMAGE[1:]))
    (root / "text.png").write_text("not an image")
    (root / "empty.png").write_bytes(b"")
    (root / "folder.png").mkdir()
    return root


@fuzz(150)
@given(case=coco_files())
def test_coco_text_loads_or_names_file_record_and_field(case, scratch, data_root):
    document, changed, data = case
    path = scratch / "ann.json"
    path.write_bytes(data)
    try:
        with no_hang():
            loaded = load_coco_text(path)
    except AnnotationError as error:
        message = rejected(error, path)
        assert RECORD_PATTERN.search(message), f"no record/field named: {message}"
        loaded = None
    else:
        event("loaded")
        assert loaded == json.loads(data.decode("utf-8-sig"))
        # Whatever the loader accepts, the readers behind it take without another error.
        truth = ground_truth_from_coco(loaded, str(path))
        assert len(truth.images) == len(loaded["images"])
        assert sum(len(image.polygons) for image in truth.images) == len(loaded["annotations"])
        assert all(np.isfinite(polygon).all() and len(polygon) >= 3 for image in truth.images
                   for polygon in image.polygons)
        for ann in loaded["annotations"]:
            word_text(ann)

    # check_dataset reports every problem instead of raising, and agrees with the loader.
    with no_hang():
        report = check_dataset(path, data_root, alphabet="abc")
    report.format(max_per_kind=3)
    if loaded is None:
        assert not report.ok
    else:
        assert report.images == len(loaded["images"]) and report.words == len(loaded["annotations"])
        files_ok = all(image["file_name"] == "good.png" and (image["width"], image["height"]) == GOOD_IMAGE[1:]
                       for image in loaded["images"])
        assert report.ok == files_ok, report.format()
    for problem in report.problems:
        assert_one_line(problem.format(str(path)), path)


# ---------------------------------------------------------------------------------------------------------------------
# ICDAR gt_*.txt folders

LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
# Transcriptions never hold a line end, but may hold anything else (commas, quotes, form feeds, U+2028, '###').
TRANSCRIPTIONS = st.one_of(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=10),
                           st.sampled_from(["###", "", "Hello, world", '"quoted"', "a\\b", "\x0c", "\u2028", "Café"]))
COORDINATES = st.one_of(st.integers(-20, 60), st.floats(-20, 60, allow_nan=False).map(lambda v: round(v, 2)))


@st.composite
def icdar_lines(draw, icdar_format: str):
    """One ground-truth line: ``(text, transcription or None)``; None for a junk or blank line."""
    kind = draw(st.sampled_from(["word", "word", "word", "blank", "junk"]))
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t", " \x0c "])), None
    if kind == "junk":
        return draw(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)), None
    transcription = draw(TRANSCRIPTIONS)
    if icdar_format == "2015":
        quad = [draw(COORDINATES) for _ in range(8)]
        return ",".join(str(v) for v in quad) + "," + transcription, transcription
    x1, y1 = draw(COORDINATES), draw(COORDINATES)
    x2, y2 = x1 + draw(st.integers(1, 30)), y1 + draw(st.integers(1, 30))
    separator = draw(st.sampled_from([" ", ",", ", "]))
    quoted = '"' + transcription.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return separator.join(str(v) for v in (x1, y1, x2, y2)) + separator + quoted, transcription


@st.composite
def icdar_folders(draw):
    """``(format, {image name: image bytes}, {gt name: (bytes, transcriptions or None)})``; the transcriptions
    (None for a blank or junk line) only for a file that was not damaged."""
    icdar_format = draw(st.sampled_from(["2015", "2013"]))
    images, gts = {}, {}
    for index in range(draw(st.integers(1, 3))):
        name = f"img_{index + 1}.{draw(st.sampled_from(['png', 'PNG', 'jpg']))}"
        width, height = draw(st.integers(4, 40)), draw(st.integers(4, 40))
        images[name] = b"not an image" if draw(st.integers(0, 9)) == 9 else png_bytes(width, height)
        lines = draw(st.lists(icdar_lines(icdar_format), max_size=5))
        ending = draw(LINE_ENDS)
        text = ending.join(line for line, _ in lines) + (ending if draw(st.booleans()) else "")
        data = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig"])))
        damaged_data = draw(damaged(data, deep_prefix=b""))
        gts[f"gt_img_{index + 1}.txt"] = (damaged_data, [t for _, t in lines] if damaged_data == data else None)
    if draw(st.integers(0, 9)) == 9:
        gts.pop(draw(st.sampled_from(sorted(gts))))
    if draw(st.integers(0, 9)) == 9:
        gts["gt_img_99.txt"] = (b"1,1,2,1,2,2,1,2,orphan", ["orphan"])
    return icdar_format, images, gts


def text_lines(data: bytes) -> list[str]:
    """The lines of a ground-truth file as SPEC section 1 defines them: UTF-8 (BOM or not), ended by LF, CRLF or CR."""
    return re.split(r"\r\n|\r|\n", data.decode("utf-8-sig"))


@fuzz(120)
@given(case=icdar_folders())
def test_icdar_import_keeps_every_word_or_names_the_file(case, scratch):
    icdar_format, images, gts = case
    gt_dir, image_dir = fresh(scratch / "icdar" / "gt"), fresh(scratch / "icdar" / "images")
    for name, data in images.items():
        (image_dir / name).write_bytes(data)
    for name, (data, _) in gts.items():
        (gt_dir / name).write_bytes(data)
    try:
        with no_hang():
            coco, summary = convert_icdar(str(gt_dir), str(image_dir), icdar_format)
    except AnnotationError as error:
        rejected(error, scratch / "icdar")
        return
    event("loaded")
    assert summary.images == len(images) == len(coco["images"]) and summary.words == len(coco["annotations"])
    # Every non-blank line became a word, or was left out as lying wholly outside its image: none lost, none split.
    lines = sum(bool(line.strip()) for data, _ in gts.values() for line in text_lines(data))
    assert summary.words + summary.skipped["zero-area shapes"] == lines
    written = [t for _, transcriptions in gts.values() if transcriptions is not None for t in transcriptions]
    if all(transcriptions is not None and None not in transcriptions for _, transcriptions in gts.values()):
        kept = [word_text(ann)[0] for ann in coco["annotations"]]
        assert not set(kept) - set(written), "a transcription changed on the way"


# ---------------------------------------------------------------------------------------------------------------------
# CVAT "for images 1.1" XML

ODD_NUMBER_TEXTS = st.sampled_from(["", " ", "nan", "inf", "-inf", "1e999", "\u00b2", "9" * 5000, "0x10", "1_0",
                                    " 3 ", "-1e308", "1e308", "1,5", "\u0661\u0662"])
ODD_SIZES = st.sampled_from(["", "0", "-5", "\u00b2", "9" * 5000, "1.5", " 12 ", "nan", "\u0661\u0662", "99999999",
                             "1048577"])
# Any text an XML 1.0 file can hold (no control characters but tab, line feed and carriage return).
XML_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"), max_size=10)


@st.composite
def cvat_shapes(draw):
    tag = draw(st.sampled_from(["polygon", "polygon", "box", "box", "polyline", "points", "mask", "tag"]))
    attributes = {"label": draw(st.sampled_from(["text", "word", ""]))}
    if tag in ("polygon", "polyline", "points"):
        points = [(str(draw(COORDINATES)), str(draw(COORDINATES))) for _ in range(draw(st.integers(0, 6)))]
        attributes["points"] = ";".join(f"{x},{y}" for x, y in points)
    elif tag == "box":
        for key in ("xtl", "ytl"):
            attributes[key] = str(draw(COORDINATES))
        attributes["xbr"] = str(float(attributes["xtl"]) + draw(st.integers(0, 30)))
        attributes["ybr"] = str(float(attributes["ytl"]) + draw(st.integers(0, 30)))
        if draw(st.booleans()):
            attributes["rotation"] = str(draw(st.floats(-720, 720, allow_nan=False)))
    if attributes and draw(st.integers(0, 9)) == 9:  # one odd value
        key = draw(st.sampled_from(sorted(attributes)))
        attributes[key] = draw(ODD_NUMBER_TEXTS)
    children = ""
    if draw(st.booleans()):
        children += f'<attribute name="{draw(st.sampled_from(["text", "transcription", "Text "]))}">' \
                    f"{escape(draw(XML_TEXT))}</attribute>"
    if draw(st.integers(0, 3)) == 3:
        children += f'<attribute name="legible">{draw(st.sampled_from(["true", "false", "0", "yes", "maybe", ""]))}' \
                    "</attribute>"
    return f"<{tag} " + " ".join(f"{key}={quoteattr(value)}" for key, value in attributes.items()) + \
        f">{children}</{tag}>"


@st.composite
def cvat_files(draw):
    images = []
    for index in range(draw(st.integers(0, 3))):
        name = draw(st.one_of(st.just(f"img_{index}.jpg"), XML_TEXT))
        size = [str(draw(st.integers(4, 60))) for _ in range(2)]
        if draw(st.integers(0, 9)) == 9:
            size[draw(st.integers(0, 1))] = draw(ODD_SIZES)
        shapes = "".join(draw(st.lists(cvat_shapes(), max_size=4)))
        images.append(f'<image id="{index}" name={quoteattr(name)} width={quoteattr(size[0])} '
                      f"height={quoteattr(size[1])}>{shapes}</image>")
    root = draw(st.sampled_from(["annotations"] * 8 + ["annotation", "track"]))
    text = f'<?xml version="1.0" encoding="utf-8"?>\n<{root}><version>1.1</version>{"".join(images)}</{root}>'
    labels = draw(st.sampled_from([None, None, ["text"]]))
    return draw(damaged(text.encode("utf-8"), deep_prefix=b"<a>")), labels


@fuzz(120)
@given(case=cvat_files())
def test_cvat_import_keeps_every_shape_or_names_the_file(case, scratch):
    data, labels = case
    path = scratch / "annotations.xml"
    path.write_bytes(data)
    try:
        with no_hang():
            coco, summary = convert_cvat(str(path), labels)
    except AnnotationError as error:
        rejected(error, path)
        return
    event("loaded")
    import xml.etree.ElementTree as ET

    images = ET.parse(path).getroot().findall("image")
    assert summary.images == len(images) == len(coco["images"]) and summary.words == len(coco["annotations"])
    # Every child of an <image> is a word or counted among the shapes left out (and why).
    assert summary.words + sum(summary.skipped.values()) == sum(len(list(image)) for image in images)


# ---------------------------------------------------------------------------------------------------------------------
# predictions.json and ICDAR submissions

@st.composite
def prediction_records(draw):
    from pycocotools import mask as mask_utils

    records = []
    for _ in range(draw(st.integers(0, 5))):
        x, y = draw(st.integers(0, 50)), draw(st.integers(0, 50))
        w, h = draw(st.integers(0, 30)), draw(st.integers(0, 30))
        polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
        record = {"image_id": draw(st.sampled_from([1, 2, 3])), "bbox": [x, y, w, h],
                  "score": draw(st.floats(0, 1)), "text": draw(st.text(max_size=6)),
                  "text_score": draw(st.one_of(st.none(), st.floats(0, 1)))}
        kind = draw(st.sampled_from(["polygon", "polygon", "flat", "rle", "none", "empty"]))
        if kind == "polygon":
            record["segmentation"] = [polygon]
        elif kind == "flat":
            record["segmentation"] = polygon
        elif kind == "rle":
            mask = np.zeros((64, 96), np.uint8, order="F")
            mask[y:y + h, x:x + w] = 1
            rle = mask_utils.encode(mask)
            record["segmentation"] = {"size": [64, 96], "counts": rle["counts"].decode("ascii")}
        elif kind == "empty":
            record["segmentation"] = []
        records.append(record)
    return records


ODD_SEGMENTATIONS = st.sampled_from([5, "abc", True, {"size": [10, "a"], "counts": "x"}, {"size": [10 ** 6] * 2,
                                     "counts": "abc"}, {"size": [8, 8], "counts": "\u00e9"}, {"size": [4, 4],
                                     "counts": [3, 4, 9]}, {"size": [4, 4], "counts": [-1]}, {"counts": "a"},
                                     [[0, 0, 1, 1]], [[]], [[0, 0, 10, 10, 10, 0, 0, 10]]])
# Ground truth to score any loaded predictions against: a rectangle, a bow tie and a needle-thin quad.
GROUND_TRUTH = [ImageGroundTruth([np.array([[0, 0, 20, 0, 20, 10, 0, 10]], float).reshape(4, 2)], ["word"], [False]),
                ImageGroundTruth([np.array([0, 0, 10, 10, 10, 0, 0, 10], float).reshape(4, 2)], ["bow"], [False]),
                ImageGroundTruth([np.array([0, 0, 50, 0, 50, 1e-9, 0, 1e-9], float).reshape(4, 2)], ["###"],
                                 [True])]


@st.composite
def prediction_files(draw):
    records = draw(mutated(draw(prediction_records()), replacements=JSON_VALUES | ODD_SEGMENTATIONS))
    return draw(damaged(json.dumps(records).encode("utf-8")))


@fuzz(150)
@given(data=prediction_files())
def test_predictions_file_loads_and_scores_or_names_file_record_and_field(data, scratch):
    path = scratch / "predictions.json"
    path.write_bytes(data)
    try:
        with no_hang():
            predictions = load_predictions(path)
    except EvaluationError as error:
        message = rejected(error, path)
        assert re.search(r": (record #\d+: (field '[^']+'|expected an object)|not valid JSON|not UTF-8|expected a "
                         r"JSON list)", message), message
        return
    event("loaded")
    records = json.loads(data.decode("utf-8-sig"))
    assert sum(len(image.polygons) for image in predictions.values()) == len(records)
    for image in predictions.values():
        assert all(polygon.ndim == 2 and polygon.shape[1] == 2 and len(polygon) >= 3 and np.isfinite(polygon).all()
                   for polygon in image.polygons)
        assert all(math.isfinite(score) for score in image.scores)
    # Whatever loads, the metric scores (degenerate and self-intersecting polygons included).
    aligned = [predictions[image_id] if image_id in predictions else ImagePredictions() for image_id in (1, 2, 3)]
    with no_hang():
        result = evaluate_set(GROUND_TRUTH, aligned)
    for tally in result.tallies.values():
        assert all(0.0 <= value <= 1.0 for value in tally.as_dict().values())


def without_dates(data: bytes) -> bytes:
    """The same zip with every member dated 1980-01-01, so that the same example gives the same bytes (hypothesis
    replays examples)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            dated = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            dated.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(dated, source.read(info))
    return buffer.getvalue()


@fuzz(60)
@given(records=prediction_records(), damage=st.data())
def test_icdar_submission_zip_loads_or_names_the_file(records, damage, scratch):
    from text_spotting.evaluation.predictions_io import coco_results_to_predictions, write_icdar_submission

    grouped = coco_results_to_predictions(records)
    names = {image_id: f"img_{image_id}.jpg" for image_id in (1, 2, 3)}
    folder = fresh(scratch / "submission")
    zip_path = write_icdar_submission([(names[i], grouped.get(i, ImagePredictions())) for i in names], folder)
    data = damage.draw(damaged(without_dates(zip_path.read_bytes())))
    zip_path.write_bytes(data)
    try:
        with no_hang():
            loaded = load_icdar_submission(zip_path, names)
    except EvaluationError as error:
        rejected(error, zip_path)
        return
    event("loaded")
    if zipfile.is_zipfile(io.BytesIO(data)):
        assert sum(len(image.polygons) for image in loaded.values()) == len(records)


# ---------------------------------------------------------------------------------------------------------------------
# export_config.yaml and the IRs it names

IR_XML = ('<?xml version="1.0"?>\n<net name="{role}" version="11"><layers/><edges/><rt_info><text_spotting>'
          '<format value="{format}"/><format_version value="1"/><role value="{role}"/><export_id value="{export_id}"/>'
          '</text_spotting></rt_info></net>\n')
EXPORT_ID = "0123456789abcdef0123456789abcdef"


def fake_export(directory: Path) -> dict:
    """An export folder with small stand-in IRs (XML with this export's rt_info, random .bin) and its config."""
    from text_spotting.export import export_config

    IR_FILES = {role: export_config.IR_FILES[role] for role in ROLES}
    # An attention-kind export: the keys every export has, and those of its kind.
    required = {**export_config.REQUIRED_KEYS, **getattr(export_config, "KIND_REQUIRED_KEYS", {}).get("attention", {})}

    hashes = {}
    for role, xml_name in IR_FILES.items():
        (directory / xml_name).write_text(IR_XML.format(role=role, format=FORMAT, export_id=EXPORT_ID))
        payload = hashlib.sha256(role.encode()).digest() * 64
        (directory / xml_name).with_suffix(".bin").write_bytes(payload)
        hashes[role] = hashlib.sha256(payload).hexdigest()
    values = {"format": FORMAT, "format_version": 1, "template": "text-spotting-cpu-attention",
              "alphabet": "0123456789abcdefghijklmnopqrstuvwxyz", "case_sensitive": False, "max_length": 28,
              "input_size": [160, 96], "thresholds": {"detection": 0.8, "recognition": 0.0}, "precision": "FP32",
              "text_feature_channels": 64, "encoder_channels": 64, "decoder_hidden_size": 128, "num_classes": 38,
              "export_id": EXPORT_ID, "exported_with": {"torch": "2"}}
    defaults = {str: "x", int: 1, bool: False, list: [], dict: {}, float: 0.5}
    config = {key: values.get(key, defaults.get(kind)) for key, kind in required.items()}
    config.update(files=dict(IR_FILES), files_sha256=hashes, source_weights_sha256="0" * 64)
    return config


@st.composite
def export_folders(draw):
    """``(config YAML bytes, [file damages])``."""
    with tempfile.TemporaryDirectory() as directory:
        config = fake_export(Path(directory))
    changed = draw(mutated(config, changes=(0, 1)))
    data = draw(damaged(yaml.safe_dump(changed, allow_unicode=True).encode("utf-8"), deep_prefix=b"- "))
    damages = draw(st.lists(st.tuples(st.sampled_from(ROLES),
                                      st.sampled_from(["delete xml", "delete bin", "truncate bin", "flip bin",
                                                       "truncate xml", "foreign xml", "other export", "swap",
                                                       "bin folder", "garbage xml"])), max_size=1))
    return data, damages


def damage_export(directory: Path, role: str, damage: str) -> None:
    from text_spotting.export.export_config import IR_FILES

    xml = directory / IR_FILES[role]
    other = directory / IR_FILES[ROLES[(ROLES.index(role) + 1) % len(ROLES)]]
    binary = xml.with_suffix(".bin")
    if damage == "delete xml":
        xml.unlink()
    elif damage == "delete bin":
        binary.unlink()
    elif damage == "truncate bin":
        binary.write_bytes(binary.read_bytes()[:100])
    elif damage == "flip bin":
        data = bytearray(binary.read_bytes())
        data[7] ^= 1
        binary.write_bytes(bytes(data))
    elif damage == "truncate xml":
        xml.write_bytes(xml.read_bytes()[:60])
    elif damage == "foreign xml":
        xml.write_text('<?xml version="1.0"?><net name="x" version="11"><layers/></net>')
    elif damage == "other export":
        xml.write_text(IR_XML.format(role=role, format=FORMAT, export_id="f" * 32))
    elif damage == "swap":
        xml_text = xml.read_bytes()
        xml.write_bytes(other.read_bytes())
        other.write_bytes(xml_text)
    elif damage == "bin folder":
        binary.unlink()
        binary.mkdir()
    elif damage == "garbage xml":
        xml.write_bytes(b"\x00\xff" * 20)


@fuzz(150)
@given(case=export_folders())
def test_export_config_loads_consistent_irs_or_names_the_file(case, scratch):
    data, damages = case
    directory = fresh(scratch / "export")
    fake_export(directory)
    (directory / EXPORT_CONFIG_FILE).write_bytes(data)
    for role, damage in damages:
        damage_export(directory, role, damage)
    try:
        with no_hang():
            config = load_export_config(directory)
    except ExportFormatError as error:
        rejected(error, directory)
        return
    event("loaded")
    # What the runtime reads from a loaded config is there and sane.
    assert config["format"] == FORMAT and config["alphabet"] and isinstance(config["alphabet"], str)
    width, height = config["input_size"]
    assert all(type(v) is int and v >= 32 for v in (width, height))
    assert all(type(config["thresholds"][k]) in (int, float) and 0 <= config["thresholds"][k] <= 1
               for k in ("detection", "recognition"))
    assert type(config["max_length"]) is int and config["max_length"] > 0
    for role in ROLES:
        xml = directory / config["files"][role]
        assert xml.parent == directory and xml.is_file()
        assert hashlib.sha256(xml.with_suffix(".bin").read_bytes()).hexdigest() == config["files_sha256"][role]


# ---------------------------------------------------------------------------------------------------------------------
# template.yaml

@pytest.fixture(scope="module")
def template_base():
    from mmengine.config import Config

    template = yaml.safe_load((CPU_TEMPLATE / "template.yaml").read_text(encoding="utf-8"))
    return template, Config.fromfile(str(CPU_TEMPLATE / "model.py"))


@fuzz(120)
@given(case=st.data())
def test_template_loads_into_a_working_config_or_names_the_file(case, template_base, scratch):
    template, cfg = template_base
    changed = case.draw(mutated(template, changes=(0, 1)))
    data = case.draw(damaged(yaml.safe_dump(changed, allow_unicode=True).encode("utf-8"), deep_prefix=b"- "))
    directory = scratch / "template"
    directory.mkdir(exist_ok=True)
    (directory / "model.py").write_text("_base_ = []\n")
    file = directory / "template.yaml"
    file.write_bytes(data)
    try:
        with no_hang():
            loaded = load_template(directory)
    except TemplateError as error:
        rejected(error, file)
        return
    event("loaded")
    # Whatever the loader accepts, the config takes without another error, as the numbers it needs.
    applied = apply_template(copy.deepcopy(cfg), loaded)
    assert type(applied.train_cfg.max_epochs) is int and applied.train_cfg.max_epochs > 0
    assert type(applied.train_dataloader.batch_size) is int and applied.train_dataloader.batch_size > 0
    assert math.isfinite(applied.optim_wrapper.optimizer.lr) and applied.optim_wrapper.optimizer.lr > 0
    assert applied.model.roi_head.text_head.alphabet and applied.model.roi_head.text_head.max_length > 0
    assert type(applied.model.roi_head.text_head.case_sensitive) is bool
    assert all(type(v) is int for v in applied.input_size)


# ---------------------------------------------------------------------------------------------------------------------
# checkpoints

def checkpoint_bytes(**kwargs) -> bytes:
    buffer = io.BytesIO()
    torch.save(CHECKPOINT, buffer, **kwargs)
    return buffer.getvalue()


CHECKPOINT = {"state_dict": {"backbone.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4),
                             "head.bias": torch.ones(3, dtype=torch.float16), "steps": torch.tensor([7])},
              "meta": {"epoch": 2, "iter": 10, "template": {"name": "text-spotting-cpu-attention"}},
              "optimizer": {"state": {0: {"momentum_buffer": torch.zeros(3)}}, "param_groups": [{"lr": 0.1}]}}


@st.composite
def checkpoint_files(draw):
    """``(bytes, whether they hold CHECKPOINT when they load at all)``."""
    kind = draw(st.sampled_from(["zip", "zip", "zip", "hole", "legacy", "member", "global", "not dict",
                                 "not tensors"]))
    event(f"checkpoint: {kind}")
    if kind == "legacy":  # torch < 1.6's format has no checksums: no promise about its bytes
        return draw(damaged(checkpoint_bytes(_use_new_zipfile_serialization=False))), False
    if kind == "global":
        import pickle

        class Evil:
            def __reduce__(self):
                return os.getcwd, ()

        buffer = io.BytesIO()
        torch.save({"state_dict": {}, "x": Evil()}, buffer, pickle_module=pickle)
        return buffer.getvalue(), False
    if kind == "not dict":
        buffer = io.BytesIO()
        torch.save([torch.zeros(2)], buffer)
        return buffer.getvalue(), False
    if kind == "not tensors":
        buffer = io.BytesIO()
        torch.save({"state_dict": {"a": 1.5}, "meta": 3}, buffer)
        return buffer.getvalue(), False
    data = checkpoint_bytes()
    if kind == "hole":  # a torn write: a run of zeros where data was
        start = draw(st.integers(0, len(data) - 1))
        end = min(len(data), start + draw(st.integers(1, 4096)))
        return data[:start] + bytes(end - start) + data[end:], True
    if kind == "member":  # an archive rewritten without one of its members
        source = zipfile.ZipFile(io.BytesIO(data))
        names = source.namelist()
        dropped = draw(st.sampled_from(names))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as target:
            for name in names:
                if name != dropped:
                    target.writestr(name, source.read(name))
        return buffer.getvalue(), True
    return draw(damaged(data)), True


@fuzz(150)
@given(case=checkpoint_files())
def test_checkpoint_loads_exactly_or_names_the_file(case, scratch):
    data, holds_checkpoint = case
    path = scratch / "weights.pth"
    path.write_bytes(data)
    try:
        with no_hang():
            checkpoint = read_checkpoint(path)
    except CheckpointError as error:
        rejected(error, path)
        return
    event("loaded")
    assert all(isinstance(name, str) and isinstance(value, torch.Tensor)
               for name, value in checkpoint["state_dict"].items())
    assert isinstance(checkpoint.get("meta", {}), dict)
    if holds_checkpoint:  # never silently other weights
        assert checkpoint["state_dict"].keys() == CHECKPOINT["state_dict"].keys()
        assert all(torch.equal(checkpoint["state_dict"][k], v) for k, v in CHECKPOINT["state_dict"].items())
        assert checkpoint["meta"] == CHECKPOINT["meta"]
