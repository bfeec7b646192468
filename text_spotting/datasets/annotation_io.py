"""Reading, checking, writing and importing "COCO with text" annotations (SPEC §1).

A "COCO with text" file is a COCO detection file whose single category is ``text`` and whose annotations carry a
polygon (``segmentation``), its ``bbox`` ``[x, y, w, h]`` and a ``text`` object
``{"transcription": str, "legible": bool, "language": str}`` (the key ``attributes`` is accepted on read).

All validation lives in one generator, :func:`iter_coco_text_problems`: :func:`load_coco_text` raises
:class:`AnnotationError` on its first problem, :func:`check_dataset` collects every problem and adds the checks that
need the image files. :func:`convert_icdar` and :func:`convert_cvat` import ICDAR ``gt_*.txt`` folders and CVAT
"for images 1.1" XML files.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Generator, Iterable, Iterator, Sequence

import cv2
from tqdm import tqdm

from ..geometry import polygon_area, polygon_to_bbox
from ..messages import short_repr
from ..file_io import fsync_directory
from ..values import is_int as _is_int

TEXT_CATEGORY = 'text'
TEXT_CATEGORY_ID = 1  # the id our converters give the text category
DONT_CARE_TRANSCRIPTION = '###'
# Annotation tools put points up to a pixel outside the image; anything farther is an annotation error.
BOUNDS_TOLERANCE_PX = 1.0
# OpenCV decodes no image wider or taller than this (CV_IO_MAX_IMAGE_WIDTH), so a larger recorded size is a typo.
MAX_IMAGE_SIDE = 1 << 20
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class AnnotationError(ValueError):
    """A malformed annotation file. The message is one line naming the file, the record and the field."""


@dataclass(frozen=True)
class AnnotationProblem:
    """One thing wrong with an annotation file or its images.

    ``kind`` is a short stable label used to group problems ("duplicate id"); ``record`` says which record
    ("annotation id 17"; "images[3]" when the record has no usable id; "top level"; "" for the whole file);
    ``field`` names the field (None when the whole record is wrong); ``detail`` says what is wrong with it.
    """

    kind: str
    record: str
    field: str | None
    detail: str

    def format(self, source: str) -> str:
        """One line: ``"<source>: <record>: field '<field>': <detail>"``."""
        parts = [str(source)]
        if self.record:
            parts.append(self.record)
        if self.field:
            parts.append(f"field '{self.field}'")
        parts.append(self.detail)
        return ': '.join(parts)


# ---------------------------------------------------------------------------------------------------------------------
# Validation: one generator of problems shared by load_coco_text (first problem) and check_dataset (all of them).
# ---------------------------------------------------------------------------------------------------------------------

def iter_coco_text_problems(coco: Any) -> Iterator[AnnotationProblem]:
    """Yields every problem of a parsed "COCO with text" document, in file order.

    Order: top level, categories, images, annotations. A missing or mistyped top-level list ends the walk because
    nothing below it can be checked.
    """
    if not isinstance(coco, dict):
        yield AnnotationProblem('wrong type', 'top level', None, f'expected a JSON object, got {_describe(coco)}')
        return
    structure_ok = True
    for key in ('images', 'annotations', 'categories'):
        if key not in coco:
            yield AnnotationProblem('missing field', 'top level', key, 'missing')
            structure_ok = False
        elif not isinstance(coco[key], list):
            yield AnnotationProblem('wrong type', 'top level', key, f'expected a list, got {_describe(coco[key])}')
            structure_ok = False
    if not structure_ok:
        return
    text_category_id = yield from _category_problems(coco['categories'])
    image_sizes = yield from _image_problems(coco['images'])
    yield from _annotation_problems(coco['annotations'], image_sizes, text_category_id)


def validate_coco_text(coco: Any, source: str) -> None:
    """Raises :class:`AnnotationError` (one line, prefixed by ``source``) on the first problem of ``coco``."""
    for problem in iter_coco_text_problems(coco):
        raise AnnotationError(problem.format(source))


def _category_problems(categories: list) -> Generator[AnnotationProblem, None, int | None]:
    """Checks ``categories``; returns the id of the ``text`` category (None when there is none)."""
    seen_ids: dict[int, int] = {}
    text_ids = []
    for index, category in enumerate(categories):
        record = _record_label('category', 'categories', index, category)
        if not isinstance(category, dict):
            yield AnnotationProblem('wrong type', record, None, f'expected an object, got {_describe(category)}')
            continue
        id_problem = _id_problem(category, record, 'categories', index, seen_ids)
        if id_problem:
            yield id_problem
        if 'name' not in category:
            yield AnnotationProblem('missing field', record, 'name', 'missing')
        elif not isinstance(category['name'], str):
            yield AnnotationProblem('wrong type', record, 'name',
                                    f"expected a string, got {_describe(category['name'])}")
        elif category['name'] == TEXT_CATEGORY and id_problem is None:
            text_ids.append(category['id'])
    if not text_ids:
        yield AnnotationProblem('no text category', 'top level', 'categories', f"no category named '{TEXT_CATEGORY}'")
        return None
    if len(text_ids) > 1:
        yield AnnotationProblem('duplicate category', 'top level', 'categories',
                                f"{len(text_ids)} categories are named '{TEXT_CATEGORY}' (ids {text_ids})")
    return text_ids[0]


def _image_problems(images: list) -> Generator[AnnotationProblem, None, dict[int, tuple[int, int] | None]]:
    """Checks ``images``; returns ``{image id: (width, height)}`` (None for an unusable size) of the valid ids."""
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    sizes: dict[int, tuple[int, int] | None] = {}
    for index, image in enumerate(images):
        record = _record_label('image', 'images', index, image)
        if not isinstance(image, dict):
            yield AnnotationProblem('wrong type', record, None, f'expected an object, got {_describe(image)}')
            continue
        id_problem = _id_problem(image, record, 'images', index, seen_ids)
        if id_problem:
            yield id_problem
        file_name = image.get('file_name')
        if 'file_name' not in image:
            yield AnnotationProblem('missing field', record, 'file_name', 'missing')
        elif not isinstance(file_name, str):
            yield AnnotationProblem('wrong type', record, 'file_name', f'expected a string, got {_describe(file_name)}')
        elif not file_name.strip():
            yield AnnotationProblem('invalid value', record, 'file_name', 'empty file name')
        elif file_name in seen_names:
            yield AnnotationProblem('duplicate file name', record, 'file_name',
                                    f'{file_name!r} is also used by images[{seen_names[file_name]}]')
        else:
            seen_names[file_name] = index
        size_ok = True
        for key in ('width', 'height'):
            if key not in image:
                yield AnnotationProblem('missing field', record, key, 'missing')
                size_ok = False
            elif not _is_int(image[key]):
                yield AnnotationProblem('wrong type', record, key, f'expected an integer, got {_describe(image[key])}')
                size_ok = False
            elif not 0 < image[key] <= MAX_IMAGE_SIDE:
                yield AnnotationProblem('invalid value', record, key,
                                        f'must be between 1 and {MAX_IMAGE_SIDE}, got {_describe(image[key])}')
                size_ok = False
        if id_problem is None:
            sizes[image['id']] = (image['width'], image['height']) if size_ok else None
    return sizes


def _annotation_problems(annotations: list, image_sizes: dict[int, tuple[int, int] | None],
                         text_category_id: int | None) -> Iterator[AnnotationProblem]:
    seen_ids: dict[int, int] = {}
    for index, ann in enumerate(annotations):
        record = _record_label('annotation', 'annotations', index, ann)
        if not isinstance(ann, dict):
            yield AnnotationProblem('wrong type', record, None, f'expected an object, got {_describe(ann)}')
            continue
        id_problem = _id_problem(ann, record, 'annotations', index, seen_ids)
        if id_problem:
            yield id_problem

        image_size = None
        if 'image_id' not in ann:
            yield AnnotationProblem('missing field', record, 'image_id', 'missing')
        elif not _is_int(ann['image_id']):
            yield AnnotationProblem('wrong type', record, 'image_id',
                                    f"expected an integer, got {_describe(ann['image_id'])}")
        elif ann['image_id'] not in image_sizes:
            yield AnnotationProblem('unknown image', record, 'image_id', f"no image has id {ann['image_id']}")
        else:
            image_size = image_sizes[ann['image_id']]

        if 'category_id' not in ann:
            yield AnnotationProblem('missing field', record, 'category_id', 'missing')
        elif text_category_id is not None and (not _is_int(ann['category_id'])
                                               or ann['category_id'] != text_category_id):
            yield AnnotationProblem('wrong category', record, 'category_id',
                                    f"expected {text_category_id} (the '{TEXT_CATEGORY}' category), "
                                    f"got {_describe(ann['category_id'])}")

        if 'iscrowd' in ann and (not _is_number(ann['iscrowd']) or ann['iscrowd'] not in (0, 1)):
            yield AnnotationProblem('invalid value', record, 'iscrowd',
                                    f"expected 0 or 1, got {_describe(ann['iscrowd'])}")

        if 'segmentation' not in ann:
            yield AnnotationProblem('missing field', record, 'segmentation', 'missing')
        else:
            for kind, detail in _segmentation_problems(ann['segmentation'], image_size):
                yield AnnotationProblem(kind, record, 'segmentation', detail)

        if 'bbox' not in ann:
            yield AnnotationProblem('missing field', record, 'bbox', 'missing')
        else:
            for kind, detail in _bbox_problems(ann['bbox'], image_size):
                yield AnnotationProblem(kind, record, 'bbox', detail)

        for field_name, kind, detail in _text_problems(ann):
            yield AnnotationProblem(kind, record, field_name, detail)


def _segmentation_problems(segmentation: Any, image_size: tuple[int, int] | None) -> Iterator[tuple[str, str]]:
    """``(kind, detail)`` for each problem of a ``segmentation`` value (a list of flat polygons)."""
    if isinstance(segmentation, dict):
        yield 'wrong type', 'RLE masks are not supported, expected a list of polygons [[x1, y1, x2, y2, ...]]'
        return
    if not isinstance(segmentation, list):
        yield 'wrong type', f'expected a list of polygons [[x1, y1, x2, y2, ...]], got {_describe(segmentation)}'
        return
    if not segmentation:
        yield 'empty segmentation', 'no polygon'
        return
    for k, polygon in enumerate(segmentation):
        name = f'polygon {k}'
        if not isinstance(polygon, list):
            yield 'wrong type', f'{name}: expected a list of coordinates, got {_describe(polygon)}'
            continue
        problem = _numbers_problem(polygon, f'{name}: coordinate')
        if problem:
            yield problem
            continue
        if len(polygon) % 2:
            yield 'odd number of coordinates', f'{name} has {len(polygon)} coordinates, expected x, y pairs'
            continue
        if len(polygon) < 6:
            yield 'polygon with fewer than 3 points', f'{name} has {len(polygon) // 2} points, at least 3 needed'
            continue
        if image_size is not None:
            width, height = image_size
            outside = next(((x, y) for x, y in zip(polygon[0::2], polygon[1::2])
                            if not _inside(x, width) or not _inside(y, height)), None)
            if outside is not None:
                yield ('polygon outside the image',
                       f'{name}: point ({outside[0]:g}, {outside[1]:g}) lies outside the {width}x{height} image')
        if polygon_area(polygon) == 0:
            yield 'zero-area polygon', f'{name} has zero area (its points are collinear)'


def _bbox_problems(bbox: Any, image_size: tuple[int, int] | None) -> Iterator[tuple[str, str]]:
    if not isinstance(bbox, list) or len(bbox) != 4:
        yield 'wrong type', f'expected [x, y, width, height], got {_describe(bbox)}'
        return
    problem = _numbers_problem(bbox, 'value')
    if problem:
        yield problem
        return
    x, y, w, h = bbox
    if w < 0 or h < 0:
        yield 'negative bbox size', f'width and height must not be negative, got [{x:g}, {y:g}, {w:g}, {h:g}]'
        return
    if image_size is not None:
        width, height = image_size
        if not (_inside(x, width) and _inside(y, height) and _inside(x + w, width) and _inside(y + h, height)):
            yield 'bbox outside the image', f'[{x:g}, {y:g}, {w:g}, {h:g}] reaches outside the {width}x{height} image'


def _text_problems(ann: dict) -> Iterator[tuple[str, str, str]]:
    """``(field, kind, detail)`` for each problem of the word's ``text`` (or ``attributes``) object."""
    key = 'text' if 'text' in ann else 'attributes' if 'attributes' in ann else None
    if key is None:
        yield 'text', 'missing field', "missing (neither 'text' nor 'attributes' is present)"
        return
    text = ann[key]
    if not isinstance(text, dict):
        yield key, 'wrong type', f'expected an object {{transcription, legible, language}}, got {_describe(text)}'
        return
    if 'transcription' not in text:
        yield f'{key}.transcription', 'missing field', 'missing'
    elif not isinstance(text['transcription'], str):
        yield f'{key}.transcription', 'wrong type', f"expected a string, got {_describe(text['transcription'])}"
    if 'legible' in text and not isinstance(text['legible'], bool):
        yield f'{key}.legible', 'wrong type', f"expected true or false, got {_describe(text['legible'])}"
    if 'language' in text and not isinstance(text['language'], str):
        yield f'{key}.language', 'wrong type', f"expected a string, got {_describe(text['language'])}"


