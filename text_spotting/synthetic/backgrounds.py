"""Cluttered scene backgrounds without any text: gradients, smooth noise, periodic textures, shapes and photos.

The only photos and rasters used are those matplotlib ships as sample data (a portrait photo and two elevation maps,
shaded and coloured); when they are missing the other kinds are used. Every function draws all of its randomness
from the ``numpy.random.Generator`` it is given, so a background is a pure function of the generator state.
All images are ``[H, W, 3]`` BGR; builders return float32 in [0, 255].
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import numpy as np


# matplotlib's sample portrait (600 x 512) has a name plate at rows ~480-515; only the rows above it are used.
PHOTO_TEXT_FREE_ROWS = 465


def random_color(rng: np.random.Generator) -> np.ndarray:
    """A ``[3]`` float32 BGR colour: uniform over the RGB cube, then moved towards its grey by a random amount
    (scenes are rarely fully saturated)."""
    color = rng.uniform(0, 255, 3)
    grey = color.mean()
    return (grey + rng.uniform(0.15, 1.0) * (color - grey)).astype(np.float32)


def color_ramp(field: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Maps a ``[H, W]`` field in [0, 1] through a piecewise-linear ramp of ``[K, 3]`` colours: ``[H, W, 3]``."""
    stops = np.linspace(0.0, 1.0, len(colors))
    levels = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(levels, stops, colors[:, c]) for c in range(3)], axis=1)
    lut_u8 = np.clip(lut + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    index = np.clip(field * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(cv2.merge([index, index, index]), lut_u8).astype(np.float32)


def smooth_noise(rng: np.random.Generator, height: int, width: int, octaves: int = 4,
                 base_cells: int = 3, persistence: float = 0.5) -> np.ndarray:
    """Multi-octave value noise, ``[height, width]`` float32 normalised to [0, 1]."""
    total = np.zeros((height, width), np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        cells = base_cells * 2 ** octave
        grid = rng.random((max(2, int(cells * height / width) + 2), cells + 2)).astype(np.float32)
        total += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        amplitude *= persistence
    low, high = float(total.min()), float(total.max())
    return (total - low) / max(high - low, 1e-6)


def _rotated_coordinates(height: int, width: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates turned by ``angle`` radians: two ``[height, width]`` float32 arrays."""
    xs = np.arange(width, dtype=np.float32)[None, :]
    ys = np.arange(height, dtype=np.float32)[:, None]
    cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    return xs * cos + ys * sin, ys * cos - xs * sin


def gradient_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Linear gradient between 2-3 random colours at a random angle."""
    u, _ = _rotated_coordinates(height, width, rng.uniform(0, 2 * math.pi))
    field = (u - u.min()) / max(float(u.max() - u.min()), 1e-6)
    return color_ramp(field, np.stack([random_color(rng) for _ in range(rng.integers(2, 4))]))


def noise_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Coloured value noise: stains, foliage, concrete, clouds depending on the draw."""
    field = smooth_noise(rng, height, width, octaves=int(rng.integers(2, 6)), base_cells=int(rng.integers(2, 8)),
                         persistence=float(rng.uniform(0.35, 0.7)))
    return color_ramp(field, np.stack([random_color(rng) for _ in range(rng.integers(2, 5))]))


def pattern_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Periodic textures: stripes, tiles, wood grain or brick-like grids."""
    kind = rng.integers(4)
    period = float(rng.uniform(6, 80))
    u, v = _rotated_coordinates(height, width, rng.uniform(0, math.pi))
    if kind == 0:  # stripes, soft or hard
        field = 0.5 + 0.5 * np.sin(2 * math.pi * u / period)
        if rng.random() < 0.5:
            field = (field > 0.5).astype(np.float32)
    elif kind == 1:  # tiles
        field = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    elif kind == 2:  # wood grain: stripes bent by noise
        warp = smooth_noise(rng, height, width, octaves=3, base_cells=2) * period * rng.uniform(1, 4)
        field = 0.5 + 0.5 * np.sin(2 * math.pi * (u + warp) / period)
    else:  # grid of lines (bricks, windows, fences)
        line = max(1.0, period * rng.uniform(0.05, 0.25))
        field = ((np.mod(u, period) < line) | (np.mod(v, period * rng.uniform(0.5, 2)) < line)).astype(np.float32)
    image = color_ramp(field.astype(np.float32), np.stack([random_color(rng), random_color(rng)]))
    if rng.random() < 0.5:  # dirt
        dirt = smooth_noise(rng, height, width, octaves=3, base_cells=4)[..., None]
        image = image * (0.75 + 0.5 * dirt)
    return image


@functools.lru_cache(maxsize=None)
def _sample_rasters() -> tuple[np.ndarray, ...]:
    """matplotlib's sample photo and shaded elevation maps as ``[h, w, 3]`` float32 / ``[h, w]`` fields."""
    try:
        import matplotlib

        folder = Path(matplotlib.get_data_path()) / "sample_data"
    except ImportError:
        return ()
    rasters: list[np.ndarray] = []
    photo = cv2.imread(str(folder / "grace_hopper.jpg"), cv2.IMREAD_COLOR)
    if photo is not None:
        # Rows below PHOTO_TEXT_FREE_ROWS show a name plate: text that no annotation would mark.
        rasters.append(photo[:PHOTO_TEXT_FREE_ROWS].astype(np.float32))
    for name, key in (("jacksboro_fault_dem.npz", "elevation"), ("topobathy.npz", "topo")):
        path = folder / name
        if path.is_file():
            with np.load(path) as data:
                rasters.append(data[key].astype(np.float32))
    return tuple(rasters)


def _shaded_relief(elevation: np.ndarray, azimuth: float) -> np.ndarray:
    """Hill shading of an elevation grid in [0, 1] (light from ``azimuth`` radians)."""
    grad_y, grad_x = np.gradient(elevation / max(float(np.ptp(elevation)), 1e-6) * 50.0)
    slope = np.arctan(np.hypot(grad_x, grad_y))
    aspect = np.arctan2(-grad_x, grad_y)
    altitude = math.radians(45)
    shade = math.sin(altitude) * np.cos(slope) + math.cos(altitude) * np.sin(slope) * np.cos(azimuth - aspect)
    return np.clip(shade, 0, 1).astype(np.float32)


def photo_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray | None:
    """A random crop of a bundled photo or shaded relief map, resized, flipped and tinted; None if none ship."""
    rasters = _sample_rasters()
    if not rasters:
        return None
    raster = rasters[rng.integers(len(rasters))]
    if raster.ndim == 2:
        field = _shaded_relief(raster, rng.uniform(0, 2 * math.pi))
        raster = color_ramp(field, np.stack([random_color(rng) * 0.5, random_color(rng), random_color(rng)]))
    rows, cols = raster.shape[:2]
    crop_h = int(rows * rng.uniform(0.3, 1.0))
    crop_w = min(cols, max(8, int(crop_h * width / height * rng.uniform(0.7, 1.4))))
    top, left = int(rng.integers(0, rows - crop_h + 1)), int(rng.integers(0, cols - crop_w + 1))
    crop = cv2.resize(raster[top:top + crop_h, left:left + crop_w], (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    gains = rng.uniform(0.7, 1.3, 3).astype(np.float32)
    return np.clip(crop * gains, 0, 255)


def draw_clutter(rng: np.random.Generator, image: np.ndarray, num_shapes: int) -> np.ndarray:
    """Draws random rectangles, ellipses, lines and polygons (some translucent) over ``image``; returns it."""
    height, width = image.shape[:2]
    scale = min(height, width)
    for _ in range(num_shapes):
        opacity = 1.0 if rng.random() < 0.6 else float(rng.uniform(0.2, 0.8))
        overlay = image.copy() if opacity < 1.0 else image  # opaque shapes are drawn straight onto the image
        color = tuple(float(c) for c in random_color(rng))
        kind = rng.integers(4)
        x, y = int(rng.integers(-width // 8, width)), int(rng.integers(-height // 8, height))
        size = int(scale * rng.uniform(0.03, 0.6))
        thickness = -1 if rng.random() < 0.6 else int(rng.integers(1, 6))
        if kind == 0:
            cv2.rectangle(overlay, (x, y), (x + size, y + int(size * rng.uniform(0.2, 2))), color, thickness)
        elif kind == 1:
            axes = (max(1, size // 2), max(1, int(size * rng.uniform(0.2, 1) / 2)))
            cv2.ellipse(overlay, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, color, thickness, cv2.LINE_AA)
        elif kind == 2:
            end = (x + int(rng.integers(-size, size + 1)), y + int(rng.integers(-size, size + 1)))
            cv2.line(overlay, (x, y), end, color, int(rng.integers(1, 8)), cv2.LINE_AA)
        else:
            points = np.array([x, y]) + rng.integers(-size, size + 1, (int(rng.integers(3, 7)), 2))
            cv2.fillPoly(overlay, [points.astype(np.int32)], color, cv2.LINE_AA)
        if opacity < 1.0:
            image = cv2.addWeighted(overlay, opacity, image, 1 - opacity, 0)
    return image


def make_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A text-free background ``[height, width, 3]`` float32 BGR in [0, 255]."""
    draw = rng.random()
    if draw < 0.08:
        image = np.broadcast_to(random_color(rng), (height, width, 3)).copy()
    elif draw < 0.25:
        image = gradient_background(rng, height, width)
    elif draw < 0.5:
        image = noise_background(rng, height, width)
    elif draw < 0.7:
        image = pattern_background(rng, height, width)
    else:
        image = photo_background(rng, height, width)
        if image is None:
            image = noise_background(rng, height, width)
    if rng.random() < 0.3:  # mix in a second layer for less uniform scenes
        second = noise_background(rng, height, width) if rng.random() < 0.5 else gradient_background(rng, height, width)
        weight = float(rng.uniform(0.2, 0.5))
        image = image * (1 - weight) + second * weight
    image = np.ascontiguousarray(image, dtype=np.float32)
    if rng.random() < 0.7:
        image = draw_clutter(rng, image, int(rng.integers(1, 16)))
    return image
