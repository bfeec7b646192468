"""Word tracking over video: the tracker's math (quad IoU, link cost, assignment, voting), association across
frames, the tracking metrics, the synthetic clip generator and its bundled clip, and visualize.py --track."""
from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import torch_threads
from text_spotting.evaluation.tracking_metrics import (GroundTruthWord, ShownWord, count_identity_switches,
                                                       evaluate_clip, load_clip_ground_truth, match_frame)
from text_spotting.inference import SpottedWord
from text_spotting.inference.tracking import (FORBIDDEN_COST, ReadingVote, TrackerConfig, WordTracker, assign,
                                              association_cost, quad_iou_matrix, scene_motion, similar_size,
                                              text_similarity, vote)
from text_spotting.synthetic import SyntheticDataError, discover_fonts
from text_spotting.synthetic.clip import ClipConfig, clip_word_record, ground_truth_path, make_clip, write_clip

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_CLIP = REPO_ROOT / "data" / "tracking_clip" / "clip.mp4"
SMALL_CLIP = ClipConfig(width=320, height=192, frames=10)


def box(x: float, y: float, w: float = 40.0, h: float = 12.0) -> np.ndarray:
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)


def word(x: float, y: float, text: str = "", text_score: float = 0.9, w: float = 40.0, h: float = 12.0):
    quad = box(x, y, w, h)
    return SpottedWord(quad=quad, bbox=np.array([x, y, x + w, y + h]), score=0.95, text=text, text_score=text_score)


