"""Checkpoint files: safe loading under ``torch.load(weights_only=True)``, atomic writes, partial weight loading.

torch >= 2.6 refuses to unpickle anything but tensors and plain containers unless it is allow-listed. mmengine's
checkpoints also carry its message hub: ``HistoryBuffer`` objects (pickled with numpy arrays and ``getattr``, which
must never be allow-listed) and numpy scalars. ``to_safe_checkpoint`` stores those as tensors and plain numbers before
saving and ``from_safe_checkpoint`` rebuilds them after loading; the only extra type allowed is ``collections.Counter``
(a dict, used by the LR scheduler's milestones).
"""
from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from .file_io import fsync_directory as _fsync_directory
from .messages import short_repr


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated or not ours; the message names the file."""


SAFE_GLOBALS = [collections.Counter]
torch.serialization.add_safe_globals(SAFE_GLOBALS)
_HISTORY_BUFFER = "__history_buffer__"


def _plain(value: Any) -> Any:
    """numpy scalars/arrays -> Python numbers/lists, recursively through dicts, lists and tuples."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return type(value)((k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def to_safe_checkpoint(checkpoint: dict) -> dict:
    """Rewrites (in place) the message hub's HistoryBuffers and numpy values as tensors and plain numbers."""
    hub = checkpoint.get("message_hub")
    if isinstance(hub, dict):
        scalars = hub.get("log_scalars", {})
        for key, buffer in list(scalars.items()):
            if isinstance(buffer, HistoryBuffer):
                log, count = buffer.data
                scalars[key] = {_HISTORY_BUFFER: True, "max_length": int(buffer.max_length),
                                "log_history": torch.from_numpy(np.asarray(log, dtype=np.float64)),
                                "count_history": torch.from_numpy(np.asarray(count, dtype=np.float64))}
        if "runtime_info" in hub:
            hub["runtime_info"] = _plain(hub["runtime_info"])
    if "meta" in checkpoint:
        checkpoint["meta"] = _plain(checkpoint["meta"])
    return checkpoint


def from_safe_checkpoint(checkpoint: dict) -> dict:
    """Undoes ``to_safe_checkpoint`` (in place) so mmengine's message hub can load its state."""
    scalars = checkpoint.get("message_hub", {}).get("log_scalars", {})
    for key, value in list(scalars.items()):
        if isinstance(value, dict) and value.get(_HISTORY_BUFFER):
            scalars[key] = HistoryBuffer(value["log_history"].numpy(), value["count_history"].numpy(),
                                         value["max_length"])
    return checkpoint


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True``; any failure is one ``CheckpointError`` naming the file.

    The checkpoint must be a dict whose ``state_dict`` maps names to tensors (and whose ``meta``, when present, is a
    dict). A zip checkpoint (what ``torch.save`` writes) is checked against the CRC-32 of every member first, so a
    flipped bit in the weights is an error instead of silently different weights.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    try:
        _check_zip_members(path)
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except CheckpointError:
        raise
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001 - a damaged file makes the unpickler raise almost anything
        raise CheckpointError(f"{path}: cannot be loaded: {_load_failure(error)}") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{path}: not a text_spotting checkpoint (no 'state_dict' mapping of tensors)")
    wrong = next((name for name, value in checkpoint["state_dict"].items()
                  if not isinstance(name, str) or not isinstance(value, torch.Tensor)), None)
    if wrong is not None:
        raise CheckpointError(f"{path}: not a text_spotting checkpoint ('state_dict' entry {short_repr(wrong)} is a "
                              f"{type(checkpoint['state_dict'][wrong]).__name__}, not a tensor)")
    if not isinstance(checkpoint.get("meta", {}), dict):
        raise CheckpointError(f"{path}: not a text_spotting checkpoint ('meta' is a "
                              f"{type(checkpoint['meta']).__name__}, not a mapping)")
    return checkpoint


