"""Following words from frame to frame: stable ids and a steadier text for a spotter run on a video.

A spotter reads every frame on its own, so on a video a word's box and reading change from frame to frame. The
:class:`WordTracker` links each frame's words to the tracks of the previous frames and gives every track an id
for as long as it is seen, and a text voted over its recent readings. It holds no model: it takes the
``SpottedWord`` s of any spotter.

One frame (:meth:`WordTracker.update`):

1. every track's quadrilateral is moved by its own recent motion (per-frame velocity, smoothed) to where it should
   be now;
2. :func:`association_cost` builds the ``[tracks, words]`` cost from the quads' overlap (:func:`quad_iou_matrix`)
   and how alike the texts are (:func:`text_similarity`); pairs that overlap less than ``min_iou`` cannot be
   linked;
3. :func:`assign` picks the cheapest one-to-one links (Hungarian, ``scipy.optimize.linear_sum_assignment``);
4. a linked track takes the word's quad and adds its reading to its last ``vote_window`` readings, and its
   velocity follows the word's step (the scene's step instead when the box changed size: the detector merged or
   split words, the jump is not motion); a word left over starts a new track with a new id; a track left over keeps
   its id for up to ``memory`` frames without a word, and is dropped after that. Meanwhile it moves with the scene
   (:func:`scene_motion`: the median step of this frame's linked words, i.e. the camera's motion), so a word
   missed while the camera pans is found again where it went; a missed track lying on a linked one (IoU >=
   ``duplicate_iou``) is the same word tracked twice and is merged into it, keeping the older id;
5. each track's text is the confidence-weighted majority of its readings (:func:`vote`).

The defaults were tuned on generated clips (``tools/generate_synthetic_clip.py --seed 1000 --num-clips 4``: 15 FPS,
panning, zooming camera) read by the shipped model; see the README's "Text in video: tracking".
"""
from __future__ import annotations

import collections
import difflib
import itertools
import time
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from .words import SpottedWord

#: Cost of a pair that may not be linked (above any allowed cost, finite for the Hungarian solver).
FORBIDDEN_COST = 1e6


@dataclass(frozen=True)
class TrackerConfig:
    """How words are followed.

    Attributes:
        min_iou: a word may continue a track only when its quad overlaps the track's predicted quad by at least this
            IoU.
        text_weight: share of the link cost that comes from unlike texts (the rest from 1 - IoU), 0..1.
        memory: frames a track keeps its id without a word in them (30: 2 s at 15 FPS); a word seen again within
            them gets it back.
        vote_window: how many of a track's most recent readings vote for its text.
        motion_smoothing: how much of a track's previous velocity is kept when a new position comes (0..1).
        hold: frames a track whose word was missed is still shown (where the scene moved it); 0 shows only the
            tracks with a word in the current frame.
        duplicate_iou: a missed track overlapping a linked one by this IoU is the same word tracked twice (the
            detector split or merged it in some frame): the two become one, with the older id.
    """

    min_iou: float = 0.2
    text_weight: float = 0.3
    memory: int = 30
    vote_window: int = 30
    motion_smoothing: float = 0.5
    hold: int = 2
    duplicate_iou: float = 0.5

    def __post_init__(self):
        if not 0.0 < self.min_iou <= 1.0:
            raise ValueError(f"min_iou must be in (0, 1], got {self.min_iou}")
        if not 0.0 <= self.text_weight <= 1.0:
            raise ValueError(f"text_weight must be in [0, 1], got {self.text_weight}")
        if self.memory < 0 or self.hold < 0 or self.hold > self.memory:
            raise ValueError(f"memory ({self.memory}) and hold ({self.hold}) must be >= 0, hold <= memory")
        if self.vote_window < 1:
            raise ValueError(f"vote_window must be at least 1, got {self.vote_window}")
        if not 0.0 < self.duplicate_iou <= 1.0:
            raise ValueError(f"duplicate_iou must be in (0, 1], got {self.duplicate_iou}")
        if not 0.0 <= self.motion_smoothing < 1.0:
            raise ValueError(f"motion_smoothing must be in [0, 1), got {self.motion_smoothing}")


# ---------------------------------------------------------------------------------------------------------------
# the math, as pure functions


