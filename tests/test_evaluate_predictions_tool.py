"""tools/evaluate_predictions.py: scores predictions files and ICDAR submissions, reports bad input in one line."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOL = REPO_ROOT / "tools" / "evaluate_predictions.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("evaluate_predictions_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rectangle(x1, y1, x2, y2):
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def annotation(ann_id, image_id, x1, y1, x2, y2, text):
    dont_care = text == "###"
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": int(dont_care),
            "bbox": [x1, y1, x2 - x1, y2 - y1], "segmentation": [rectangle(x1, y1, x2, y2)],
            "text": {"transcription": text, "legible": not dont_care, "language": "english"}}


def prediction(image_id, x1, y1, x2, y2, score, text):
    return {"image_id": image_id, "bbox": [x1, y1, x2 - x1, y2 - y1], "segmentation": [rectangle(x1, y1, x2, y2)],
            "score": score, "text": text, "text_score": 0.9}


def table_row(printed: str, name: str) -> list[str]:
    """The precision/recall/hmean cells of one row of the printed table."""
    return next(line.split()[1:] for line in printed.splitlines() if line.startswith(name + " "))


@pytest.fixture()
def scene(tmp_path):
    """Two images: "Hello" + "2015" + a don't-care region, and "Exit"; predictions hit "Hello" (read "hell0"),
    "2015" and "Exit", plus one false positive."""
    coco = {"images": [{"id": 1, "file_name": "img_1.jpg", "width": 200, "height": 100},
                       {"id": 2, "file_name": "img_2.jpg", "width": 200, "height": 100}],
            "categories": [{"id": 1, "name": "text"}],
            "annotations": [annotation(1, 1, 0, 0, 50, 20, "Hello"), annotation(2, 1, 0, 40, 50, 60, "2015"),
                            annotation(3, 1, 100, 0, 150, 30, "###"), annotation(4, 2, 10, 10, 60, 30, "Exit")]}
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(coco))
    records = [prediction(1, 0, 0, 50, 20, 0.9, "hell0"), prediction(1, 0, 40, 50, 60, 0.8, "2015"),
               prediction(2, 10, 10, 60, 30, 0.7, "EXIT"), prediction(2, 150, 60, 190, 90, 0.6, "noise")]
    predictions_path = tmp_path / "predictions.json"
    predictions_path.write_text(json.dumps(records))
    return gt_path, predictions_path


def test_scores_a_predictions_file_and_writes_yaml(scene, tmp_path, capsys):
    gt_path, predictions_path = scene
    metrics_path = tmp_path / "out" / "metrics.yaml"
    code = load_tool().main(["--test-ann-files", str(gt_path), "--predictions", str(predictions_path),
                             "--save-metrics-to", str(metrics_path)])
    assert code == 0
    printed = capsys.readouterr().out
    # detection 3/4 precision, 3/3 recall; word spotting: "2015" is don't care, only "Exit" read right of Hello/Exit
    assert table_row(printed, "detection") == ["0.7500", "1.0000", "0.8571"]
    metrics = yaml.safe_load(metrics_path.read_text())
    assert list(metrics) == ["detection", "word_spotting", "e2e_recognition", "counts", "dataset"]
    assert metrics["word_spotting"] == pytest.approx({"precision": 1 / 3, "recall": 1 / 2, "hmean": 0.4})
    assert metrics["e2e_recognition"] == pytest.approx({"precision": 2 / 4, "recall": 2 / 3, "hmean": 4 / 7})
    assert metrics["counts"] == {"images": 2, "gt_words": 3, "dont_care": 1, "predictions": 4}
    assert metrics["dataset"] == {"annotation": str(gt_path.resolve()), "images": None}


def test_lexicon_and_icdar_submission_inputs(scene, tmp_path, capsys):
    gt_path, predictions_path = scene
    tool = load_tool()
    (tmp_path / "words.txt").write_text("HELLO\nEXIT\n")
    metrics_path = tmp_path / "lexicon.yaml"
    assert tool.main(["--test-ann-files", str(gt_path), "--predictions", str(predictions_path),
                      "--lexicon", str(tmp_path / "words.txt"), "--save-metrics-to", str(metrics_path)]) == 0
    metrics = yaml.safe_load(metrics_path.read_text())
    # "hell0" snaps to HELLO, "noise" to EXIT (still a false positive), "2015" to HELLO (don't care in spotting)
    assert metrics["word_spotting"]["recall"] == pytest.approx(1.0)
    assert metrics["dataset"]["lexicon"] == str((tmp_path / "words.txt").resolve())

    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "res_img_1.txt").write_text("0,0,50,0,50,20,0,20,hello\n")
    (submission / "res_img_2.txt").write_text("")
    capsys.readouterr()
    assert tool.main(["--test-ann-files", str(gt_path), "--predictions", str(submission)]) == 0
    assert table_row(capsys.readouterr().out, "word_spotting") == ["1.0000", "0.5000", "0.6667"]


@pytest.mark.parametrize("make_input, message", [
    (lambda gt, preds, tmp: ["--test-ann-files", str(gt), "--predictions", str(tmp / "missing.json")],
     "missing.json: predictions file not found"),
    (lambda gt, preds, tmp: ["--test-ann-files", str(tmp / "none.json"), "--predictions", str(preds)],
     "none.json"),
    (lambda gt, preds, tmp: ["--test-ann-files", str(gt), "--predictions", str(preds), "--lexicon-dir", str(tmp)],
     "no per-image lexicon for 2 of 2 images (first missing: voc_img_1.txt)"),
])
def test_bad_input_exits_2_with_one_error_line(scene, tmp_path, capsys, make_input, message):
    gt_path, predictions_path = scene
    assert load_tool().main(make_input(gt_path, predictions_path, tmp_path)) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1


def test_predictions_for_unknown_images_are_rejected(scene, capsys):
    gt_path, predictions_path = scene
    predictions_path.write_text(json.dumps([prediction(9, 0, 0, 5, 5, 0.5, "x")]))
    assert load_tool().main(["--test-ann-files", str(gt_path), "--predictions", str(predictions_path)]) == 2
    assert "image id(s) not in" in capsys.readouterr().err


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as info:
        load_tool().parse_args(["--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    for flag in ("--test-ann-files", "--predictions", "--lexicon", "--lexicon-dir", "--save-metrics-to",
                 "--test-data-roots"):
        assert flag in help_text


def test_runs_as_a_script_from_another_directory(scene, tmp_path):
    gt_path, predictions_path = scene
    completed = subprocess.run([sys.executable, str(TOOL), "--test-ann-files", str(gt_path), "--predictions",
                                str(predictions_path)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "e2e_recognition" in completed.stdout
