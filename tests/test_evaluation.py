"""ICDAR 2015 metric: hand-made cases with known answers, a property test, a regression set, predictions I/O and
the mmengine Metric wrapper."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from pycocotools import mask as mask_utils

from text_spotting.evaluation import (EvaluationError, ImageGroundTruth, ImagePredictions, Lexicon, align_predictions,
                                      coco_results_to_predictions, edit_distance, evaluate_image, evaluate_images,
                                      evaluate_set, format_metrics_table, greedy_match, ground_truth_from_coco,
                                      is_word, load_icdar_submission, load_lexicon, load_lexicon_dir, load_predictions,
                                      normalize_text, overlap_matrices, polygon_geometry, predicted_polygons,
                                      predictions_to_coco_results, recognition_metrics, save_predictions,
                                      submission_file_name, texts_match, write_icdar_submission, write_metrics_yaml,
                                      write_prediction_outputs)
from text_spotting.evaluation.text import edit_distances_to_words


def box(x1, y1, x2, y2):
    """Axis-aligned quadrilateral ``[4, 2]``, clockwise from the top-left corner."""
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)


def gt_of(*regions):
    """Ground truth from ``(polygon, text)`` pairs; text '###' marks don't care."""
    return ImageGroundTruth(polygons=[polygon for polygon, _ in regions], texts=[text for _, text in regions],
                            dont_care=[text == "###" for _, text in regions])


def preds_of(*words):
    """Predictions from ``(polygon, score, text)`` triples."""
    return ImagePredictions(polygons=[w[0] for w in words], scores=[w[1] for w in words], texts=[w[2] for w in words])


def prh(metrics, mode):
    values = metrics[mode]
    return values["precision"], values["recall"], values["hmean"]


# ------------------------------------------------------------------------------------------------------------------
# text rules


@pytest.mark.parametrize("raw, normalized", [
    ("Tokyo's", "Tokyo"), ("TOKYO'S", "TOKYO"), ('"(Hello!)"', "Hello"), ("-word-", "word"), ("  spaced  ", "spaced"),
    ("e-mail", "e-mail"), ("x's's", "x's"), ("[a/b]", "a/b"), ("·dot·", "dot"), ("...", ""), ("", ""),
])
def test_normalize_text(raw, normalized):
    assert normalize_text(raw) == normalized


@pytest.mark.parametrize("text, expected", [
    ("Hello", True), ("HI", False), ("2015", False), ("e-mail", True), ("Tokyo's", True), ("Café", True),
    ("ab1", False), ("(abc)", True), ("a b c", False), ("###", False), ("", False), ("don't", False),
])
def test_is_word(text, expected):
    assert is_word(text) is expected


def test_texts_match_ignores_case_and_outer_punctuation_only():
    assert texts_match("Hello!", "HELLO")
    assert texts_match("Tokyo's", "tokyo")
    assert not texts_match("e-mail", "email")
    assert not texts_match("hello", "hallo")


