"""The ctc kind: CTC codec and greedy decoding, the word-crop routine (upright crops of rotated and vertical words),
the CTCCropRecognitionHead (loss, reading known crops with the imported PP-OCRv6 weights) and the model's reading of
given words."""
import cv2
import numpy as np
import pytest
import torch

from conftest import CTC_TEMPLATE, REPO_ROOT, torch_threads
from text_spotting.models.ctc import CTCCodec, ctc_greedy_decode, ctc_min_frames, ctc_texts, softmax
from text_spotting.models.word_crops import CropSpec, crop_width, cut_word_crops, padded_width, word_quad

SPEC = CropSpec()


def one_hot_path(path, num_classes, confidence=0.9):
    probabilities = np.full((len(path), num_classes), (1 - confidence) / (num_classes - 1), np.float32)
    probabilities[np.arange(len(path)), path] = confidence
    return probabilities


def test_codec_encodes_case_sensitive_words_and_counts_ctc_frames():
    codec = CTCCodec("abcAB-")
    targets, lengths = codec.encode(["aB", "cc"])
    assert targets.tolist() == [1, 5, 3, 3] and lengths.tolist() == [2, 2]
    assert codec.num_classes == 7 and codec.decode_ids([1, 5, 0, 99]) == "aB"
    assert not codec.is_encodable("x") and not codec.is_encodable("")
    assert ctc_min_frames("aab") == 4 and codec.is_encodable("aab", max_frames=4)
    assert not codec.is_encodable("aab", max_frames=3)
    with pytest.raises(ValueError, match="upper-case"):
        CTCCodec("aB", case_sensitive=False)


def test_greedy_decode_merges_repeats_drops_blanks_and_scores_the_mean_character_probability():
    # a a _ a b b _ -> "aab" (a blank separates the two a's)
    probabilities = one_hot_path([1, 1, 0, 1, 2, 2, 0], 4, 0.8)[None]
    ids, scores = ctc_greedy_decode(probabilities)
    assert ids == [[1, 1, 2]]
    np.testing.assert_allclose(scores, [0.8])
    empty_ids, empty_scores = ctc_greedy_decode(one_hot_path([0, 0, 0], 4)[None])
    assert empty_ids == [[]] and empty_scores[0] == 0
    texts, _ = ctc_texts(np.concatenate([probabilities, probabilities]), CTCCodec("ab?"), 0.0)
    assert texts == ["aab", "aab"]
    assert ctc_texts(probabilities, CTCCodec("ab?"), 0.81)[0] == [""]
    np.testing.assert_allclose(softmax(np.log(probabilities)), probabilities, rtol=1e-5)


def rendered_word(text="Text42", scale=1.6, thickness=3):
    """A white word on black, and its quad (clockwise from the top-left)."""
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    image = np.zeros((height + baseline + 40, width + 40, 3), np.uint8)
    cv2.putText(image, text, (20, 20 + height), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness)
    quad = np.array([[14, 12], [width + 26, 12], [width + 26, height + baseline + 28], [14, height + baseline + 28]],
                    np.float64)
    return image, quad


