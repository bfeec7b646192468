"""Loads the PP-OCRv6 small networks' weights from the ONNX files of the ``rapidocr`` wheel into our modules.

Reads the ONNX initializers with the ``onnx`` package only (no onnxruntime, no onnx2torch). The weights' learnable
tensors are taken in the order the graph first uses them and matched, one by one, to the state-dict entries of
``PPOCRv6DetBackbone`` / ``PPOCRv6Recognizer`` in registration order: each pair must agree in the kind of ONNX node
that consumes the tensor (Conv, MatMul, BatchNormalization, or the Add/Mul of a bias or a LayerNorm) and in shape, so a
changed graph fails loudly instead of loading shifted weights.

Licence: Apache-2.0. Weights (c) Baidu / the PaddleOCR authors, converted to ONNX by the RapidOCR authors; here
converted to torch (BN folded in 54 of 57 convs, as shipped), and, with an alphabet, the classifier rows sliced.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .ppocr_v6 import PPOCRv6DetBackbone, PPOCRv6Recognizer

WHEEL_REQUIREMENT = 'rapidocr==3.10.0'
WHEEL_FILE = 'rapidocr-3.10.0-py3-none-any.whl'
PPOCR_V6_FILES: dict[str, dict[str, str]] = {
    'det': {
        'name': 'PP-OCRv6_det_small.onnx',
        'member': 'rapidocr/models/PP-OCRv6_det_small.onnx',
        'sha256': '090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f',
    },
    'rec': {
        'name': 'PP-OCRv6_rec_small.onnx',
        'member': 'rapidocr/models/PP-OCRv6_rec_small.onnx',
        'sha256': '6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884',
    },
}
LICENCE = 'Apache-2.0'
ATTRIBUTION = ('PP-OCRv6 small det/rec weights (c) Baidu / the PaddleOCR authors, Apache-2.0; ONNX conversion by the '
               'RapidOCR authors (PyPI rapidocr==3.10.0, see its dist-info/licenses/MODEL_LICENSES.md); converted to '
               'torch by text_spotting (ppocr_v6_import.py): modified, not endorsed by either.')
BLANK_CLASS = 0
SPACE = ' '
# The ONNX node kinds that may consume each kind of state-dict entry (see _expected_entries).
_CONSUMERS = {
    'conv.weight': {'Conv'},
    'conv.bias': {'Add'},
    'linear.weight': {'MatMul'},
    'linear.bias': {'Add'},
    'layer_norm.weight': {'Mul'},
    'layer_norm.bias': {'Add'},
    'batch_norm': {'BatchNormalization'},
}


class PretrainedImportError(ValueError):
    """A pretrained file is missing, foreign, changed or does not fit our modules; the message names the file."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_pretrained_onnx(path_or_wheel: str | Path, which: str):
    """Reads ``PP-OCRv6_{which}_small.onnx`` (``which`` = 'det' or 'rec') and checks its sha256 -> ``onnx.ModelProto``.

    ``path_or_wheel``: the ``.onnx`` file itself, a folder holding it, or the rapidocr wheel (a zip).
    """
    import onnx

    if which not in PPOCR_V6_FILES:
        raise ValueError(f"which must be one of {sorted(PPOCR_V6_FILES)}, got {which!r}")
    expected = PPOCR_V6_FILES[which]
    path = Path(path_or_wheel).expanduser()
    if path.is_dir():
        path = path / expected['name']
    if not path.is_file():
        raise PretrainedImportError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as wheel:
                data = wheel.read(expected['member'])
        except KeyError:
            raise PretrainedImportError(f"{path}: has no {expected['member']} (not the {WHEEL_REQUIREMENT} wheel)") \
                from None
        except (zipfile.BadZipFile, OSError) as error:
            raise PretrainedImportError(f"{path}: unreadable zip ({error})") from None
        where = f"{path}!{expected['member']}"
    else:
        data = path.read_bytes()
        where = str(path)
    digest = _sha256(data)
    if digest != expected['sha256']:
        raise PretrainedImportError(
            f"{where}: sha256 {digest} is not that of {expected['name']} from {WHEEL_REQUIREMENT} "
            f"({expected['sha256']}): a different, changed or truncated file")
    return onnx.load_model_from_string(data)


#: Where the wheel is cached when no folder is given (tools/import_pretrained.py --cache-dir, the tests).
DEFAULT_CACHE_DIR = Path("~/.cache/text_spotting")