def _id_problem(entry: dict, record: str, list_name: str, index: int,
                seen: dict[int, int]) -> AnnotationProblem | None:
    """Checks ``entry['id']``; remembers a valid new id in ``seen`` (id -> index)."""
    if 'id' not in entry:
        return AnnotationProblem('missing field', record, 'id', 'missing')
    entry_id = entry['id']
    if not _is_int(entry_id):
        return AnnotationProblem('wrong type', record, 'id', f'expected an integer, got {_describe(entry_id)}')
    if not _is_id(entry_id):
        return AnnotationProblem('invalid value', record, 'id', f'does not fit in 64 bits: {_describe(entry_id)}')
    if entry_id in seen:
        return AnnotationProblem('duplicate id', record, 'id',
                                 f'duplicate id (also used by {list_name}[{seen[entry_id]}])')
    seen[entry_id] = index
    return None


def _numbers_problem(values: list, what: str) -> tuple[str, str] | None:
    for i, value in enumerate(values):
        if not _is_number(value):
            return 'wrong type', f'{what} {i} is {_describe(value)}, expected a number'
        if not _is_finite(value):  # NaN, Infinity, or an integer too large for a float
            shown = json.dumps(value) if isinstance(value, float) else _describe(value)
            return 'non-finite number', f'{what} {i} is {shown}'
    return None


