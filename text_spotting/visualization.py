"""Drawing words on images (ground truth and predictions) and contact sheets: what a person looks at."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import cv2
import numpy as np

LEGIBLE_COLOR = (0, 200, 0)  # BGR
DONT_CARE_COLOR = (0, 0, 255)
PREDICTION_COLOR = (255, 128, 0)


def ascii_label(text: str) -> str:
    """OpenCV fonts draw ASCII only: other characters become '?'."""
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in text)


def label_box_size(label: str, scale: float = 0.5) -> tuple[int, int]:
    """``(width, height)`` in pixels of the filled box :func:`draw_label` draws for ``label`` (ASCII)."""
    (width, height), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    return width + 2, height + baseline + 2


def _draw_label_box(canvas: np.ndarray, label: str, top_left: tuple[int, int], color: tuple[int, int, int],
                    scale: float) -> None:
    (_, height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    width, box_height = label_box_size(label, scale)
    x, top = top_left
    cv2.rectangle(canvas, (x, top), (x + width, top + box_height), color, cv2.FILLED)
    cv2.putText(canvas, label, (x + 1, top + height + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                cv2.LINE_AA)


def draw_label(canvas: np.ndarray, text: str, anchor: tuple[int, int], color: tuple[int, int, int],
               scale: float = 0.5, below: bool = False) -> None:
    """A filled label box with black text whose bottom-left (or top-left when ``below``) corner is ``anchor``."""
    label = ascii_label(text)
    if not label:
        return
    x, y = anchor
    top = y + 2 if below else max(y - label_box_size(label, scale)[1], 0)
    _draw_label_box(canvas, label, (x, top), color, scale)


def stack_labels(anchors: Sequence[tuple[int, int]], sizes: Sequence[tuple[int, int]],
                 canvas_size: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners for label boxes wanted at ``anchors`` (top-left corners) so that no two overlap.

    Labels are placed from the top of the image down (then left to right); each one moves straight down past every
    label already placed that it would overlap, so the labels of a dense sign stack under it instead of covering
    each other. A label is also kept inside the ``canvas_size`` (width, height) horizontally, and a label pushed
    below the bottom edge is put back on it (it may then overlap: the image has no room left).
    """
    canvas_width, canvas_height = canvas_size
    placed: list[tuple[int, int, int, int]] = []
    corners: list[tuple[int, int]] = [(0, 0)] * len(anchors)
    for index in sorted(range(len(anchors)), key=lambda i: (anchors[i][1], anchors[i][0])):
        (width, height), (x, y) = sizes[index], anchors[index]
        x = max(0, min(int(x), canvas_width - width))
        y = max(0, int(y))
        moved = True
        while moved:
            moved = False
            for other_x, other_y, other_w, other_h in placed:
                if x < other_x + other_w and other_x < x + width and y < other_y + other_h and other_y < y + height:
                    y, moved = other_y + other_h, True
        y = min(y, max(canvas_height - height, 0))
        placed.append((x, y, width, height))
        corners[index] = (x, y)
    return corners


FIRST_POINT_COLOR = (255, 0, 255)
_SHIFT = 4  # sub-pixel drawing: polygons have decimals


def _int_points(polygon) -> np.ndarray:
    return np.round(np.asarray(polygon, dtype=np.float64).reshape(-1, 2)).astype(np.int32)


