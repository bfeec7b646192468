"""The synthetic scene-text generator: text, fonts, geometry, tight ground truth, determinism, real-word pasting,
the command-line tools and the bundled sample set."""
import dataclasses
import filecmp
import importlib.util
import json
import math
import string
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from text_spotting.datasets.annotation_io import load_coco_text, make_word_annotation, new_coco_text, save_coco_text
from text_spotting.geometry import order_quad_clockwise, polygon_area
from text_spotting.synthetic import (PRESETS, RealWordBank, SceneGenerator, SyntheticDataError, TextSampler,
                                     crop_quad, discover_fonts, generate_dataset, parse_size, render_word)
from text_spotting.synthetic.backgrounds import color_ramp, make_background
from text_spotting.synthetic.dataset_writer import DEFAULT_ALPHABET, round_floats, sorted_keys
from text_spotting.synthetic.fonts import INK_ALPHA_THRESHOLD, ink_box
from text_spotting.synthetic.layout import (block_homography, box_corners, convex_polygons_overlap, local_scale,
                                            polygon_mask, project_points, quad_height, tilted_rectangle,
                                            to_pixel_centre_homography, translation)
from text_spotting.synthetic.scene import contrasting_color, luminance
from text_spotting.synthetic.vocabulary import apply_case, attach_punctuation, number_like, pseudo_word
from text_spotting.visualization import dataset_contact_sheet, draw_ground_truth, words_from_annotations

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "horizontal_text_detection"
SMALL = dataclasses.replace(PRESETS["scene"], width=320, height=192, max_text_size=60.0)


@pytest.fixture(scope="module")
def bundled_fonts():
    return discover_fonts("bundled")


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- text ------------------------------------------------------------------------------------------------------------

def test_text_sampler_is_deterministic_and_mostly_inside_the_alphabet():
    sampler = TextSampler()
    first = [sampler.sample(np.random.default_rng([7, i])) for i in range(400)]
    again = [sampler.sample(np.random.default_rng([7, i])) for i in range(400)]
    assert first == again
    assert all(word and " " not in word for word in first)
    inside = [all(ch in DEFAULT_ALPHABET for ch in word.lower()) for word in first]
    assert np.mean(inside) > 0.75
    assert any(word.isupper() for word in first) and any(word.islower() for word in first)
    assert any(word[0].isupper() and word[1:].islower() for word in first if len(word) > 1)
    assert any(any(ch.isdigit() for ch in word) for word in first)
    assert len(set(first)) > 250


def test_word_helpers():
    assert apply_case("sale", "upper") == "SALE"
    assert apply_case("SALE", "title") == "Sale"
    with pytest.raises(ValueError):
        apply_case("x", "snake")
    rng = np.random.default_rng(0)
    assert all(w.isalpha() and w.islower() for w in (pseudo_word(rng, 2) for _ in range(50)))
    assert all(number_like(rng) for _ in range(50))
    punctuated = [attach_punctuation("open", rng) for _ in range(50)]
    assert all("open" in w and w != "open" for w in punctuated)


# -- fonts -----------------------------------------------------------------------------------------------------------

def test_discover_fonts_finds_usable_faces_only(bundled_fonts):
    names = [face.name for face in bundled_fonts]
    assert "DejaVuSans" in names and "DejaVuSerif-Bold" in names and "pillow_default" in names
    assert any(face.kind == "hershey" for face in bundled_fonts)
    assert not any("LastResort" in n or n.startswith(("cmsy", "cmex", "STIXSiz")) for n in names)
    assert len(names) == len(set(names))
    assert discover_fonts("bundled") == bundled_fonts  # same order every time
    assert all(face.covers(string.ascii_letters + string.digits) for face in bundled_fonts)


def test_ink_box_is_the_tight_extent_in_pixel_edges():
    alpha = np.zeros((10, 12), np.float32)
    alpha[3:6, 4:9] = 1.0
    alpha[2, 4] = INK_ALPHA_THRESHOLD / 2  # faint fringe is not ink
    assert ink_box(alpha) == (4.0, 3.0, 9.0, 6.0)
    assert ink_box(np.zeros((3, 3), np.float32)) is None