def _record_label(kind: str, list_name: str, index: int, entry: Any) -> str:
    if isinstance(entry, dict) and _is_id(entry.get('id')):
        return f"{kind} id {entry['id']}"
    return f'{list_name}[{index}]'


def _is_id(value: Any) -> bool:
    """An integer that fits the 64 bits that COCO tools (numpy, pycocotools) keep ids in."""
    return _is_int(value) and -2 ** 63 <= value < 2 ** 63


def _inside(value: float, size: int) -> bool:
    return -BOUNDS_TOLERANCE_PX <= value <= size + BOUNDS_TOLERANCE_PX


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: int | float) -> bool:
    """False for NaN, infinities and integers too large for a float (JSON allows 10**400)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _describe(value: Any) -> str:
    """Short description of a JSON value for error messages: ``a string '3'``."""
    kinds = {dict: 'an object', list: 'a list', str: 'a string', bool: 'a boolean', int: 'an integer',
             float: 'a number', type(None): 'null'}
    kind = kinds.get(type(value), type(value).__name__)
    if isinstance(value, (dict, list)) or value is None:
        return kind
    shown = repr(value) if isinstance(value, str) else json.dumps(value)
    if len(shown) > 40:
        shown = shown[:37] + '...'
    return f'{kind} {shown}'


# ---------------------------------------------------------------------------------------------------------------------
# Reading and writing
# ---------------------------------------------------------------------------------------------------------------------

def load_coco_text(ann_file: str | os.PathLike) -> dict:
    """Reads and validates a "COCO with text" file; returns the parsed dict unchanged.

    Raises :class:`AnnotationError` with one line ``"<file>: <record>: field '<field>': <problem>"`` on the first
    problem (unreadable file, bad JSON, missing field, bad polygon, unknown image, duplicate id, ...).
    """
    source = os.fspath(ann_file)
    coco, problem = _read_json(source)
    if problem is not None:
        raise AnnotationError(problem.format(source))
    validate_coco_text(coco, source)
    return coco


def save_coco_text(coco: dict, path: str | os.PathLike) -> None:
    """Writes ``coco`` as UTF-8 JSON atomically: a temporary file in the same folder, fsync, then rename.

    A reader never sees a half-written file and a failure leaves any previous file untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp_path = os.path.join(directory, f'.{os.path.basename(path)}.{secrets.token_hex(4)}.tmp')
    # Created like open() creates files (0666 minus the umask), unlike tempfile's private 0600 files.
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(coco, f, ensure_ascii=False, separators=(',', ':'), allow_nan=False)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise
    fsync_directory(directory)