def _subpixel_points(polygon) -> np.ndarray:
    """Polygon in pixel-edge coordinates -> OpenCV fixed-point pixel-centre coordinates (``shift=_SHIFT``)."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    return np.round((points - 0.5) * (1 << _SHIFT)).astype(np.int32)


def words_from_annotations(annotations: Iterable[dict]) -> list[tuple[list, str, bool]]:
    """``(polygons, text, dont_care)`` of "COCO with text" annotations, as ``draw_ground_truth`` takes them."""
    from .datasets.annotation_io import is_dont_care, word_text

    return [(ann["segmentation"], word_text(ann)[0], is_dont_care(ann)) for ann in annotations]


def draw_ground_truth(image: np.ndarray, words: Iterable[tuple[Sequence, str, bool]], thickness: int = 2,
                      with_text: bool = True, mark_first_point: bool = False) -> np.ndarray:
    """Copy of a BGR image with ground-truth words drawn.

    ``words``: ``(polygons, text, dont_care)`` where ``polygons`` is a list of flat ``[x1, y1, ...]`` lists (see
    ``words_from_annotations``). Legible words are green with their text above, don't-care regions red;
    ``mark_first_point`` puts a magenta dot on each polygon's first point (where a well-ordered quad starts).
    """
    canvas = image.copy()
    for polygons, text, dont_care in words:
        color = DONT_CARE_COLOR if dont_care else LEGIBLE_COLOR
        cv2.polylines(canvas, [_subpixel_points(p) for p in polygons], isClosed=True, color=color,
                      thickness=thickness, lineType=cv2.LINE_AA, shift=_SHIFT)
        points = _int_points(polygons[0])
        if mark_first_point:
            cv2.circle(canvas, tuple(int(v) for v in points[0]), 2, FIRST_POINT_COLOR, -1, cv2.LINE_AA)
        if with_text and not dont_care:
            x, y = (int(v) for v in points.min(axis=0))
            draw_label(canvas, text, (x, y), color)
    return canvas


def draw_predictions(image: np.ndarray, words, masks: bool = True, scores: bool = True,
                     labels: Sequence[str] | None = None,
                     colors: Sequence[tuple[int, int, int]] | None = None) -> np.ndarray:
    """Copy of a BGR image with ``SpottedWord``s drawn: mask tint, quadrilateral, text and confidences below it.

    ``labels`` replace the texts and confidences, ``colors`` (BGR, one per word) the single prediction colour."""
    canvas = image.copy()
    colors = colors if colors is not None else [PREDICTION_COLOR] * len(words)
    if masks:
        tint = canvas.copy()
        for word, color in zip(words, colors):
            if word.mask is not None:
                tint[word.mask] = color
        canvas = cv2.addWeighted(tint, 0.35, canvas, 0.65, 0)
    texts, anchors = [], []
    for index, (word, color) in enumerate(zip(words, colors)):
        points = _int_points(word.quad)
        cv2.polylines(canvas, [points], isClosed=True, color=color, thickness=2, lineType=cv2.LINE_AA)
        if labels is not None:
            label = labels[index]
        else:
            label = word.text or "?"
            if scores:
                label += f" {word.score:.2f}/{word.text_score:.2f}"
        texts.append(ascii_label(label))
        anchors.append((int(points[:, 0].min()), int(points[:, 1].max()) + 2))  # just below the word
    # Labels last, on top of every quad, stacked so that none covers another; a moved label is tied to its word.
    sizes = [label_box_size(text) for text in texts]
    corners = stack_labels(anchors, sizes, (canvas.shape[1], canvas.shape[0]))
    for text, anchor, corner, color in zip(texts, anchors, corners, colors):
        if not text:
            continue
        if corner[1] - anchor[1] > 2:
            cv2.line(canvas, anchor, (corner[0], corner[1]), color, 1, cv2.LINE_AA)
        _draw_label_box(canvas, text, corner, color, 0.5)
    return canvas


def track_color(track_id: int) -> tuple[int, int, int]:
    """A bright BGR colour of a track's own (hues spread by the golden ratio, so neighbouring ids differ)."""
    hue = int((track_id * 0.618033988749895) % 1.0 * 180)
    return tuple(int(v) for v in cv2.cvtColor(np.uint8([[[hue, 190, 255]]]), cv2.COLOR_HSV2BGR)[0, 0])


def draw_tracks(image: np.ndarray, tracks, masks: bool = True, scores: bool = True) -> np.ndarray:
    """Copy of a BGR image with tracked words (``TrackedWord``s) drawn in their track's colour, labelled
    ``#<id> <voted text>`` and, with ``scores``, the voted text's share of the vote."""
    labels = [f"#{track.track_id} {track.text or '?'}" + (f" {track.text_score:.2f}" if scores and track.text else "")
              for track in tracks]
    return draw_predictions(image, tracks, masks=masks, labels=labels,
                            colors=[track_color(track.track_id) for track in tracks])


