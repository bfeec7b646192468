"""How well words are followed and read through a video, against per-frame ground truth with word ids (the clips
of ``text_spotting.synthetic.clip``).

Per frame, the words shown (a spotter's words, or a tracker's tracks with their voted texts) are matched one-to-one
to the ground-truth words by quad IoU > 0.5, largest total IoU first (Hungarian), except that, as CLEAR-MOT does, a
ground-truth word keeps the track it was matched to last whenever that track still overlaps it by more than 0.5 (so
a second, duplicate box over a word is not counted as a switch each time it fits a little better); don't-care
ground truth takes part in the matching, so a word shown over it is neither right nor wrong, and is not counted.
Over a clip:

- ``word_frames``: (frame, legible ground-truth word) pairs;
- ``detected``: share of them with a shown word matched;
- ``correct_text``: share of them shown with their correct text (the ICDAR comparison, :func:`~.text.texts_match`:
  case-insensitive, ignoring punctuation at the ends);
- ``identity_switches`` (CLEAR-MOT): how often a ground-truth word is matched to another track id than the last
  one it was matched to; also per 100 word-frames;
- ``fragmented_words``: ground-truth words matched to more than one track id in the clip (of ``gt_words``, the
  words legible in at least one frame);
- ``track_ids``: distinct track ids shown.

Words shown without a track id (a spotter alone) get no identity numbers (None).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from .errors import EvaluationError
from .icdar import overlap_matrices, polygon_geometry
from .text import texts_match

#: A shown word and a ground-truth word match when their quads overlap by more than this IoU.
MATCH_IOU = 0.5


@dataclass
class GroundTruthWord:
    """A word of one frame of a clip: clip-wide ``id``, ``quad`` ``[4, 2]``, ``text``, ``legible``."""

    id: int
    quad: np.ndarray
    text: str
    legible: bool = True


@dataclass
class ShownWord:
    """A word as shown on a frame: ``quad`` ``[K, 2]``, ``text``, and its ``track_id`` (None without tracking)."""

    quad: np.ndarray
    text: str
    track_id: int | None = None


def load_clip_ground_truth(path: str | Path) -> list[list[GroundTruthWord]]:
    """The words of every frame of a clip's ground-truth file (written by ``tools/generate_synthetic_clip.py``).

    Raises:
        EvaluationError: a file that is missing or not such a file; the message names the file, frame and field.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"{path}: ground-truth file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EvaluationError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise EvaluationError(f"{path}: field 'frames': expected a list of frames")
    frames: list[list[GroundTruthWord]] = []
    for position, record in enumerate(data["frames"]):
        where = f"{path}: frame #{position}"
        if not isinstance(record, dict) or record.get("frame") != position or not isinstance(record.get("words"), list):
            raise EvaluationError(f"{where}: expected {{'frame': {position}, 'words': [...]}}")
        words = []
        for index, word in enumerate(record["words"]):
            try:
                quad = np.asarray(word["quad"], np.float64).reshape(-1, 2)
                words.append(GroundTruthWord(id=int(word["id"]), quad=quad, text=str(word["text"]),
                                             legible=bool(word.get("legible", True))))
            except (KeyError, TypeError, ValueError) as error:
                raise EvaluationError(f"{where}: word #{index}: field {error}: expected id, quad [[x, y], ...], "
                                      f"text") from None
        frames.append(words)
    return frames


def match_frame(ground_truth: Sequence[GroundTruthWord], shown: Sequence[ShownWord], min_iou: float = MATCH_IOU,
                previous: dict[int, int] | None = None) -> list[tuple[int, int]]:
    """``(ground-truth index, shown index)`` pairs of one frame: one-to-one, IoU > ``min_iou``, largest total IoU;
    ``previous`` (ground-truth id -> track id of the last match) pairs that still overlap enough come first."""
    if not ground_truth or not shown:
        return []
    iou, _ = overlap_matrices([polygon_geometry(word.quad)[0] for word in ground_truth],
                              [polygon_geometry(word.quad)[0] for word in shown])
    preference = np.zeros_like(iou)
    if previous:
        for g, gt_word in enumerate(ground_truth):
            for s, word in enumerate(shown):
                if word.track_id is not None and previous.get(gt_word.id) == word.track_id:
                    preference[g, s] = 1.0  # more than any IoU: kept whenever still valid
    valid = iou > min_iou
    rows, columns = linear_sum_assignment(-(iou + preference) * valid)
    return [(int(g), int(s)) for g, s in zip(rows, columns) if valid[g, s]]


