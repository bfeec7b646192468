"""The recognition-head stage (text_spotting.training.recognition_stage, tools/train_recognizer.py): jittered boxes,
word features (attention kind) and word crops (ctc kind) of real images, training only the head (or only its unfrozen
part), and a checkpoint in which nothing else changed."""
import collections
import subprocess

import numpy as np
import pytest
import torch

from conftest import BUNDLED_DATA, CTC_TEMPLATE, PYTHON, REPO_ROOT, run_tool_env, torch_threads
from text_spotting.models.word_crops import CropSpec
from text_spotting.training.recognition_stage import (CROP_RECOGNIZER_PREFIX, TEXT_HEAD_PREFIX, WordCrops,
                                                      WordFeatures, extract_word_features, extract_words,
                                                      jitter_boxes, recognition_accuracy, save_with_text_head,
                                                      train_text_head)

CPU_TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"


def test_jittered_boxes_stay_near_and_non_empty():
    boxes = np.array([[10, 20, 110, 40], [5, 5, 6, 6]], dtype=np.float32)
    rng = np.random.default_rng(0)
    assert np.allclose(jitter_boxes(boxes, 0.0, rng), boxes)
    for _ in range(50):
        moved = jitter_boxes(boxes, 0.5, rng)
        assert moved.shape == (2, 4)
        assert np.all(moved[:, 2] > moved[:, 0]) and np.all(moved[:, 3] > moved[:, 1])
        assert np.all(np.abs(moved[0] - boxes[0]) <= 0.5 * 20 + 1e-4)  # height 20: edges move <= 10 px


def test_word_features_split_holds_out_a_share():
    words = WordFeatures(torch.zeros(20, 1, 2, 2), [f"w{i}" for i in range(20)])
    kept, held = words.split(0.1, seed=1)
    assert (len(kept), len(held)) == (18, 2)
    assert sorted(kept.texts + held.texts) == sorted(words.texts)
    assert len(WordFeatures(torch.zeros(2, 1, 2, 2), ["a", "b"]).split(0.01)[1]) == 1


def test_word_crops_batch_is_padded_like_one_image_at_inference():
    spec = CropSpec(height=4, min_width=16, width_stride=8)
    crops = [torch.full((3, 4, width), 0.5, dtype=torch.float16) for width in (5, 30, 16)]
    words = WordCrops(crops, ["a", "b", "c"], spec)
    batch = words.batch([0, 2])
    assert batch.dtype == torch.float32 and tuple(batch.shape) == (2, 3, 4, 16)  # at least min_width
    assert torch.all(batch[0, :, :, :5] == 0.5) and torch.all(batch[0, :, :, 5:] == 0)  # raw gray padding
    assert tuple(words.batch([1]).shape) == (1, 3, 4, 32)  # the widest, rounded up to the stride
    kept, held = words.split(0.34, seed=0)
    assert (len(kept), len(held)) == (2, 1) and sorted(kept.texts + held.texts) == ["a", "b", "c"]
    assert words.nbytes() == 3 * 4 * (5 + 30 + 16) * 2


def test_word_crops_batches_cover_every_word_once_per_pass_in_width_buckets():
    spec = CropSpec(height=2, min_width=8, width_stride=8)
    widths = [int(w) for w in np.random.default_rng(0).integers(1, 200, size=40)]
    words = WordCrops([torch.zeros((3, 2, w), dtype=torch.float16) for w in widths], [str(i) for i in range(40)], spec)
    draw = words.batches(4, torch.Generator().manual_seed(0), pool=5)  # pools of 20 words: 2 per pass
    one_pass = [next(draw) for _ in range(10)]
    assert sorted(i for batch in one_pass for i in batch) == list(range(40))
    for batch in one_pass:  # a batch holds neighbours in width order within its pool of 20 words
        assert len(batch) == 4 and [widths[i] for i in batch] == sorted(widths[i] for i in batch)
    mean_batch_width = np.mean([max(widths[i] for i in batch) for batch in one_pass])
    random_batches = np.random.default_rng(1).permutation(40).reshape(10, 4)
    assert mean_batch_width < np.mean([max(widths[i] for i in batch) for batch in random_batches])
    next_pass = [next(draw) for _ in range(10)]
    assert sorted(i for batch in next_pass for i in batch) == list(range(40)) and next_pass != one_pass


@pytest.fixture(scope="module")
def seeded_model_checkpoint(tmp_path_factory):
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.templates import load_config
    from text_spotting.checkpoint import atomic_save

    torch.manual_seed(0)
    cfg = load_config(CPU_TEMPLATE)
    path = tmp_path_factory.mktemp("recognizer") / "base.pth"
    atomic_save({"state_dict": EagerTextSpotter(cfg).model.state_dict(), "meta": {"epoch": 3}}, path)
    return cfg, path