PANEL_TEXT_COLOR = (255, 255, 255)


def draw_info_panel(canvas: np.ndarray, lines: Sequence[str], scale: float = 0.5, margin: int = 6,
                    opacity: float = 0.6) -> np.ndarray:
    """Draws ``lines`` (e.g. FPS and stage latencies) in white on a darkened box in the top-left corner of a BGR
    image, in place, and returns it. The box is just large enough for the text."""
    lines = [ascii_label(line) for line in lines if line]
    if not lines:
        return canvas
    sizes = [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1) for line in lines]
    line_height = max(height + baseline for (_, height), baseline in sizes) + 4
    width = min(canvas.shape[1], max(width for (width, _), _ in sizes) + 2 * margin)
    height = min(canvas.shape[0], line_height * len(lines) + 2 * margin)
    region = canvas[:height, :width]
    region[:] = (region.astype(np.float32) * (1.0 - opacity)).astype(np.uint8)
    for index, line in enumerate(lines):
        baseline_y = margin + (index + 1) * line_height - 4
        cv2.putText(canvas, line, (margin, baseline_y), cv2.FONT_HERSHEY_SIMPLEX, scale, PANEL_TEXT_COLOR, 1,
                    cv2.LINE_AA)
    return canvas


def speed_lines(fps: float | None, latency_ms: dict | None,
                stages: Sequence[str] = ("detector", "encoder", "decoder")) -> list[str]:
    """The overlay of a running spotter: ``"12.3 FPS"`` (when known) and one ``"<stage> <ms> ms"`` line per stage
    found in ``latency_ms`` (a spotter's ``last_latency_ms``), in ``stages`` order."""
    lines = [f"{fps:.1f} FPS"] if fps else []
    for stage in stages:
        if latency_ms and stage in latency_ms:
            lines.append(f"{stage} {latency_ms[stage]:.1f} ms")
    return lines


def contact_sheet(images: Sequence[np.ndarray], columns: int = 4, tile_width: int = 480,
                  captions: Sequence[str] | None = None, background: int = 32) -> np.ndarray:
    """Tiles BGR images (each scaled to ``tile_width``) into one sheet, with an optional caption on each."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    tiles = []
    for index, image in enumerate(images):
        scale = tile_width / image.shape[1]
        tile = cv2.resize(image, (tile_width, max(1, round(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        if captions:
            draw_label(tile, captions[index], (0, 0), (255, 255, 255), below=True)
        tiles.append(tile)
    tile_height = max(tile.shape[0] for tile in tiles)
    columns = max(1, min(columns, len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * tile_height, columns * tile_width, 3), background, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        sheet[row * tile_height:row * tile_height + tile.shape[0],
              column * tile_width:(column + 1) * tile_width] = tile
    return sheet


def dataset_contact_sheet(ann_file: str, data_root: str, num_images: int = 12, columns: int = 3,
                          tile_width: int = 640, first: int = 0) -> np.ndarray:
    """A grid of a "COCO with text" set's images ``first .. first + num_images - 1`` (file order) with their ground
    truth drawn at native resolution, ``[H, W, 3]`` BGR.

    Raises:
        AnnotationError: a malformed annotation file or an image that cannot be read.
    """
    import os

    from .datasets.annotation_io import AnnotationError, load_coco_text

    coco = load_coco_text(ann_file)
    images = coco["images"][first:first + num_images]
    if not images:
        raise AnnotationError(f"{ann_file}: no images from index {first} on (it has {len(coco['images'])})")
    by_image: dict[int, list[dict]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    drawn = []
    for info in images:
        path = os.path.join(data_root, info["file_name"])
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise AnnotationError(f"{ann_file}: image id {info['id']}: field 'file_name': cannot read {path}")
        drawn.append(draw_ground_truth(image, words_from_annotations(by_image.get(info["id"], [])), thickness=1,
                                       mark_first_point=True))
    return contact_sheet(drawn, columns=columns, tile_width=tile_width)