@pytest.mark.parametrize("a, b, distance", [
    ("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3), ("abc", "abc", 0), ("flaw", "lawn", 2), ("ab", "ba", 2),
])
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


def test_vectorised_edit_distances_equal_the_plain_ones():
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcd"), size=rng.integers(0, 7))) for _ in range(200)]
    codes = np.full((len(words), 7), -1, dtype=np.int32)
    for row, word in enumerate(words):
        codes[row, :len(word)] = [ord(c) for c in word]
    lengths = np.array([len(word) for word in words])
    for query in ["", "a", "abcd", "dcba", "aabbccdd"]:
        expected = [edit_distance(query, word) for word in words]
        assert edit_distances_to_words(query, codes, lengths).tolist() == expected


def test_lexicon_search_equals_brute_force():
    rng = np.random.default_rng(1)
    words = ["".join(rng.choice(list("abcde"), size=rng.integers(1, 9))) for _ in range(300)]
    lexicon = Lexicon(words)
    for _ in range(100):
        query = "".join(rng.choice(list("abcdef"), size=rng.integers(1, 10)))
        distance, index = min((edit_distance(query, word), index) for index, word in enumerate(words))
        assert lexicon.nearest(query) == words[index], (query, distance)


def test_lexicon_snaps_to_nearest_word_case_insensitively_ties_to_first():
    lexicon = Lexicon(["JOINT", "POINT", "Hello", "", "  "])
    assert len(lexicon) == 3  # blank entries skipped
    assert lexicon.nearest("joinr") == "JOINT"
    assert lexicon.nearest("hello!") == "Hello"  # exact match after normalisation keeps the lexicon's spelling
    assert lexicon.nearest("xoint") == "JOINT"  # distance 1 to both JOINT and POINT: the first in the file wins
    assert Lexicon(["POINT", "JOINT"]).nearest("xoint") == "POINT"
    assert lexicon.nearest("...") == "..."  # nothing to compare
    assert Lexicon([]).nearest("abc") == "abc"


def test_load_lexicon_reads_utf8_with_bom_and_skips_blank_lines(tmp_path):
    path = tmp_path / "words.txt"
    path.write_bytes("\ufeffHELLO\r\n\r\nWORLD\n".encode("utf-8"))
    assert load_lexicon(path).words == ["HELLO", "WORLD"]
    with pytest.raises(EvaluationError, match="missing.txt: lexicon file not found"):
        load_lexicon(tmp_path / "missing.txt")


def test_load_lexicon_dir_needs_one_file_per_image(tmp_path):
    (tmp_path / "voc_img_1.txt").write_text("ONE\n")
    (tmp_path / "voc_img_2.txt").write_text("TWO\n")
    lexicons = load_lexicon_dir(tmp_path, ["img_1.jpg", "sub/img_2.png"])
    assert [lexicon.words for lexicon in lexicons] == [["ONE"], ["TWO"]]
    with pytest.raises(EvaluationError,
                       match=r"no per-image lexicon for 1 of 2 images \(first missing: voc_img_3.txt\)"):
        load_lexicon_dir(tmp_path, ["img_1.jpg", "img_3.jpg"])


# ------------------------------------------------------------------------------------------------------------------
# geometry and matching building blocks


def test_overlap_matrices_iou_and_inside_share():
    gt = [polygon_geometry(box(0, 0, 10, 10))[0]]
    preds = [polygon_geometry(box(5, 0, 15, 10))[0], polygon_geometry(box(2, 2, 4, 4))[0],
             polygon_geometry(box(50, 50, 60, 60))[0]]
    iou, inside = overlap_matrices(gt, preds)
    np.testing.assert_allclose(iou, [[50 / 150, 4 / 100, 0.0]])
    np.testing.assert_allclose(inside, [[0.5, 1.0, 0.0]])


def test_self_intersecting_polygon_is_repaired_and_short_ones_rejected():
    bow_tie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], dtype=np.float64)
    geometry, repaired = polygon_geometry(bow_tie)
    assert repaired and geometry.is_valid and geometry.area == pytest.approx(50.0)
    with pytest.raises(EvaluationError, match="img_7.jpg: prediction #0: a polygon needs at least 3 points, got 2"):
        evaluate_image(ImageGroundTruth(), preds_of((np.zeros((2, 2)), 0.5, "x")), image_name="img_7.jpg")
    with pytest.raises(EvaluationError, match="non-finite"):
        polygon_geometry(np.array([[0, 0], [np.nan, 1], [1, 1]]))


def test_bow_tie_prediction_is_scored_without_crashing():
    gt = gt_of((box(0, 0, 10, 10), "word"))
    bow_tie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], dtype=np.float64)  # two triangles, area 50
    evaluation = evaluate_set([gt], [preds_of((bow_tie, 0.9, "word"))])
    assert evaluation.repaired_polygons == 1
    assert evaluation.tallies["detection"].true_positives == 0  # IoU = 50 / 100, not above 0.5


def test_greedy_match_visits_ground_truth_in_file_order_and_predictions_by_score():
    iou = np.array([[0.9, 0.6], [0.0, 0.7]])
    care = np.array([True, True])
    # gt 0 takes the higher-scored prediction 1 even though prediction 0 overlaps it more; gt 1 then gets nothing
    # (greedy, not an optimal assignment).
    assert greedy_match(iou, np.array([0.5, 0.8]), care, care) == [(0, 1)]
    assert greedy_match(iou, np.array([0.8, 0.5]), care, care) == [(0, 0), (1, 1)]
    # IoU must be above 0.5, not equal to it.
    assert greedy_match(np.array([[0.5]]), np.array([1.0]), care[:1], care[:1]) == []
    # Non-care ground truth or predictions never match.
    assert greedy_match(iou, np.array([0.8, 0.5]), np.array([False, True]), care) == [(1, 1)]
    assert greedy_match(iou, np.array([0.8, 0.5]), care, np.array([False, True])) == [(0, 1)]


# ------------------------------------------------------------------------------------------------------------------
# hand-made cases with known answers


def test_perfect_predictions_score_one_everywhere():
    quad = np.array([[10, 10], [60, 20], [55, 40], [5, 30]], dtype=np.float64)
    gt = gt_of((box(0, 0, 50, 20), "Hello"), (quad, "world"), (box(0, 100, 40, 120), "2015"),
               (box(100, 0, 150, 20), "###"))
    preds = preds_of((box(0, 0, 50, 20), 0.9, "Hello"), (quad, 0.8, "world"), (box(0, 100, 40, 120), 0.7, "2015"))
    metrics = evaluate_images([gt], [preds])
    for mode in ("detection", "word_spotting", "e2e_recognition"):
        assert prh(metrics, mode) == (1.0, 1.0, 1.0)
    assert metrics["counts"] == {"images": 1, "gt_words": 3, "dont_care": 1, "predictions": 3}