def load_tool_file(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tool(name: str):
    return load_tool_file(REPO_ROOT / "tools" / f"{name}.py")


# ---------------------------------------------------------------------------------------------------------------
# the tracker's math


def test_quad_iou_matrix():
    first = np.stack([box(0, 0, 10, 10), box(100, 100)])
    second = np.stack([box(0, 0, 10, 10), box(5, 0, 10, 10), box(5, 0, 10, 10)[::-1], box(50, 50)])
    iou = quad_iou_matrix(first, second)
    assert iou.shape == (2, 4)
    np.testing.assert_allclose(iou[0], [1.0, 1 / 3, 1 / 3, 0.0])  # either winding order
    assert (iou[1] == 0).all()
    turned = np.array([[5, 0], [10, 5], [5, 10], [0, 5]], np.float64)  # a diamond inside the square: half its area
    assert quad_iou_matrix(box(0, 0, 10, 10)[None], turned[None])[0, 0] == pytest.approx(0.5)
    assert quad_iou_matrix(np.zeros((0, 4, 2)), second).shape == (0, 4)


def test_text_similarity_ignores_case_and_is_neutral_without_text():
    assert text_similarity("Exit", "EXIT") == 1.0
    assert text_similarity("exit", "zzzz") == 0.0
    assert 0.5 < text_similarity("street", "streeth") < 1.0
    assert text_similarity("", "exit") == text_similarity("exit", "") == 0.5


def test_association_cost_forbids_pairs_that_do_not_overlap_and_assign_skips_them():
    iou = np.array([[0.9, 0.0], [0.3, 0.1]])
    similarity = np.array([[1.0, 1.0], [0.0, 1.0]])
    cost = association_cost(iou, similarity, min_iou=0.2, text_weight=0.5)
    assert cost[0, 0] == pytest.approx(0.05) and cost[1, 0] == pytest.approx(0.85)
    assert cost[0, 1] == cost[1, 1] == FORBIDDEN_COST
    assert assign(cost) == [(0, 0)]  # row 1 could only take column 0, which row 0 holds more cheaply
    assert assign(np.zeros((0, 3))) == []
    # the text decides between two equally overlapping words
    cost = association_cost(np.array([[0.5, 0.5]]), np.array([[0.2, 0.9]]), min_iou=0.2, text_weight=0.3)
    assert assign(cost) == [(0, 1)]


def test_vote_is_a_confidence_weighted_majority():
    # three weak readings of "cot" lose to two confident ones of "cat" (case forms vote together)
    text, share = vote(["CAT", "cot", "cat", "cot", "cot"], [0.9, 0.1, 0.8, 0.1, 0.1])
    assert text == "CAT" and share == pytest.approx(1.7 / 2.0)
    assert vote(["cot", "cot", "cat"], [0.3, 0.3, 0.5]) == ("cot", pytest.approx(0.6 / 1.1))
    assert vote(["", "exit", ""], [1.0, 0.2, 1.0]) == ("exit", 1.0)  # empty readings do not vote
    assert vote([], []) == ("", 0.0)
    assert vote(["a", "b", "b"], [0.0, 0.0, 0.0]) == ("b", pytest.approx(2 / 3))  # no confidences: a plain majority
    assert vote(["a", "b"], [0.5, 0.5])[0] == "b"  # a tie goes to the most recent reading


def test_reading_vote_keeps_the_vote_of_its_window_reading_by_reading():
    rng = np.random.default_rng(0)
    texts = [str(t) for t in rng.choice(["exit", "EXIT", "ex1t", "", "lxit"], 60)]
    # no exact ties: sums kept up by subtraction may differ from fresh ones in the last bit
    weights = [float(w) for w in rng.uniform(0, 1, 60)]
    tally = ReadingVote(window=7)
    kept: list[tuple[str, float]] = []
    for text, weight in zip(texts, weights):
        tally.add(text, weight)
        kept = (kept + [(text, weight)] if text else kept)[-7:]
        assert tally.readings() == kept and len(tally) == len(kept)
        assert tally.result()[0] == vote(*zip(*kept))[0] if kept else tally.result() == ("", 0.0)
        assert tally.result()[1] == pytest.approx(vote(*zip(*kept))[1] if kept else 0.0)


def test_tracker_config_refuses_nonsense():
    with pytest.raises(ValueError, match="min_iou"):
        TrackerConfig(min_iou=0.0)
    with pytest.raises(ValueError, match="hold"):
        TrackerConfig(memory=2, hold=3)


# ---------------------------------------------------------------------------------------------------------------
# association across frames


def test_moving_words_keep_their_ids_and_a_new_word_gets_a_new_one():
    tracker = WordTracker()
    ids = None
    for frame in range(10):  # three words panning right by 7 px a frame, two of them close to each other
        tracked = tracker.update([word(20 + 7 * frame, 30, "open"), word(65 + 7 * frame, 30, "late"),
                                  word(20 + 7 * frame, 100, "cafe")])
        assert len(tracked) == 3 and all(t.word is not None and t.missed == 0 for t in tracked)
        by_text = {t.word.text: t.track_id for t in tracked}
        ids = ids or by_text
        assert by_text == ids
    tracked = tracker.update([word(90, 30, "open"), word(135, 30, "late"), word(90, 100, "cafe"),
                              word(200, 150, "new")])
    new = [t for t in tracked if t.word.text == "new"]
    assert len(new) == 1 and new[0].track_id not in ids.values() and new[0].hits == 1
    assert [t.track_id for t in tracked] == sorted(t.track_id for t in tracked)


def test_a_missed_word_keeps_its_id_within_the_memory_only():
    config = TrackerConfig(memory=3, hold=0)
    tracker = WordTracker(config)
    first = tracker.update([word(10, 10, "exit"), word(100, 10, "stop")])
    exit_id = first[0].track_id
    for _ in range(config.memory):  # "exit" not found for 3 frames
        assert [t.word.text for t in tracker.update([word(100, 10, "stop")])] == ["stop"]
    back = tracker.update([word(11, 10, "exit"), word(100, 10, "stop")])
    assert back[0].track_id == exit_id and back[0].hits == 2
    for _ in range(config.memory + 1):  # now missed once too often
        tracker.update([word(100, 10, "stop")])
    gone = tracker.update([word(11, 10, "exit"), word(100, 10, "stop")])
    assert {t.word.text: t.track_id for t in gone}["exit"] not in (exit_id,)


def test_a_missed_word_coasts_along_its_motion_and_can_be_held_on_screen():
    tracker = WordTracker(TrackerConfig(memory=4, hold=2, motion_smoothing=0.0))
    for frame in range(5):
        tracker.update([word(10 + 20 * frame, 40)])  # 20 px a frame: after a gap, IoU with the old place is 0
    coasting = tracker.update([])
    assert len(coasting) == 1 and coasting[0].word is None and coasting[0].missed == 1
    assert coasting[0].quad[0, 0] == pytest.approx(110.0) and coasting[0].bbox[0] == pytest.approx(110.0)
    assert len(tracker.update([])) == 1 and tracker.update([]) == []  # held for 2 frames, then hidden
    assert tracker.tracks == 1
    again = tracker.update([word(10 + 20 * 8, 40)])
    assert again[0].track_id == coasting[0].track_id


def test_missed_words_move_with_the_scene():
    """While the camera pans, a word the spotter misses moves with the words it still finds."""
    tracker = WordTracker(TrackerConfig(hold=3))
    for frame in range(3):
        tracker.update([word(10 + 6 * frame, 10), word(10 + 6 * frame, 60), word(100 + 6 * frame, 60)])
    for frame in range(3, 5):  # the third word is missed; the scene goes on moving by 15 px a frame now
        shown = tracker.update([word(22 + 15 * (frame - 2), 10), word(22 + 15 * (frame - 2), 60)])
    missed = [t for t in shown if t.word is None]
    assert len(missed) == 1 and missed[0].quad[0, 0] == pytest.approx(112 + 2 * 15)
    back = tracker.update([word(112 + 3 * 15, 60)])  # found 3 frames later, 45 px on: one word's width away
    assert [t.track_id for t in back if t.word is not None] == [missed[0].track_id]


def test_a_word_tracked_twice_becomes_one_track_with_the_older_id():
    tracker = WordTracker(TrackerConfig(hold=0))
    first = tracker.update([word(10, 10, "exit")])[0]
    tracker.update([word(10, 10, "exit", w=120)])  # the detector merged it with its neighbour
    split = tracker.update([word(10, 10, "exit")])  # and split it again: too small a part of the merged box...
    assert [t.track_id for t in split] == [first.track_id]
    for frame in range(2):  # a second box over the same word starts a track of its own...
        tracker.update([word(10, 10, "exit"), word(12, 11, "exit")])
    merged = tracker.update([word(12, 11, "exit")])  # ...and when only it is found, the two are one again
    assert [t.track_id for t in merged] == [first.track_id] and tracker.tracks == 1
    assert merged[0].hits == 8 and merged[0].text == "exit"  # 5 words of its own, 3 of its duplicate


def test_size_and_scene_motion_helpers():
    assert similar_size(np.array([0, 0, 40, 12]), np.array([5, 5, 47, 17]))
    assert not similar_size(np.array([0, 0, 40, 12]), np.array([0, 0, 90, 12]))
    np.testing.assert_allclose(scene_motion(np.array([[1, 0], [2, 1], [30, -40]]), np.zeros(2)), [2, 0])
    np.testing.assert_allclose(scene_motion(np.zeros((0, 2)), np.array([3.0, 4.0])), [3, 4])


def test_track_text_is_voted_over_recent_readings():
    tracker = WordTracker(TrackerConfig(vote_window=4))
    readings = [("EXIT", 0.9), ("exit", 0.8), ("ex1t", 0.3), ("", 0.0), ("lxit", 0.2)]
    shown = [tracker.update([word(10, 10, text, score)])[0] for text, score in readings]
    assert [t.text for t in shown] == ["EXIT", "EXIT", "EXIT", "EXIT", "EXIT"]
    assert shown[-1].text_score == pytest.approx(1.7 / 2.2)
    for _ in range(2):  # the window keeps the last 4 readings: the two "EXIT" readings drop out
        shown.append(tracker.update([word(10, 10, "ex1t", 0.3)])[0])
    assert shown[-1].text == "ex1t"


def test_text_keeps_two_crossing_words_apart():
    """Two words that swap places at equal overlap are told apart by their texts."""
    tracker = WordTracker(TrackerConfig(min_iou=0.1, text_weight=0.5))
    first = tracker.update([word(0, 0, "left"), word(20, 0, "right")])
    crossed = tracker.update([word(10, 0, "right"), word(10, 0, "left")])
    assert {t.word.text: t.track_id for t in crossed} == {t.word.text: t.track_id for t in first}


# ---------------------------------------------------------------------------------------------------------------
# metrics


def test_identity_switches_count_changes_of_the_matched_id():
    assert count_identity_switches([1, 1, None, 1]) == 0
    assert count_identity_switches([1, 2, None, 2, 1]) == 2
    assert count_identity_switches([None, None]) == 0


def test_evaluate_clip_counts_shown_and_correct_word_frames_and_switches():
    gt = [[GroundTruthWord(1, box(0, 0), "Exit"), GroundTruthWord(2, box(100, 0), "stop"),
           GroundTruthWord(3, box(0, 50), "###", legible=False)] for _ in range(3)]
    tracked = [
        [ShownWord(box(1, 0), "EXIT", 7), ShownWord(box(100, 0), "stap", 8), ShownWord(box(0, 50), "x", 9)],
        [ShownWord(box(1, 0), "exit!", 7)],  # "stop" missed; punctuation at the end does not count
        [ShownWord(box(1, 0), "exit", 10), ShownWord(box(100, 0), "stop", 8)],  # a new id for "Exit"
    ]
    metrics = evaluate_clip(gt, tracked)
    assert (metrics.frames, metrics.word_frames, metrics.detected_frames, metrics.correct_text_frames) == (3, 6, 5, 4)
    assert metrics.identity_switches == 1 and metrics.fragmented_words == 1 and metrics.gt_words == 2
    assert metrics.track_ids == 4 and metrics.switches_per_100 == pytest.approx(100 / 6)
    plain = evaluate_clip(gt, [[ShownWord(w.quad, w.text) for w in frame] for frame in tracked])
    assert plain.correct_text == metrics.correct_text and plain.identity_switches is None
    total = metrics + plain
    assert total.word_frames == 12 and total.identity_switches is None
    assert match_frame(gt[0], [ShownWord(box(30, 0), "far")]) == []  # IoU 0.14: not shown


def test_ground_truth_file_errors_name_the_file_and_frame(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"frames": [{"frame": 0, "words": [{"id": 1, "quad": "nope", "text": "a"}]}]}))
    with pytest.raises(Exception, match=r"gt.json: frame #0: word #0"):
        load_clip_ground_truth(path)
    path.write_text("{}")
    with pytest.raises(Exception, match="'frames'"):
        load_clip_ground_truth(path)


