"""Fonts found on this machine at run time, and rendering one word onto its own alpha layer.

Three kinds of faces are used, none shipped with the project and nothing downloaded:

* TrueType files: matplotlib's bundled fonts (DejaVu Sans/Serif/Mono with bold and oblique variants, STIX, Computer
  Modern) and, with ``source='all'``, every ``.ttf``/``.otf`` under the system font folders;
* Pillow's built-in scalable font (``ImageFont.load_default(size)``);
* OpenCV's own faces (``cv2.putText``: the Hershey stroke fonts in OpenCV 4, a built-in sans family in OpenCV 5).

``source='bundled'`` limits the list to what the pinned Python packages carry, so a dataset generated with it is the
same on every machine with the same virtual environment; ``'all'`` adds the system fonts (more variety, but the
output then depends on what the machine has installed).

A rendered word is a float alpha layer in its own frame (x right, y down, baseline horizontal) plus the tight extent
of its ink; the scene composer maps that extent through the same warp as the pixels to get the ground truth.
"""
from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

FONT_SOURCES = ("bundled", "all")
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
# Faces whose character map claims Latin letters but whose glyphs are symbols, placeholders or math variants.
EXCLUDED_FONT_NAME_PARTS = ("lastresort", "cmex", "cmsy", "cmmi", "math", "stixsiz", "stixnonuni", "display")
REQUIRED_CHARS = frozenset(string.ascii_letters + string.digits)
PRINTABLE_ASCII = frozenset(chr(c) for c in range(33, 127))
# OpenCV's own faces: (name, font id, stroke thickness as a share of the em size; 0 means 1 pixel). OpenCV 4 draws
# the Hershey vector fonts; OpenCV 5 draws a built-in sans family where the thickness picks the weight and the
# "script" face is its italic. Either way these add a few more looks.
HERSHEY_FACES = (
    ("hershey_simplex", cv2.FONT_HERSHEY_SIMPLEX, 0.0),
    ("hershey_simplex_bold", cv2.FONT_HERSHEY_SIMPLEX, 0.1),
    ("hershey_duplex", cv2.FONT_HERSHEY_DUPLEX, 0.06),
    ("hershey_script", cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 0.04),
)
# Alpha above which a pixel counts as ink when measuring a word's extent (anti-aliasing fringe excluded).
INK_ALPHA_THRESHOLD = 0.25


class FontError(RuntimeError):
    """No usable font, or a font file that cannot be read."""


@dataclass(frozen=True)
class FontFace:
    """One typeface.

    Attributes:
        name: unique readable name (file stem, ``'pillow_default'`` or ``'hershey_<face>'``).
        kind: ``'truetype'``, ``'pillow_default'`` or ``'hershey'``.
        path: font file for ``'truetype'``, else ''.
        hershey_id: OpenCV font constant for ``'hershey'``, else -1.
        hershey_thickness: stroke thickness of a ``'hershey'`` face as a share of the em size (0: 1 pixel).
        charset: characters the face can draw.
        weight: relative chance of being picked.
    """

    name: str
    kind: str
    path: str = ""
    hershey_id: int = -1
    hershey_thickness: float = 0.0
    charset: frozenset = PRINTABLE_ASCII
    weight: float = 1.0

    def covers(self, text: str) -> bool:
        return all(ch in self.charset for ch in text)


@dataclass
class RenderedWord:
    """A word drawn alone, in its own frame.

    Attributes:
        fill: ``[h, w]`` float32 alpha in [0, 1] of the glyph interiors.
        outline: ``[h, w]`` float32 alpha of the outline ring around the glyphs, or None.
        baseline_y: height of the baseline in the layer (pixel-edge coordinates, see ``ink_box``).
        ink_box: ``(x1, y1, x2, y2)`` tight extent of fill + outline ink in pixel-edge coordinates (pixel ``i``
            spans ``[i, i + 1)``), i.e. ``x2 - x1`` is the ink width in pixels.
        advance: pen advance of the word in pixels (where the next word would start, before spacing).
    """

    fill: np.ndarray
    outline: np.ndarray | None
    baseline_y: float
    ink_box: tuple[float, float, float, float]
    advance: float

    @property
    def alpha(self) -> np.ndarray:
        """``[h, w]`` float32 alpha of everything drawn (fill and outline)."""
        return self.fill if self.outline is None else np.maximum(self.fill, self.outline)


