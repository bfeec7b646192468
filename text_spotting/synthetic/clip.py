"""Short synthetic videos of a text scene filmed by a moving camera, with per-frame ground truth: for testing and
measuring a word tracker.

One scene (a "world", larger than a frame) is generated once with :class:`~.scene.SceneGenerator` and no image
damage; a camera then pans over it, zooms and turns a little, shaking by a pixel or so. Every frame is the world
warped by that frame's camera (:func:`camera_matrix`), then blurred (motion blur along the camera's movement when it
moves fast, now and then a defocus blur), lit differently (smooth gain and offset changes) and given sensor noise.
A word's frame quadrilateral is its world quadrilateral mapped by the same camera, so the ground truth stays tight.

Each world word has one id for the whole clip. In a frame it is legible when the world scene found it legible and it
is wholly inside the frame, tall enough and not blurred beyond reading; words cut by the frame border are "don't
care"; words wholly outside are not listed.

Everything comes from ``seed``: :func:`make_clip` with the same seed, settings and fonts gives the same frames and
ground truth. :func:`write_clip` writes ``<name>.mp4`` (mp4v) and ``<name>.json`` beside it::

    {"info": {"seed": 0, "frames": 48, "fps": 12.0, "width": 320, "height": 192, "video": "clip.mp4", ...},
     "frames": [{"frame": 0, "words": [{"id": 3, "quad": [[x, y], x 4], "text": "SALE", "legible": true}, ...]},
                ...]}

``quad``: clockwise from the top-left, pixel-edge image coordinates (as the "COCO with text" files).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..geometry import order_quad_clockwise
from .dataset_writer import SyntheticDataError, check_scene_config, round_floats
from .degradations import motion_blur_kernel
from .fonts import FontError, FontFace, discover_fonts
from .layout import project_points, quad_height, to_pixel_centre_homography
from .scene import PRESETS, SceneConfig, SceneGenerator

#: Suffix of the ground-truth file written beside a clip.
GROUND_TRUTH_SUFFIX = ".json"
#: A moving camera's exposure, as a share of the frame interval: motion blur length = speed (px/frame) x this.
EXPOSURE = 0.3
#: Motion blur shorter than this (pixels) is not drawn.
MIN_MOTION_BLUR = 2


@dataclass(frozen=True)
class ClipConfig:
    """How a clip is filmed. Sizes are frame pixels, angles degrees.

    Attributes:
        width, height: frame size.
        frames: number of frames.
        fps: frame rate written into the video.
        world_scale: the scene is this many times the frame size (room for panning and zooming out).
        zoom_range: camera zoom range (frame pixels per world pixel); 1 shows the world at its own scale.
        max_rotation: camera roll range.
        keyframes: camera positions, zooms and rolls are drawn at this many evenly spaced frames and eased between;
            more keyframes mean faster, more changing motion.
        shake: standard deviation of the per-frame hand shake of the camera centre, in frame pixels.
        defocus_prob: chance that a frame gets a Gaussian blur (sigma 0.5..1.5).
        gain_range, offset_range: brightness changes: ``pixel * gain + offset``, both eased between keyframes.
        noise_std: sensor noise (standard deviation, 0..255 scale).
        scene: the world scene's settings; its size, text sizes and damage are set from the fields above by
            :func:`world_scene_config`.
    """

    width: int = 640
    height: int = 384
    frames: int = 48
    fps: float = 15.0
    world_scale: float = 1.6
    zoom_range: tuple[float, float] = (0.85, 1.25)
    max_rotation: float = 4.0
    keyframes: int = 3
    shake: float = 0.7
    defocus_prob: float = 0.1
    gain_range: tuple[float, float] = (0.7, 1.2)
    offset_range: tuple[float, float] = (-25.0, 25.0)
    noise_std: float = 3.0
    scene: SceneConfig = field(default_factory=lambda: PRESETS["horizontal"])


@dataclass
class ClipWord:
    """A world word as seen in one frame: ``quad`` ``[4, 2]`` clockwise from the top-left in frame pixel-edge
    coordinates, its clip-wide ``id``, its ``text``, ``legible`` False for don't care and why (``reason``: the
    scene's reasons, or ``'cut'`` by the frame border, ``'small'`` after zooming out, ``'blurred'``)."""

    id: int
    quad: np.ndarray
    text: str
    legible: bool = True
    reason: str = ""