@pytest.mark.parametrize("kind", ["truetype", "pillow_default", "hershey"])
def test_rendered_word_ink_box_fits_its_glyphs(bundled_fonts, kind):
    face = next(f for f in bundled_fonts if f.kind == kind)
    word = render_word("Quality 42!", face, 30, stroke_px=2)
    x1, y1, x2, y2 = (int(v) for v in word.ink_box)
    ink = word.alpha >= INK_ALPHA_THRESHOLD
    assert ink[:, x1].any() and ink[:, x2 - 1].any() and ink[y1].any() and ink[y2 - 1].any()
    outside = ink.copy()
    outside[y1:y2, x1:x2] = False
    assert not outside.any()
    assert word.outline is not None and word.outline.max() > 0.5
    assert 15 < y2 - y1 < 45 and x2 - x1 > 3 * (y2 - y1)


# -- geometry --------------------------------------------------------------------------------------------------------

def test_project_points_and_pixel_convention():
    shift = translation(3.0, -2.0)
    assert np.allclose(project_points(shift, [[0, 0], [1, 1]]), [[3, -2], [4, -1]])
    # A translation is the same in both conventions; a scaling by 2 about the origin is not.
    assert np.allclose(to_pixel_centre_homography(shift), shift)
    doubled = to_pixel_centre_homography(np.diag([2.0, 2.0, 1.0]))
    assert np.allclose(project_points(doubled, [[-0.5, -0.5]]), [[-0.5, -0.5]])  # edge 0 stays edge 0
    assert np.allclose(project_points(doubled, [[0.0, 0.0]]), [[0.5, 0.5]])  # centre of pixel 0 -> edge 1


def test_tilted_rectangle_and_block_homography():
    flat = tilted_rectangle(40, 10, 0, 0, 0, focal=100)
    assert np.allclose(flat, box_corners((-20, -5, 20, 5)))
    turned = tilted_rectangle(40, 10, 0, 0, 90, focal=100)
    assert np.allclose(turned, [[5, -20], [5, 20], [-5, 20], [-5, -20]])
    yawed = tilted_rectangle(40, 10, 40, 0, 0, focal=100)
    left_side, right_side = yawed[3, 1] - yawed[0, 1], yawed[2, 1] - yawed[1, 1]
    assert abs(left_side - right_side) > 0.05 * left_side  # perspective: the far side looks shorter
    homography = block_homography(200, 50, centre=(300, 150), yaw_deg=30, pitch_deg=10, roll_deg=-20)
    assert np.allclose(project_points(homography, [[100, 25]]), [[300, 150]])
    assert local_scale(homography, np.array([100.0, 25.0])) == pytest.approx(1.0)


def test_polygon_mask_covers_the_polygon_and_at_most_one_pixel_more():
    mask = polygon_mask((8, 8), [box_corners((1, 1, 4, 3))])
    centres_inside = np.zeros((8, 8), np.uint8)
    centres_inside[1:3, 1:4] = 1
    assert np.all(mask[centres_inside == 1] == 1)
    assert np.all(cv2.dilate(centres_inside, np.ones((3, 3), np.uint8))[mask == 1] == 1)
    shifted = polygon_mask((4, 4), [box_corners((5, 5, 7, 7))], origin=(4, 4))
    assert shifted[1:3, 1:3].all() and not shifted[0, 0]
    assert quad_height(box_corners((0, 0, 10, 4))) == pytest.approx(4.0)


def test_convex_polygons_overlap():
    square = box_corners((0, 0, 10, 10))
    assert convex_polygons_overlap(square, box_corners((5, 5, 15, 15)))
    assert convex_polygons_overlap(square, box_corners((2, 2, 4, 4)))  # one inside the other
    assert not convex_polygons_overlap(square, box_corners((10, 0, 20, 10)))  # touching edges
    diamond = np.array([[15, 5], [20, 10], [15, 15], [10, 10]], np.float64)
    assert not convex_polygons_overlap(box_corners((0, 0, 10.5, 10.5)) - 0.6, diamond)  # boxes overlap, shapes not
    assert convex_polygons_overlap(square[::-1], diamond - [1, 0])  # either winding order