def quad_iou_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """IoU of every pair of convex quadrilaterals (or any convex polygons of K points).

    Args:
        first: ``[N, K, 2]``; second: ``[M, K, 2]``, in either winding order.

    Returns:
        ``[N, M]`` float64; 0 for pairs whose bounding boxes do not overlap or that have no area.
    """
    iou = np.zeros((len(first), len(second)))
    if not len(first) or not len(second):
        return iou
    first = np.asarray(first, np.float32).reshape(len(first), -1, 2)
    second = np.asarray(second, np.float32).reshape(len(second), -1, 2)
    low_a, high_a = first.min(axis=1)[:, None], first.max(axis=1)[:, None]
    low_b, high_b = second.min(axis=1)[None], second.max(axis=1)[None]
    boxes_overlap = ((low_a < high_b) & (low_b < high_a)).all(axis=2)
    area_a = [abs(cv2.contourArea(quad)) for quad in first]
    area_b = [abs(cv2.contourArea(quad)) for quad in second]
    for i, j in zip(*np.nonzero(boxes_overlap)):
        intersection = cv2.intersectConvexConvex(first[i], second[j])[0]
        union = area_a[i] + area_b[j] - intersection
        if intersection > 0 and union > 0:
            iou[i, j] = intersection / union
    return iou


def text_similarity(first: str, second: str) -> float:
    """How alike two readings are, ignoring case: 1 equal, 0 nothing in common (``difflib``'s ratio, twice the
    matched characters over the total); 0.5 (no evidence either way) when either is empty."""
    if not first or not second:
        return 0.5
    first, second = first.casefold(), second.casefold()
    return 1.0 if first == second else difflib.SequenceMatcher(None, first, second).ratio()


def association_cost(iou: np.ndarray, similarity: np.ndarray, min_iou: float, text_weight: float) -> np.ndarray:
    """``[T, W]`` cost of linking track t to word w: ``(1 - text_weight) * (1 - iou) + text_weight * (1 -
    similarity)``, :data:`FORBIDDEN_COST` where ``iou < min_iou``.

    Args:
        iou: ``[T, W]`` overlap of the tracks' predicted quads with the words' quads.
        similarity: ``[T, W]`` :func:`text_similarity` of the tracks' texts and the words' readings.
    """
    cost = (1.0 - text_weight) * (1.0 - iou) + text_weight * (1.0 - similarity)
    return np.where(iou >= min_iou, cost, FORBIDDEN_COST)


def assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """The one-to-one ``(row, column)`` links of least total cost (Hungarian), without forbidden pairs; sorted by
    row."""
    if cost.size == 0:
        return []
    rows, columns = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, columns) if cost[r, c] < FORBIDDEN_COST]


class ReadingVote:
    """The confidence-weighted majority of the last ``window`` readings of a word, kept up to date one reading at a
    time (the work per reading grows with the number of distinct readings, not with the window).

    Readings that differ only in case vote together; empty readings do not vote (and take no place in the window).
    The winner is the reading (case-folded) with the largest summed weight; ties go to more votes, then to the most
    recent reading. It is shown in its heaviest case form.
    """

    def __init__(self, window: int):
        self.window = window
        self._readings: collections.deque = collections.deque()  # (text, key, weight, index)
        self._totals: dict[str, list] = {}  # key -> [summed weight, votes, index of the latest]
        self._forms: dict[str, list] = {}  # text as written -> [summed weight, votes]
        self._added = 0

    def __len__(self) -> int:
        return len(self._readings)

    def readings(self) -> list[tuple[str, float]]:
        """The ``(text, weight)`` readings that vote now, oldest first."""
        return [(text, weight) for text, _, weight, _ in self._readings]

    def add(self, text: str, weight: float) -> None:
        if not text:
            return
        key, weight = text.casefold(), float(weight)
        self._readings.append((text, key, weight, self._added))
        total = self._totals.setdefault(key, [0.0, 0, 0])
        total[0], total[1], total[2] = total[0] + weight, total[1] + 1, self._added
        form = self._forms.setdefault(text, [0.0, 0])
        form[0], form[1] = form[0] + weight, form[1] + 1
        self._added += 1
        if len(self._readings) > self.window:
            old_text, old_key, old_weight, _ = self._readings.popleft()
            total, form = self._totals[old_key], self._forms[old_text]
            total[0], total[1] = total[0] - old_weight, total[1] - 1
            form[0], form[1] = form[0] - old_weight, form[1] - 1
            if total[1] == 0:
                del self._totals[old_key]
            if form[1] == 0:
                del self._forms[old_text]

    def result(self) -> tuple[str, float]:
        """``(text, share)``: the winning reading and its share of the total weight (of the votes when every weight
        is 0); ``('', 0.0)`` without a reading."""
        if not self._totals:
            return "", 0.0
        winner = max(self._totals, key=self._totals.get)  # by weight, then votes, then recency
        total_weight = sum(total[0] for total in self._totals.values())
        if total_weight > 1e-12:
            share = self._totals[winner][0] / total_weight
        else:
            share = self._totals[winner][1] / len(self._readings)
        text = max((form for form in self._forms if form.casefold() == winner), key=self._forms.get)
        return text, float(min(max(share, 0.0), 1.0))