@dataclass
class ClipFrame:
    """One frame: ``image`` ``[H, W, 3]`` uint8 BGR, its words, and the camera ``[3, 3]`` (world -> frame)."""

    index: int
    image: np.ndarray
    words: list[ClipWord]
    camera: np.ndarray
    blur_sigma: float = 0.0


@dataclass
class ClipSummary:
    """Counts of a written clip."""

    frames: int = 0
    words: int = 0  # distinct word ids seen in some frame
    word_frames: int = 0  # (frame, legible word) pairs
    dont_care_frames: int = 0
    seconds: float = 0.0

    def format(self) -> str:
        return (f"{self.frames} frames, {self.words} words, {self.word_frames} legible word-frames "
                f"({self.dont_care_frames} don't care), {self.seconds:.1f} s")


def check_clip_config(config: ClipConfig) -> None:
    """Raises :class:`SyntheticDataError` naming the first setting that cannot make a clip."""
    if config.width < 32 or config.height < 32:
        raise SyntheticDataError(f"frame size {config.width}x{config.height} is below 32x32")
    if config.frames < 1:
        raise SyntheticDataError(f"--frames must be at least 1, got {config.frames}")
    if not config.fps > 0:
        raise SyntheticDataError(f"--fps must be positive, got {config.fps:g}")
    low, high = config.zoom_range
    if not 0 < low <= high:
        raise SyntheticDataError(f"zoom range {low:g}..{high:g}: expected 0 < low <= high")
    if config.world_scale * low < 1.0 + 2 * math.sin(math.radians(config.max_rotation)):
        raise SyntheticDataError(f"a world {config.world_scale:g} times the frame is too small for a zoom of "
                                 f"{low:g} and a roll of {config.max_rotation:g} degrees")
    if config.keyframes < 2:
        raise SyntheticDataError(f"keyframes must be at least 2, got {config.keyframes}")


def world_scene_config(config: ClipConfig) -> SceneConfig:
    """The world scene of a clip: ``world_scale`` times the frame, text sized for the frame (em 10 px or 1/32 of
    the frame height .. 0.22 of it), more blocks for the larger area, and no image damage (the frames get their
    own)."""
    scene = config.scene
    area = config.world_scale ** 2
    return dataclasses.replace(
        scene, width=int(round(config.width * config.world_scale)),
        height=int(round(config.height * config.world_scale)),
        min_text_size=max(scene.min_text_size, config.height / 32.0), max_text_size=0.22 * config.height,
        min_blocks=int(round(scene.min_blocks * area)), max_blocks=int(round(scene.max_blocks * area)),
        degradation=0.0)


# ---------------------------------------------------------------------------------------------------------------
# the camera


def eased_curve(rng: np.random.Generator, frames: int, keyframes: int, low: float, high: float) -> np.ndarray:
    """``[frames]`` values drawn uniformly in ``[low, high]`` at ``keyframes`` evenly spaced frames (first and last
    included) and eased between them (cosine ease: zero speed at each keyframe, no jumps)."""
    keys = rng.uniform(low, high, keyframes)
    if frames == 1:
        return keys[:1].copy()
    position = np.linspace(0.0, keyframes - 1.0, frames)
    left = np.minimum(np.floor(position).astype(int), keyframes - 2)
    t = position - left
    ease = (1.0 - np.cos(math.pi * t)) / 2.0
    return keys[left] * (1.0 - ease) + keys[left + 1] * ease


def camera_matrix(centre: tuple[float, float], zoom: float, roll_deg: float, frame_size: tuple[int, int]) -> np.ndarray:
    """``[3, 3]`` world -> frame transform (pixel-edge coordinates) of a camera looking at world point ``centre``
    with ``zoom`` (frame pixels per world pixel) and turned by ``roll_deg``: ``centre`` lands in the frame's
    middle."""
    width, height = frame_size
    angle = math.radians(roll_deg)
    cos, sin = math.cos(angle) * zoom, math.sin(angle) * zoom
    cx, cy = centre
    # rotate and scale about the world centre point, then put it at the frame's middle
    return np.array([[cos, -sin, width / 2.0 - (cos * cx - sin * cy)],
                     [sin, cos, height / 2.0 - (sin * cx + cos * cy)],
                     [0.0, 0.0, 1.0]])