def test_contrasting_color_differs_in_luminance():
    rng = np.random.default_rng(3)
    for reference in ([0, 0, 0], [255, 255, 255], [128, 128, 128], [20, 200, 90]):
        reference = np.array(reference, np.float32)
        color = contrasting_color(rng, reference, 90.0)
        assert abs(luminance(color) - luminance(reference)) >= 60


def test_background_photo_leaves_out_the_name_plate():
    from text_spotting.synthetic.backgrounds import PHOTO_TEXT_FREE_ROWS, _sample_rasters

    photos = [raster for raster in _sample_rasters() if raster.ndim == 3]
    assert all(photo.shape[0] == PHOTO_TEXT_FREE_ROWS for photo in photos)


def test_color_ramp_and_backgrounds():
    ramp = color_ramp(np.array([[0.0, 0.5, 1.0]], np.float32), np.array([[0, 0, 0], [200, 100, 50]], np.float32))
    assert np.allclose(ramp[0, 0], 0) and np.allclose(ramp[0, 2], [200, 100, 50]) and np.allclose(ramp[0, 1],
                                                                                                  [100, 50, 25],
                                                                                                  atol=1)
    for i in range(8):
        background = make_background(np.random.default_rng([1, i]), 48, 64)
        assert background.shape == (48, 64, 3) and background.dtype == np.float32
        assert np.isfinite(background).all()


# -- scenes: tight ground truth and legibility -------------------------------------------------------------------------

def _side_gaps(quad, points):
    """Distance from each side of a quad to the nearest of ``points``."""
    gaps = []
    for a, b in zip(quad, np.roll(quad, -1, axis=0)):
        direction = (b - a) / np.linalg.norm(b - a)
        normal = np.array([-direction[1], direction[0]])
        gaps.append(float(np.abs((points - a) @ normal).min()))
    return gaps


def test_word_quads_tightly_fit_the_drawn_ink(bundled_fonts):
    config = dataclasses.replace(SMALL, degradation=0.0, occlusion_prob=0.0, max_tilt=45.0, max_rotation=40.0)
    generator = SceneGenerator(config, bundled_fonts)
    checked = 0
    for index in range(10):
        scene = generator.generate(np.random.default_rng([11, index]))
        for k, word in enumerate(scene.words):
            assert np.all(word.quad >= 0) and np.all(word.quad[:, 0] <= config.width)
            assert np.all(word.quad[:, 1] <= config.height)
            ys, xs = np.nonzero(scene.ink_labels == k + 1)
            if len(xs) < 30:
                continue
            centres = np.stack([xs + 0.5, ys + 0.5], axis=1)
            contour = word.quad.astype(np.float32).reshape(-1, 1, 2)
            # every ink pixel lies inside its quad (1 px tolerance for resampling)...
            assert min(cv2.pointPolygonTest(contour, (float(x), float(y)), True) for x, y in centres[::5]) > -1.0
            # ...and every side of the quad touches the ink,
            assert max(_side_gaps(word.quad, centres)) < 3.5, word.text
            # so the quad is about as large as the ink's own minimum-area rectangle.
            corners = np.concatenate([centres + offset for offset in ([-.5, -.5], [.5, -.5], [.5, .5], [-.5, .5])])
            (_, _), (w, h), _ = cv2.minAreaRect(corners.astype(np.float32))
            assert polygon_area(word.quad) < 1.45 * w * h, word.text
            checked += 1
    assert checked > 30


def test_words_that_cannot_be_read_are_dont_care(bundled_fonts):
    config = dataclasses.replace(SMALL, min_text_size=4.0, max_text_size=30.0, occlusion_prob=1.0)
    generator = SceneGenerator(config, bundled_fonts)
    reasons = set()
    for index in range(12):
        for word in generator.generate(np.random.default_rng([12, index])).words:
            reasons.add(word.reason)
            assert word.legible == (word.reason == "")
            if word.legible:
                assert quad_height(word.quad) >= config.min_legible_height
                assert word.visible_fraction >= config.min_visible_fraction
    assert {"", "small", "occluded"} <= reasons


