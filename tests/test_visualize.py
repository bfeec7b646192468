"""tools/visualize.py and text_spotting.inference.video: frame sources, the FPS/latency overlay, writing annotated
videos and images, and one-line errors for inputs that cannot be opened."""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import PYTHON, run_tool_env, torch_threads
from text_spotting.inference import SpottedWord
from text_spotting.inference.video import (Frame, FpsMeter, FrameSourceError, ImageFolderSink, SpottedFrame,
                                           VideoFrames, annotate, open_frame_source, parse_video_argument,
                                           resolve_output)
from text_spotting.visualization import (PREDICTION_COLOR, draw_info_panel, draw_predictions, label_box_size,
                                         speed_lines, stack_labels)

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_IMAGES = REPO_ROOT / "data" / "horizontal_text_detection" / "images"
FRAME_SIZE = (640, 384)


def load_tool(path: Path):
    spec = importlib.util.spec_from_file_location("visualize_tool", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_clip(path: Path, frames: int = 8, fps: float = 5.0) -> Path:
    """A short mp4 (mp4v) made of bundled photos resized to 640x384."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, FRAME_SIZE)
    for image_path in sorted(BUNDLED_IMAGES.glob("*.jpg"))[:frames]:
        writer.write(cv2.resize(cv2.imread(str(image_path)), FRAME_SIZE))
    writer.release()
    return path


def count_frames(path: Path) -> tuple[int, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} is not a playable video"
    count, size = 0, None
    while True:
        ok, image = capture.read()
        if not ok:
            break
        count, size = count + 1, (image.shape[1], image.shape[0])
    capture.release()
    return count, size


# ---------------------------------------------------------------------------------------------------------------
# overlay and drawing


def test_fps_meter_averages_over_its_window():
    meter = FpsMeter(window=2)
    assert meter.tick(0.0) == 0.0
    assert meter.tick(0.1) == pytest.approx(10.0)
    assert meter.tick(0.3) == pytest.approx(2 / 0.3)
    assert meter.tick(0.4) == pytest.approx(2 / 0.3)  # the first tick has left the window


def test_speed_lines_show_fps_and_the_three_stages_in_order():
    latency = {"preprocess": 1.0, "decoder": 7.25, "detector": 40.04, "encoder": 2.0, "total": 50.3}
    assert speed_lines(12.345, latency) == ["12.3 FPS", "detector 40.0 ms", "encoder 2.0 ms", "decoder 7.2 ms"]
    assert speed_lines(None, {"detector": 5.0}) == ["detector 5.0 ms"]
    assert speed_lines(0.0, None) == []


def test_info_panel_darkens_and_writes_only_the_top_left_corner():
    image = np.full((200, 300, 3), 200, np.uint8)
    drawn = draw_info_panel(image.copy(), ["12.3 FPS", "detector 40.0 ms"])
    changed = np.argwhere((drawn != image).any(axis=2))
    assert changed.size and changed[:, 0].max() < 60 and changed[:, 1].max() < 160
    assert (drawn[:, 200:] == 200).all() and (drawn[100:] == 200).all()
    assert (drawn == 255).all(axis=2).any()  # white text
    np.testing.assert_array_equal(draw_info_panel(image.copy(), []), image)


def test_annotate_draws_the_word_and_the_panel():
    image = np.full((120, 200, 3), 30, np.uint8)
    mask = np.zeros((120, 200), bool)
    mask[60:90, 100:180] = True
    word = SpottedWord(quad=np.array([[100, 60], [180, 60], [180, 90], [100, 90]], float),
                       bbox=np.array([100, 60, 180, 90], float), score=0.9, text="exit", text_score=0.8, mask=mask)
    canvas = annotate(SpottedFrame(Frame(0, image, "frame"), [word], {"detector": 12.0}), fps=9.5)
    tinted = canvas[75, 140].astype(int)
    assert (tinted > 30).any() and np.argmax(tinted) == np.argmax(PREDICTION_COLOR)  # mask tint in the word's colour
    assert (canvas[:20, :60] != 30).any()  # the panel
    np.testing.assert_array_equal(canvas[0:50, 190:], image[0:50, 190:])


def test_stacked_labels_never_overlap_and_stay_inside_the_image():
    anchors = [(10, 20)] * 4 + [(300, 5), (395, 100)]
    sizes = [(60, 14)] * 4 + [(80, 14), (40, 14)]
    corners = stack_labels(anchors, sizes, (420, 200))
    boxes = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(corners, sizes)]
    for i, a in enumerate(boxes):
        for b in boxes[:i]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert [corner[1] for corner in corners[:4]] == [20, 34, 48, 62]  # the first keeps its place, the rest stack
    assert corners[4] == (300, 5) and corners[5] == (380, 100)  # pushed back inside the right edge
    assert stack_labels([(0, 190)], [(10, 14)], (100, 200)) == [(0, 186)]  # and inside the bottom edge


def test_words_on_one_spot_get_one_readable_label_each():
    image = np.full((200, 300, 3), 30, np.uint8)
    quad = np.array([[20, 20], [120, 20], [120, 40], [20, 40]], float)
    words = [SpottedWord(quad=quad, bbox=np.array([20, 20, 120, 40], float), score=0.9, text=text, text_score=0.8)
             for text in ("TRAFFIC", "EXCEPT")]
    canvas = draw_predictions(image, words, masks=False)
    label_rows = np.flatnonzero((canvas[42:, 20:22] == PREDICTION_COLOR).all(axis=2).any(axis=1))
    height = label_box_size("TRAFFIC 0.90/0.80")[1]
    assert len(label_rows) >= 2 * height - 1  # two label boxes one under the other, not one on top of the other


# ---------------------------------------------------------------------------------------------------------------
# sources and sinks


def test_images_come_from_files_and_sorted_folders(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.png", "a.jpg", "sub/c.jpg"):
        cv2.imwrite(str(folder / name), np.zeros((10, 20, 3), np.uint8))
    (folder / "notes.txt").write_text("not an image")
    single = tmp_path / "z.png"
    cv2.imwrite(str(single), np.zeros((8, 8, 3), np.uint8))
    source = open_frame_source(images=[single, folder])
    assert [frame.name for frame in source] == ["z", "a", "b", "c"]
    assert source.count == 4 and not source.is_video and source.fps is None
    assert [frame.index for frame in open_frame_source(images=[folder], limit=2)] == [0, 1]


def test_bad_image_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(FrameSourceError, match="missing.jpg: no such image or folder"):
        open_frame_source(images=[tmp_path / "missing.jpg"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FrameSourceError, match="empty: no images in this folder"):
        open_frame_source(images=[tmp_path / "empty"])
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(FrameSourceError, match="broken.jpg: cannot be read as an image"):
        list(open_frame_source(images=[tmp_path / "broken.jpg"]))


def test_video_file_frames_end_at_the_last_frame(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=4)
    source = open_frame_source(video=str(clip))
    frames = list(source)
    source.close()
    assert [frame.index for frame in frames] == [0, 1, 2, 3] and frames[0].image.shape == (384, 640, 3)
    assert source.is_video and source.count == 4 and source.fps == pytest.approx(5.0) and source.stem == "clip"
    assert len(list(VideoFrames(clip, limit=2))) == 2


def test_cameras_and_videos_that_cannot_be_opened(tmp_path):
    assert parse_video_argument("0") == 0 and parse_video_argument("clip.mp4") == "clip.mp4"
    with pytest.raises(FrameSourceError, match=r"^camera 57 cannot be opened"):
        open_frame_source(video="57")
    with pytest.raises(FrameSourceError, match="nothing.mp4: no such video file"):
        open_frame_source(video=str(tmp_path / "nothing.mp4"))
    (tmp_path / "fake.mp4").write_bytes(b"garbage")
    with pytest.raises(FrameSourceError, match="fake.mp4: video file cannot be opened"):
        open_frame_source(video=str(tmp_path / "fake.mp4"))


def test_output_places(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=1)
    video = open_frame_source(video=str(clip))
    assert resolve_output(video, tmp_path / "out.mp4") == tmp_path / "out.mp4"
    assert resolve_output(video, tmp_path) == tmp_path / "clip.mp4"
    assert resolve_output(video, None) == Path("outputs") / "visualize" / "clip.mp4"
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    images = open_frame_source(images=[tmp_path / "a.png"])
    assert resolve_output(images, tmp_path / "drawn") == tmp_path / "drawn"
    with pytest.raises(FrameSourceError, match="written to a folder"):
        resolve_output(images, tmp_path / "drawn.mp4")


def test_image_sink_keeps_repeated_names_apart(tmp_path):
    sink = ImageFolderSink(tmp_path / "out")
    paths = [sink.write(np.zeros((6, 6, 3), np.uint8), name) for name in ("a", "a", "b")]
    assert [path.name for path in paths] == ["a.jpg", "a_1.jpg", "b.jpg"] and sink.frames == 3
    assert all(cv2.imread(str(path)) is not None for path in paths)


# ---------------------------------------------------------------------------------------------------------------
# the tool, from a work dir


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    """A work dir of text-spotting-cpu-attention with a checkpoint of random weights. To keep the tests short, its detection
    threshold is raised to 0.99 (random weights find no words, so no word is decoded) and its input size lowered to
    320x192."""
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.templates import TEMPLATE_FILE, load_config, replace_top_level_block
    from text_spotting.checkpoint import atomic_save
    from text_spotting.work_dir import instantiate_template

    directory = tmp_path_factory.mktemp("work_dir")
    instantiate_template(REPO_ROOT / "model_templates" / "text-spotting-cpu-attention", directory, force=True)
    template_file = directory / TEMPLATE_FILE
    text = replace_top_level_block(template_file.read_text(), "thresholds", {"detection": 0.99, "recognition": 0.5})
    template_file.write_text(replace_top_level_block(text, "input_size", [320, 192]))
    with torch_threads(2):
        model = EagerTextSpotter(load_config(directory)).model
    atomic_save({"state_dict": model.state_dict(), "meta": {}}, directory / "random.pth")
    return directory


def test_video_without_a_screen_becomes_an_mp4_with_every_frame(work_dir, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=8)
    completed = subprocess.run(
        [PYTHON, "visualize.py", "--load-weights", "random.pth", "--video", str(clip), "--no-show", "--output",
         str(tmp_path / "out.mp4"), "--threads", "2", "--no-progress"],
        cwd=work_dir, env=run_tool_env(), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert count_frames(tmp_path / "out.mp4") == (8, FRAME_SIZE)
    assert "8 frames" in completed.stdout and str(tmp_path / "out.mp4") in completed.stdout


def test_images_mode_writes_one_file_per_image(work_dir, tmp_path, capsys):
    images = sorted(BUNDLED_IMAGES.glob("*.jpg"))[:3]
    tool = load_tool(work_dir / "visualize.py")
    with torch_threads(2):
        code = tool.main(["--load-weights", str(work_dir / "random.pth"), "--images", *map(str, images),
                          "--no-show", "--output", str(tmp_path / "drawn"), "--no-progress"])
    assert code == 0
    written = sorted(path.name for path in (tmp_path / "drawn").iterdir())
    assert written == [f"{path.stem}.jpg" for path in images]
    first = cv2.imread(str(tmp_path / "drawn" / written[0]))
    assert first.shape == cv2.imread(str(images[0])).shape
    assert "3 frames; written to" in capsys.readouterr().out


def test_a_camera_that_cannot_be_opened_is_one_line_and_exit_2(work_dir):
    completed = subprocess.run(
        [PYTHON, str(REPO_ROOT / "tools" / "visualize.py"), "--load-weights", str(work_dir / "random.pth"),
         "--video", "57", "--no-show"], env=run_tool_env(), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == ["error: camera 57 cannot be opened (no such camera, or it is "
                                                     "busy)"]