def test_missed_word_lowers_recall_only():
    gt = gt_of((box(0, 0, 50, 20), "Hello"), (box(0, 50, 50, 70), "World"))
    metrics = evaluate_images([gt], [preds_of((box(0, 0, 50, 20), 0.9, "hello"))])
    for mode in ("detection", "word_spotting", "e2e_recognition"):
        assert prh(metrics, mode) == pytest.approx((1.0, 0.5, 2 / 3))


def test_wrong_transcription_counts_for_detection_not_for_spotting():
    gt = gt_of((box(0, 0, 50, 20), "Hello"))
    metrics = evaluate_images([gt], [preds_of((box(0, 0, 50, 20), 0.9, "Hallo"))])
    assert prh(metrics, "detection") == (1.0, 1.0, 1.0)
    assert prh(metrics, "word_spotting") == (0.0, 0.0, 0.0)
    assert prh(metrics, "e2e_recognition") == (0.0, 0.0, 0.0)


def test_prediction_mostly_inside_dont_care_is_ignored_and_half_inside_is_not():
    gt = gt_of((box(0, 0, 50, 20), "Hello"), (box(100, 0, 200, 50), "###"))
    inside = (box(110, 10, 190, 40), 0.8, "noise")                  # all of it inside the don't-care region
    half_out = (box(150, 0, 250, 50), 0.7, "noise")                 # exactly half inside: not more than half
    metrics = evaluate_images([gt], [preds_of((box(0, 0, 50, 20), 0.9, "Hello"), inside)])
    assert prh(metrics, "detection") == (1.0, 1.0, 1.0)
    metrics = evaluate_images([gt], [preds_of((box(0, 0, 50, 20), 0.9, "Hello"), inside, half_out)])
    assert prh(metrics, "detection") == pytest.approx((0.5, 1.0, 2 / 3))


def test_dont_care_needs_more_than_half_inside_one_region_not_several():
    gt = gt_of((box(0, 0, 40, 20), "###"), (box(60, 0, 100, 20), "###"), (box(0, 100, 50, 120), "word"))
    # 40% of the prediction lies in each don't-care region: 80% in all, but not more than half in one.
    straddling = (box(0, 0, 100, 20), 0.9, "word")
    evaluation = evaluate_image(gt, preds_of(straddling))
    assert evaluation.tallies["detection"].predictions_care == 1
    assert evaluation.tallies["detection"].true_positives == 0


def test_split_word_matches_once_and_the_other_part_is_a_false_positive():
    gt = gt_of((box(0, 0, 100, 20), "Station"))
    left, right = (box(0, 0, 70, 20), 0.6, "Stat"), (box(30, 0, 100, 20), 0.9, "Station")  # IoU 0.7 each
    evaluation = evaluate_image(gt, preds_of(left, right))
    assert evaluation.pairs["detection"] == [(0, 1, True)]  # the higher score wins
    metrics = evaluate_images([gt], [preds_of(left, right)])
    for mode in ("detection", "word_spotting", "e2e_recognition"):
        assert prh(metrics, mode) == pytest.approx((0.5, 1.0, 2 / 3))


def test_case_and_punctuation_differences_still_match():
    gt = gt_of((box(0, 0, 50, 20), "Hello!"), (box(0, 50, 50, 70), "Tokyo's"), (box(0, 100, 50, 120), '"(Exit)"'))
    preds = preds_of((box(0, 0, 50, 20), 0.9, "HELLO"), (box(0, 50, 50, 70), 0.8, "tokyo"),
                     (box(0, 100, 50, 120), 0.7, "exit."))
    metrics = evaluate_images([gt], [preds])
    assert prh(metrics, "word_spotting") == (1.0, 1.0, 1.0)
    assert prh(metrics, "e2e_recognition") == (1.0, 1.0, 1.0)


def test_digits_are_dont_care_for_word_spotting_but_counted_for_e2e():
    gt = gt_of((box(0, 0, 50, 20), "2015"), (box(0, 50, 50, 70), "Hello"))
    preds = preds_of((box(0, 0, 50, 20), 0.9, "2015"), (box(0, 50, 50, 70), 0.8, "Hello"))
    evaluation = evaluate_image(gt, preds)
    word_spotting, e2e = evaluation.tallies["word_spotting"], evaluation.tallies["e2e_recognition"]
    # The digits' region and the prediction on it both leave word spotting: neither a miss nor a false positive.
    assert (word_spotting.true_positives, word_spotting.gt_care, word_spotting.predictions_care) == (1, 1, 1)
    assert (e2e.true_positives, e2e.gt_care, e2e.predictions_care) == (2, 2, 2)
    # A wrong reading of the digits only costs e2e.
    metrics = evaluate_images([gt], [preds_of((box(0, 0, 50, 20), 0.9, "2016"), (box(0, 50, 50, 70), 0.8, "Hello"))])
    assert prh(metrics, "word_spotting") == (1.0, 1.0, 1.0)
    assert prh(metrics, "e2e_recognition") == (0.5, 0.5, 0.5)