def rotate(image, quad, angle):
    """The image rotated by ``angle`` degrees (counter-clockwise, canvas grown) and the quad moved with it."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos + 0.5), int(height * cos + width * sin + 0.5)
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    rotated = cv2.warpAffine(image, matrix, (new_w, new_h))
    moved = np.hstack([quad, np.ones((4, 1))]) @ matrix.T
    return rotated, moved


def crop_of(image, quad):
    crops, widths = cut_word_crops(image, [quad], SPEC, pad_value=0.0)
    return crops[0, 0, :, :widths[0]]


@pytest.mark.parametrize("angle", [20, -30, -90])
def test_crops_of_rotated_and_vertical_words_come_out_upright(angle):
    """-90: a word turned clockwise, read top to bottom (a book spine); a quad alone can't tell it from one read
    bottom to top, which comes out upside down (PP-OCR's convention too)."""
    image, quad = rendered_word()
    upright = crop_of(image, quad)
    rotated, moved = rotate(image, quad, angle)
    # the quad's corners in any order: the crop routine orders them itself
    crop = crop_of(rotated, np.roll(moved, 1, axis=0))
    assert abs(crop.shape[1] - upright.shape[1]) <= 2
    width = min(crop.shape[1], upright.shape[1])
    difference = np.abs(crop[:, :width] - upright[:, :width]).mean()
    flipped = np.abs(crop[::-1, ::-1][:, :width] - upright[:, :width]).mean()
    assert difference < 25 and difference < flipped / 2, (difference, flipped)


def test_crop_geometry_width_by_aspect_turning_and_padding():
    wide = np.array([[0, 0], [96, 0], [96, 24], [0, 24]], np.float64)
    assert crop_width(wide, SPEC) == (192, False)
    tall = np.array([[0, 0], [20, 0], [20, 100], [0, 100]], np.float64)
    assert crop_width(tall, SPEC) == (240, True)
    assert padded_width([100, 200], SPEC) == 320 and padded_width([325], SPEC) == 328
    crops, widths = cut_word_crops(np.full((50, 120, 3), 7, np.uint8), [wide, tall], SPEC, pad_value=127.5)
    assert crops.shape == (2, 3, 48, 320) and widths.tolist() == [192, 240]
    assert np.all(crops[0, :, :, :192] == 7) and np.all(crops[0, :, :, 192:] == 127.5)
    # a polygon with more points is cut along its minimum-area rectangle
    octagon = np.array([[10, 0], [90, 0], [100, 10], [100, 20], [90, 30], [10, 30], [0, 20], [0, 10]], np.float64)
    np.testing.assert_allclose(word_quad(octagon), [[0, 0], [100, 0], [100, 30], [0, 30]], atol=1e-6)


@pytest.fixture(scope="module")
def ctc_model(imported_ppocr):
    """text-spotting-cpu's model (ctc kind) with the imported weights (detector heads at their init)."""
    from mmdet.registry import MODELS

    from text_spotting import register_all_modules
    from text_spotting.templates import load_config

    register_all_modules()
    cfg = load_config(REPO_ROOT / "model_templates" / CTC_TEMPLATE)
    model = MODELS.build(cfg.model)
    missing = model.load_state_dict(imported_ppocr["state_dict"], strict=False)
    assert not missing.unexpected_keys
    return model.eval()


def normalised_tensor(image):
    return torch.from_numpy((image.astype(np.float32).transpose(2, 0, 1) - 127.5) / 127.5)


def test_head_reads_known_crops_with_the_imported_recognizer(ctc_model):
    words = ["Hello", "WORLD", "Exit 42"]
    canvas = np.full((200, 600, 3), 255, np.uint8)
    quads = []
    for row, word in enumerate(words):
        image, quad = rendered_word(word)
        image = 255 - image  # black on white
        height, width = image.shape[:2]
        canvas[row * 64:row * 64 + min(height, 64), :width] = image[:64]
        quads.append(quad + [0, row * 64])
    with torch_threads(2):
        texts, scores = ctc_model.text_recognizer.predict(normalised_tensor(canvas), quads)
        read = ctc_model.read_words(normalised_tensor(canvas)[None], [quads])
    assert texts == words and read == [words]
    assert all(0.5 < score <= 1 for score in scores.tolist())


def test_head_loss_is_lower_for_the_right_text_and_trains_the_recognizer(ctc_model):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import PolygonMasks
    from mmengine.structures import InstanceData

    image, quad = rendered_word("Hello")
    image = 255 - image

    def sample(text):
        gt = InstanceData()
        gt.masks = PolygonMasks([[quad.reshape(-1)]], image.shape[0], image.shape[1])
        gt.texts = [text]
        result = DetDataSample()
        result.gt_instances = gt
        return result

    head = ctc_model.text_recognizer
    head.train_jitter = 0.0
    inputs = normalised_tensor(image)[None]
    with torch_threads(2), torch.no_grad():
        right = head.loss(inputs, [sample("Hello")])["loss_text"].item()
        wrong = head.loss(inputs, [sample("Jelly")])["loss_text"].item()
        skipped = head.loss(inputs, [sample("Hellö")])
    assert right < wrong / 5, (right, wrong)
    assert skipped["text_words_out_of_alphabet"].item() == 1 and skipped["loss_text"].item() == 0
    head.train()
    head.requires_grad_(True)  # the template freezes it (training.frozen_modules); fine-tuning unfreezes it
    loss = head.loss(inputs, [sample("Hello")])["loss_text"]
    loss.backward()
    classifier = head.recognizer.classifier.weight
    assert classifier.grad is not None and classifier.grad.abs().sum() > 0
    head.zero_grad()
    head.requires_grad_(False)
    head.eval()
