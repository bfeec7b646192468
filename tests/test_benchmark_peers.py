"""tools/benchmark_peers.py and text_spotting.peers: line->word split, peers' outputs as words, scoring and timing
plumbing, the results table, and skipping a peer that is not installed."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import torch_threads
from text_spotting.evaluation import ImageGroundTruth
from text_spotting.inference import SpottedWord
from text_spotting.peers import (Method, MethodResult, PeerUnavailable, RapidOCRSpotter, TesseractSpotter,
                                 benchmark_context, format_results_table, load_benchmark_set, rectified_crop,
                                 results_markdown, run_method, save_results, split_line_into_words, word_spans,
                                 words_from_tesseract_data, words_from_text_lines)
from text_spotting.peers.benchmark import crop_reader, legible_regions
from text_spotting.peers.engines import texts_of_pages

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOL = REPO_ROOT / "tools" / "benchmark_peers.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("benchmark_peers_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def installed(*modules: str, program: str | None = None) -> bool:
    """Whether the Python modules (and the program, when named) of a peer are there, without loading it."""
    return all(importlib.util.find_spec(module) for module in modules) and (program is None or
                                                                         shutil.which(program) is not None)


# ---------------------------------------------------------------------------------------------------------------
# line -> words


def test_word_spans_cover_each_run_of_non_space_characters():
    assert word_spans("ab  cd e") == [(0, 2), (4, 6), (7, 8)]
    assert word_spans("   ") == []


def test_split_gives_each_word_its_share_of_the_line_spaces_included():
    line = np.array([[0, 0], [50, 0], [50, 10], [0, 10]], dtype=float)
    words = split_line_into_words(line, "ab cd")  # 5 characters of 10 px each
    assert [word for _, word in words] == ["ab", "cd"]
    np.testing.assert_allclose(words[0][0], [[0, 0], [20, 0], [20, 10], [0, 10]])
    np.testing.assert_allclose(words[1][0], [[30, 0], [50, 0], [50, 10], [30, 10]])


def test_split_of_one_word_is_the_whole_line():
    line = np.array([[3, 4], [40, 6], [39, 20], [2, 18]], dtype=float)
    (quad, word), = split_line_into_words(line, "EXIT")
    assert word == "EXIT"
    np.testing.assert_allclose(quad, line)


def test_split_follows_a_slanted_line_and_counts_repeated_spaces():
    # top edge (0,0)->(90,45), bottom edge (-10,20)->(80,65): each of the 9 characters moves (10, 5) along the line
    line = np.array([[0, 0], [90, 45], [80, 65], [-10, 20]], dtype=float)
    words = split_line_into_words(line, "a  bcd  e")
    assert [word for _, word in words] == ["a", "bcd", "e"]
    np.testing.assert_allclose(words[1][0], [[30, 15], [60, 30], [50, 50], [20, 35]])
    np.testing.assert_allclose(words[2][0][1], [90, 45])


def test_split_of_a_blank_line_is_empty_and_a_non_quad_is_refused():
    assert split_line_into_words(np.zeros((4, 2)), "  ") == []
    with pytest.raises(ValueError, match="4 points"):
        split_line_into_words(np.zeros((5, 2)), "abc")


def test_words_from_text_lines_carry_the_line_score():
    lines = [np.array([[0, 0], [40, 0], [40, 10], [0, 10]], dtype=float),
             np.array([[0, 20], [10, 20], [10, 30], [0, 30]], dtype=float)]
    words = words_from_text_lines(lines, ["no way", "x"], [0.9, 0.5])
    assert [(word.text, word.score, word.text_score) for word in words] == [("no", 0.9, 0.9), ("way", 0.9, 0.9),
                                                                            ("x", 0.5, 0.5)]
    np.testing.assert_allclose(words[1].bbox, [20, 0, 40, 10])


def test_tesseract_words_keep_word_rows_with_text_and_a_confidence():
    data = {"level": [1, 4, 5, 5, 5, 5], "left": [0, 0, 10, 50, 90, 5], "top": [0, 0, 5, 5, 5, 40],
            "width": [200, 200, 30, 20, 10, 10], "height": [100, 20, 12, 12, 12, 12],
            "conf": [-1, -1, 96.5, "88", 50, -1], "text": ["", "", "Hello", "world ", " ", "x"]}
    words = words_from_tesseract_data(data)
    assert [(word.text, word.score) for word in words] == [("Hello", 0.965), ("world", 0.88)]
    np.testing.assert_allclose(words[0].quad, [[10, 5], [40, 5], [40, 17], [10, 17]])
    np.testing.assert_allclose(words[1].bbox, [50, 5, 70, 17])


def test_pages_of_a_multi_page_tesseract_run():
    assert texts_of_pages("549cm\n\fBOOKS\nSHOP\n\f\n\fexit\n", 4) == ["549cm", "BOOKS SHOP", "", "exit"]
    assert texts_of_pages("a\n\fb\n\f", 2) == ["a", "b"]
    with pytest.raises(RuntimeError, match="2 pages of text for 3 word images"):
        texts_of_pages("a\fb", 3)


def test_rectified_crop_of_an_upright_box_is_the_slice_and_a_turned_word_comes_out_upright():
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    upright = rectified_crop(image, [[10, 5], [30, 5], [30, 15], [10, 15]])
    np.testing.assert_array_equal(upright, image[5:15, 10:30])
    # a word written bottom-to-top: its reading-order top-left corner is the region's bottom-left pixel corner
    turned = rectified_crop(image, [[10, 30], [10, 10], [20, 10], [20, 30]])
    np.testing.assert_array_equal(turned, np.rot90(image[10:30, 10:20], k=-1))


# ---------------------------------------------------------------------------------------------------------------
# scoring and timing


def write_set(folder: Path) -> tuple[Path, list[list[tuple[list, str]]]]:
    """Two 120x80 images with two words each (one don't care) as a COCO-with-text file."""
    words = [[([10, 10, 60, 10, 60, 30, 10, 30], "Hello"), ([70, 40, 110, 40, 110, 60, 70, 60], "###")],
             [([5, 5, 50, 5, 50, 25, 5, 25], "Exit"), ([20, 40, 90, 40, 90, 70, 20, 70], "Tokyo")]]
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "text"}]}
    for image_index, image_words in enumerate(words, start=1):
        cv2.imwrite(str(folder / f"img_{image_index}.png"), np.full((80, 120, 3), 40 * image_index, np.uint8))
        coco["images"].append({"id": image_index, "file_name": f"img_{image_index}.png", "width": 120, "height": 80})
        for polygon, text in image_words:
            xs, ys = polygon[0::2], polygon[1::2]
            coco["annotations"].append({
                "id": len(coco["annotations"]) + 1, "image_id": image_index, "category_id": 1,
                "iscrowd": int(text == "###"), "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                "segmentation": [polygon], "text": {"transcription": text, "legible": text != "###",
                                                    "language": "english"}})
    ann = folder / "ann.json"
    ann.write_text(json.dumps(coco))
    return ann, words