def _check_zip_members(path: Path) -> None:
    """Raises CheckpointError when a member of a zip checkpoint fails its CRC-32 (a legacy, non-zip file passes)."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            # torch.save can be told not to compute CRCs (torch.serialization.set_crc32_options): all zero then.
            bad = archive.testzip() if any(info.CRC for info in members if info.file_size) else None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as error:
        # A damaged local header: torch.load would read the members from the wrong place without noticing.
        raise CheckpointError(f"{path}: corrupted: the archive's structure is damaged "
                              f"({type(error).__name__})") from None
    if bad is not None:
        raise CheckpointError(f"{path}: corrupted: {short_repr(bad)} in the archive fails its CRC check")


def _load_failure(error: Exception) -> str:
    """The reason ``torch.load`` gave for refusing a file, in a few words."""
    text = str(error).strip()
    if "Weights only load failed" in text:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        return (f"it holds objects that are not allowed under safe loading "
                f"({found.group(1)[:80] if found else 'unknown type'}); not a text_spotting checkpoint?")
    if "zip archive" in text or "central directory" in text or isinstance(error, EOFError):
        return "truncated or not a PyTorch checkpoint"
    first = text.splitlines()[0] if text else ""
    return f"damaged or not a PyTorch checkpoint ({type(error).__name__}: {first[:80]})"


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temp file in the same directory, fsync, then rename over ``path``.

    A crash or kill at any moment leaves either the previous file or the new one, never a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def atomic_replace(src: str | Path, dst: str | Path) -> None:
    """fsyncs ``src``, renames it over ``dst`` (same directory) and fsyncs the directory, so that after a crash
    ``dst`` is the old file or the whole new one, and the rename itself is not lost."""
    with open(src, "rb") as file:
        os.fsync(file.fileno())
    os.replace(src, dst)
    _fsync_directory(Path(dst).parent)


def remove_stale_temp_files(directory: str | Path, names: tuple[str, ...]) -> list[Path]:
    """Deletes what writes of ``names`` killed halfway left in ``directory``: the temp files ``.<name>.*.tmp`` of
    :func:`atomic_save` and of the training hooks (each up to a whole checkpoint in size). Returns them."""
    removed = []
    for name in names:
        for stale in Path(directory).glob(f".{name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
                removed.append(stale)
    return removed


def load_weights(model: torch.nn.Module, path: str | Path) -> dict[str, list[str]]:
    """Loads what matches from a checkpoint into ``model`` and reports the rest.

    Returns ``{'loaded': [...], 'missing': [...], 'unexpected': [...], 'shape_mismatch': ['name: ckpt -> model']}``.
    """
    state = read_checkpoint(path)["state_dict"]
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    own = model.state_dict()
    loadable, mismatched = {}, []
    for name, tensor in state.items():
        if name not in own:
            continue
        if own[name].shape != tensor.shape:
            mismatched.append(f"{name}: {tuple(tensor.shape)} -> {tuple(own[name].shape)}")
        else:
            loadable[name] = tensor
    model.load_state_dict(loadable, strict=False)
    return {
        "loaded": sorted(loadable),
        "missing": sorted(k for k in own if k not in state),
        "unexpected": sorted(k for k in state if k not in own),
        "shape_mismatch": mismatched,
    }


def make_snapshot(checkpoint_path: str | Path, out_path: str | Path, half: bool = True,
                  meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Writes the weights of a training checkpoint as a lean inference snapshot (atomically).

    Only ``state_dict`` is kept (no optimizer, scheduler or message hub), floating tensors in FP16 when ``half``
    (``load_weights`` casts them back to the model's dtype), and ``meta``: the source checkpoint's sha256 and epoch /
    iteration plus what the caller adds (plain values only, so the snapshot loads under ``weights_only=True``).
    Returns the written meta.
    """
    checkpoint = read_checkpoint(checkpoint_path)
    state = {name: (tensor.half() if half and tensor.is_floating_point() else tensor).contiguous()
             for name, tensor in checkpoint["state_dict"].items()}
    source_meta = checkpoint.get("meta") or {}
    snapshot_meta = {"source_sha256": sha256_of(checkpoint_path), "precision": "FP16" if half else "FP32",
                     "epoch": _plain(source_meta.get("epoch")), "iter": _plain(source_meta.get("iter"))}
    snapshot_meta.update(meta or {})
    atomic_save({"state_dict": state, "meta": snapshot_meta}, out_path)
    return snapshot_meta