def test_empty_text_predictions_count_for_detection_only():
    gt = gt_of((box(0, 0, 50, 20), "Hello"))
    metrics = evaluate_images([gt], [preds_of((box(0, 0, 50, 20), 0.9, ""), (box(0, 50, 50, 70), 0.8, " "))])
    assert prh(metrics, "detection") == pytest.approx((0.5, 1.0, 2 / 3))
    assert prh(metrics, "word_spotting") == (0.0, 0.0, 0.0)
    assert metrics["word_spotting"] == metrics["e2e_recognition"]


def test_empty_text_prediction_does_not_take_the_word_from_a_read_one():
    gt = gt_of((box(0, 0, 50, 20), "Hello"))
    preds = preds_of((box(0, 0, 50, 20), 0.9, ""), (box(2, 0, 50, 20), 0.5, "hello"))
    metrics = evaluate_images([gt], [preds])
    assert prh(metrics, "detection") == pytest.approx((0.5, 1.0, 2 / 3))  # the empty one is matched first
    assert prh(metrics, "word_spotting") == (1.0, 1.0, 1.0)  # dropped before matching, so "hello" matches


def test_lexicon_snapping_fixes_a_near_miss():
    gt = gt_of((box(0, 0, 50, 20), "HELLO"), (box(0, 50, 50, 70), "WORLD"))
    preds = preds_of((box(0, 0, 50, 20), 0.9, "HELL0"), (box(0, 50, 50, 70), 0.8, "wor1d"))
    assert prh(evaluate_images([gt], [preds]), "word_spotting") == (0.0, 0.0, 0.0)
    lexicon = Lexicon(["HELLO", "WORLD", "WORD"])
    assert prh(evaluate_images([gt], [preds], lexicon=lexicon), "word_spotting") == (1.0, 1.0, 1.0)
    # A per-image lexicon replaces the global one for its image.
    metrics = evaluate_images([gt], [preds], lexicon=lexicon, image_lexicons=[Lexicon(["HELLO", "WORD"])])
    assert prh(metrics, "word_spotting") == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("gts, preds, expected", [
    ([ImageGroundTruth()], [ImagePredictions()], (0.0, 0.0, 0.0)),
    ([], [], (0.0, 0.0, 0.0)),
    ([gt_of((box(0, 0, 10, 10), "word"))], [ImagePredictions()], (0.0, 0.0, 0.0)),
    ([ImageGroundTruth()], [preds_of((box(0, 0, 10, 10), 0.5, "word"))], (0.0, 0.0, 0.0)),
    ([gt_of((box(0, 0, 10, 10), "###"))], [preds_of((box(0, 0, 10, 10), 0.5, "word"))], (0.0, 0.0, 0.0)),
])
def test_empty_sets_give_zero_without_dividing_by_zero(gts, preds, expected):
    metrics = evaluate_images(gts, preds)
    for mode in ("detection", "word_spotting", "e2e_recognition"):
        assert prh(metrics, mode) == expected


def test_misaligned_inputs_are_rejected():
    with pytest.raises(EvaluationError, match="2 images of ground truth but 1 of predictions"):
        evaluate_images([ImageGroundTruth(), ImageGroundTruth()], [ImagePredictions()])
    with pytest.raises(EvaluationError, match="different lengths"):
        ImagePredictions(polygons=[box(0, 0, 1, 1)], scores=[], texts=["a"])
    with pytest.raises(EvaluationError, match="prediction #1: score is not a finite number"):
        evaluate_image(ImageGroundTruth(), preds_of((box(0, 0, 1, 1), 0.5, "a"), (box(0, 0, 1, 1), float("nan"), "")))


# ------------------------------------------------------------------------------------------------------------------
# property test


def random_rotated_box(rng, center, size, angle):
    w, h = size
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return corners @ rotation.T + center


def random_scene(rng):
    words = ["alpha", "beta", "gamma", "delta", "2015", "###", "exit!", "x"]
    num_gt = int(rng.integers(0, 12))
    gt_polygons = [random_rotated_box(rng, rng.uniform(0, 400, 2), rng.uniform([20, 8], [120, 40]),
                                      rng.uniform(-0.6, 0.6)) for _ in range(num_gt)]
    gt_texts = [str(rng.choice(words)) for _ in range(num_gt)]
    gt = ImageGroundTruth(gt_polygons, gt_texts, [text == "###" for text in gt_texts])
    polygons, texts = [], []
    for polygon, text in zip(gt_polygons, gt_texts):
        for _ in range(int(rng.integers(0, 3))):  # missed, found, or found twice
            polygons.append(polygon + rng.normal(0, 4, size=polygon.shape))
            texts.append(text if rng.random() < 0.6 else str(rng.choice(words + [""])))
    for _ in range(int(rng.integers(0, 5))):  # clutter
        polygons.append(random_rotated_box(rng, rng.uniform(0, 400, 2), rng.uniform([10, 5], [80, 30]),
                                           rng.uniform(-1, 1)))
        texts.append(str(rng.choice(words + [""])))
    scores = rng.permutation(len(polygons)) / max(len(polygons), 1) + 0.01  # distinct
    return gt, ImagePredictions(polygons, scores.tolist(), texts)


