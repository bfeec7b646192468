"""A spotter over a stream of frames (webcam, video file, images), drawn and shown or written: what
``tools/visualize.py`` runs.

Frames come from a :class:`FrameSource` (:func:`open_frame_source`), go through the spotter with
:func:`spot_frames` (an ``OpenVINOTextSpotter`` with several infer requests keeps that many frames in flight, so a
camera is read while the previous frames are being spotted), are drawn with
:func:`~text_spotting.visualization.draw_predictions` plus an FPS / stage-latency panel, and end in a window
(:class:`Window`), an mp4 file (:class:`VideoFileSink`) or one image per input (:class:`ImageFolderSink`). With a
:class:`~.tracking.WordTracker` the words are followed from frame to frame and drawn with their track ids and voted
texts, and the tracks can be written to a JSON-lines file (:class:`TrackFileSink`).
"""
from __future__ import annotations

import collections
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np

from ..visualization import draw_info_panel, draw_predictions, draw_tracks, speed_lines
from .timing import IMAGE_SUFFIXES, image_files
from .tracking import TrackedWord, WordTracker, track_record
from .words import SpottedWord

#: Frame rate written for a camera (or a file that does not say its own).
DEFAULT_FPS = 25.0
#: Keys that close the window: Esc and q.
QUIT_KEYS = (27, ord("q"), ord("Q"))


class FrameSourceError(ValueError):
    """A camera, video or image that cannot be opened or read; the message names it."""


class DisplayUnavailable(RuntimeError):
    """No screen to show frames on (no ``$DISPLAY``, or OpenCV built without a GUI)."""


@dataclass
class Frame:
    """One input frame.

    Attributes:
        index: position in the stream, from 0.
        image: ``[H, W, 3]`` uint8 BGR.
        name: what an output image is called: the input file's stem, or ``frame_<index>`` for a video.
    """

    index: int
    image: np.ndarray
    name: str


@dataclass
class SpottedFrame:
    """A frame with the words found in it and the spotter's milliseconds per stage for it; ``tracks``: the
    tracker's words of this frame (None when not tracking)."""

    frame: Frame
    words: list[SpottedWord]
    latency_ms: dict[str, float] = field(default_factory=dict)
    tracks: list[TrackedWord] | None = None


def _quiet_opencv_video_logs() -> None:
    # A camera index or a file that cannot be opened makes OpenCV and FFmpeg print several lines of their own; the
    # caller reports one line instead. OPENCV_FFMPEG_LOGLEVEL is read when FFmpeg is first used, so set it early.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


