"""Threshold tuning (text_spotting.evaluation.thresholds, tools/tune_thresholds.py's arguments): what a pair of
thresholds keeps, the sweep's scores and the choice of the best pair."""
import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from text_spotting.evaluation import (ImageGroundTruth, ImagePredictions, apply_thresholds, best_thresholds,
                                      sweep_thresholds)

TOOL = Path(__file__).resolve().parents[1] / "tools" / "tune_thresholds.py"


def box(x1, y1, x2, y2):
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)


# Three words; the model found all three plus a false alarm, with these scores and text confidences.
GT = [ImageGroundTruth(polygons=[box(0, 0, 100, 20), box(0, 40, 100, 60), box(0, 80, 100, 100)],
                       texts=["hello", "world", "spots"], dont_care=[False, False, False])]
PREDICTIONS = [ImagePredictions(
    polygons=[box(0, 0, 100, 20), box(0, 40, 100, 60), box(0, 80, 100, 100), box(200, 0, 300, 20)],
    scores=[0.9, 0.8, 0.45, 0.6], texts=["hello", "wrld", "spots", "noise"], text_scores=[0.9, 0.05, 0.3, 0.2])]


def test_apply_thresholds_drops_weak_words_and_blanks_unsure_texts():
    kept = apply_thresholds(PREDICTIONS[0], detection=0.5, recognition=0.25)
    assert kept.scores == [0.9, 0.8, 0.6]
    assert kept.texts == ["hello", "", ""]
    assert kept.text_scores == [0.9, 0.05, 0.2]
    everything = apply_thresholds(PREDICTIONS[0], detection=0.0, recognition=0.0)
    assert everything.texts == PREDICTIONS[0].texts and len(everything.polygons) == 4


def test_a_word_without_text_score_keeps_its_text_only_at_recognition_zero():
    unknown = ImagePredictions(polygons=[box(0, 0, 10, 10)], scores=[0.9], texts=["abc"], text_scores=[float("nan")])
    assert apply_thresholds(unknown, 0.5, 0.0).texts == ["abc"]
    assert apply_thresholds(unknown, 0.5, 0.1).texts == [""]
    assert apply_thresholds(ImagePredictions(polygons=[box(0, 0, 10, 10)], scores=[0.9], texts=["abc"]),
                            0.5, 0.1).texts == [""]


def test_sweep_scores_each_pair_and_the_best_pair_wins_word_spotting():
    scores = sweep_thresholds(GT, PREDICTIONS, [0.4, 0.5, 0.7], [0.0, 0.25])
    assert [(s.detection_threshold, s.recognition_threshold) for s in scores] == [
        (0.4, 0.0), (0.4, 0.25), (0.5, 0.0), (0.5, 0.25), (0.7, 0.0), (0.7, 0.25)]
    by_pair = {(s.detection_threshold, s.recognition_threshold): s for s in scores}
    # detection 0.4: 3 of 3 words found, 1 false alarm -> P 3/4, R 1 -> 6/7
    assert by_pair[(0.4, 0.0)].detection == pytest.approx(6 / 7)
    # word spotting at 0.4 / 0.0: "hello" and "spots" right; "wrld" and "noise" wrong -> P 2/4, R 2/3 -> 4/7
    assert by_pair[(0.4, 0.0)].word_spotting == pytest.approx(4 / 7)
    # at 0.4 / 0.25 the wrong texts are blanked (dropped from word spotting): P 2/2, R 2/3 -> 0.8
    assert by_pair[(0.4, 0.25)].word_spotting == pytest.approx(0.8)
    # detection 0.7: only "hello" and "wrld" -> word spotting at recognition 0.25: P 1/1, R 1/3 -> 0.5
    assert by_pair[(0.7, 0.25)].word_spotting == pytest.approx(0.5)
    best = best_thresholds(scores)
    assert (best.detection_threshold, best.recognition_threshold) == (0.4, 0.25)
    assert best_thresholds(scores, "detection").detection == pytest.approx(6 / 7)


def test_best_thresholds_breaks_ties_towards_surer_words_and_refuses_nothing():
    scores = sweep_thresholds(GT, PREDICTIONS, [0.3, 0.4], [0.25])
    assert best_thresholds(scores).detection_threshold == 0.4  # same hmeans: the higher threshold
    with pytest.raises(ValueError, match="no threshold pairs"):
        best_thresholds([])


def test_threshold_lists_are_checked():
    spec = importlib.util.spec_from_file_location("tune_thresholds_tool", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.thresholds_list("0.5, 0.1,0.5") == [0.1, 0.5]
    for bad in ("", "a", "1.5", "-0.1"):
        with pytest.raises(argparse.ArgumentTypeError):
            tool.thresholds_list(bad)