def oracle_words(image_words) -> list[SpottedWord]:
    return [SpottedWord(quad=np.array(polygon, dtype=float).reshape(4, 2), bbox=np.zeros(4), score=0.9,
                        text=text, text_score=0.9) for polygon, text in image_words if text != "###"]


def test_run_method_scores_with_our_evaluator_and_times_every_image(tmp_path):
    ann, words = write_set(tmp_path)
    data = load_benchmark_set(ann, tmp_path)
    answers = iter([oracle_words(words[0]), oracle_words(words[1])[:1]])  # misses "Tokyo" on the second image

    def read_ground_truth(data, progress):
        gt_texts = [text for image in data.gt.images for text in legible_regions(image)[1]]
        return gt_texts, [text.replace("o", "0") for text in gt_texts]

    method = Method(name="oracle", input_size="auto", description="ground truth",
                    predict=lambda image: next(answers), read_ground_truth=read_ground_truth)
    result = run_method(method, data, warmup=0, progress=False)
    assert result.metrics["detection"] == {"precision": 1.0, "recall": 2 / 3, "hmean": 0.8}
    assert result.metrics["e2e_recognition"]["hmean"] == pytest.approx(0.8)
    assert result.metrics["counts"] == {"images": 2, "gt_words": 3, "dont_care": 1, "predictions": 2}
    # "Hello" -> "Hell0", "Exit" stays, "Tokyo" -> "T0ky0": 3 wrong characters of 14
    assert result.metrics["recognition"] == {"accuracy": pytest.approx(1 / 3), "cer": pytest.approx(3 / 14)}
    assert len(result.latencies_ms) == 2 and result.mean_ms >= 0


def test_limit_keeps_the_first_images_and_a_missing_image_is_one_clear_error(tmp_path):
    ann, _ = write_set(tmp_path)
    data = load_benchmark_set(ann, tmp_path, limit=1)
    assert len(data) == 1 and data.gt.file_names == ["img_1.png"] and len(data.gt.images) == 1
    (tmp_path / "img_2.png").unlink()
    from text_spotting.evaluation import EvaluationError

    with pytest.raises(EvaluationError, match=r"1 image file\(s\) not found .*img_2.png"):
        load_benchmark_set(ann, tmp_path)