def shuffled(predictions, rng):
    order = rng.permutation(len(predictions.polygons))
    return ImagePredictions([predictions.polygons[i] for i in order], [predictions.scores[i] for i in order],
                            [predictions.texts[i] for i in order])


def test_property_prediction_order_does_not_matter_and_hmean_stays_in_range():
    rng = np.random.default_rng(2024)
    for _ in range(20):
        scenes = [random_scene(rng) for _ in range(int(rng.integers(1, 5)))]
        gts, preds = [gt for gt, _ in scenes], [pred for _, pred in scenes]
        reference = evaluate_images(gts, preds)
        for _ in range(3):
            assert evaluate_images(gts, [shuffled(pred, rng) for pred in preds]) == reference
        for mode in ("detection", "word_spotting", "e2e_recognition"):
            for value in reference[mode].values():
                assert 0.0 <= value <= 1.0
        # Spotting can never beat detection: its true positives are a subset of matched pairs.
        total_tp = sum(evaluate_image(gt, pred).tallies["e2e_recognition"].true_positives for gt, pred in scenes)
        total_det = sum(evaluate_image(gt, pred).tallies["detection"].true_positives for gt, pred in scenes)
        assert total_tp <= total_det


# ------------------------------------------------------------------------------------------------------------------
# regression set, computed by hand


def regression_set():
    image_1 = gt_of((box(0, 0, 100, 20), "Hello"), (box(0, 40, 100, 60), "WORLD!"), (box(0, 80, 60, 100), "2015"),
                    (box(200, 0, 300, 50), "###"))
    preds_1 = preds_of((box(2, 0, 100, 20), 0.9, "hello"),    # IoU 0.98 with Hello: right text
                       (box(0, 40, 100, 60), 0.8, "w0rld"),   # WORLD!: wrong text
                       (box(0, 80, 60, 100), 0.7, "2015"),    # digits: right text
                       (box(210, 10, 290, 40), 0.6, "abc"),   # inside the don't-care region
                       (box(400, 400, 450, 420), 0.5, "noise"))  # nothing there
    image_2 = gt_of((box(0, 0, 100, 30), "Tokyo's"))
    preds_2 = preds_of((box(0, 0, 100, 30), 0.95, ""),       # found, nothing read
                       (box(5, 0, 100, 30), 0.3, "TOKYO"))    # the same word again, read
    image_3 = ImageGroundTruth()
    preds_3 = preds_of((box(0, 0, 10, 10), 0.5, "x"))
    return [image_1, image_2, image_3, ImageGroundTruth()], [preds_1, preds_2, preds_3, ImagePredictions()]


def test_regression_set_numbers_computed_by_hand():
    # detection:       TP 3 + 1 + 0 = 4;  care GT 3 + 1 = 4;  care predictions 4 + 2 + 1 = 7
    #                  P = 4/7, R = 1, H = 2 * 4/7 / (11/7) = 8/11
    # word_spotting:   "2015" becomes don't care, the prediction on it too; the empty-text prediction is dropped
    #                  TP 1 + 1 = 2;  care GT 2 + 1 = 3;  care predictions 3 + 1 + 1 = 5
    #                  P = 2/5, R = 2/3, H = 2 * (4/15) / (16/15) = 1/2
    # e2e_recognition: TP 2 + 1 = 3;  care GT 3 + 1 = 4;  care predictions 4 + 1 + 1 = 6
    #                  P = 1/2, R = 3/4, H = 2 * (3/8) / (5/4) = 3/5
    gts, preds = regression_set()
    metrics = evaluate_images(gts, preds)
    assert prh(metrics, "detection") == pytest.approx((4 / 7, 1.0, 8 / 11))
    assert prh(metrics, "word_spotting") == pytest.approx((2 / 5, 2 / 3, 1 / 2))
    assert prh(metrics, "e2e_recognition") == pytest.approx((1 / 2, 3 / 4, 3 / 5))
    assert metrics["counts"] == {"images": 4, "gt_words": 4, "dont_care": 1, "predictions": 8}
    assert all(isinstance(value, float) for mode in ("detection", "word_spotting", "e2e_recognition")
               for value in metrics[mode].values())


# ------------------------------------------------------------------------------------------------------------------
# recognition on ground-truth boxes


def test_recognition_accuracy_and_cer():
    # pairs: exact (after case/punctuation), one substitution, one deletion, empty reading of a 4-letter word
    result = recognition_metrics(["Hello!", "world", "abc", "test"], ["HELLO", "wor1d", "ab", ""])
    assert result["accuracy"] == pytest.approx(1 / 4)
    assert result["cer"] == pytest.approx((0 + 1 + 1 + 4) / (5 + 5 + 3 + 4))


def test_recognition_edge_cases():
    assert recognition_metrics([], []) == {"accuracy": 0.0, "cer": 0.0}
    assert recognition_metrics(["..."], [""]) == {"accuracy": 1.0, "cer": 0.0}
    assert recognition_metrics(["..."], ["ab"]) == {"accuracy": 0.0, "cer": 1.0}
    with pytest.raises(EvaluationError, match="2 ground-truth texts but 1 predictions"):
        recognition_metrics(["a", "b"], ["a"])