def vote(texts: Sequence[str], weights: Sequence[float]) -> tuple[str, float]:
    """The confidence-weighted majority of readings (what :class:`ReadingVote` keeps for a track's window).

    Returns:
        ``(text, share)``: the winning reading in its heaviest case form and its share of the total weight
        (of the number of readings when every weight is 0); ``('', 0.0)`` without a reading.
    """
    tally = ReadingVote(window=max(len(texts), 1))
    for text, weight in zip(texts, weights):
        tally.add(text, weight)
    return tally.result()


def quad_centre(quad: np.ndarray) -> np.ndarray:
    """``[2]`` mean of a ``[K, 2]`` polygon's points."""
    return np.asarray(quad, np.float64).reshape(-1, 2).mean(axis=0)


def similar_size(first_bbox: np.ndarray, second_bbox: np.ndarray, max_ratio: float = 1.25) -> bool:
    """Whether two ``[4]`` boxes (x1, y1, x2, y2) differ in width and height by less than ``max_ratio`` times."""
    sizes = np.maximum(np.array([np.subtract(first_bbox[2:4], first_bbox[:2]),
                                 np.subtract(second_bbox[2:4], second_bbox[:2])], np.float64), 1e-6)
    ratios = sizes[0] / sizes[1]
    return bool((ratios < max_ratio).all() and (ratios > 1.0 / max_ratio).all())