def test_crop_reader_hands_each_image_its_legible_regions(tmp_path):
    ann, _ = write_set(tmp_path)
    data = load_benchmark_set(ann, tmp_path)
    seen = []

    def read_words(image, polygons):
        seen.append((image.shape, len(polygons)))
        return ["x"] * len(polygons)

    gt_texts, read_texts = crop_reader(read_words)(data, False)
    assert gt_texts == ["Hello", "Exit", "Tokyo"] and read_texts == ["x", "x", "x"]
    assert seen == [((80, 120, 3), 1), ((80, 120, 3), 2)]
    assert legible_regions(ImageGroundTruth()) == ([], [])


def sample_results() -> list[MethodResult]:
    metrics = {"detection": {"precision": 0.5, "recall": 0.25, "hmean": 1 / 3},
               "word_spotting": {"precision": 0.4, "recall": 0.2, "hmean": 0.26667},
               "e2e_recognition": {"precision": 0.3, "recall": 0.1, "hmean": 0.15},
               "counts": {"images": 2, "gt_words": 8, "dont_care": 1, "predictions": 4}}
    return [MethodResult("ours eager (text-spotting-cpu-attention)", "640x384", "PyTorch", dict(metrics, recognition={
        "accuracy": 0.5, "cer": 0.125}), [100.0, 200.0, 300.0], {"detector": 50.0}),
        MethodResult("tesseract", "auto", "Tesseract 5", metrics, [40.0, 60.0])]


def test_result_timing_summary():
    ours, peer = sample_results()
    assert ours.mean_ms == 200.0 and ours.p90_ms == pytest.approx(280.0) and ours.images_per_second == 5.0
    assert peer.images_per_second == 20.0


def test_results_table_has_one_aligned_row_per_method():
    table = format_results_table(sample_results()).splitlines()
    assert table[0].split()[:3] == ["method", "size", "det"]
    assert len(table) == 4 and len({len(line) for line in table[:3]}) == 1
    assert table[2].split()[-9:] == ["0.500", "0.250", "0.333", "0.267", "0.150", "0.125", "200.0", "280.0", "5.00"]
    assert table[3].split()[:2] == ["tesseract", "auto"] and table[3].split()[7] == "-"  # no CER measured


def test_results_saved_as_markdown_and_yaml(tmp_path):
    ann, _ = write_set(tmp_path)
    context = benchmark_context(load_benchmark_set(ann, tmp_path), 2,
                                [{"method": "rapidocr", "reason": "not installed"}])
    save_results(sample_results(), context, tmp_path / "peers.md")
    save_results(sample_results(), context, tmp_path / "peers.yaml")
    markdown = (tmp_path / "peers.md").read_text()
    assert markdown.startswith("| method | size | det P |")
    assert "| tesseract | auto | 0.500 | 0.250 | 0.333 | 0.267 | 0.150 | - | 50.0 | 58.0 | 20.00 |" in markdown
    assert "- skipped rapidocr: not installed" in markdown
    assert markdown == results_markdown(sample_results(), context)
    saved = yaml.safe_load((tmp_path / "peers.yaml").read_text())
    assert saved["threads"] == 2 and saved["dataset"]["images"] == 2
    assert saved["methods"][0]["latency_ms"] == {"mean": 200.0, "p90": 280.0}
    assert saved["methods"][0]["recognition"] == {"accuracy": 0.5, "cer": 0.125}
    assert saved["methods"][0]["stage_latency_ms"] == {"detector": 50.0}
    assert "recognition" not in saved["methods"][1]
    with pytest.raises(ValueError, match=r"\.md or \.yaml"):
        save_results(sample_results(), context, tmp_path / "peers.txt")


# ---------------------------------------------------------------------------------------------------------------
# peers that are missing or present


def test_a_peer_that_is_not_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # what `import rapidocr` meets when it is not installed
    monkeypatch.setitem(sys.modules, "pytesseract", None)
    with pytest.raises(PeerUnavailable, match="rapidocr: cannot import rapidocr .*pip install"):
        RapidOCRSpotter()
    with pytest.raises(PeerUnavailable, match="tesseract: cannot import pytesseract .*apt-get install tesseract-ocr"):
        TesseractSpotter()