def test_scene_is_a_pure_function_of_the_generator_state(bundled_fonts):
    generator = SceneGenerator(SMALL, bundled_fonts)
    first = generator.generate(np.random.default_rng([4, 2]))
    second = generator.generate(np.random.default_rng([4, 2]))
    assert np.array_equal(first.image, second.image)
    assert [w.text for w in first.words] == [w.text for w in second.words]
    assert all(np.array_equal(a.quad, b.quad) for a, b in zip(first.words, second.words))


# -- the dataset writer ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The same 6 images made with 1 and with 2 workers, and with another seed."""
    root = tmp_path_factory.mktemp("synthetic")
    out = {}
    for name, seed, workers in (("one", 5, 1), ("two", 5, 2), ("other", 6, 2)):
        out[name] = root / name
        generate_dataset(out[name], 6, seed, SMALL, workers=workers, font_source="bundled", progress=False)
    return out


def _same_tree(left: Path, right: Path) -> bool:
    left_files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    right_files = sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    return left_files == right_files and all(filecmp.cmp(left / p, right / p, shallow=False) for p in left_files)


def test_output_is_byte_identical_whatever_the_worker_count(generated):
    assert _same_tree(generated["one"], generated["two"])
    assert len(list((generated["one"] / "images").glob("*.jpg"))) == 6
    other = (generated["other"] / "annotation.json").read_bytes()
    assert other != (generated["one"] / "annotation.json").read_bytes()


def test_written_annotations_are_valid_coco_with_text(generated):
    ann_file = generated["one"] / "annotation.json"
    coco = load_coco_text(ann_file)
    assert [c["name"] for c in coco["categories"]] == ["text"]
    assert len(coco["images"]) == 6 and len(coco["annotations"]) > 10
    assert json.loads(ann_file.read_text()) == sorted_keys(coco)  # keys written in sorted order
    for image in coco["images"]:
        decoded = cv2.imread(str(generated["one"] / image["file_name"]))
        assert decoded.shape == (image["height"], image["width"], 3) == (192, 320, 3)
    for ann in coco["annotations"]:
        polygon = ann["segmentation"][0]
        assert len(polygon) == 8 and all(round(v, 2) == v for v in polygon)
        quad = np.array(polygon).reshape(4, 2)
        assert np.allclose(order_quad_clockwise(quad), quad)
        assert quad[:, 0].min() >= 0 and quad[:, 0].max() <= 320 and quad[:, 1].min() >= 0 and quad[:, 1].max() <= 192
        x, y, w, h = ann["bbox"]
        assert x == pytest.approx(quad[:, 0].min()) and x + w == pytest.approx(quad[:, 0].max(), abs=0.011)
        assert y == pytest.approx(quad[:, 1].min()) and y + h == pytest.approx(quad[:, 1].max(), abs=0.011)
        assert ann["area"] == pytest.approx(polygon_area(polygon), abs=0.01)
        legible = ann["text"]["legible"]
        assert ann["iscrowd"] == int(not legible)
        assert (ann["text"]["transcription"] == "###") == (not legible)
        assert ann["category_id"] == 1


def test_generated_dataset_loads_through_mmdet_registry(generated):
    from mmdet.registry import DATASETS

    import text_spotting.datasets  # noqa: F401  (registers CocoTextDataset)

    dataset = DATASETS.build(dict(type="CocoTextDataset", data_root=str(generated["one"]),
                                  ann_file="annotation.json", pipeline=[], test_mode=True))
    assert len(dataset) == 6
    info = dataset.get_data_info(0)
    assert Path(info["img_path"]).is_file() and (info["width"], info["height"]) == (320, 192)
    coco = load_coco_text(generated["one"] / "annotation.json")
    first_image_words = [a for a in coco["annotations"] if a["image_id"] == coco["images"][0]["id"]]
    assert [i["text"] or "###" for i in info["instances"]] == [a["text"]["transcription"] for a in first_image_words]