class FrameSource:
    """Frames of a camera, a video file or a list of images; iterate it for :class:`Frame` s.

    Attributes:
        description: what it reads ("camera 0", "video street.mp4", "12 images").
        fps: frames per second of a video file (:data:`DEFAULT_FPS` for a camera), None for images.
        count: the number of frames when known (images, a video file), else None.
        is_video: True for a camera or a video file.
        stem: a name for an output file made from this source ("camera0", the video's stem, "images").
    """

    description: str = ""
    fps: float | None = None
    count: int | None = None
    is_video: bool = False
    stem: str = "frames"

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Releases the camera or file."""


class VideoFrames(FrameSource):
    """Frames of a camera (``int`` index) or a video file, read with ``cv2.VideoCapture`` until it ends.

    Raises:
        FrameSourceError: the camera or file cannot be opened.
    """

    is_video = True

    def __init__(self, video: int | str | Path, limit: int = 0):
        _quiet_opencv_video_logs()
        if isinstance(video, int):
            self.description, self.stem = f"camera {video}", f"camera{video}"
        else:
            path = Path(video)
            if not path.is_file():
                raise FrameSourceError(f"{path}: no such video file")
            self.description, self.stem = f"video {path}", path.stem
        self._capture = cv2.VideoCapture(video if isinstance(video, int) else str(video))
        if not self._capture.isOpened():
            what = f"camera {video}" if isinstance(video, int) else f"{video}: video file"
            raise FrameSourceError(f"{what} cannot be opened" + (" (no such camera, or it is busy)"
                                                                 if isinstance(video, int) else
                                                                 " (not a video, or a codec OpenCV lacks)"))
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        frames = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)) if not isinstance(video, int) else 0
        self.count = frames if frames > 0 else None
        if limit > 0:
            self.count = min(self.count, limit) if self.count else limit
        self.limit = limit

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while not self.limit or index < self.limit:
            ok, image = self._capture.read()
            if not ok:
                return
            yield Frame(index=index, image=image, name=f"frame_{index:06d}")
            index += 1

    def close(self) -> None:
        self._capture.release()


class ImageFrames(FrameSource):
    """Image files, in the order given; a folder gives its images sorted by path (recursively).

    Raises:
        FrameSourceError: a path that does not exist, a folder without images (at construction) or a file that is
            not an image (when it is reached).
    """

    def __init__(self, paths: Sequence[str | Path], limit: int = 0):
        self.paths = list_images(paths)
        if limit > 0:
            self.paths = self.paths[:limit]
        self.count = len(self.paths)
        self.description = f"{self.count} image{'s' if self.count != 1 else ''}"
        self.stem = "images"

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise FrameSourceError(f"{path}: cannot be read as an image")
            yield Frame(index=index, image=image, name=path.stem)


def list_images(paths: Sequence[str | Path]) -> list[Path]:
    """Image files of ``paths``: files as given, folders expanded to their images (recursively, sorted)."""
    images = []
    for path in map(Path, paths):
        if path.is_dir():
            found = image_files(path)
            if not found:
                raise FrameSourceError(f"{path}: no images in this folder ({', '.join(IMAGE_SUFFIXES)})")
            images.extend(found)
        elif path.is_file():
            images.append(path)
        else:
            raise FrameSourceError(f"{path}: no such image or folder")
    return images


def parse_video_argument(video: str) -> int | str:
    """``--video``: a camera index (``"0"``) or a video file path."""
    return int(video) if video.strip().isdigit() else video


def open_frame_source(video: str | None = None, images: Sequence[str | Path] | None = None,
                      limit: int = 0) -> FrameSource:
    """The frames of ``--video INDEX_OR_FILE`` or ``--images PATH...`` (exactly one), at most ``limit`` (0 = all)."""
    if (video is None) == (not images):
        raise ValueError("give either a video (camera index or file) or images")
    if video is not None:
        return VideoFrames(parse_video_argument(video), limit)
    return ImageFrames(images, limit)


# ---------------------------------------------------------------------------------------------------------------
# spotting and measuring


class FpsMeter:
    """Frames per second over the last ``window`` frames (by their arrival times).

    Args:
        window: how many frame intervals the rate is averaged over.
    """

    def __init__(self, window: int = 30):
        self._times: collections.deque[float] = collections.deque(maxlen=window + 1)

    def tick(self, now: float | None = None) -> float:
        """Records a frame at ``now`` (seconds; default ``time.perf_counter()``) and returns the current rate, 0
        until two frames were seen."""
        self._times.append(time.perf_counter() if now is None else now)
        elapsed = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / elapsed if elapsed > 0 else 0.0


def spot_frames(spotter, frames: Iterable[Frame], keep_masks: bool = True) -> Iterator[SpottedFrame]:
    """Each frame with its words, in order.

    An ``OpenVINOTextSpotter`` with ``num_requests`` > 1 keeps that many frames in flight (``submit`` /
    ``results``): the next frame is read and submitted while the earlier ones are being spotted. Any other spotter
    (``EagerTextSpotter``, one request) spots one frame at a time.
    """
    from .openvino_spotter import OpenVINOTextSpotter

    if isinstance(spotter, OpenVINOTextSpotter) and spotter.num_requests > 1:
        for frame in frames:
            spotter.submit(frame.image, keep_masks, userdata=frame)
            for result in spotter.results():
                yield SpottedFrame(result.userdata, result.words, dict(result.latency_ms))
        for result in spotter.results(wait=True):
            yield SpottedFrame(result.userdata, result.words, dict(result.latency_ms))
        return
    for frame in frames:
        words = spotter.predict(frame.image, keep_masks)[0]
        yield SpottedFrame(frame, words, dict(spotter.last_latency_ms))


#: Stages whose milliseconds the overlay shows, in this order (the tracker's when tracking).
OVERLAY_STAGES = ("detector", "encoder", "decoder", "tracker")


def annotate(spotted: SpottedFrame, fps: float | None = None) -> np.ndarray:
    """The frame with its words drawn (masks, quadrilaterals, texts and confidences; when tracked, the tracks'
    ids and voted texts in each track's colour) and the FPS / detector / encoder / decoder (/ tracker)
    milliseconds in the top-left corner."""
    if spotted.tracks is not None:
        canvas = draw_tracks(spotted.frame.image, spotted.tracks)
    else:
        canvas = draw_predictions(spotted.frame.image, spotted.words)
    return draw_info_panel(canvas, speed_lines(fps, spotted.latency_ms, OVERLAY_STAGES))


# ---------------------------------------------------------------------------------------------------------------
# where frames go


class VideoFileSink:
    """Writes frames to an mp4 file (``mp4v``); every frame must have the size of the first one.

    Raises:
        FrameSourceError: the file cannot be created.
    """

    def __init__(self, path: str | Path, fps: float, frame_size: tuple[int, int]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.frame_size = tuple(int(v) for v in frame_size)
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), self.frame_size)
        if not self._writer.isOpened():
            raise FrameSourceError(f"{self.path}: cannot write an mp4 video here")
        self.frames = 0

    def write(self, image: np.ndarray, name: str = "") -> None:
        height, width = image.shape[:2]
        if (width, height) != self.frame_size:
            image = cv2.resize(image, self.frame_size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        self._writer.release()


class ImageFolderSink:
    """Writes each frame as ``<folder>/<name>.jpg`` (``<name>_<k>.jpg`` when a name repeats)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._used: set[str] = set()
        self.frames = 0

    def write(self, image: np.ndarray, name: str) -> Path:
        stem, number = name, 1
        while stem in self._used:
            stem, number = f"{name}_{number}", number + 1
        self._used.add(stem)
        path = self.folder / f"{stem}.jpg"
        if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92]):
            raise FrameSourceError(f"{path}: cannot be written")
        self.frames += 1
        return path

    def close(self) -> None:
        """Nothing to finish: every image is complete once written."""