def test_tool_skips_missing_peers_and_runs_the_rest(tmp_path, monkeypatch, capsys):
    """Our model (random weights) on one bundled image at two input sizes; both peers made unavailable. The work
    dir's detection threshold is raised to 0.99 so random weights find no word and the test stays short."""
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.templates import TEMPLATE_FILE, load_config, replace_top_level_block
    from text_spotting.checkpoint import atomic_save
    from text_spotting.work_dir import instantiate_template

    monkeypatch.setitem(sys.modules, "rapidocr", None)
    monkeypatch.setitem(sys.modules, "pytesseract", None)
    work_dir = tmp_path / "work_dir"
    instantiate_template(REPO_ROOT / "model_templates" / "text-spotting-cpu-attention", work_dir)
    template_file = work_dir / TEMPLATE_FILE
    template_file.write_text(replace_top_level_block(template_file.read_text(), "thresholds",
                                                     {"detection": 0.99, "recognition": 0.5}))
    with torch_threads(2):
        atomic_save({"state_dict": EagerTextSpotter(load_config(work_dir)).model.state_dict(), "meta": {}},
                    tmp_path / "random.pth")
        code = load_tool().main([
            "--test-ann-files", str(REPO_ROOT / "data" / "horizontal_text_detection" / "annotation.json"),
            "--test-data-roots", str(REPO_ROOT / "data" / "horizontal_text_detection"), "--load-weights",
            str(tmp_path / "random.pth"), "--templates", str(work_dir), "--input-sizes", "320x192,256x160",
            "--limit", "1", "--warmup", "0", "--no-progress",
            "--save-metrics-to", f"{tmp_path / 'r.md'},{tmp_path / 'r.yaml'}"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "skipped rapidocr: rapidocr: cannot import rapidocr" in printed
    assert "skipped tesseract: tesseract: cannot import pytesseract" in printed
    rows = [line.split() for line in printed.splitlines() if line.startswith("ours eager (text-spotting-cpu-attention)  ")]
    assert [row[3] for row in rows] == ["320x192", "256x160"]
    assert all(len(row) == 13 and row[9] == "1.000" for row in rows)  # random weights read nothing right: CER 1
    saved = yaml.safe_load((tmp_path / "r.yaml").read_text())
    assert [method["input_size"] for method in saved["methods"]] == ["320x192", "256x160"]
    assert saved["methods"][0]["counts"]["images"] == 1
    assert [entry["method"] for entry in saved["skipped"]] == ["rapidocr", "tesseract"]
    assert "- skipped tesseract:" in (tmp_path / "r.md").read_text()


def test_tool_rejects_bad_flags_in_one_line(capsys):
    tool = load_tool()
    for argv, message in ((["--peers", "easyocr"], "unknown peer 'easyocr'"),
                          (["--input-sizes", "640"], "expected WIDTHxHEIGHT"),
                          (["--save-metrics-to", "r.txt"], "write .md or .yaml"),
                          (["--test-ann-files", "a.json,b.json"], "takes one path here"),
                          (["--save-to", "r.md"], "--save-to is now --save-metrics-to")):
        with pytest.raises(SystemExit) as exit_info:
            tool.parse_args(["--test-ann-files", "a.json", "--test-data-roots", "."] + argv)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(not installed("rapidocr", "onnxruntime"), reason="rapidocr not installed (pip install .[peers])")
def test_rapidocr_finds_and_reads_words_of_a_bundled_image(bundled_data):
    image = cv2.imread(str(bundled_data / "images" / "000000.jpg"))
    peer = RapidOCRSpotter(threads=2)
    words = peer.predict(image)
    assert len(words) >= 3 and all(word.quad.shape == (4, 2) and " " not in word.text for word in words)
    assert peer.read_words(image, [np.array([[213, 71], [287, 71], [287, 97], [213, 97]])])[0].strip()


@pytest.mark.skipif(not installed("pytesseract", program="tesseract"),
                    reason="tesseract not installed (apt-get install tesseract-ocr, pip install pytesseract)")
def test_tesseract_reads_rendered_words():
    image = np.full((120, 400, 3), 255, np.uint8)
    cv2.putText(image, "HELLO", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4, cv2.LINE_AA)
    peer = TesseractSpotter(threads=1, psm=3)
    assert [word.text for word in peer.predict(image)] == ["HELLO"]
    assert peer.read_words(image, [np.array([[10, 20], [240, 20], [240, 100], [10, 100]]),
                                   np.array([[10, 20], [240, 20], [240, 100], [10, 100]])]) == ["HELLO", "HELLO"]