def simulated_readings(truth, rng, accuracy=0.5, found=0.9):
    """A noisy spotter made from ground truth: finds each legible word with chance ``found`` (quad jittered by a
    pixel), reads it right with chance ``accuracy`` else with one character wrong, confidences at random."""
    frames = []
    for words in truth:
        spotted = []
        for gt_word in words:
            if not gt_word.legible or rng.random() > found:
                continue
            text = gt_word.text
            if rng.random() > accuracy:
                position = rng.integers(len(text))
                text = text[:position] + "#@%&"[rng.integers(4)] + text[position + 1:]
            quad = gt_word.quad + rng.normal(0, 0.7, (4, 2))
            spotted.append(SpottedWord(quad=quad, bbox=np.r_[quad.min(0), quad.max(0)], score=0.9, text=text,
                                       text_score=float(rng.uniform(0.2, 1.0))))
        frames.append(spotted)
    return frames


def test_tracking_shows_correct_text_more_often_than_single_frames_on_the_bundled_clip():
    """On the bundled clip's motion, a reader right half of the time is shown right far more often with tracking,
    with few identity switches."""
    truth = load_clip_ground_truth(ground_truth_path(BUNDLED_CLIP))
    frames = simulated_readings(truth, np.random.default_rng(0))
    tracker = WordTracker()
    tracked = [tracker.update(words) for words in frames]
    plain = evaluate_clip(truth, [[ShownWord(w.quad, w.text) for w in words] for words in frames])
    with_tracks = evaluate_clip(truth, [[ShownWord(t.quad, t.text, t.track_id) for t in tracks] for tracks in tracked])
    assert 0.35 < plain.correct_text < 0.55
    assert with_tracks.correct_text > plain.correct_text + 0.25
    assert with_tracks.switches_per_100 < 1.0