def test_workers_start_after_opencv_threads_ran_in_the_parent(tmp_path):
    """Forked workers used to deadlock in their first OpenCV call when the parent had OpenCV pool threads."""
    script = f"""
import dataclasses, cv2, numpy as np
from text_spotting.synthetic import PRESETS, generate_dataset
cv2.setNumThreads(4)
photo = np.zeros((720, 1280, 3), np.uint8)
config = dataclasses.replace(PRESETS['scene'], width=160, height=96)
for run in range(2):
    for _ in range(50):  # like cutting real words out of photos
        cv2.warpPerspective(photo, np.eye(3) + 1e-3, (120, 40))
    generate_dataset({str(tmp_path)!r} + f'/d{{run}}', 2, 0, config, workers=2, font_source='bundled', progress=False)
assert cv2.getNumThreads() == 4
print('done')
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("done")


def test_writer_refuses_bad_arguments_and_occupied_folders(tmp_path, generated):
    with pytest.raises(SyntheticDataError, match="already holds a dataset"):
        generate_dataset(generated["one"], 1, 0, SMALL, progress=False)
    with pytest.raises(SyntheticDataError, match="num-images"):
        generate_dataset(tmp_path / "x", 0, 0, SMALL, progress=False)
    with pytest.raises(SyntheticDataError, match="seed"):
        generate_dataset(tmp_path / "x", 1, -1, SMALL, progress=False)
    with pytest.raises(SyntheticDataError, match="max-text-size"):
        generate_dataset(tmp_path / "x", 1, 0, dataclasses.replace(SMALL, max_text_size=4.0), progress=False)
    with pytest.raises(SyntheticDataError, match="max-blocks"):
        generate_dataset(tmp_path / "x", 1, 0, dataclasses.replace(SMALL, max_blocks=0), progress=False)
    with pytest.raises(SyntheticDataError, match="font source"):
        generate_dataset(tmp_path / "x", 1, 0, SMALL, font_source="comic", progress=False)
    with pytest.raises(SyntheticDataError, match="WIDTHxHEIGHT"):
        parse_size("640by384")
    assert parse_size("640x384") == (640, 384)
    (tmp_path / "mine" / "images").mkdir(parents=True)
    (tmp_path / "mine" / "images" / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(SyntheticDataError, match="did not write"):
        generate_dataset(tmp_path / "mine", 1, 0, SMALL, overwrite=True, progress=False)


def test_round_floats_and_sorted_keys():
    assert round_floats({"a": [1.234567, 2.0, 3], "b": 0.005}) == {"a": [1.23, 2, 3], "b": 0.01}
    assert list(sorted_keys({"b": 1, "a": {"d": 1, "c": 2}})) == ["a", "b"]


# -- real words ------------------------------------------------------------------------------------------------------

@pytest.fixture
def tiny_real_dataset(tmp_path):
    """One 200x120 photo-like image with a word drawn in an axis-aligned box and a don't-care region."""
    image = np.full((120, 200, 3), 90, np.uint8)
    cv2.putText(image, "HELLO", (22, 58), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (250, 250, 250), 3, cv2.LINE_AA)
    cv2.imwrite(str(tmp_path / "photo.png"), image)
    coco = new_coco_text()
    coco["images"].append({"id": 1, "file_name": "photo.png", "width": 200, "height": 120})
    coco["annotations"].append(make_word_annotation(1, 1, [20, 25, 130, 25, 130, 65, 20, 65], "HELLO"))
    coco["annotations"].append(make_word_annotation(2, 1, [150, 80, 190, 80, 190, 100, 150, 100], "###", False))
    save_coco_text(coco, tmp_path / "real.json")
    return tmp_path / "real.json", tmp_path, image


def test_crop_quad_unwarps_to_the_same_pixels():
    image = np.arange(40 * 60 * 3, dtype=np.uint8).reshape(40, 60, 3)
    crop = crop_quad(image, box_corners((10, 5, 30, 25)))
    assert np.array_equal(crop, image[5:25, 10:30])


def test_real_words_are_cut_out_and_pasted_with_their_text(tiny_real_dataset, tmp_path, bundled_fonts):
    ann_file, root, image = tiny_real_dataset
    bank = RealWordBank.from_coco(str(ann_file), str(root), progress=False)
    assert len(bank) == 1 and bank.words[0].text == "HELLO"
    assert np.array_equal(bank.words[0].patch, image[25:65, 20:130])
    config = dataclasses.replace(SMALL, real_word_prob=1.0, occlusion_prob=0.0, degradation=0.0)
    generate_dataset(tmp_path / "out", 3, 1, config, font_source="bundled", real_words=bank, progress=False)
    coco = load_coco_text(tmp_path / "out" / "annotation.json")
    texts = {a["text"]["transcription"] for a in coco["annotations"]}
    assert texts <= {"HELLO", "###"} and "HELLO" in texts
    assert coco["info"]["real_words"] == str(ann_file)