def text_category_id(coco: dict) -> int:
    """Id of the ``text`` category of a validated document."""
    return next(c['id'] for c in coco['categories'] if c['name'] == TEXT_CATEGORY)


def word_text(ann: dict) -> tuple[str, bool, str]:
    """``(transcription, legible, language)`` of a word, read from its ``text`` object or else ``attributes``.

    A missing ``legible`` means "the transcription is a real one" (not '' or '###'); a missing ``language`` is ''.
    """
    text = ann.get('text', ann.get('attributes'))
    record = f"annotation id {ann.get('id')}"
    if not isinstance(text, dict):
        raise AnnotationError(f"{record}: field 'text': missing or not an object")
    transcription = text.get('transcription', '')
    if not isinstance(transcription, str):
        raise AnnotationError(f"{record}: field 'text.transcription': expected a string")
    legible = text.get('legible', _is_real_transcription(transcription))
    if not isinstance(legible, bool):
        raise AnnotationError(f"{record}: field 'text.legible': expected true or false")
    language = text.get('language', '')
    if not isinstance(language, str):
        raise AnnotationError(f"{record}: field 'text.language': expected a string")
    return transcription, legible, language


def is_dont_care(ann: dict) -> bool:
    """True for a "don't care" region: ``iscrowd`` = 1, ``legible`` false, or a '###' or empty transcription."""
    transcription, legible, _ = word_text(ann)
    return bool(ann.get('iscrowd', 0)) or not legible or not _is_real_transcription(transcription)