class TrackFileSink:
    """Writes the tracks shown in each frame as JSON lines, one line per track and frame
    (:func:`~.tracking.track_record`: frame, id, quad, text, text_score, score, missed).

    Raises:
        FrameSourceError: the file cannot be created.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8")
        except OSError as error:
            raise FrameSourceError(f"{self.path}: cannot write the tracks file ({error.strerror})") from None

    def write(self, frame_index: int, tracks: Sequence[TrackedWord]) -> None:
        for tracked in tracks:
            self._file.write(json.dumps(track_record(frame_index, tracked), ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()


def display_available() -> bool:
    """Whether there may be a screen: on Linux a ``$DISPLAY`` or ``$WAYLAND_DISPLAY``; elsewhere assumed."""
    if os.name == "posix" and not os.uname().sysname == "Darwin":
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """An OpenCV window showing frames; Esc or q closes it.

    Args:
        title: the window title.
        wait_for_key: wait for a key after each frame (images) instead of 1 ms (video).
    """

    def __init__(self, title: str, wait_for_key: bool = False):
        self.title = title
        self.wait_ms = 0 if wait_for_key else 1
        self._opened = False

    def show(self, image: np.ndarray) -> bool:
        """Shows a frame; False when the user asked to quit (Esc, q, or the window was closed).

        Raises:
            DisplayUnavailable: OpenCV cannot open a window here.
        """
        try:
            cv2.imshow(self.title, image)
            key = cv2.waitKey(self.wait_ms) & 0xFF
        except cv2.error as error:
            raise DisplayUnavailable(f"cannot show a window: {str(error).strip().splitlines()[-1]}") from None
        if self._opened and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return False
        self._opened = True
        return key not in QUIT_KEYS

    def close(self) -> None:
        if self._opened:
            cv2.destroyWindow(self.title)


# ---------------------------------------------------------------------------------------------------------------
# the loop

#: Where frames are written when no --output is given.
DEFAULT_OUTPUT_DIR = Path("outputs") / "visualize"


def resolve_output(source: FrameSource, output: str | Path | None) -> Path:
    """Where a source's annotated frames go: an mp4 file for a video (``output`` itself, or
    ``<output>/<source stem>.mp4`` when ``output`` is a folder or has no suffix), a folder for images.
    Default: ``outputs/visualize/``."""
    target = Path(output) if output is not None else DEFAULT_OUTPUT_DIR
    if source.is_video:
        return target / f"{source.stem}.mp4" if target.is_dir() or not target.suffix else target
    if target.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv") + IMAGE_SUFFIXES:
        raise FrameSourceError(f"{target}: annotated images are written to a folder, not to one file")
    return target


@dataclass
class VisualizationRun:
    """How a run went: frames drawn, where they were written (None when only shown), the mean FPS of the video
    loop, whether the user quit (Esc/q, Ctrl+C) before the end and, when tracking, how many tracks there were
    (distinct ids), the tracker's mean milliseconds per frame and where the tracks file went."""

    frames: int
    output: Path | None
    fps: float
    stopped_early: bool = False
    notes: list[str] = field(default_factory=list)
    tracks: int = 0
    tracker_ms: float = 0.0
    tracks_file: Path | None = None