# ------------------------------------------------------------------------------------------------------------------
# predictions file and ICDAR submissions


def test_predictions_file_round_trip(tmp_path):
    predictions = ImagePredictions([box(1, 2, 31, 12), np.array([[0, 0], [10, 0], [5, 8]], float)], [0.9, 0.4],
                                   ["word", ""], text_scores=[0.8, 0.1])
    records = predictions_to_coco_results(7, predictions)
    assert records[0] == {"image_id": 7, "bbox": [1.0, 2.0, 30.0, 10.0],
                          "segmentation": [[1.0, 2.0, 31.0, 2.0, 31.0, 12.0, 1.0, 12.0]], "score": 0.9,
                          "text": "word", "text_score": 0.8}
    save_predictions(records, tmp_path / "p.json")
    loaded = load_predictions(tmp_path / "p.json")
    assert list(loaded) == [7]
    np.testing.assert_allclose(loaded[7].polygons[1], predictions.polygons[1])
    assert loaded[7].scores == [0.9, 0.4] and loaded[7].texts == ["word", ""] and loaded[7].text_scores == [0.8, 0.1]


def test_other_tools_records_rle_bbox_and_flat_polygons_are_accepted():
    mask = np.zeros((40, 60), dtype=np.uint8, order="F")
    mask[10:20, 5:45] = 1
    rle = mask_utils.encode(mask)
    rle["counts"] = rle["counts"].decode("ascii")
    records = [{"image_id": 1, "segmentation": rle, "score": 0.9, "text": "a"},
               {"image_id": 1, "bbox": [0, 0, 10, 5], "score": 0.8},
               {"image_id": 2, "segmentation": [0, 0, 4, 0, 4, 4], "score": 0.7, "text": None}]
    grouped = coco_results_to_predictions(records)
    np.testing.assert_allclose(grouped[1].polygons[0], box(5, 10, 44, 19))
    np.testing.assert_allclose(grouped[1].polygons[1], box(0, 0, 10, 5))
    assert grouped[1].texts == ["a", ""] and grouped[2].texts == [""]


@pytest.mark.parametrize("content, message", [
    ("not json", r"p.json: not valid JSON"),
    ('{"a": 1}', r"p.json: expected a JSON list of COCO result records, got dict"),
    ('[{"image_id": 1, "bbox": [0, 0, 1, 1]}]', r"p.json: record #0: field 'score': expected a finite number"),
    ('[{"image_id": "1", "score": 1, "bbox": [0, 0, 1, 1]}]', r"record #0: field 'image_id': expected an integer"),
    ('[{"image_id": 1, "score": 1, "segmentation": [[0, 0, 1]]}]', r"record #0: field 'segmentation': a polygon"),
    ('[{"image_id": 1, "score": 1}]', r"record #0: field 'segmentation' is missing and field 'bbox' is not"),
    ('[{"image_id": 1, "score": 1, "bbox": [0, 0, 1, 1], "text": 5}]', r"record #0: field 'text': expected a string"),
])
def test_bad_predictions_file_gives_one_clear_line(tmp_path, content, message):
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(EvaluationError, match=message) as info:
        load_predictions(path)
    assert "\n" not in str(info.value)


def test_submission_file_names():
    assert submission_file_name("img_12.jpg") == "res_img_12.txt"
    assert submission_file_name("sub/street.png") == "res_img_street.txt"


def test_icdar_submission_lines_zip_and_round_trip(tmp_path):
    gts, preds = regression_set()
    names = ["img_1.jpg", "img_2.jpg", "img_3.jpg", "img_4.jpg"]
    zip_path = write_icdar_submission(list(zip(names, preds)), tmp_path)
    with zipfile.ZipFile(zip_path) as zip_file:
        assert sorted(zip_file.namelist()) == ["res_img_1.txt", "res_img_2.txt", "res_img_3.txt", "res_img_4.txt"]
        lines = zip_file.read("res_img_2.txt").decode().splitlines()
    assert lines == ["0,0,100,0,100,30,0,30,", "5,0,100,0,100,30,5,30,TOKYO"]  # descending score
    odd_texts = ImagePredictions([box(0, 0, 9, 9)] * 3, [0.3, 0.2, 0.1], ["$5,50", "CHE  S", "two\nlines"])
    write_icdar_submission([("img_9.jpg", odd_texts)], tmp_path / "odd")
    assert load_icdar_submission(tmp_path / "odd" / "submit.zip", {9: "img_9.jpg"})[9].texts == \
        ["$5,50", "CHE  S", "two lines"]
    assert (tmp_path / "submit" / "res_img_4.txt").read_text() == ""
    image_ids = {1: "img_1.jpg", 2: "img_2.jpg", 3: "img_3.jpg", 4: "img_4.jpg"}
    for source in (zip_path, tmp_path / "submit"):
        loaded = load_icdar_submission(source, image_ids)
        assert evaluate_images(gts, [loaded.get(i, ImagePredictions()) for i in image_ids]) == \
            evaluate_images(gts, preds)