def test_training_the_head_changes_only_the_head(seeded_model_checkpoint, tmp_path):
    from torch.utils.data import Subset

    from text_spotting.evaluation.model_evaluation import build_test_dataset
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.checkpoint import read_checkpoint

    cfg, base = seeded_model_checkpoint
    spotter = EagerTextSpotter(cfg, base)
    dataset = Subset(build_test_dataset(cfg, [str(BUNDLED_DATA / "annotation.json")], [str(BUNDLED_DATA)]), [0, 1])
    with torch_threads(2):
        words = extract_word_features(spotter.model, dataset, copies=2, jitter=0.1, progress=False)
        assert len(words) > 0 and len(words) % 2 == 0
        assert words.features.dtype == torch.float16 and tuple(words.features.shape[1:]) == (64, 28, 28)
        assert all(count % 2 == 0 for count in collections.Counter(words.texts).values())  # each word twice
        log = train_text_head(spotter.model.roi_head.text_head, words, iterations=3, batch_size=8, progress=False,
                              held_out=words, eval_every=3)
    assert [entry["iteration"] for entry in log] == [3] and np.isfinite(log[0]["loss"])
    assert 0.0 <= log[0]["accuracy"] <= 1.0
    assert recognition_accuracy(spotter.model.roi_head.text_head, WordFeatures(words.features[:0], [])) != 0.0

    out = tmp_path / "recognizer.pth"
    save_with_text_head(base, spotter.model, out, meta={"recognition_stage": "test"})
    before, after = read_checkpoint(base), read_checkpoint(out)
    assert after["meta"] == {"epoch": 3, "recognition_stage": "test"}
    changed = {name for name, tensor in after["state_dict"].items()
               if not torch.equal(tensor, before["state_dict"][name])}
    assert changed and all(name.startswith(TEXT_HEAD_PREFIX) for name in changed)
    EagerTextSpotter(cfg, out)  # loads back into the template's model


def test_tool_trains_and_writes_a_checkpoint_and_rejects_bad_flags(seeded_model_checkpoint, tmp_path):
    _, base = seeded_model_checkpoint
    out = tmp_path / "recognizer" / "latest.pth"
    tool = [PYTHON, REPO_ROOT / "tools" / "train_recognizer.py", "--load-weights", base, "--template", CPU_TEMPLATE,
            "--train-ann-files", BUNDLED_DATA / "annotation.json", "--train-data-roots", BUNDLED_DATA]
    result = subprocess.run([*map(str, tool), "--save-checkpoints-to", str(out.parent), "--max-images", "2", "--iterations", "2",
                             "--batch-size", "4", "--threads", "2", "--no-progress"],
                            env=run_tool_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.is_file() and "held-out accuracy" in result.stdout
    bad = subprocess.run([*map(str, tool), "--save-checkpoints-to", str(out.parent), "--iterations", "0"], env=run_tool_env(),
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--iterations must be at least 1" in bad.stderr


def test_ctc_kind_cuts_crops_and_trains_only_the_unfrozen_part_of_the_recognizer(tmp_path):
    from torch.utils.data import Subset

    from text_spotting.checkpoint import atomic_save, read_checkpoint
    from text_spotting.evaluation.model_evaluation import build_test_dataset
    from text_spotting.inference import EagerTextSpotter
    from text_spotting.templates import load_config

    torch.manual_seed(0)
    cfg = load_config(REPO_ROOT / "model_templates" / CTC_TEMPLATE)
    base = tmp_path / "base.pth"
    atomic_save({"state_dict": EagerTextSpotter(cfg).model.state_dict(), "meta": {"epoch": 1}}, base)
    spotter = EagerTextSpotter(cfg, base)
    dataset = Subset(build_test_dataset(cfg, [str(BUNDLED_DATA / "annotation.json")], [str(BUNDLED_DATA)]), [0, 1])
    head = spotter.model.text_recognizer
    with torch_threads(2):
        words = extract_words(spotter.model, dataset, copies=2, jitter=0.1, progress=False)
        assert isinstance(words, WordCrops) and len(words) > 0 and len(words) % 2 == 0
        assert all(crop.dtype == torch.float16 and crop.shape[:2] == (3, head.crop_spec.height)
                   for crop in words.crops)
        assert all(count % 2 == 0 for count in collections.Counter(words.texts).values())  # each word twice
        with pytest.raises(ValueError, match="ctc kind"):
            extract_word_features(spotter.model, dataset, progress=False)
        frozen = ("recognizer.backbone.stem", "recognizer.backbone.stages.0")
        log = train_text_head(head, words, iterations=2, batch_size=4, learning_rate=1e-3, progress=False,
                              held_out=words.subset(range(4)), eval_every=2, frozen=frozen)
        with pytest.raises(ValueError, match="no parameter"):
            train_text_head(head, words, iterations=1, frozen=("recognizer",), progress=False)
    assert np.isfinite(log[0]["loss"]) and 0.0 <= log[0]["accuracy"] <= 1.0
    out = tmp_path / "recognizer.pth"
    save_with_text_head(base, spotter.model, out)
    before, after = read_checkpoint(base)["state_dict"], read_checkpoint(out)["state_dict"]
    changed = {name for name, tensor in after.items() if not torch.equal(tensor, before[name])}
    assert changed and all(name.startswith(CROP_RECOGNIZER_PREFIX) for name in changed)
    assert not any(name.startswith(tuple(CROP_RECOGNIZER_PREFIX + prefix for prefix in frozen)) for name in changed)