def _truetype_charset(path: Path) -> frozenset:
    from fontTools.ttLib import TTFont  # matplotlib's dependency; imported here so the module loads fast

    with TTFont(str(path), lazy=True, fontNumber=0) as font:
        cmap = font.getBestCmap() or {}
    return frozenset(chr(code) for code in cmap if code < 0x3000)


def _truetype_files(folders: list[Path]) -> list[Path]:
    files = []
    for folder in folders:
        if folder.is_dir():
            files.extend(sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".ttf", ".otf")))
    return files


def discover_fonts(source: str = "all") -> list[FontFace]:
    """Usable faces in a fixed order (same list on every call on this machine).

    Args:
        source: ``'bundled'`` (matplotlib's TTFs, Pillow's built-in font, Hershey) or ``'all'`` (plus system fonts).

    Faces that cannot draw all of ``a-zA-Z0-9`` or are symbol/math faces are skipped; a TrueType face found twice
    (same family and style, e.g. DejaVu in matplotlib and in /usr/share/fonts) is kept once.
    """
    if source not in FONT_SOURCES:
        raise FontError(f"unknown font source {source!r}; expected one of {', '.join(FONT_SOURCES)}")
    import matplotlib

    folders = [Path(matplotlib.get_data_path()) / "fonts" / "ttf"]
    if source == "all":
        folders += [Path(d) for d in SYSTEM_FONT_DIRS]
    faces: list[FontFace] = []
    seen_styles: set[tuple[str, str]] = set()
    for path in _truetype_files(folders):
        if any(part in path.stem.lower() for part in EXCLUDED_FONT_NAME_PARTS):
            continue
        try:
            charset = _truetype_charset(path)
            style = ImageFont.truetype(str(path), 16).getname()
        except Exception:  # an unreadable system font is skipped, not fatal
            continue
        if not REQUIRED_CHARS <= charset or style in seen_styles:
            continue
        seen_styles.add(style)
        faces.append(FontFace(name=path.stem, kind="truetype", path=str(path), charset=charset))
    if features.check("freetype2"):  # without FreeType, Pillow's default font is a fixed-size bitmap
        faces.append(FontFace(name="pillow_default", kind="pillow_default", charset=PRINTABLE_ASCII, weight=2.0))
    faces.extend(FontFace(name=name, kind="hershey", hershey_id=face_id, hershey_thickness=thickness,
                          charset=PRINTABLE_ASCII, weight=0.5) for name, face_id, thickness in HERSHEY_FACES)
    return faces


@functools.lru_cache(maxsize=256)
def _pillow_font(kind: str, path: str, size: int) -> ImageFont.FreeTypeFont:
    if kind == "pillow_default":
        return ImageFont.load_default(size)
    try:
        return ImageFont.truetype(path, size)
    except OSError as error:
        raise FontError(f"{path}: cannot load font: {error}") from None