def view_half_extent(zoom: float, roll_deg: float, frame_size: tuple[int, int]) -> np.ndarray:
    """``[2]`` half width and height (world pixels) of the axis-aligned box around what a camera sees."""
    width, height = frame_size
    cos, sin = abs(math.cos(math.radians(roll_deg))), abs(math.sin(math.radians(roll_deg)))
    return np.array([cos * width + sin * height, sin * width + cos * height]) / (2.0 * zoom)


def camera_path(rng: np.random.Generator, config: ClipConfig, world_size: tuple[int, int]) -> list[np.ndarray]:
    """The camera of every frame: ``[frames]`` of ``[3, 3]`` world -> frame transforms that keep the whole frame
    inside the world."""
    frame_size = (config.width, config.height)
    zoom = eased_curve(rng, config.frames, config.keyframes, *config.zoom_range)
    roll = eased_curve(rng, config.frames, config.keyframes, -config.max_rotation, config.max_rotation)
    # keyframe centres are drawn where even the widest view fits, so the pan is a smooth curve inside the world
    widest = view_half_extent(config.zoom_range[0], config.max_rotation, frame_size)
    world = np.array(world_size, np.float64)
    centre_x = eased_curve(rng, config.frames, config.keyframes, widest[0], world[0] - widest[0])
    centre_y = eased_curve(rng, config.frames, config.keyframes, widest[1], world[1] - widest[1])
    shake = rng.normal(0.0, config.shake, (config.frames, 2)) / zoom[:, None]
    cameras = []
    for index in range(config.frames):
        half = view_half_extent(zoom[index], roll[index], frame_size)
        centre = np.clip(np.array([centre_x[index], centre_y[index]]) + shake[index], half, world - half)
        cameras.append(camera_matrix(tuple(centre), float(zoom[index]), float(roll[index]), frame_size))
    return cameras


# ---------------------------------------------------------------------------------------------------------------
# frames


def frame_words(world_words, camera: np.ndarray, frame_size: tuple[int, int], blur_sigma: float,
                scene: SceneConfig) -> list[ClipWord]:
    """The world words a camera sees (see the module docstring for when one is legible); ids are world index + 1."""
    width, height = frame_size
    words = []
    for index, world_word in enumerate(world_words):
        quad = project_points(camera, world_word.quad)
        low, high = quad.min(axis=0), quad.max(axis=0)
        if high[0] <= 0 or high[1] <= 0 or low[0] >= width or low[1] >= height:
            continue
        reason = world_word.reason
        word_height = quad_height(quad)
        if not reason and ((low < 1.0).any() or high[0] > width - 1.0 or high[1] > height - 1.0):
            reason = "cut"
        if not reason and word_height < scene.min_legible_height:
            reason = "small"
        if not reason and blur_sigma > scene.max_blur_ratio * word_height:
            reason = "blurred"
        words.append(ClipWord(id=index + 1, quad=order_quad_clockwise(quad), text=world_word.text,
                              legible=not reason, reason=reason))
    return words


def film_frame(world: np.ndarray, camera: np.ndarray, previous_camera: np.ndarray | None, config: ClipConfig,
               gain: float, offset: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The world seen by ``camera``, blurred, lit and noisy: ``([H, W, 3] uint8, equivalent blur sigma)``.

    Motion blur follows the frame centre's movement since the previous frame (longer for faster pans)."""
    size = (config.width, config.height)
    image = cv2.warpAffine(world, to_pixel_centre_homography(camera)[:2], size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)
    blur_variance = 0.0
    if previous_camera is not None:
        # where the world point now at the frame centre was in the previous frame: the apparent motion
        middle = np.array([[config.width / 2.0, config.height / 2.0]])
        world_point = project_points(np.linalg.inv(camera), middle)
        motion = middle[0] - project_points(previous_camera, world_point)[0]
        length = int(round(float(np.hypot(*motion)) * EXPOSURE))
        if length >= MIN_MOTION_BLUR:
            length += 1 - length % 2  # odd: the kernel has a centre pixel
            image = cv2.filter2D(image, -1, motion_blur_kernel(length, math.degrees(math.atan2(motion[1], motion[0]))))
            blur_variance += (length / 3.0) ** 2
    if rng.random() < config.defocus_prob:
        sigma = float(rng.uniform(0.5, 1.5))
        image = cv2.GaussianBlur(image, (0, 0), sigma)
        blur_variance += sigma ** 2
    image = image * np.float32(gain) + np.float32(offset)
    if config.noise_std > 0:
        image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(config.noise_std)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), math.sqrt(blur_variance)