def read_image_size(path: str) -> tuple[int, int]:
    """``(width, height)`` of an image as the training pipeline decodes it (OpenCV, EXIF orientation applied).

    Raises FileNotFoundError for a missing file and OSError for a file OpenCV cannot decode.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such image file')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f'{path}: OpenCV cannot decode this image')
    height, width = image.shape[:2]
    return width, height


def _is_real_transcription(transcription: str) -> bool:
    return transcription.strip() not in ('', DONT_CARE_TRANSCRIPTION)


def _read_json(path: str) -> tuple[Any, AnnotationProblem | None]:
    """``(document, None)`` or ``(None, problem)`` for an unreadable file or invalid JSON. A BOM is accepted."""
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as error:
        return None, AnnotationProblem('unreadable file', '', None, f'cannot read: {error.strerror or error}')
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError as error:
        return None, AnnotationProblem('invalid JSON', '', None, f'not UTF-8 text (byte {error.start})')
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, AnnotationProblem('invalid JSON', '', None,
                                       f'not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}')
    except ValueError:  # Python refuses integer literals of more than 4300 digits
        return None, AnnotationProblem('invalid JSON', '', None, 'not valid JSON: a number of thousands of digits')
    except RecursionError:
        return None, AnnotationProblem('invalid JSON', '', None, 'not valid JSON: nested too deeply')


# ---------------------------------------------------------------------------------------------------------------------
# Dataset check: the same validation plus the image files and the word statistics.
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class DatasetReport:
    """What :func:`check_dataset` found: counts and every problem.

    ``words`` counts every region (legible words and don't-care regions). With an alphabet,
    ``words_outside_alphabet`` counts legible words with at least one character outside it (after lower-casing both)
    and ``chars_outside_alphabet`` lists those characters, sorted; without one both are None.
    """

    ann_file: str
    data_root: str
    alphabet: str | None = None
    images: int = 0
    words: int = 0
    legible_words: int = 0
    dont_care: int = 0
    images_without_legible_words: int = 0
    words_outside_alphabet: int | None = None
    chars_outside_alphabet: str | None = None
    problems: list[AnnotationProblem] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.alphabet is not None and self.words_outside_alphabet is None:
            self.words_outside_alphabet, self.chars_outside_alphabet = 0, ''

    @property
    def ok(self) -> bool:
        return not self.problems

    def problems_by_kind(self) -> dict[str, list[AnnotationProblem]]:
        """Problems grouped by kind, kinds in order of first appearance."""
        groups: dict[str, list[AnnotationProblem]] = defaultdict(list)
        for problem in self.problems:
            groups[problem.kind].append(problem)
        return dict(groups)

    def format(self, max_per_kind: int | None = None) -> str:
        """Human-readable report: a counts table, then every problem grouped by kind with counts.

        ``max_per_kind`` limits the lines printed per kind (None: all of them).
        """
        rows = [('images', self.images), ('words (all regions)', self.words), ('legible words', self.legible_words),
                ("don't care", self.dont_care), ('images without legible words', self.images_without_legible_words)]
        if self.alphabet is not None:
            rows.append(('legible words outside alphabet', self.words_outside_alphabet))
            rows.append(('characters outside alphabet',
                         f'{len(self.chars_outside_alphabet)} {self.chars_outside_alphabet!r}'))
        width = max(len(name) for name, _ in rows)
        lines = [f'annotation file: {self.ann_file}', f'data root:       {self.data_root}']
        if self.alphabet is not None:
            lines.append(f'alphabet:        {self.alphabet!r}')
        lines += [f'  {name:<{width}}  {value}' for name, value in rows]
        if self.ok:
            lines.append('no problems found')
            return '\n'.join(lines)
        lines.append(f'{len(self.problems)} problem(s):')
        for kind, problems in self.problems_by_kind().items():
            lines.append(f'  {kind}: {len(problems)}')
            shown = problems if max_per_kind is None else problems[:max_per_kind]
            lines += [f'    {problem.format(self.ann_file)}' for problem in shown]
            if len(shown) < len(problems):
                lines.append(f'    ... and {len(problems) - len(shown)} more')
        return '\n'.join(lines)


def check_dataset(ann_file: str | os.PathLike, data_root: str | os.PathLike, alphabet: str | None = None,
                  progress: bool = False) -> DatasetReport:
    """Checks an annotation file and its images; collects every problem instead of stopping at the first.

    Besides the checks of :func:`load_coco_text`, each image file (``data_root`` joined with ``file_name``) must exist,
    decode with OpenCV and have the recorded width and height.
    """
    ann_file, data_root = os.fspath(ann_file), os.fspath(data_root)
    report = DatasetReport(ann_file=ann_file, data_root=data_root, alphabet=alphabet)
    coco, problem = _read_json(ann_file)
    if problem is not None:
        report.problems.append(problem)
        return report
    report.problems.extend(iter_coco_text_problems(coco))
    if not isinstance(coco, dict):
        return report
    images = _list_field(coco, 'images')
    annotations = [ann for ann in _list_field(coco, 'annotations') if isinstance(ann, dict)]
    _count_words(report, [image for image in images if isinstance(image, dict)], annotations)
    report.problems.extend(_image_file_problems(images, data_root, progress))
    return report


def _list_field(coco: dict, key: str) -> list:
    value = coco.get(key)
    return value if isinstance(value, list) else []


def _count_words(report: DatasetReport, images: list[dict], annotations: list[dict]) -> None:
    report.images = len(images)
    report.words = len(annotations)
    alphabet = set(report.alphabet.lower()) if report.alphabet is not None else None
    outside_chars: set[str] = set()
    outside_words = 0
    images_with_legible_words = set()
    for ann in annotations:
        try:
            transcription, _, _ = word_text(ann)
            dont_care = is_dont_care(ann)
        except AnnotationError:
            continue  # already reported by the validation
        if dont_care:
            report.dont_care += 1
            continue
        report.legible_words += 1
        if _is_int(ann.get('image_id')):  # any other value is reported by the validation (and may be unhashable)
            images_with_legible_words.add(ann['image_id'])
        if alphabet is not None:
            missing = set(transcription.lower()) - alphabet
            outside_chars |= missing
            outside_words += bool(missing)
    report.images_without_legible_words = sum(
        not (_is_int(image.get('id')) and image['id'] in images_with_legible_words) for image in images)
    if alphabet is not None:
        report.words_outside_alphabet = outside_words
        report.chars_outside_alphabet = ''.join(sorted(outside_chars))


def _image_file_problems(images: list, data_root: str, progress: bool) -> Iterator[AnnotationProblem]:
    checked = set()
    for index, image in enumerate(tqdm(images, desc='reading images', unit='img', disable=not progress)):
        file_name = image.get('file_name') if isinstance(image, dict) else None
        if not isinstance(file_name, str) or not file_name.strip() or file_name in checked:
            continue  # reported by the validation
        checked.add(file_name)
        record = _record_label('image', 'images', index, image)
        path = os.path.join(data_root, file_name)
        try:
            width, height = read_image_size(path)
        except FileNotFoundError:
            yield AnnotationProblem('missing image file', record, 'file_name', f'no file {path}')
            continue
        except OSError:
            yield AnnotationProblem('unreadable image', record, 'file_name', f'OpenCV cannot decode {path}')
            continue
        wrong = [key for key, actual in (('width', width), ('height', height))
                 if _is_int(image.get(key)) and image[key] != actual]
        if wrong:
            yield AnnotationProblem('image size mismatch', record, '/'.join(wrong),
                                    f"the record says {short_repr(image.get('width'))}x"
                                    f"{short_repr(image.get('height'))}, "
                                    f'the file {path} is {width}x{height}')


# ---------------------------------------------------------------------------------------------------------------------
# Import: shared pieces
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class ImportSummary:
    """What a converter did: counts, shapes clipped to the image, shapes left out (reason -> count)."""

    images: int = 0
    words: int = 0
    dont_care: int = 0
    clipped: int = 0
    skipped: Counter = field(default_factory=Counter)

    def format(self) -> str:
        text = f'{self.images} images, {self.words} words ({self.dont_care} don\'t care)'
        if self.clipped:
            text += f', {self.clipped} shapes clipped to the image'
        if self.skipped:
            text += '; left out: ' + ', '.join(f'{count} {reason}' for reason, count in sorted(self.skipped.items()))
        return text


def natural_sort_key(name: str) -> tuple:
    """Sort key that orders digit runs by value: ``img_2`` before ``img_10``."""
    parts = re.split(r'([0-9]+)', name)
    # A digit run compares as (its length without leading zeros, its digits): its value, without int(), which
    # refuses runs of more than 4300 digits.
    return tuple((len(part.lstrip('0')), part.lstrip('0')) if i % 2 else part.lower()
                 for i, part in enumerate(parts)), name


def new_coco_text() -> dict:
    """An empty "COCO with text" document with its single ``text`` category."""
    return {'images': [], 'annotations': [], 'categories': [{'id': TEXT_CATEGORY_ID, 'name': TEXT_CATEGORY}]}


def clip_polygon(polygon: Sequence[float], width: float, height: float) -> list[float]:
    """Flat polygon with x clipped to ``[0, width]`` and y to ``[0, height]``."""
    return [min(max(v, 0), width if i % 2 == 0 else height) for i, v in enumerate(polygon)]


def make_word_annotation(ann_id: int, image_id: int, polygon: Sequence[float], transcription: str,
                         legible: bool = True, language: str = '') -> dict:
    """One "COCO with text" annotation for a word polygon ``[x1, y1, x2, y2, ...]`` (image pixels).

    A '###' or empty transcription, or ``legible=False``, makes a don't-care region (``iscrowd`` 1, legible false).
    """
    dont_care = not legible or not _is_real_transcription(transcription)
    polygon = [_compact_number(v) for v in polygon]
    x1, y1, x2, y2 = (_compact_number(v) for v in polygon_to_bbox(polygon))
    return {
        'id': ann_id,
        'image_id': image_id,
        'category_id': TEXT_CATEGORY_ID,
        'segmentation': [polygon],
        'bbox': [x1, y1, _compact_number(x2 - x1), _compact_number(y2 - y1)],
        'area': _compact_number(polygon_area(polygon)),
        'iscrowd': int(dont_care),
        'text': {'transcription': transcription, 'legible': not dont_care, 'language': language},
    }


def _compact_number(value: float) -> int | float:
    """Integral values as int, so that integer source coordinates stay integers in the JSON."""
    value = float(value)
    return int(value) if value.is_integer() else value


@dataclass
class _Word:
    polygon: list[float]
    transcription: str
    legible: bool
    language: str


@dataclass
class _Image:
    file_name: str
    width: int
    height: int
    words: list[_Word]


def _build_coco(images: Iterable[_Image], summary: ImportSummary) -> dict:
    """Numbers images and words from 1 in the given order; clips polygons to their image; drops zero-area ones."""
    coco = new_coco_text()
    for image_id, image in enumerate(images, start=1):
        coco['images'].append({'id': image_id, 'file_name': image.file_name, 'width': image.width,
                               'height': image.height})
        summary.images += 1
        for word in image.words:
            polygon = clip_polygon(word.polygon, image.width, image.height)
            if polygon_area(polygon) == 0:
                summary.skipped['zero-area shapes'] += 1
                continue
            summary.clipped += polygon != word.polygon
            ann = make_word_annotation(len(coco['annotations']) + 1, image_id, polygon, word.transcription,
                                       word.legible, word.language)
            coco['annotations'].append(ann)
            summary.words += 1
            summary.dont_care += ann['iscrowd']
    return coco


def _parse_number(token: str, location: str, field_name: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise AnnotationError(f"{location}: field '{field_name}': not a number: {short_repr(token.strip())}") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{location}: field '{field_name}': not a finite number: {short_repr(token.strip())}")
    return value


# ---------------------------------------------------------------------------------------------------------------------
# Import: ICDAR gt_<image stem>.txt folders
# ---------------------------------------------------------------------------------------------------------------------

ICDAR_FORMATS = ('2013', '2015')
_ICDAR2015_FIELDS = ('x1', 'y1', 'x2', 'y2', 'x3', 'y3', 'x4', 'y4', 'transcription')
_ICDAR2013_NUMBER = re.compile(r'([^\s,"]+)\s*,?\s*')
_LINE_END = re.compile(r'\r\n|\r|\n')


def parse_icdar2015_line(line: str, location: str) -> tuple[list[float], str]:
    """``x1,y1,x2,y2,x3,y3,x4,y4,transcription`` -> (flat quadrilateral [8], transcription).

    The transcription is everything after the eighth comma, so it may contain commas itself.
    """
    fields = line.split(',', 8)
    if len(fields) < 9:
        raise AnnotationError(f"{location}: field '{_ICDAR2015_FIELDS[len(fields)]}': missing "
                              f'(expected x1,y1,x2,y2,x3,y3,x4,y4,transcription)')
    quad = [_parse_number(token, location, name) for token, name in zip(fields[:8], _ICDAR2015_FIELDS)]
    return quad, fields[8]


def parse_icdar2013_line(line: str, location: str) -> tuple[list[float], str]:
    """``x1 y1 x2 y2 "transcription"`` (spaces or commas between fields) -> (flat box polygon [8], transcription).

    ``(x1, y1)`` is the top-left corner and ``(x2, y2)`` the bottom-right one. Quotes around the transcription are
    removed and ``\\"`` inside it becomes ``"``; an unquoted transcription is taken as it is.
    """
    rest = line.strip()
    values = []
    for name in ('x1', 'y1', 'x2', 'y2'):
        match = _ICDAR2013_NUMBER.match(rest)
        if match is None:
            raise AnnotationError(f"{location}: field '{name}': missing (expected x1 y1 x2 y2 \"transcription\")")
        values.append(_parse_number(match.group(1), location, name))
        rest = rest[match.end():]
    x1, y1, x2, y2 = values
    if x2 <= x1:
        raise AnnotationError(f"{location}: field 'x2': right edge {x2:g} is not right of the left edge {x1:g}")
    if y2 <= y1:
        raise AnnotationError(f"{location}: field 'y2': bottom edge {y2:g} is not below the top edge {y1:g}")
    if not rest:
        raise AnnotationError(f"{location}: field 'transcription': missing (expected x1 y1 x2 y2 \"transcription\")")
    if rest.startswith('"'):
        if len(rest) < 2 or not rest.endswith('"'):
            raise AnnotationError(f"{location}: field 'transcription': no closing quote in {short_repr(rest)}")
        rest = re.sub(r'\\(["\\])', r'\1', rest[1:-1])
    return [x1, y1, x2, y1, x2, y2, x1, y2], rest


def read_icdar_gt(path: str, icdar_format: str = '2015') -> list[tuple[list[float], str, int]]:
    """Words of one ICDAR ground-truth file: ``[(flat polygon, transcription, line number)]``.

    UTF-8 with or without BOM, LF, CRLF or CR line ends; blank lines are skipped.
    """
    if icdar_format not in ICDAR_FORMATS:
        raise ValueError(f'unknown ICDAR format {icdar_format!r}, expected one of {ICDAR_FORMATS}')
    parse_line = parse_icdar2015_line if icdar_format == '2015' else parse_icdar2013_line
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as error:
        raise AnnotationError(f'{path}: cannot read: {error.strerror or error}') from None
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError as error:
        line_number = len(_LINE_END.findall(raw[:error.start].decode('utf-8', 'replace'))) + 1
        raise AnnotationError(f'{path}: line {line_number}: not UTF-8 text') from None
    words = []
    # Not str.splitlines(): it would also cut at form feeds, \x1c-\x1e and U+2028, which may be part of a word.
    for line_number, line in enumerate(_LINE_END.split(text), start=1):
        if line.strip():
            polygon, transcription = parse_line(line, f'{path}: line {line_number}')
            words.append((polygon, transcription, line_number))
    return words


def convert_icdar(gt_dir: str, images_dir: str, icdar_format: str = '2015',
                  progress: bool = False) -> tuple[dict, ImportSummary]:
    """Imports an ICDAR folder pair: every image of ``images_dir`` with its ``gt_dir/gt_<image stem>.txt``.

    Images are numbered from 1 in natural name order (img_2 before img_10), words in file order. ``file_name`` is
    relative to ``images_dir`` (the data root); width and height come from decoding the image. '###' marks a
    don't-care region. An image without ground-truth file, a ground-truth file without image, or a malformed line
    raises :class:`AnnotationError`.
    """
    if icdar_format not in ICDAR_FORMATS:
        raise ValueError(f'unknown ICDAR format {icdar_format!r}, expected one of {ICDAR_FORMATS}')
    for directory in (gt_dir, images_dir):
        if not os.path.isdir(directory):
            raise AnnotationError(f'{directory}: not a directory')
    image_names = sorted((name for name in os.listdir(images_dir)
                          if name.lower().endswith(IMAGE_EXTENSIONS)
                          and os.path.isfile(os.path.join(images_dir, name))), key=natural_sort_key)
    if not image_names:
        raise AnnotationError(f"{images_dir}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    gt_name_of = {}
    for name in image_names:
        gt_name = f'gt_{os.path.splitext(name)[0]}.txt'
        if gt_name in gt_name_of.values():
            raise AnnotationError(f'{os.path.join(images_dir, name)}: another image has the same stem, '
                                  f'so {gt_name} would belong to both')
        gt_name_of[name] = gt_name
    gt_names = {name for name in os.listdir(gt_dir) if name.startswith('gt_') and name.endswith('.txt')}
    for name in image_names:
        if gt_name_of[name] not in gt_names:
            raise AnnotationError(f'{os.path.join(images_dir, name)}: no ground-truth file '
                                  f'{os.path.join(gt_dir, gt_name_of[name])}')
    orphans = sorted(gt_names - set(gt_name_of.values()), key=natural_sort_key)
    if orphans:
        raise AnnotationError(f'{os.path.join(gt_dir, orphans[0])}: no image for this ground-truth file in '
                              f'{images_dir} ({len(orphans)} such file(s))')

    images = []
    for name in tqdm(image_names, desc='converting', unit='img', disable=not progress):
        gt_path = os.path.join(gt_dir, gt_name_of[name])
        words = [_Word(polygon, transcription, True, '')
                 for polygon, transcription, _ in read_icdar_gt(gt_path, icdar_format)]
        try:
            width, height = read_image_size(os.path.join(images_dir, name))
        except OSError as error:
            raise AnnotationError(str(error)) from None
        images.append(_Image(name, width, height, words))
    summary = ImportSummary()
    coco = _build_coco(images, summary)
    validate_coco_text(coco, f'annotations converted from {gt_dir}')
    return coco, summary


# ---------------------------------------------------------------------------------------------------------------------
# Import: CVAT "for images 1.1" XML
# ---------------------------------------------------------------------------------------------------------------------

CVAT_TEXT_ATTRIBUTES = ('text', 'transcription')
_TRUE_WORDS = ('true', '1', 'yes')
_FALSE_WORDS = ('false', '0', 'no')


def convert_cvat(xml_file: str, labels: Sequence[str] | None = None) -> tuple[dict, ImportSummary]:
    """Imports a CVAT "for images 1.1" XML export.

    Every ``<polygon>`` and ``<box>`` (rotation honoured) of every ``<image>`` becomes a word, whatever its label,
    unless ``labels`` names the labels to take. The transcription is the ``text`` attribute (or ``transcription``);
    a missing, empty or '###' one, or a ``legible`` attribute that is false, makes a don't-care region. A
    ``language`` attribute is kept. Other shapes (polylines, points, masks, ...) are left out and counted in the
    summary. Images are numbered from 1 in natural name order, words in XML order.
    """
    try:
        root = ET.parse(xml_file).getroot()
    except ET.ParseError as error:
        raise AnnotationError(f'{xml_file}: not well-formed XML: {error}') from None
    except (LookupError, ValueError) as error:  # an unknown or unsupported encoding="..." in the XML declaration
        raise AnnotationError(f'{xml_file}: not well-formed XML: {short_repr(str(error))}') from None
    except OSError as error:
        raise AnnotationError(f'{xml_file}: cannot read: {error.strerror or error}') from None
    if root.tag != 'annotations':
        raise AnnotationError(f'{xml_file}: the root element is <{root.tag}>, expected <annotations> '
                              f'(a "CVAT for images 1.1" export)')
    if root.find('track') is not None:
        raise AnnotationError(f'{xml_file}: <track> elements (CVAT for video) are not supported: '
                              f'export the task as "CVAT for images 1.1"')
    summary = ImportSummary()
    images = []
    seen_names: set[str] = set()
    for element in root.findall('image'):
        image = _cvat_image(element, xml_file, labels, summary)
        if image.file_name in seen_names:
            raise AnnotationError(f"{xml_file}: image {image.file_name!r}: field 'name': two images have this name")
        seen_names.add(image.file_name)
        images.append(image)
    images.sort(key=lambda image: natural_sort_key(image.file_name))
    coco = _build_coco(images, summary)
    validate_coco_text(coco, f'annotations converted from {xml_file}')
    return coco, summary


def _cvat_image(element: ET.Element, xml_file: str, labels: Sequence[str] | None,
                summary: ImportSummary) -> _Image:
    name = element.get('name')
    record = f'{xml_file}: image ' + (short_repr(name) if name else f'id {short_repr(element.get("id"))}')
    if not name:
        raise AnnotationError(f"{record}: field 'name': missing")
    size = []
    for key in ('width', 'height'):
        value = element.get(key)
        if value is None:
            raise AnnotationError(f"{record}: field '{key}': missing")
        # ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
        digits = value.strip()
        if not re.fullmatch('[0-9]{1,7}', digits) or not 0 < int(digits) <= MAX_IMAGE_SIDE:
            raise AnnotationError(f"{record}: field '{key}': expected an integer from 1 to {MAX_IMAGE_SIDE}, "
                                  f'got {short_repr(value)}')
        size.append(int(digits))
    words = []
    for number, shape in enumerate(element, start=1):
        if shape.tag not in ('polygon', 'box'):
            summary.skipped[f'<{shape.tag}> elements'] += 1
            continue
        label = shape.get('label', '')
        if labels and label not in labels:
            summary.skipped[f"shapes labelled '{label}'"] += 1
            continue
        location = f'{record}: {shape.tag} {number}'
        polygon = _cvat_polygon(shape, location) if shape.tag == 'polygon' else _cvat_box(shape, location)
        transcription, legible, language = _cvat_text(shape, location)
        words.append(_Word(polygon, transcription, legible, language))
    return _Image(name, size[0], size[1], words)


def _cvat_polygon(shape: ET.Element, location: str) -> list[float]:
    points = shape.get('points')
    if points is None:
        raise AnnotationError(f"{location}: field 'points': missing")
    polygon = []
    for i, point in enumerate(points.split(';')):
        xy = point.split(',')
        if len(xy) != 2:
            raise AnnotationError(f"{location}: field 'points': point {i} is {short_repr(point)}, expected x,y")
        polygon += [_parse_number(xy[0], location, 'points'), _parse_number(xy[1], location, 'points')]
    if len(polygon) < 6:
        raise AnnotationError(f"{location}: field 'points': {len(polygon) // 2} points, a polygon needs at least 3")
    return polygon


def _cvat_box(shape: ET.Element, location: str) -> list[float]:
    values = {}
    for key in ('xtl', 'ytl', 'xbr', 'ybr'):
        if shape.get(key) is None:
            raise AnnotationError(f"{location}: field '{key}': missing")
        values[key] = _parse_number(shape.get(key), location, key)
    if values['xbr'] <= values['xtl'] or values['ybr'] <= values['ytl']:
        raise AnnotationError(f"{location}: field 'xbr': the box ({values['xtl']:g}, {values['ytl']:g}) - "
                              f"({values['xbr']:g}, {values['ybr']:g}) is empty")
    rotation = _parse_number(shape.get('rotation', '0'), location, 'rotation')
    return rotated_box_polygon(values['xtl'], values['ytl'], values['xbr'], values['ybr'], rotation)


def rotated_box_polygon(xtl: float, ytl: float, xbr: float, ybr: float, rotation: float = 0.0) -> list[float]:
    """Corners ``[x1, y1, ..., x4, y4]`` (top-left first, clockwise) of a box turned by ``rotation`` degrees
    clockwise on screen around its centre (CVAT's convention)."""
    corners = [(xtl, ytl), (xbr, ytl), (xbr, ybr), (xtl, ybr)]
    if rotation == 0:
        return [v for corner in corners for v in corner]
    angle = math.radians(rotation)
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = (xtl + xbr) / 2, (ytl + ybr) / 2
    polygon = []
    for x, y in corners:
        # With y pointing down, this standard rotation matrix turns clockwise on screen. Rounding to 1e-4 px drops
        # the float noise of cos/sin (55.00000000000001) without losing anything an annotator could draw.
        polygon += [round(cx + cos * (x - cx) - sin * (y - cy), 4), round(cy + sin * (x - cx) + cos * (y - cy), 4)]
    return polygon


def _cvat_text(shape: ET.Element, location: str) -> tuple[str, bool, str]:
    """(transcription, legible, language) from a shape's ``<attribute>`` children; no text = '###', illegible."""
    attributes = {(a.get('name') or '').strip().lower(): (a.text or '').strip() for a in shape.findall('attribute')}
    transcription = next((attributes[name] for name in CVAT_TEXT_ATTRIBUTES if name in attributes), None)
    legible = transcription is not None
    if 'legible' in attributes:
        value = attributes['legible'].lower()
        if value not in _TRUE_WORDS + _FALSE_WORDS:
            raise AnnotationError(f"{location}: field 'legible': expected true or false, "
                                  f"got {short_repr(attributes['legible'])}")
        legible = legible and value in _TRUE_WORDS
    if transcription is None:
        transcription = DONT_CARE_TRANSCRIPTION
    return transcription, legible, attributes.get('language', '')