def count_identity_switches(matched_ids: Sequence[int | None]) -> int:
    """Identity switches of one ground-truth word, from the track id it was matched to in each frame it was
    legible in (None: not matched): how often a matched id differs from the last matched one."""
    switches, last = 0, None
    for track_id in matched_ids:
        if track_id is None:
            continue
        switches += last is not None and track_id != last
        last = track_id
    return switches


@dataclass
class TrackingMetrics:
    """Counts of one or more clips (see the module docstring); add two with ``+``."""

    frames: int = 0
    word_frames: int = 0
    detected_frames: int = 0
    correct_text_frames: int = 0
    gt_words: int = 0
    identity_switches: int | None = None
    fragmented_words: int | None = None
    track_ids: int | None = None

    @property
    def detected(self) -> float:
        return self.detected_frames / self.word_frames if self.word_frames else 0.0

    @property
    def correct_text(self) -> float:
        return self.correct_text_frames / self.word_frames if self.word_frames else 0.0

    @property
    def switches_per_100(self) -> float | None:
        if self.identity_switches is None:
            return None
        return 100.0 * self.identity_switches / self.word_frames if self.word_frames else 0.0

    def __add__(self, other: TrackingMetrics) -> TrackingMetrics:
        def both(a, b):
            return None if a is None or b is None else a + b

        return TrackingMetrics(
            frames=self.frames + other.frames, word_frames=self.word_frames + other.word_frames,
            detected_frames=self.detected_frames + other.detected_frames,
            correct_text_frames=self.correct_text_frames + other.correct_text_frames,
            gt_words=self.gt_words + other.gt_words,
            identity_switches=both(self.identity_switches, other.identity_switches),
            fragmented_words=both(self.fragmented_words, other.fragmented_words),
            track_ids=both(self.track_ids, other.track_ids))

    def as_dict(self) -> dict:
        """The counts and the shares, rounded, for a metrics file."""
        values = asdict(self)
        values.update(detected=round(self.detected, 4), correct_text=round(self.correct_text, 4),
                      switches_per_100=None if self.switches_per_100 is None else round(self.switches_per_100, 3))
        return values


def evaluate_clip(ground_truth: Sequence[Sequence[GroundTruthWord]],
                  shown: Sequence[Sequence[ShownWord]]) -> TrackingMetrics:
    """The metrics of one clip: ``ground_truth[f]`` and ``shown[f]`` are the words of frame ``f``.

    Raises:
        EvaluationError: the two have a different number of frames.
    """
    if len(ground_truth) != len(shown):
        raise EvaluationError(f"{len(shown)} frames of shown words for {len(ground_truth)} frames of ground truth")
    with_ids = all(word.track_id is not None for frame in shown for word in frame)
    metrics = TrackingMetrics(frames=len(shown))
    matched_ids: dict[int, list[int | None]] = {}  # per ground-truth word id, per legible frame
    last_match: dict[int, int] = {}  # ground-truth id -> track id it was matched to last
    for gt_words, shown_words in zip(ground_truth, shown):
        matched = dict(match_frame(gt_words, shown_words, previous=last_match))
        for g, s in matched.items():
            if shown_words[s].track_id is not None:
                last_match[gt_words[g].id] = shown_words[s].track_id
        for g, gt_word in enumerate(gt_words):
            if not gt_word.legible:
                continue
            metrics.word_frames += 1
            history = matched_ids.setdefault(gt_word.id, [])
            if g not in matched:
                history.append(None)
                continue
            word = shown_words[matched[g]]
            metrics.detected_frames += 1
            metrics.correct_text_frames += texts_match(gt_word.text, word.text)
            history.append(word.track_id)
    metrics.gt_words = len(matched_ids)
    if with_ids:
        metrics.identity_switches = sum(count_identity_switches(ids) for ids in matched_ids.values())
        metrics.fragmented_words = sum(len({i for i in ids if i is not None}) > 1 for ids in matched_ids.values())
        metrics.track_ids = len({word.track_id for frame in shown for word in frame})
    return metrics