def clip_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """The random generators of a clip: the world scene's, the camera's and the per-frame damage's."""
    return tuple(np.random.default_rng(np.random.SeedSequence([seed, stream])) for stream in range(3))


def make_clip(config: ClipConfig, seed: int, fonts: list[FontFace]) -> Iterator[ClipFrame]:
    """The frames of a clip, one at a time; everything is drawn from ``seed`` (see :func:`clip_rngs`)."""
    check_clip_config(config)
    scene_config = world_scene_config(config)
    check_scene_config(scene_config)
    scene_rng, camera_rng, frame_rng = clip_rngs(seed)
    world = SceneGenerator(scene_config, fonts).generate(scene_rng)
    cameras = camera_path(camera_rng, config, (scene_config.width, scene_config.height))
    gain = eased_curve(camera_rng, config.frames, config.keyframes, *config.gain_range)
    offset = eased_curve(camera_rng, config.frames, config.keyframes, *config.offset_range)
    previous = None
    for index, camera in enumerate(cameras):
        image, blur_sigma = film_frame(world.image, camera, previous, config, float(gain[index]),
                                       float(offset[index]), frame_rng)
        words = frame_words(world.words, camera, (config.width, config.height), blur_sigma, scene_config)
        yield ClipFrame(index=index, image=image, words=words, camera=camera, blur_sigma=blur_sigma)
        previous = camera


def clip_word_record(word: ClipWord) -> dict:
    """A word's entry in the ground-truth file."""
    record = {"id": word.id, "quad": word.quad.tolist(), "text": word.text, "legible": word.legible}
    if word.reason:
        record["reason"] = word.reason
    return round_floats(record)


def ground_truth_path(video: str | Path) -> Path:
    """Where a clip's ground truth is: beside the video, same stem, ``.json``."""
    return Path(video).with_suffix(GROUND_TRUTH_SUFFIX)


def write_clip(video: str | Path, config: ClipConfig, seed: int, font_source: str = "bundled",
               overwrite: bool = False) -> ClipSummary:
    """Writes a clip as ``video`` (mp4, mp4v) and its ground truth as :func:`ground_truth_path` ``(video)``.

    Raises:
        SyntheticDataError: bad settings, existing files without ``overwrite``, no fonts, or a video OpenCV cannot
            write.
    """
    video = Path(video)
    truth = ground_truth_path(video)
    if video.suffix.lower() != ".mp4":
        raise SyntheticDataError(f"{video}: a clip is written as an .mp4 file")
    if seed < 0:
        raise SyntheticDataError(f"--seed must be a non-negative integer, got {seed}")
    if not overwrite and (video.exists() or truth.exists()):
        raise SyntheticDataError(f"{video if video.exists() else truth}: already exists; pass --overwrite to "
                                 f"replace it")
    check_clip_config(config)
    try:
        fonts = discover_fonts(font_source)
    except FontError as error:
        raise SyntheticDataError(str(error)) from None
    video.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), float(config.fps),
                             (config.width, config.height))
    if not writer.isOpened():
        raise SyntheticDataError(f"{video}: cannot write an mp4 video here")
    start = time.perf_counter()
    summary, records, ids = ClipSummary(), [], set()
    try:
        for frame in make_clip(config, seed, fonts):
            writer.write(frame.image)
            records.append({"frame": frame.index, "words": [clip_word_record(word) for word in frame.words]})
            ids.update(word.id for word in frame.words)
            summary.word_frames += sum(word.legible for word in frame.words)
            summary.dont_care_frames += sum(not word.legible for word in frame.words)
            summary.frames += 1
    finally:
        writer.release()
    summary.words = len(ids)
    summary.seconds = time.perf_counter() - start
    info = {"description": "synthetic text clip (tools/generate_synthetic_clip.py)", "seed": seed,
            "frames": config.frames, "fps": config.fps, "width": config.width, "height": config.height,
            "video": video.name, "fonts": font_source,
            "clip_config": round_floats(json.loads(json.dumps(dataclasses.asdict(config))))}
    # one frame per line: small, and a diff shows which frames changed
    lines = ",\n".join(json.dumps(record, separators=(",", ":")) for record in records)
    truth.write_text(f'{{"info": {json.dumps(info, sort_keys=True)},\n"frames": [\n{lines}\n]}}\n', encoding="utf-8")
    return summary
