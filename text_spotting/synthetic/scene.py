"""Composes one synthetic scene: a background, blocks of words laid out and warped into it, occluders, damage.

How ground truth stays tight: every word is drawn alone on its own alpha layer, the extent of its ink is measured in
that flat frame (:attr:`RenderedWord.ink_box`), the words of a block are laid out in a flat block frame, and one
homography takes the block frame into the image. The word quadrilateral is the ink box's 4 corners mapped through
that same homography, so it fits the drawn glyphs however the block is turned or tilted.

Words are marked "don't care" (``legible`` False, shown as '###') when they end up smaller than
``min_legible_height``, with too little contrast against what is under them, mostly hidden by an occluder, or
blurred beyond reading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .backgrounds import make_background, random_color
from .degradations import Degradation, degrade
from .fonts import FontFace, RenderedWord, render_word, space_width
from .layout import (block_homography, box_corners, convex_polygons_overlap, polygon_mask, project_points,
                     quad_height, to_pixel_centre_homography, translation)
from .real_words import RealWordBank
from .vocabulary import TextSampler

SYNTHETIC_LANGUAGE = "latin"
MAX_PLACEMENT_TRIES = 12
TRIES_PER_ORIENTATION = 3
MAX_SHRINK_STEPS = 3
MAX_FAILED_BLOCKS = 2  # blocks in a row that found no room: the image is full


@dataclass(frozen=True)
class SceneConfig:
    """What a generated scene may contain. Sizes are pixels of the output image; angles are degrees.

    Attributes:
        width, height: image size.
        min_blocks, max_blocks: range of the number of text blocks attempted per image (each has 1..``max_lines``
            lines of 1..``max_words_per_line`` words; a block that does not fit anywhere is dropped).
        min_text_size, max_text_size: range of the em size (font size) of words, sampled log-uniformly;
            ``max_text_size`` None means ``0.3 * height``.
        max_rotation: in-plane rotation range of a block (most blocks stay near horizontal).
        max_tilt: 3-D turn of a block about its vertical axis (perspective); about its horizontal axis half of it.
        vertical_prob: chance that a block is turned by 90 degrees.
        max_lines, max_words_per_line: block shape limits.
        min_legible_height: words whose quadrilateral is less tall than this are don't-care.
        min_contrast: mean colour change (0..255) the glyphs must make over what is under them to be legible.
        min_visible_fraction: words with a smaller share of their ink left visible by occluders are don't-care.
        max_blur_ratio: words whose height times this is below the image's blur sigma are don't-care.
        panel_prob, outline_prob, shadow_prob: chances of a sign panel behind a block, glyph outlines, drop shadow.
        low_contrast_prob: chance that a block's colour ignores the background (then it may be unreadable).
        occlusion_prob: chance that an image gets occluders drawn over some words.
        real_word_prob: share of blocks that paste a real word (when a real-word bank is given).
        degradation: strength of blur / noise / JPEG damage (0: none, 1: default mix).
    """

    width: int = 640
    height: int = 384
    min_blocks: int = 2
    max_blocks: int = 8
    min_text_size: float = 8.0
    max_text_size: float | None = None
    max_rotation: float = 30.0
    max_tilt: float = 40.0
    vertical_prob: float = 0.03
    max_lines: int = 3
    max_words_per_line: int = 4
    min_legible_height: float = 8.0
    min_contrast: float = 40.0
    min_visible_fraction: float = 0.8
    max_blur_ratio: float = 0.12
    panel_prob: float = 0.35
    outline_prob: float = 0.2
    shadow_prob: float = 0.2
    low_contrast_prob: float = 0.1
    occlusion_prob: float = 0.3
    real_word_prob: float = 0.3
    degradation: float = 1.0

    def text_size_range(self) -> tuple[float, float]:
        high = self.max_text_size if self.max_text_size is not None else 0.3 * self.height
        return float(self.min_text_size), float(max(high, self.min_text_size))


#: Named starting points for the command line (``--preset``); flags override single fields.
PRESETS = {
    "scene": SceneConfig(),
    "horizontal": SceneConfig(min_blocks=3, max_rotation=4.0, max_tilt=10.0, vertical_prob=0.0, min_text_size=10.0,
                              max_lines=2, max_words_per_line=3, occlusion_prob=0.1, degradation=0.4),
}


@dataclass
class SceneWord:
    """A word of a generated scene.

    Attributes:
        quad: ``[4, 2]`` corners in image pixel-edge coordinates, in the word's own order (top-left, top-right,
            bottom-right, bottom-left of the upright word), so ``quad[0]`` is where reading starts.
        text: what is written.
        legible: False for don't-care words.
        language: ``'latin'`` for generated words, the source's for pasted real words.
        reason: why a word is not legible (``'small'``, ``'low contrast'``, ``'occluded'``, ``'blurred'``), or ''.
        real: True for a pasted real word.
        contrast: mean colour change (0..255) its glyphs made over what was under them.
        visible_fraction: share of its ink not covered by occluders.
    """

    quad: np.ndarray
    text: str
    legible: bool = True
    language: str = SYNTHETIC_LANGUAGE
    reason: str = ""
    real: bool = False
    contrast: float = 0.0
    visible_fraction: float = 1.0


@dataclass
class Scene:
    """A generated image ``[H, W, 3]`` uint8 BGR, its words, and ``ink_labels`` ``[H, W]`` int32 (word index + 1
    where that word's ink was drawn before occlusion, 0 elsewhere; for checking tightness)."""

    image: np.ndarray
    words: list[SceneWord]
    ink_labels: np.ndarray
    degradation: Degradation = field(default_factory=Degradation)


@dataclass
class _Block:
    """A flat block of words before warping. Layers are ``[h, w]`` float32 alphas in the block frame."""

    width: int
    height: int
    word_boxes: list[tuple[float, float, float, float]]  # ink boxes, pixel-edge block coordinates
    texts: list[str]
    labels: np.ndarray  # [h, w] uint16: word index + 1 where the word's ink is
    fill: np.ndarray
    outline: np.ndarray | None = None
    text_extent: tuple[float, float, float, float] = (0, 0, 0, 0)
    size: float = 0.0
    patch: np.ndarray | None = None  # [h, w, 3] float32 colours for a pasted real word
    language: str = SYNTHETIC_LANGUAGE


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A sample whose logarithm is uniform in ``[log(low), log(high)]``."""
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def luminance(color: np.ndarray) -> float:
    """Luma (0..255) of a BGR colour."""
    return float(0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2])


def contrasting_color(rng: np.random.Generator, reference: np.ndarray, min_delta: float = 90.0) -> np.ndarray:
    """A random BGR colour whose luma differs from ``reference``'s by about ``min_delta`` or more."""
    ref = luminance(reference)
    if ref - min_delta < 0 or (ref + min_delta <= 255 and rng.random() < 0.5):
        target = rng.uniform(min(ref + min_delta, 255.0), 255.0)
    else:
        target = rng.uniform(0.0, max(ref - min_delta, 0.0))
    # scaling a random colour sets how saturated the result is; adding a constant to all channels moves its luma
    color = random_color(rng) * np.float32(rng.uniform(0.0, 1.0))
    return np.clip(color + np.float32(target - luminance(color)), 0, 255).astype(np.float32)


def _warp(layer: np.ndarray, homography: np.ndarray, roi: tuple[int, int, int, int], nearest: bool = False):
    """Warps a block-frame layer into the image window ``roi = (x0, y0, x1, y1)``."""
    x0, y0, x1, y1 = roi
    matrix = to_pixel_centre_homography(translation(-x0, -y0) @ homography)
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpPerspective(layer, matrix, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)


def _blend(canvas: np.ndarray, alpha: np.ndarray, color: np.ndarray) -> None:
    """``canvas = canvas * (1 - alpha) + color * alpha`` in place; ``alpha`` ``[h, w]``, colour ``[3]`` or
    ``[h, w, 3]``. Only the bounding box of ``alpha > 0`` is touched."""
    x, y, w, h = cv2.boundingRect((alpha > 0).view(np.uint8))
    if w == 0:
        return
    window = canvas[y:y + h, x:x + w]
    if color.ndim == 3:
        color = color[y:y + h, x:x + w]
    step = np.subtract(color, window, dtype=np.float32)
    step *= alpha[y:y + h, x:x + w, None]
    window += step


class SceneGenerator:
    """Makes scenes from a random generator: ``generate(rng) -> Scene``. Holds no random state itself."""

    def __init__(self, config: SceneConfig, fonts: list[FontFace], real_words: RealWordBank | None = None,
                 text_sampler: TextSampler | None = None):
        if not fonts:
            raise ValueError("no fonts to draw with")
        self.config = config
        self.fonts = fonts
        self.font_weights = np.array([f.weight for f in fonts], np.float64) / sum(f.weight for f in fonts)
        self.real_words = real_words if real_words is not None and len(real_words) else None
        self.text_sampler = text_sampler or TextSampler()

    # -- building flat blocks ----------------------------------------------------------------------------------

    def _sample_text(self, rng: np.random.Generator, face: FontFace) -> str:
        for _ in range(8):
            text = self.text_sampler.sample(rng)
            if face.covers(text):
                return text
        return "".join(ch for ch in text if face.covers(ch)) or "text"

    def _text_block(self, rng: np.random.Generator, size: float, border: float) -> _Block | None:
        """Lays out 1..max_lines lines of words of one font, size and style in a flat frame with at least
        ``border`` em of empty space around the text (room for a panel; 0.3 em is always kept for shadows)."""
        cfg = self.config
        face = self.fonts[rng.choice(len(self.fonts), p=self.font_weights)]
        size_px = max(4, int(round(size)))
        stroke = max(1, int(round(size_px * rng.uniform(0.04, 0.1)))) if rng.random() < cfg.outline_prob else 0
        # Fewer lines and words for large text, so that most blocks fit the image (a word is about 4 em wide).
        max_lines = int(np.clip(cfg.height / (1.6 * size_px), 1, cfg.max_lines))
        max_words = int(np.clip(cfg.width / (4.5 * size_px), 1, cfg.max_words_per_line))
        num_lines = int(rng.choice(np.arange(1, max_lines + 1), p=_decaying_weights(max_lines, 0.45)))
        line_pitch = size_px * (1.2 + 2.0 * stroke / size_px + rng.uniform(0.0, 0.35))
        gap_unit = max(space_width(face, size_px), 0.25 * size_px)
        lines: list[list[tuple[RenderedWord, float, str]]] = []  # (word, ink-start x, text)
        line_widths = []
        for _ in range(num_lines):
            count = int(rng.choice(np.arange(1, max_words + 1), p=_decaying_weights(max_words, 0.7)))
            line, cursor = [], 0.0
            for _ in range(count):
                text = self._sample_text(rng, face)
                word = render_word(text, face, size_px, stroke)
                if word is None:
                    continue
                line.append((word, cursor, text))
                cursor += word.ink_box[2] - word.ink_box[0] + gap_unit * rng.uniform(1.0, 1.8)
            if line:
                lines.append(line)
                last_word, last_x, _ = line[-1]
                line_widths.append(last_x + last_word.ink_box[2] - last_word.ink_box[0])
        if not lines:
            return None
        pad = int(math.ceil(max(border, 0.3) * size_px)) + stroke + 2
        text_width = max(line_widths)
        ascent = max(w.baseline_y - w.ink_box[1] for line in lines for w, _, _ in line)
        descent = max(w.ink_box[3] - w.baseline_y for line in lines for w, _, _ in line)
        width = int(math.ceil(text_width)) + 2 * pad
        height = int(math.ceil(ascent + descent + line_pitch * (len(lines) - 1))) + 2 * pad
        fill = np.zeros((height, width), np.float32)
        outline = np.zeros((height, width), np.float32) if stroke else None
        labels = np.zeros((height, width), np.uint16)
        alignment = rng.choice(3)  # left, centre, right
        boxes, texts = [], []
        for line_index, (line, line_width) in enumerate(zip(lines, line_widths)):
            baseline = pad + ascent + line_index * line_pitch
            indent = pad + (text_width - line_width) * (0.0, 0.5, 1.0)[alignment]
            for word, ink_x, text in line:
                left = int(round(indent + ink_x - word.ink_box[0]))
                top = int(round(baseline - word.baseline_y))
                # The word layer's empty margin may reach past the block frame; its ink never does.
                h, w = word.fill.shape
                y0, x0 = max(top, 0), max(left, 0)
                y1, x1 = min(top + h, height), min(left + w, width)
                window = (slice(y0, y1), slice(x0, x1))
                layer = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
                np.maximum(fill[window], word.fill[layer], out=fill[window])
                if outline is not None:
                    np.maximum(outline[window], word.outline[layer], out=outline[window])
                labels[window][word.alpha[layer] >= 0.5] = len(boxes) + 1
                x1, y1, x2, y2 = word.ink_box
                boxes.append((left + x1, top + y1, left + x2, top + y2))
                texts.append(text)
        extent = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                  max(b[3] for b in boxes))
        return _Block(width, height, boxes, texts, labels, fill, outline, extent, float(size_px))

    def _real_word_block(self, rng: np.random.Generator, size: float) -> _Block:
        """A pasted real word: its unwarped image scaled to about ``size`` pixels tall."""
        word = self.real_words.words[rng.integers(len(self.real_words))]
        src_h, src_w = word.patch.shape[:2]
        target_h = float(np.clip(size, 10.0, 3.0 * src_h))
        target_w = max(2, int(round(src_w * target_h / src_h)))
        target_h = max(2, int(round(target_h)))
        interpolation = cv2.INTER_AREA if target_h < src_h else cv2.INTER_LINEAR
        patch = cv2.resize(word.patch, (target_w, target_h), interpolation=interpolation).astype(np.float32)
        patch *= rng.uniform(0.8, 1.2, 3).astype(np.float32)
        pad = 2
        width, height = target_w + 2 * pad, target_h + 2 * pad
        fill = np.zeros((height, width), np.float32)
        fill[pad:pad + target_h, pad:pad + target_w] = 1.0
        # feathered border: the outermost pixel ring at half opacity, so the paste has no hard seam
        fill[pad, pad:pad + target_w] = fill[pad + target_h - 1, pad:pad + target_w] = 0.5
        fill[pad:pad + target_h, pad] = fill[pad:pad + target_h, pad + target_w - 1] = 0.5
        colors = np.zeros((height, width, 3), np.float32)
        colors[pad:pad + target_h, pad:pad + target_w] = np.clip(patch, 0, 255)
        labels = (fill > 0).astype(np.uint16)
        box = (float(pad), float(pad), float(pad + target_w), float(pad + target_h))
        return _Block(width, height, [box], [word.text], labels, fill, None, box, float(target_h), colors,
                      word.language or "")

    # -- placing ---------------------------------------------------------------------------------------------

    def _orientation(self, rng: np.random.Generator, block: _Block) -> np.ndarray:
        """Homography turning and tilting the block, with the block centre mapped to the image origin."""
        cfg = self.config
        if rng.random() < cfg.vertical_prob:
            roll = float(rng.choice((-90.0, 90.0)) + rng.normal(0, 3))
        elif rng.random() < 0.6:
            roll = float(np.clip(rng.normal(0.0, cfg.max_rotation / 6.0), -cfg.max_rotation, cfg.max_rotation))
        else:
            roll = float(rng.uniform(-cfg.max_rotation, cfg.max_rotation))
        yaw = pitch = 0.0
        if rng.random() < 0.6:
            yaw = float(rng.uniform(-cfg.max_tilt, cfg.max_tilt))
            pitch = float(rng.uniform(-cfg.max_tilt, cfg.max_tilt) / 2.0)
        return block_homography(block.width, block.height, (0.0, 0.0), yaw, pitch, roll)

    def _footprint(self, block: _Block, homography: np.ndarray, panel_margin: float) -> np.ndarray:
        """Image quad of the region the block claims: its text extent plus a margin (or its panel)."""
        x1, y1, x2, y2 = block.text_extent
        margin = max(panel_margin, 0.25 * block.size, 2.0)
        return project_points(homography, box_corners((x1 - margin, y1 - margin, x2 + margin, y2 + margin)))

    def _try_place(self, rng: np.random.Generator, block: _Block, claimed: list[np.ndarray], panel_margin: float):
        """``(homography, word quads [N, 4, 2])`` putting every word inside the image (1 px margin) and the
        block's footprint clear of the ``claimed`` footprints (appended to on success), or None when the block is
        too large or finds no free spot."""
        cfg = self.config
        boxes = np.stack([box_corners(b) for b in block.word_boxes]).reshape(-1, 2)
        for attempt in range(MAX_PLACEMENT_TRIES):
            if attempt % TRIES_PER_ORIENTATION == 0:
                oriented = self._orientation(rng, block)
                quads = project_points(oriented, boxes).reshape(-1, 4, 2)
                footprint = self._footprint(block, oriented, panel_margin)
                low = 1.0 - quads.reshape(-1, 2).min(axis=0)  # smallest centre keeping every word inside
                high = np.array([cfg.width, cfg.height], np.float64) - 1.0 - quads.reshape(-1, 2).max(axis=0)
            if np.any(high < low):
                continue
            centre = rng.uniform(low, high)
            placed_footprint = footprint + centre
            if any(convex_polygons_overlap(placed_footprint, other) for other in claimed):
                continue
            claimed.append(placed_footprint)
            return translation(*centre) @ oriented, quads + centre
        return None

    # -- drawing ---------------------------------------------------------------------------------------------

    def _draw_block(self, rng: np.random.Generator, canvas: np.ndarray, ink_labels: np.ndarray, block: _Block,
                    homography: np.ndarray, panel_margin: float, first_label: int) -> list[float]:
        """Composites a placed block; returns the contrast (mean colour change over its ink) of each word."""
        cfg = self.config
        corners = project_points(homography, box_corners((0, 0, block.width, block.height)))
        roi = _clip_roi(corners, cfg.width, cfg.height)
        x0, y0, x1, y1 = roi
        window = canvas[y0:y1, x0:x1]
        labels = _warp(block.labels, homography, roi, nearest=True).astype(np.int32)
        if block.patch is not None:
            under = window.copy()
            _blend(window, _warp(block.fill, homography, roi), _warp(block.patch, homography, roi))
        else:
            block_area = polygon_mask(window.shape[:2], [corners], origin=(x0, y0))
            under_mean = np.array(cv2.mean(window, block_area)[:3], np.float32)
            layers = []  # (alpha [h, w] in the block frame, colour), composited in this order
            if panel_margin > 0:
                panel_color = random_color(rng)
                ex1, ey1, ex2, ey2 = block.text_extent
                panel = np.zeros((block.height, block.width), np.float32)
                cv2.rectangle(panel, (int(ex1 - panel_margin), int(ey1 - panel_margin)),
                              (int(math.ceil(ex2 + panel_margin)), int(math.ceil(ey2 + panel_margin))), 1.0, -1)
                layers.append((panel, panel_color))
                under_mean = panel_color
            if rng.random() < cfg.low_contrast_prob:
                color = random_color(rng)
            else:
                color = contrasting_color(rng, under_mean, float(rng.uniform(60, 140)))
            if rng.random() < cfg.shadow_prob:
                offset = block.size * rng.uniform(0.04, 0.12)
                angle = rng.uniform(0, 2 * math.pi)
                shift = np.float32([[1, 0, offset * math.cos(angle)], [0, 1, offset * math.sin(angle)]])
                source = block.fill if block.outline is None else np.maximum(block.fill, block.outline)
                shadow = cv2.warpAffine(source, shift, (block.width, block.height))
                shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.5, block.size * 0.04))
                shadow *= np.float32(rng.uniform(0.5, 0.9))
                layers.append((shadow, np.full(3, rng.uniform(0, 60), np.float32)))
            glyph_layers = len(layers)  # the layers from here on are the glyphs; what is below them is "under"
            if block.outline is not None:
                layers.append((block.outline, contrasting_color(rng, color, 100.0)))
            layers.append((block.fill, color))
            warped = _warp(np.dstack([alpha for alpha, _ in layers]), homography, roi).reshape(
                window.shape[0], window.shape[1], len(layers))  # one warp for all layers (at most 4 channels)
            for index, (_, layer_color) in enumerate(layers):
                if index == glyph_layers:
                    under = window.copy()
                _blend(window, warped[..., index], layer_color)
        inked = labels > 0
        ink_labels[y0:y1, x0:x1][inked] = labels[inked] + (first_label - 1)
        change = np.linalg.norm(window[inked] - under[inked], axis=1) / math.sqrt(3.0)
        bins = len(block.texts) + 1
        ink_pixels = np.bincount(labels[inked], minlength=bins)[1:]
        change_sums = np.bincount(labels[inked], weights=change, minlength=bins)[1:]
        return [float(total / count) if count else 0.0 for total, count in zip(change_sums, ink_pixels)]

    def _draw_occluders(self, rng: np.random.Generator, canvas: np.ndarray, words: list[SceneWord]) -> np.ndarray:
        """Draws 1-3 opaque shapes overlapping random words; returns their ``[H, W]`` bool mask."""
        cfg = self.config
        mask = np.zeros((cfg.height, cfg.width), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            word = words[rng.integers(len(words))]
            height = max(quad_height(word.quad), 4.0)
            anchor = word.quad[rng.integers(4)] + rng.normal(0, 0.3 * height, 2)
            x, y = (int(round(v)) for v in anchor)
            size = int(max(2, height * rng.uniform(0.4, 1.5)))
            if rng.random() < 0.5:  # pole, branch, cable
                angle = rng.uniform(0, math.pi)
                dx, dy = int(math.cos(angle) * size * 3), int(math.sin(angle) * size * 3)
                cv2.line(mask, (x - dx, y - dy), (x + dx, y + dy), 1, max(1, size // 3), cv2.LINE_8)
            else:  # leaf, sticker, head
                cv2.ellipse(mask, (x, y), (size, max(1, int(size * rng.uniform(0.3, 1)))), float(rng.uniform(0, 180)),
                            0, 360, 1, -1, cv2.LINE_8)
        occluded = mask.astype(bool)
        canvas[occluded] = random_color(rng)
        return occluded

    def _add_block(self, rng: np.random.Generator, canvas: np.ndarray, claimed: list[np.ndarray],
                   ink_labels: np.ndarray, words: list[SceneWord]) -> bool:
        """Builds a block, shrinking it until it finds a free spot, draws it and appends its words."""
        cfg = self.config
        low, high = cfg.text_size_range()
        size = log_uniform(rng, low, high)
        real = self.real_words is not None and rng.random() < cfg.real_word_prob
        for _ in range(MAX_SHRINK_STEPS):
            panel_ratio = float(rng.uniform(0.15, 0.6)) if not real and rng.random() < cfg.panel_prob else 0.0
            block = self._real_word_block(rng, size) if real else self._text_block(rng, size, panel_ratio)
            if block is None:
                return False
            panel_margin = panel_ratio * block.size
            placed = self._try_place(rng, block, claimed, panel_margin)
            if placed is None:
                size = max(low, size * 0.7)
                continue
            homography, quads = placed
            contrasts = self._draw_block(rng, canvas, ink_labels, block, homography, panel_margin, len(words) + 1)
            for quad, text, contrast in zip(quads, block.texts, contrasts):
                words.append(SceneWord(quad=quad, text=text, language=block.language, real=real, contrast=contrast))
            return True
        return False

    # -- the whole scene -------------------------------------------------------------------------------------

    def generate(self, rng: np.random.Generator) -> Scene:
        """One scene; all randomness comes from ``rng``."""
        cfg = self.config
        canvas = make_background(rng, cfg.height, cfg.width)
        claimed: list[np.ndarray] = []  # footprints of the blocks drawn so far
        ink_labels = np.zeros((cfg.height, cfg.width), np.int32)
        words: list[SceneWord] = []
        failures_in_a_row = 0
        for _ in range(int(rng.integers(min(cfg.min_blocks, cfg.max_blocks), cfg.max_blocks + 1))):
            if failures_in_a_row == MAX_FAILED_BLOCKS:  # the image is full
                break
            placed = self._add_block(rng, canvas, claimed, ink_labels, words)
            failures_in_a_row = 0 if placed else failures_in_a_row + 1
        occluded = None
        if words and rng.random() < cfg.occlusion_prob:
            occluded = self._draw_occluders(rng, canvas, words)
        image, degradation = degrade(canvas, rng, cfg.degradation)
        self._judge_legibility(words, ink_labels, occluded, degradation)
        return Scene(image, words, ink_labels, degradation)

    def _judge_legibility(self, words: list[SceneWord], ink_labels: np.ndarray, occluded: np.ndarray | None,
                          degradation: Degradation) -> None:
        cfg = self.config
        if occluded is not None and words:
            ink_total = np.bincount(ink_labels.ravel(), minlength=len(words) + 1)
            ink_hidden = np.bincount(ink_labels[occluded], minlength=len(words) + 1)
            visible = 1.0 - ink_hidden / np.maximum(ink_total, 1)
            for index, word in enumerate(words):
                word.visible_fraction = float(visible[index + 1])
        for word in words:
            height = quad_height(word.quad)
            if height < cfg.min_legible_height:
                word.reason = "small"
            elif not word.real and word.contrast < max(cfg.min_contrast, 2.0 * degradation.noise_std):
                word.reason = "low contrast"
            elif word.visible_fraction < cfg.min_visible_fraction:
                word.reason = "occluded"
            elif degradation.blur_sigma > cfg.max_blur_ratio * height:
                word.reason = "blurred"
            word.legible = not word.reason


def _decaying_weights(count: int, ratio: float) -> np.ndarray:
    """``[count]`` probabilities proportional to ``ratio ** k``."""
    weights = ratio ** np.arange(count, dtype=np.float64)
    return weights / weights.sum()


def _clip_roi(points: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer window ``(x0, y0, x1, y1)`` covering ``[K, 2]`` points, clipped to the image; None if empty."""
    x0 = max(0, int(math.floor(points[:, 0].min())))
    y0 = max(0, int(math.floor(points[:, 1].min())))
    x1 = min(width, int(math.ceil(points[:, 0].max())) + 1)
    y1 = min(height, int(math.ceil(points[:, 1].max())) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1