def test_icdar_submission_errors(tmp_path):
    (tmp_path / "res_img_1.txt").write_text("1,2,3,4,5,6,7,8,ok\n1,2,3,x,5,6,7,8,bad\n")
    with pytest.raises(EvaluationError, match=r"res_img_1.txt: line 2: expected x1,y1,x2,y2,x3,y3,x4,y4"):
        load_icdar_submission(tmp_path, {1: "img_1.jpg"})
    with pytest.raises(EvaluationError, match=r"res_img_1.txt: matches no image of the ground truth"):
        load_icdar_submission(tmp_path, {2: "img_2.jpg"})
    with pytest.raises(EvaluationError, match="would both be written as res_img_5.txt"):
        write_icdar_submission([("img_5.jpg", ImagePredictions()), ("5.png", ImagePredictions())], tmp_path / "o")


def test_write_prediction_outputs_writes_json_and_zip(tmp_path):
    _, preds = regression_set()
    paths = write_prediction_outputs(tmp_path, [(1, "img_1.jpg", preds[0]), (2, "img_2.jpg", preds[1])])
    records = json.loads(paths["predictions"].read_text())
    assert len(records) == 7 and {record["image_id"] for record in records} == {1, 2}
    assert records[0]["text_score"] is None  # unknown text scores stay unknown
    assert zipfile.ZipFile(paths["submission"]).namelist() == ["res_img_1.txt", "res_img_2.txt"]


def coco_text_document(gts, names):
    """A COCO-with-text dict (SPEC §1) holding the given per-image ground truth."""
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "text"}]}
    for image_id, (gt, name) in enumerate(zip(gts, names), start=1):
        coco["images"].append({"id": image_id, "file_name": name, "width": 500, "height": 500})
        for polygon, text, dont_care in zip(gt.polygons, gt.texts, gt.dont_care):
            x1, y1 = polygon.min(axis=0)
            x2, y2 = polygon.max(axis=0)
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": image_id, "category_id": 1,
                "iscrowd": int(dont_care), "bbox": [x1, y1, x2 - x1, y2 - y1],
                "segmentation": [polygon.reshape(-1).tolist()],
                "text": {"transcription": text, "legible": not dont_care, "language": "english"}})
    return coco


def test_ground_truth_from_coco_and_alignment():
    gts, preds = regression_set()
    coco = coco_text_document(gts, ["img_1.jpg", "img_2.jpg", "img_3.jpg", "img_4.jpg"])
    gt_set = ground_truth_from_coco(coco, "gt.json")
    assert gt_set.image_ids == [1, 2, 3, 4]
    assert gt_set.images[0].dont_care == [False, False, False, True]
    aligned = align_predictions(gt_set, {1: preds[0], 2: preds[1], 3: preds[2]})
    assert evaluate_images(gt_set.images, aligned) == evaluate_images(gts, preds)
    with pytest.raises(EvaluationError, match=r"1 image id\(s\) not in gt.json \(first: 99\)"):
        align_predictions(gt_set, {99: preds[0]})


def test_metrics_table_and_yaml(tmp_path):
    gts, preds = regression_set()
    metrics = evaluate_images(gts, preds)
    metrics["recognition"] = {"accuracy": 0.5, "cer": 0.25}
    table = format_metrics_table(metrics)
    assert next(line.split() for line in table.splitlines() if line.startswith("word_spotting")) == \
        ["word_spotting", "0.4000", "0.6667", "0.5000"]
    assert "accuracy 0.5000, CER 0.2500" in table and "predictions 8" in table
    metrics["dataset"] = {"annotation": "gt.json", "images": None}
    write_metrics_yaml({"dataset": metrics.pop("dataset"), **metrics}, tmp_path / "m.yaml")
    loaded = yaml.safe_load((tmp_path / "m.yaml").read_text())
    assert list(loaded) == ["detection", "word_spotting", "e2e_recognition", "recognition", "counts", "dataset"]
    assert loaded["e2e_recognition"]["hmean"] == pytest.approx(0.6)


# ------------------------------------------------------------------------------------------------------------------
# the mmengine Metric


def test_predicted_polygons_from_masks_with_box_fallback():
    masks = torch.zeros((2, 50, 100), dtype=torch.bool)
    masks[0, 10:30, 20:80] = True
    polygons = predicted_polygons(torch.tensor([[20.0, 10, 80, 30], [1, 2, 11, 12]]), masks)
    np.testing.assert_allclose(polygons[0], box(20, 10, 79, 29))
    np.testing.assert_allclose(polygons[1], box(1, 2, 11, 12))
    np.testing.assert_allclose(predicted_polygons(np.array([[1, 2, 11, 12]]))[0], box(1, 2, 11, 12))