def run_summary(run: VisualizationRun, tracking: bool) -> list[str]:
    """What visualize.py and demo.py --video print after a run: its notes, then one line of frames, FPS, tracks and
    where the frames went, and where the tracks file went."""
    lines = [f"note: {note}" for note in run.notes]
    summary = f"{run.frames} frame{'s' if run.frames != 1 else ''}"
    if run.fps:
        summary += f", {run.fps:.1f} FPS"
    if run.stopped_early:
        summary += ", stopped before the end"
    if tracking:
        summary += f", {run.tracks} track{'s' if run.tracks != 1 else ''} ({run.tracker_ms:.2f} ms/frame tracking)"
    lines.append(summary + (f"; written to {run.output}" if run.output else ""))
    if run.tracks_file:
        lines.append(f"tracks written to {run.tracks_file}")
    return lines


def run_visualization(spotter, source: FrameSource, output: str | Path | None = None, show: bool = True,
                      progress: bool = True, tracker: WordTracker | None = None,
                      tracks_file: str | Path | None = None) -> VisualizationRun:
    """Spots every frame of ``source``, draws it and shows it (``show``) and/or writes it (``output``; see
    :func:`resolve_output`).

    With a ``tracker`` each frame's words go through it and the tracks are drawn (ids, voted texts); with
    ``tracks_file`` too, they are written there as JSON lines (:class:`TrackFileSink`).

    When ``show`` is asked for but no window can be opened, the frames are written instead (to ``output`` or the
    default place) and a note says so. A video ends cleanly at its last frame; Esc/q in the window or Ctrl+C stops
    early, with everything written so far kept (the mp4 is finalized).
    """
    from tqdm import tqdm

    if tracks_file is not None and tracker is None:
        raise ValueError("a tracks file needs a tracker")
    window = Window(f"text spotting: {source.description}", wait_for_key=not source.is_video) if show else None
    target = resolve_output(source, output) if output is not None or not show else None
    sink = None
    track_sink = TrackFileSink(tracks_file) if tracks_file is not None else None
    tracker_ms, track_ids = [], set()
    meter, rates, frames, stopped, notes = FpsMeter(), [], 0, False, []
    bar = tqdm(total=source.count, desc=f"writing {target}" if target else "showing", unit="frame",
               disable=not progress or target is None, dynamic_ncols=True)
    stream = spot_frames(spotter, source)
    try:
        for spotted in stream:
            fps = meter.tick() if source.is_video else None
            if fps:
                rates.append(fps)
            if tracker is not None:
                spotted.tracks = tracker.update(spotted.words)
                spotted.latency_ms["tracker"] = tracker.last_ms
                tracker_ms.append(tracker.last_ms)
                track_ids.update(tracked.track_id for tracked in spotted.tracks)
                if track_sink is not None:
                    track_sink.write(spotted.frame.index, spotted.tracks)
            canvas = annotate(spotted, fps)
            if window is not None:
                try:
                    if not window.show(canvas):
                        stopped = True
                        break
                except DisplayUnavailable as error:
                    window = None
                    target = target or resolve_output(source, None)
                    notes.append(f"{error}; writing to {target} instead")
                    bar.disable = not progress
            if target is not None:
                if sink is None:
                    height, width = canvas.shape[:2]
                    sink = VideoFileSink(target, source.fps or DEFAULT_FPS, (width, height)) if source.is_video \
                        else ImageFolderSink(target)
                sink.write(canvas, spotted.frame.name)
            frames += 1
            bar.update()
    except KeyboardInterrupt:
        stopped = True
    finally:
        stream.close()
        bar.close()
        if sink is not None:
            sink.close()
        if track_sink is not None:
            track_sink.close()
        if window is not None:
            window.close()
        source.close()
        if hasattr(spotter, "close"):
            spotter.close()
    return VisualizationRun(frames=frames, output=target, fps=float(np.mean(rates)) if rates else 0.0,
                            stopped_early=stopped, notes=notes,
                            tracks=len(track_ids),
                            tracker_ms=float(np.mean(tracker_ms)) if tracker_ms else 0.0,
                            tracks_file=track_sink.path if track_sink is not None else None)