def ink_box(alpha: np.ndarray, threshold: float = INK_ALPHA_THRESHOLD) -> tuple[float, float, float, float] | None:
    """Tight ``(x1, y1, x2, y2)`` around pixels with ``alpha >= threshold`` in pixel-edge coordinates, or None.

    Args:
        alpha: ``[h, w]`` array in [0, 1].
    """
    ink = alpha >= threshold
    cols = np.flatnonzero(ink.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(ink.any(axis=1))
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def _render_pillow(text: str, face: FontFace, size_px: int, stroke_px: int, pad: int) -> RenderedWord | None:
    font = _pillow_font(face.kind, face.path, size_px)
    ascent, descent = font.getmetrics()
    left, top, right, bottom = font.getbbox(text, anchor="ls", stroke_width=stroke_px)
    top, bottom = min(top, -ascent - stroke_px), max(bottom, descent + stroke_px)
    width, height = int(right - left) + 2 * pad, int(bottom - top) + 2 * pad
    origin = (pad - left, pad - top)  # pen position (baseline start) inside the layer
    fill_img = Image.new("L", (width, height), 0)
    ImageDraw.Draw(fill_img).text(origin, text, font=font, fill=255, anchor="ls")
    fill = np.asarray(fill_img, dtype=np.float32) / 255.0
    outline = None
    if stroke_px > 0:
        full_img = Image.new("L", (width, height), 0)
        ImageDraw.Draw(full_img).text(origin, text, font=font, fill=255, anchor="ls", stroke_width=stroke_px,
                                      stroke_fill=255)
        outline = np.clip(np.asarray(full_img, dtype=np.float32) / 255.0 - fill, 0.0, 1.0)
    word = RenderedWord(fill=fill, outline=outline, baseline_y=float(origin[1]), ink_box=(0, 0, 0, 0),
                        advance=float(font.getlength(text)))
    box = ink_box(word.alpha)
    if box is None:
        return None
    word.ink_box = box
    return word


def _render_hershey(text: str, face: FontFace, size_px: int, stroke_px: int, pad: int) -> RenderedWord | None:
    # Scale so that capitals are about 0.72 em, as in the TrueType faces.
    (_, cap_height), _ = cv2.getTextSize("H", face.hershey_id, 1.0, 1)
    scale = 0.72 * size_px / max(cap_height, 1)
    thickness = max(1, int(round(size_px * face.hershey_thickness)))
    (text_w, text_h), baseline = cv2.getTextSize(text, face.hershey_id, scale, thickness)
    margin = pad + stroke_px + thickness
    width, height = text_w + 2 * margin, text_h + baseline + 2 * margin
    origin = (margin, margin + text_h)
    fill_u8 = np.zeros((height, width), np.uint8)
    cv2.putText(fill_u8, text, origin, face.hershey_id, scale, 255, thickness, cv2.LINE_AA)
    fill = fill_u8.astype(np.float32) / 255.0
    outline = None
    if stroke_px > 0:  # OpenCV's thickness does not always widen glyphs, so grow the fill instead
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * stroke_px + 1, 2 * stroke_px + 1))
        outline = np.clip(cv2.dilate(fill, disk) - fill, 0.0, 1.0)
    word = RenderedWord(fill=fill, outline=outline, baseline_y=float(origin[1]), ink_box=(0, 0, 0, 0),
                        advance=float(text_w))
    box = ink_box(word.alpha)
    if box is None:
        return None
    word.ink_box = box
    return word


def render_word(text: str, face: FontFace, size_px: int, stroke_px: int = 0, pad: int = 2) -> RenderedWord | None:
    """Draws ``text`` with ``face`` at an em size of ``size_px`` pixels on its own alpha layer.

    Args:
        text: the word (no line breaks).
        face: a face from :func:`discover_fonts`.
        size_px: em size in pixels (capitals are about 0.7 of it).
        stroke_px: outline width in pixels around the glyphs (0: none).
        pad: empty border kept around the drawing.

    Returns:
        The rendered word, or None when nothing visible was drawn (e.g. only spaces).
    """
    if size_px < 1:
        raise ValueError(f"font size must be positive, got {size_px}")
    if face.kind == "hershey":
        return _render_hershey(text, face, size_px, stroke_px, pad)
    return _render_pillow(text, face, size_px, stroke_px, pad)


def space_width(face: FontFace, size_px: int) -> float:
    """Width in pixels of a space in ``face`` at ``size_px``."""
    if face.kind == "hershey":
        return 0.3 * size_px
    return float(_pillow_font(face.kind, face.path, size_px).getlength(" "))