def download_wheel(cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """Returns the cached rapidocr wheel in ``cache_dir``, fetching it with ``pip download`` if missing."""
    cache_dir = Path(cache_dir).expanduser()
    wheel = cache_dir / WHEEL_FILE
    if wheel.is_file():
        return wheel
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, '-m', 'pip', 'download', '--no-deps', WHEEL_REQUIREMENT, '-d', str(cache_dir)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not wheel.is_file():
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise PretrainedImportError(f"{cache_dir}: pip download {WHEEL_REQUIREMENT} failed ({reason})")
    return wheel


# --- initializers -> state dict -------------------------------------------------------------------------------------

def _learnable_initializers(onnx_model) -> list[tuple[str, str, np.ndarray]]:
    """``(initializer name, consuming op type, array)`` of every float tensor with more than one element, in the order
    the graph first uses it. Identity nodes are looked through; scalars (GELU's sqrt(2), attention scales) and the
    int64 shape tensors are not weights."""
    from onnx import TensorProto, numpy_helper

    graph = onnx_model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    source_of = {}  # Identity output -> its input
    for node in graph.node:
        if node.op_type == 'Identity':
            source_of[node.output[0]] = source_of.get(node.input[0], node.input[0])
    seen, ordered = set(), []
    for node in graph.node:
        if node.op_type == 'Identity':
            continue
        for name in node.input:
            name = source_of.get(name, name)
            tensor = initializers.get(name)
            if tensor is None or name in seen or tensor.data_type != TensorProto.FLOAT:
                continue
            array = numpy_helper.to_array(tensor)
            if array.size <= 1:
                continue
            seen.add(name)
            ordered.append((name, node.op_type, array))
    return ordered


def _expected_entries(module: nn.Module) -> list[tuple[str, str, tuple[int, ...]]]:
    """``(state-dict key, kind, shape)`` of the learnable tensors of ``module`` in registration order."""
    entries = []
    for name, child in module.named_modules():
        key = f"{name}." if name else ''
        if isinstance(child, nn.Conv2d):
            entries.append((key + 'weight', 'conv.weight', tuple(child.weight.shape)))
            if child.bias is not None:
                entries.append((key + 'bias', 'conv.bias', tuple(child.bias.shape)))
        elif isinstance(child, nn.Linear):
            entries.append((key + 'weight', 'linear.weight', tuple(child.weight.shape)))
            entries.append((key + 'bias', 'linear.bias', tuple(child.bias.shape)))
        elif isinstance(child, nn.LayerNorm):
            entries.append((key + 'weight', 'layer_norm.weight', tuple(child.weight.shape)))
            entries.append((key + 'bias', 'layer_norm.bias', tuple(child.bias.shape)))
        elif isinstance(child, nn.BatchNorm2d):
            for field in ('weight', 'bias', 'running_mean', 'running_var'):  # the ONNX BatchNormalization input order
                entries.append((key + field, 'batch_norm', (child.num_features,)))
    return entries


def _convert(array: np.ndarray, kind: str, shape: tuple[int, ...]) -> Tensor | None:
    """ONNX array -> our tensor, or None if it cannot be that entry."""
    if kind == 'linear.weight':  # MatMul keeps [in, out]; nn.Linear [out, in]
        array = array.T
    elif kind != 'conv.weight':  # 1-D; conv biases are stored as [1, C, 1, 1]
        if [size for size in array.shape if size != 1] != [size for size in shape if size != 1]:
            return None
        array = array.reshape(shape)
    if tuple(array.shape) != shape:
        return None
    return torch.tensor(np.ascontiguousarray(array, dtype=np.float32))


def _match(onnx_model, module: nn.Module, where: str, exhaustive: bool) -> dict[str, Tensor]:
    available = _learnable_initializers(onnx_model)
    expected = _expected_entries(module)
    if len(available) < len(expected) or exhaustive and len(available) != len(expected):
        raise PretrainedImportError(
            f"{where}: {len(available)} weight tensors in the graph, {type(module).__name__} needs {len(expected)}")
    state_dict = {}
    for (onnx_name, op_type, array), (key, kind, shape) in zip(available, expected):
        tensor = _convert(array, kind, shape) if op_type in _CONSUMERS[kind] else None
        if tensor is None:
            raise PretrainedImportError(
                f"{where}: initializer {onnx_name} ({op_type}, shape {list(array.shape)}) does not fit {key} "
                f"({kind}, shape {list(shape)})")
        state_dict[key] = tensor
    for key, buffer in module.state_dict().items():
        if key.endswith('num_batches_tracked'):
            state_dict[key] = torch.zeros_like(buffer)
    return state_dict


def det_backbone_state_dict(onnx_model) -> dict[str, Tensor]:
    """State dict of ``PPOCRv6DetBackbone`` (keys ``stem.*``, ``stages.*``) from PP-OCRv6_det_small.onnx; the detector
    head's weights that follow the backbone in the graph are left out."""
    return _match(onnx_model, PPOCRv6DetBackbone(), PPOCR_V6_FILES['det']['name'], exhaustive=False)


def recognizer_characters(onnx_model) -> list[str]:
    """The characters of classes 1..18708 (metadata key ``character``, one per line); class 18709 is the space."""
    metadata = {prop.key: prop.value for prop in onnx_model.metadata_props}
    if 'character' not in metadata:
        raise PretrainedImportError(f"{PPOCR_V6_FILES['rec']['name']}: no 'character' metadata")
    characters = metadata['character'].split('\n')
    if characters and characters[-1] == '':
        characters.pop()
    return characters


def classifier_rows(characters: list[str], alphabet: str) -> list[int]:
    """Rows of the full classifier for ``[blank] + list(alphabet)``: ``characters`` are classes 1..len, space is the
    class after them."""
    if len(set(alphabet)) != len(alphabet):
        raise PretrainedImportError(f"alphabet {alphabet!r} has repeated characters")
    class_of = {SPACE: len(characters) + 1}
    for index, character in enumerate(characters, start=1):
        class_of.setdefault(character, index)
    missing = [character for character in alphabet if character not in class_of]
    if missing:
        raise PretrainedImportError(
            f"{PPOCR_V6_FILES['rec']['name']}: alphabet characters {''.join(missing)!r} are not in its character list")
    return [BLANK_CLASS] + [class_of[character] for character in alphabet]


def recognizer_state_dict(onnx_model, alphabet: str | None = None) -> dict[str, Tensor]:
    """State dict of ``PPOCRv6Recognizer`` from PP-OCRv6_rec_small.onnx.

    ``alphabet=None`` keeps all 18710 classes; otherwise the classifier keeps the rows of blank + each character of
    ``alphabet`` in that order (build the module with ``num_classes=1 + len(alphabet)``).
    """
    state_dict = _match(onnx_model, PPOCRv6Recognizer(), PPOCR_V6_FILES['rec']['name'], exhaustive=True)
    characters = recognizer_characters(onnx_model)
    num_classes = state_dict['classifier.weight'].shape[0]
    if num_classes != len(characters) + 2:
        raise PretrainedImportError(f"{PPOCR_V6_FILES['rec']['name']}: {num_classes} classes for "
                                    f"{len(characters)} characters (expected blank + characters + space)")
    if alphabet is not None:
        rows = torch.tensor(classifier_rows(characters, alphabet))
        state_dict['classifier.weight'] = state_dict['classifier.weight'][rows].clone()
        state_dict['classifier.bias'] = state_dict['classifier.bias'][rows].clone()
    return state_dict


def import_ppocr_v6(source: str | Path, alphabet: str | None, backbone_prefix: str = 'backbone.',
                    recognizer_prefix: str = 'text_recognizer.recognizer.') -> dict[str, Any]:
    """Checkpoint ``{'state_dict': ..., 'meta': ...}`` with the detector backbone under ``backbone_prefix`` and the
    recognizer under ``recognizer_prefix``.

    ``source``: the rapidocr wheel or a folder with both ``.onnx`` files. ``meta`` holds plain values only (readable by
    ``torch.load(weights_only=True)``): provenance, sha256s, licence, alphabet and the class layout.
    """
    det_model = read_pretrained_onnx(source, 'det')
    rec_model = read_pretrained_onnx(source, 'rec')
    state_dict = {backbone_prefix + key: value for key, value in det_backbone_state_dict(det_model).items()}
    recognizer = recognizer_state_dict(rec_model, alphabet)
    state_dict.update({recognizer_prefix + key: value for key, value in recognizer.items()})
    meta: dict[str, Any] = {
        'source': WHEEL_REQUIREMENT,
        'source_path': Path(source).name,
        'files': {which: spec['member'] for which, spec in PPOCR_V6_FILES.items()},
        'sha256': {which: spec['sha256'] for which, spec in PPOCR_V6_FILES.items()},
        'licence': LICENCE,
        'attribution': ATTRIBUTION,
        'modules': {'det_backbone': 'PPOCRv6DetBackbone', 'recognizer': 'PPOCRv6Recognizer'},
        'prefixes': {'det_backbone': backbone_prefix, 'recognizer': recognizer_prefix},
        'alphabet': alphabet,
        'num_classes': int(recognizer['classifier.weight'].shape[0]),
        'blank_class': BLANK_CLASS,
        'input': 'BGR, (x / 255 - 0.5) / 0.5; recognizer crops [N, 3, 48, W], W a multiple of 8, right-padded with 0',
    }
    if alphabet is None:  # classes 1..18708 in this order, then the space: keeps the full checkpoint self-describing
        meta['characters'] = ''.join(recognizer_characters(rec_model)) + SPACE
    return {'state_dict': state_dict, 'meta': meta}