def scene_motion(steps: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """``[2]`` how the scene moved in this frame: the median of the ``[K, 2]`` steps of the words that were linked
    (the camera moves them all alike; the median ignores a few words that moved on their own or were cut
    differently), or ``fallback`` when no word was linked."""
    steps = np.asarray(steps, np.float64).reshape(-1, 2)
    return np.median(steps, axis=0) if len(steps) else np.asarray(fallback, np.float64).reshape(2)


# ---------------------------------------------------------------------------------------------------------------
# the tracker


@dataclass
class TrackedWord:
    """A track as shown in one frame.

    Attributes:
        track_id: stable id, from 1, never reused in one tracker.
        quad: ``[4, 2]`` the word's quad in this frame (its predicted place when the word was missed).
        bbox: ``[4]`` x1, y1, x2, y2 of ``quad``'s word (predicted likewise).
        score: detection confidence of the track's latest word.
        text: the track's voted text ('' until it has a reading).
        text_score: the voted text's share of the voting weight (0..1).
        word: this frame's word, or None when the track coasts through a missed frame.
        hits: words the track was given so far (a merged duplicate's included).
        missed: frames since its last word (0 when ``word`` is not None).
    """

    track_id: int
    quad: np.ndarray
    bbox: np.ndarray
    score: float
    text: str
    text_score: float
    word: SpottedWord | None
    hits: int
    missed: int

    @property
    def mask(self) -> np.ndarray | None:
        """This frame's word mask, if there is one (so a ``TrackedWord`` draws like a ``SpottedWord``)."""
        return self.word.mask if self.word is not None else None


@dataclass
class _Track:
    track_id: int
    quad: np.ndarray  # where the word is now: its latest word's quad, moved with the scene while it is missed
    bbox: np.ndarray
    score: float
    readings: ReadingVote
    velocity: np.ndarray  # [2] pixels per frame
    hits: int = 1
    missed: int = 0
    text: str = ""
    text_score: float = 0.0

    def move(self, step: np.ndarray) -> None:
        self.quad = self.quad + step
        self.bbox = self.bbox + np.tile(step, 2)


class WordTracker:
    """Stable ids and voted texts for the words of consecutive frames (see the module docstring).

    ``update(words)`` once per frame, in order; ``last_ms`` is how long the last update took.

    Args:
        config: the tracker's settings (default :class:`TrackerConfig`).
    """

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._ids = itertools.count(1)
        self.last_ms = 0.0

    def reset(self) -> None:
        """Forgets every track (a new video); ids go on from where they were."""
        self._tracks = []

    @property
    def tracks(self) -> int:
        """How many tracks are alive (seen within ``memory`` frames)."""
        return len(self._tracks)

    def update(self, words: Sequence[SpottedWord]) -> list[TrackedWord]:
        """Links a frame's words to the tracks; returns the tracks shown in this frame, by id: those with a word
        now and, with ``hold`` > 0, those missed for at most ``hold`` frames."""
        start = time.perf_counter()
        cfg = self.config
        links = []
        if self._tracks and words:
            predicted = np.stack([track.quad + track.velocity for track in self._tracks])
            iou = quad_iou_matrix(predicted, np.stack([np.asarray(w.quad, np.float64) for w in words]))
            similarity = np.full(iou.shape, 0.5)
            if cfg.text_weight > 0:
                for t, w in zip(*np.nonzero(iou >= cfg.min_iou)):
                    similarity[t, w] = text_similarity(self._tracks[t].text, words[w].text)
            links = assign(association_cost(iou, similarity, cfg.min_iou, cfg.text_weight))
        steps = np.array([quad_centre(words[w].quad) - quad_centre(self._tracks[t].quad) for t, w in links])
        # a box that changed size (the detector merged or split words) moved its centre without motion
        steady = np.array([similar_size(self._tracks[t].bbox, words[w].bbox) for t, w in links], bool)
        fallback = np.median([track.velocity for track in self._tracks], axis=0) if self._tracks else np.zeros(2)
        scene_step = scene_motion(steps[steady] if len(steps) else steps, fallback)
        keep = cfg.motion_smoothing
        linked_tracks, linked_words = {t for t, _ in links}, {w for _, w in links}
        shown: list[tuple[_Track, SpottedWord | None]] = []
        for (t, w), step, is_steady in zip(links, steps, steady):
            track, word = self._tracks[t], words[w]
            step = step if is_steady else scene_step
            track.velocity = keep * track.velocity + (1.0 - keep) * step
            track.quad, track.bbox = np.asarray(word.quad, np.float64), np.asarray(word.bbox, np.float64)
            track.score, track.hits, track.missed = float(word.score), track.hits + 1, 0
            self._read(track, word)
            shown.append((track, word))
        missed = []
        for t, track in enumerate(self._tracks):
            if t not in linked_tracks:
                # a missed word is taken to move with the scene (the camera), so it is found again where it is
                track.move(scene_step)
                track.velocity = keep * track.velocity + (1.0 - keep) * scene_step
                track.missed += 1
                if track.missed <= cfg.memory:
                    missed.append(track)
        missed = self._merge_duplicates([track for track, _ in shown], missed)
        shown += [(track, None) for track in missed if track.missed <= cfg.hold]
        survivors = [track for track, _ in shown if track.missed == 0] + missed
        for w, word in enumerate(words):
            if w not in linked_words:
                track = _Track(track_id=next(self._ids), quad=np.asarray(word.quad, np.float64),
                               bbox=np.asarray(word.bbox, np.float64), score=float(word.score),
                               readings=ReadingVote(cfg.vote_window), velocity=scene_step.copy())
                self._read(track, word)
                survivors.append(track)
                shown.append((track, word))
        self._tracks = survivors
        result = [TrackedWord(track_id=track.track_id, quad=track.quad, bbox=track.bbox, score=track.score,
                              text=track.text, text_score=track.text_score, word=word, hits=track.hits,
                              missed=track.missed)
                  for track, word in shown]
        result.sort(key=lambda tracked: tracked.track_id)
        self.last_ms = (time.perf_counter() - start) * 1000.0
        return result

    def _merge_duplicates(self, linked: list[_Track], missed: list[_Track]) -> list[_Track]:
        """Missed tracks that overlap a linked track by ``duplicate_iou`` or more are merged into it: the linked
        track takes the older of the two ids and both tracks' hits and readings (the older's first). Returns the
        other missed tracks."""
        if not linked or not missed:
            return missed
        iou = quad_iou_matrix(np.stack([track.quad for track in missed]), np.stack([track.quad for track in linked]))
        kept = []
        for m, track in enumerate(missed):
            best = int(np.argmax(iou[m]))
            if iou[m, best] < self.config.duplicate_iou:
                kept.append(track)
                continue
            survivor = linked[best]
            older, newer = (track, survivor) if track.track_id < survivor.track_id else (survivor, track)
            readings = older.readings.readings() + newer.readings.readings()
            survivor.track_id, survivor.hits = older.track_id, track.hits + survivor.hits
            survivor.readings = ReadingVote(self.config.vote_window)
            for text, weight in readings:
                survivor.readings.add(text, weight)
            survivor.text, survivor.text_score = survivor.readings.result()
            iou[:, best] = 0.0  # one merge per linked track and frame
        return kept

    @staticmethod
    def _read(track: _Track, word: SpottedWord) -> None:
        if word.text:
            track.readings.add(word.text, word.text_score)
            track.text, track.text_score = track.readings.result()


def track_record(frame: int, tracked: TrackedWord) -> dict:
    """One line of a tracks file (JSON lines): ``frame``, ``id``, ``quad`` ``[[x, y] x 4]``, ``text`` (voted),
    ``text_score`` (its vote share), ``score`` (detection), ``missed`` (frames since the track's last word)."""
    return {"frame": int(frame), "id": tracked.track_id,
            "quad": [[round(float(x), 2), round(float(y), 2)] for x, y in np.asarray(tracked.quad).reshape(-1, 2)],
            "text": tracked.text, "text_score": round(float(tracked.text_score), 4),
            "score": round(float(tracked.score), 4), "missed": tracked.missed}