# -- tools -----------------------------------------------------------------------------------------------------------

def test_generator_tool_writes_a_dataset_and_the_gallery_tool_draws_it(tmp_path, capsys):
    generator_tool, gallery_tool = load_tool("generate_synthetic_dataset"), load_tool("make_gallery")
    assert generator_tool.main(["--output", str(tmp_path / "d"), "--num-images", "2", "--size", "160x96",
                                "--workers", "1", "--fonts", "bundled", "--preset", "horizontal"]) == 0
    assert "2 images" in capsys.readouterr().out
    coco = load_coco_text(tmp_path / "d" / "annotation.json")
    assert coco["info"]["scene_config"]["max_rotation"] == PRESETS["horizontal"].max_rotation
    assert gallery_tool.main([str(tmp_path / "d" / "annotation.json"), str(tmp_path / "d"),
                              "--output", str(tmp_path / "sheet.png"), "--num", "2", "--columns", "2",
                              "--tile-width", "160"]) == 0
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet.shape == (96, 320, 3)


def test_generator_tool_reports_bad_input_in_one_line(tmp_path, capsys):
    generator_tool = load_tool("generate_synthetic_dataset")
    assert generator_tool.main(["--output", str(tmp_path / "d"), "--num-images", "2", "--size", "huge"]) == 2
    assert capsys.readouterr().err.strip() == "error: size 'huge': expected WIDTHxHEIGHT, e.g. 640x384"
    assert generator_tool.main(["--output", str(tmp_path / "d"), "--num-images", "1",
                                "--real-words", str(tmp_path / "missing.json"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.json" in err and len(err.strip().splitlines()) == 1


def test_draw_ground_truth_marks_legible_green_and_dont_care_red():
    image = np.zeros((40, 60, 3), np.uint8)
    anns = [make_word_annotation(1, 1, [5, 5, 25, 5, 25, 15, 5, 15], "ok"),
            make_word_annotation(2, 1, [30, 20, 55, 20, 55, 35, 30, 35], "###", False)]
    drawn = draw_ground_truth(image, words_from_annotations(anns), thickness=1, with_text=False)
    # edges at pixel-edge y = 5 and y = 20 are drawn anti-aliased over the two pixel rows that meet there
    assert drawn[4:6, 15, 1].sum() > 150 and drawn[4:6, 15, 2].max() == 0  # legible word: green
    assert drawn[19:21, 45, 2].sum() > 200 and drawn[19:21, 45, 1].max() == 0  # don't-care region: red
    assert not image.any()  # the input is left alone


# -- the bundled sample set -------------------------------------------------------------------------------------------

def test_bundled_sample_set_is_intact():
    coco = load_coco_text(BUNDLED / "annotation.json")
    assert 30 <= len(coco["images"]) <= 60
    legible = [a for a in coco["annotations"] if a["text"]["legible"]]
    assert len(legible) > 5 * len(coco["images"])
    for image in coco["images"]:
        path = BUNDLED / image["file_name"]
        decoded = cv2.imread(str(path))
        assert decoded is not None, path
        assert decoded.shape[:2] == (image["height"], image["width"])
    angles = []
    for ann in legible:
        quad = np.array(ann["segmentation"][0]).reshape(4, 2)
        top = quad[1] - quad[0]
        angles.append(abs(math.degrees(math.atan2(top[1], top[0]))))
    assert np.median(angles) < 3.0  # mostly horizontal text
    total_bytes = sum(p.stat().st_size for p in BUNDLED.rglob("*") if p.is_file())
    assert total_bytes < 8 * 1024 * 1024
    sheet = dataset_contact_sheet(str(BUNDLED / "annotation.json"), str(BUNDLED), num_images=2, columns=2,
                               tile_width=320)
    assert sheet.shape == (192, 640, 3)