def data_sample(img_id, instances, masks, bboxes, scores, texts):
    sample = DetDataSample(metainfo={"img_id": img_id, "img_path": f"/data/img_{img_id}.jpg", "ori_shape": (60, 120),
                                     "instances": instances})
    pred = InstanceData()
    pred.bboxes = torch.tensor(bboxes, dtype=torch.float32).reshape(-1, 4)
    pred.scores = torch.tensor(scores, dtype=torch.float32)
    pred.labels = torch.zeros(len(scores), dtype=torch.long)
    pred.masks = masks
    pred.texts = texts
    pred.text_scores = torch.full((len(scores),), 0.9)
    sample.pred_instances = pred
    return sample


def instance(x1, y1, x2, y2, text, ignore=0):
    return {"bbox": [x1, y1, x2, y2], "bbox_label": 0, "ignore_flag": ignore,
            "mask": [[x1, y1, x2, y1, x2, y2, x1, y2]], "text": text, "legible": not ignore, "language": ""}


def test_text_spotting_metric_end_to_end(tmp_path):
    metric = METRICS.build(dict(type="TextSpottingMetric", output_dir=str(tmp_path)))
    masks = torch.zeros((3, 60, 120), dtype=torch.bool)
    masks[0, 10:30, 10:70] = True   # "hello" on the first word
    masks[1, 40:55, 10:60] = True   # "wrld" on the second word: found, misread
    masks[2, 5:25, 90:115] = True   # inside the don't-care region
    first = data_sample(1, [instance(10, 10, 70, 30, "Hello"), instance(10, 40, 60, 55, "World"),
                            instance(88, 3, 118, 28, "", ignore=1)],
                        masks, [[10, 10, 70, 30], [10, 40, 60, 55], [90, 5, 115, 25]], [0.9, 0.8, 0.7],
                        ["hello", "wrld", "zz"])
    second = data_sample(2, [instance(0, 0, 50, 20, "Exit")], torch.zeros((0, 60, 120), dtype=torch.bool),
                         [], [], [])
    metric.process({}, [first.to_dict()])
    metric.process({}, [second])  # a DetDataSample is accepted as it is too
    results = metric.evaluate(2)
    # detection: TP 2 of 3 care GT, 2 care predictions; spotting: TP 1
    assert results["icdar/detection/precision"] == pytest.approx(1.0)
    assert results["icdar/detection/recall"] == pytest.approx(2 / 3)
    assert results["icdar/word_spotting/hmean"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert results["icdar/e2e_recognition/precision"] == pytest.approx(0.5)
    assert results["icdar/counts/images"] == 2 and results["icdar/counts/predictions"] == 3
    assert results["icdar/counts/dont_care"] == 1 and results["icdar/counts/gt_words"] == 3
    records = json.loads((tmp_path / "predictions.json").read_text())
    assert [record["text"] for record in records] == ["hello", "wrld", "zz"]
    assert zipfile.ZipFile(tmp_path / "submit.zip").namelist() == ["res_img_1.txt", "res_img_2.txt"]


def test_text_spotting_metric_needs_original_instances():
    metric = METRICS.build(dict(type="TextSpottingMetric"))
    sample = DetDataSample(metainfo={"img_id": 3, "img_path": "img_3.jpg"})
    sample.pred_instances = InstanceData(bboxes=torch.zeros((0, 4)), scores=torch.zeros(0))
    with pytest.raises(EvaluationError, match=r"image img_3.jpg: no 'instances' in the data sample's metainfo"):
        metric.process({}, [sample.to_dict()])


# ------------------------------------------------------------------------------------------------------------------
# real data (skipped where the shared ICDAR 2015 copy is absent)

ICDAR2015_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "icdar2015_dev"


@pytest.mark.skipif(not ICDAR2015_DEV.is_dir(), reason="shared ICDAR 2015 dev set not present")
def test_icdar2015_dev_ground_truth_as_predictions_scores_one_and_survives_the_submission_round_trip(tmp_path):
    from text_spotting.datasets.annotation_io import convert_icdar

    coco, _ = convert_icdar(str(ICDAR2015_DEV / "gt"), str(ICDAR2015_DEV / "images"))
    gt_set = ground_truth_from_coco(coco, "icdar2015_dev")
    predictions = [ImagePredictions([polygon.copy() for polygon in image.polygons],
                                    list(np.linspace(1.0, 0.5, len(image.polygons))), list(image.texts))
                   for image in gt_set.images]
    metrics = evaluate_images(gt_set.images, predictions)
    for mode in ("detection", "word_spotting", "e2e_recognition"):
        assert prh(metrics, mode) == (1.0, 1.0, 1.0)
    assert metrics["counts"]["images"] == 100 and metrics["counts"]["gt_words"] > 0
    paths = write_prediction_outputs(tmp_path, zip(gt_set.image_ids, gt_set.file_names, predictions))
    from_zip = load_icdar_submission(paths["submission"], dict(zip(gt_set.image_ids, gt_set.file_names)))
    assert evaluate_images(gt_set.images, align_predictions(gt_set, from_zip)) == metrics