# ---------------------------------------------------------------------------------------------------------------
# the clip generator


@pytest.fixture(scope="module")
def fonts():
    return discover_fonts("bundled")


@pytest.fixture(scope="module")
def small_clip(fonts):
    return list(make_clip(SMALL_CLIP, 7, fonts))


def rectified(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The word under ``quad`` warped to 64x16, grey, zero mean, unit norm."""
    target = np.float32([[0, 0], [64, 0], [64, 16], [0, 16]])
    warp = cv2.getPerspectiveTransform(np.float32(quad) - 0.5, target - 0.5)
    patch = cv2.warpPerspective(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), warp, (64, 16)).astype(np.float32)
    patch -= patch.mean()
    return patch / (np.linalg.norm(patch) + 1e-6)


def test_clip_ground_truth_follows_the_words_in_the_frames(small_clip):
    assert [frame.index for frame in small_clip] == list(range(SMALL_CLIP.frames))
    assert all(frame.image.shape == (192, 320, 3) for frame in small_clip)
    texts = {}
    for frame in small_clip:
        for clip_word in frame.words:
            assert texts.setdefault(clip_word.id, clip_word.text) == clip_word.text  # one text per id
            if clip_word.legible:
                assert (clip_word.quad >= 0).all() and (clip_word.quad <= [320, 192]).all()
            else:
                assert clip_word.reason
    # the camera moves: the same word is elsewhere in the last frame, yet the pixels under its quads agree
    first, last = small_clip[0], small_clip[-1]
    common = sorted({w.id for w in first.words if w.legible} & {w.id for w in last.words if w.legible})
    assert len(common) >= 3
    quads = [{w.id: w.quad for w in frame.words} for frame in (first, last)]
    assert max(np.abs(quads[0][i] - quads[1][i]).max() for i in common) > 3.0
    patches = [{i: rectified(frame.image, quads[k][i]) for i in common} for k, frame in enumerate((first, last))]
    same = [float((patches[0][i] * patches[1][i]).sum()) for i in common]
    other = [float((patches[0][i] * patches[1][j]).sum()) for i in common for j in common if i != j]
    assert min(same) > 0.6 and min(same) > max(other)


def test_clip_is_a_function_of_its_seed(small_clip, fonts):
    again = list(itertools.islice(make_clip(SMALL_CLIP, 7, fonts), 3))
    other = list(itertools.islice(make_clip(SMALL_CLIP, 8, fonts), 1))
    for frame, repeat in zip(small_clip, again):
        np.testing.assert_array_equal(frame.image, repeat.image)
        assert [(w.id, w.text, w.legible) for w in frame.words] == [(w.id, w.text, w.legible) for w in repeat.words]
        np.testing.assert_array_equal(np.array([w.quad for w in frame.words]), np.array([w.quad for w in repeat.words]))
    assert not np.array_equal(small_clip[0].image, other[0].image)


def test_clip_tool_writes_a_video_and_its_ground_truth(tmp_path, capsys):
    tool = load_tool("generate_synthetic_clip")
    out = tmp_path / "clips"
    assert tool.main(["--output", str(out), "--num-clips", "2", "--seed", "3", "--frames", "4", "--size", "160x96"]) == 0
    assert "clip_0003.mp4 + clip_0003.json: 4 frames" in capsys.readouterr().out
    for name in ("clip_0003", "clip_0004"):
        capture = cv2.VideoCapture(str(out / f"{name}.mp4"))
        count = 0
        while capture.read()[0]:
            count += 1
        capture.release()
        truth = json.loads((out / f"{name}.json").read_text())
        assert count == len(truth["frames"]) == len(load_clip_ground_truth(out / f"{name}.json")) == 4
        assert truth["info"]["video"] == f"{name}.mp4" and truth["info"]["width"] == 160
    assert tool.main(["--output", str(out), "--num-clips", "2", "--seed", "3", "--frames", "4"]) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SyntheticDataError, match="too small"):
        write_clip(tmp_path / "x.mp4", dataclasses.replace(SMALL_CLIP, world_scale=1.0), 0)


def test_bundled_clip_is_small_and_remade_by_its_readme_command(tmp_path):
    truth_file = ground_truth_path(BUNDLED_CLIP)
    assert BUNDLED_CLIP.stat().st_size + truth_file.stat().st_size < 1_000_000
    truth = json.loads(truth_file.read_text())
    capture = cv2.VideoCapture(str(BUNDLED_CLIP))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == len(truth["frames"]) == truth["info"]["frames"]
    readme = (BUNDLED_CLIP.parent / "README.md").read_text()
    command = next(line.strip() for line in readme.splitlines() if "generate_synthetic_clip.py" in line)
    tool = load_tool("generate_synthetic_clip")
    args = tool.parse_args(command.split("generate_synthetic_clip.py", 1)[1].split())
    assert args.output == BUNDLED_CLIP.relative_to(REPO_ROOT)
    remade = [{"frame": frame.index, "words": [clip_word_record(w) for w in frame.words]}
              for frame in make_clip(tool.clip_config(args), args.seed, discover_fonts(args.fonts))]
    assert remade == truth["frames"]


# ---------------------------------------------------------------------------------------------------------------
# visualize.py --track, from a work dir


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    """A work dir of text-spotting-cpu-attention with random weights at 320x192 input, a detection threshold low enough for
    random weights to find (nonsense) words, so there is something to track, and at most 3 of them a frame (each
    is read to the full text length: that is what takes the time)."""
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.templates import TEMPLATE_FILE, load_config, replace_top_level_block
    from text_spotting.checkpoint import atomic_save
    from text_spotting.work_dir import instantiate_template

    directory = tmp_path_factory.mktemp("work_dir")
    instantiate_template(REPO_ROOT / "model_templates" / "text-spotting-cpu-attention", directory, force=True)
    template_file = directory / TEMPLATE_FILE
    text = replace_top_level_block(template_file.read_text(), "thresholds", {"detection": 0.3, "recognition": 0.0})
    template_file.write_text(replace_top_level_block(text, "input_size", [320, 192]))
    with open(directory / "model.py", "a") as config:
        config.write("model = dict(test_cfg=dict(rcnn=dict(max_per_img=3)))\n")  # an override of the inherited config
    with torch_threads(2):
        model = EagerTextSpotter(load_config(directory)).model
    atomic_save({"state_dict": model.state_dict(), "meta": {}}, directory / "random.pth")
    return directory


def test_visualize_tracks_the_bundled_clip_into_an_mp4_and_a_tracks_file(work_dir, tmp_path, capsys):
    tool = load_tool_file(work_dir / "visualize.py")
    with torch_threads(2):
        code = tool.main(["--load-weights", str(work_dir / "random.pth"), "--video", str(BUNDLED_CLIP), "--no-show",
                          "--output", str(tmp_path / "tracked.mp4"), "--save-tracks-to", str(tmp_path / "tracks.jsonl"),
                          "--limit", "3", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    capture = cv2.VideoCapture(str(tmp_path / "tracked.mp4"))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == 3
    records = [json.loads(line) for line in (tmp_path / "tracks.jsonl").read_text().splitlines()]
    assert records, "random weights at threshold 0.3 should find something to track"
    assert {r["frame"] for r in records} <= set(range(3))
    assert set(records[0]) == {"frame", "id", "quad", "text", "text_score", "score", "missed"}
    assert all(np.array(r["quad"]).shape == (4, 2) and isinstance(r["id"], int) for r in records)
    ids_per_frame = {}
    for r in records:
        ids_per_frame.setdefault(r["frame"], []).append(r["id"])
    assert all(len(ids) == len(set(ids)) for ids in ids_per_frame.values())  # an id once per frame
    assert "3 frames" in out and "tracks written to" in out


def test_evaluate_tracking_scores_a_model_on_the_bundled_clip(work_dir, tmp_path, capsys):
    with torch_threads(2):
        code = load_tool("evaluate_tracking").main(
            ["--video", str(BUNDLED_CLIP), "--load-weights", str(work_dir / "random.pth"), "--limit", "2",
             "--no-progress", "--save-metrics-to", str(tmp_path / "metrics.yaml")])
    assert code == 0
    out = capsys.readouterr().out
    assert "| clip.mp4 | spotter alone | 2 |" in out and "| clip.mp4 | tracked | 2 |" in out
    import yaml

    metrics = yaml.safe_load((tmp_path / "metrics.yaml").read_text())
    truth = load_clip_ground_truth(ground_truth_path(BUNDLED_CLIP))[:2]
    assert metrics["total"]["tracked"]["word_frames"] == sum(w.legible for frame in truth for w in frame)
    assert metrics["total"]["spotter"]["identity_switches"] is None
    assert metrics["total"]["tracker_ms_per_frame"] >= 0


def test_visualize_track_flags(work_dir, tmp_path):
    tool = load_tool_file(work_dir / "visualize.py")
    args = tool.parse_args(["--load-weights", "w.pth", "--video", "clip.mp4"])
    assert args.track is True
    assert tool.parse_args(["--load-weights", "w.pth", "--images", "a.jpg"]).track is False
    assert tool.parse_args(["--load-weights", "w.pth", "--video", "0", "--no-track"]).track is False
    with pytest.raises(SystemExit):
        tool.parse_args(["--load-weights", "w.pth", "--images", "a.jpg", "--save-tracks-to", "t.jsonl"])
