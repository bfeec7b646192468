"""The learning test: the CPU template's text spotter, trained from scratch on a handful of generated images with
large clear words, overfits them -- detection hmean >= 0.8 and recognition accuracy >= 0.8 on those images.

It proves that the losses, the RoI sampling of the recognition head and the inference path fit together: a model that
cannot learn these four images cannot learn anything. Everything but the sizes is the template's own: its model (same
architecture, random init), its training pipeline without the random augmentations, its thresholds, and ``eval.py``'s
scoring code (``evaluate_model``: ``TextSpottingMetric`` plus recognition on the ground-truth boxes).

Measured on a 2-core machine: ~1 minute (75 iterations at ~0.7 s), up to ~3 minutes with the cores shared.
"""
import random
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmdet.registry import DATASETS

from conftest import torch_threads
from text_spotting.datasets.annotation_io import save_coco_text
from text_spotting.evaluation.model_evaluation import evaluate_model
from text_spotting.inference import EagerTextSpotter
from text_spotting.templates import CONFIG_FILE, apply_template, load_template

CPU_TEMPLATE = Path(__file__).resolve().parents[1] / 'model_templates' / 'text-spotting-cpu-attention'

IMAGE_SIZE = (256, 160)  # width, height: also the network input, so images are not resized
WORDS_PER_IMAGE = [['cat', 'sun'], ['dog', 'red', 'map'], ['box', 'hat', 'pen'], ['cup', 'ink']]
FONT = cv2.FONT_HERSHEY_SIMPLEX  # built into OpenCV: no font files needed
FONT_SCALE, FONT_THICKNESS = 1.4, 3  # ~30 px high letters
BOX_MARGIN = 2  # px of background around the ink in each ground-truth box

SEED = 0
# Measured with seeds 0-2: after 40 iterations detection hmean 1.0, recognition accuracy 0.2-0.3; after 50: 1.0 and
# 0.7-0.9; after 60: 1.0 and 1.0. At 75, seeds 0-4 all give 1.0 and 1.0.
ITERATIONS = 75
LEARNING_RATE = 3e-3


@pytest.fixture(autouse=True)
def two_torch_threads():
    with torch_threads(2):
        yield


# --------------------------------------------------------------------------------------------------------------------
# Data
def draw_word(image: np.ndarray, word: str, origin: tuple[int, int], color: int) -> list[float]:
    """Draws ``word`` (dark on light, anti-aliased) into ``image`` [H, W, 3] uint8 in place, its baseline starting at
    ``origin`` (x, y); returns the tight box ``[x1, y1, x2, y2]`` of its ink, widened by ``BOX_MARGIN``."""
    ink = np.zeros(image.shape[:2], np.uint8)
    cv2.putText(ink, word, origin, FONT, FONT_SCALE, 255, FONT_THICKNESS, cv2.LINE_AA)
    alpha = ink[..., None].astype(np.float32) / 255.0
    image[:] = np.round(image * (1 - alpha) + color * alpha).astype(np.uint8)
    rows, columns = np.nonzero(ink)
    height, width = ink.shape
    return [float(max(columns.min() - BOX_MARGIN, 0)), float(max(rows.min() - BOX_MARGIN, 0)),
            float(min(columns.max() + 1 + BOX_MARGIN, width)), float(min(rows.max() + 1 + BOX_MARGIN, height))]


def write_word_images(directory: Path, seed: int = SEED) -> Path:
    """One image per entry of ``WORDS_PER_IMAGE`` (plain light background, one big dark word per horizontal band,
    at a random x) and their "COCO with text" file; returns the annotation file's path (images next to it)."""
    rng = np.random.default_rng(seed)
    width, height = IMAGE_SIZE
    coco = {'images': [], 'annotations': [], 'categories': [{'id': 1, 'name': 'text'}]}
    for image_id, words in enumerate(WORDS_PER_IMAGE, start=1):
        image = np.full((height, width, 3), rng.integers(190, 256, size=3), np.uint8)
        band = height // len(words)
        for row, word in enumerate(words):
            (text_width, text_height), _ = cv2.getTextSize(word, FONT, FONT_SCALE, FONT_THICKNESS)
            origin = (int(rng.integers(8, width - text_width - 8)), row * band + (band + text_height) // 2)
            x1, y1, x2, y2 = draw_word(image, word, origin, color=int(rng.integers(0, 70)))
            coco['annotations'].append({
                'id': len(coco['annotations']) + 1, 'image_id': image_id, 'category_id': 1, 'iscrowd': 0,
                'bbox': [x1, y1, x2 - x1, y2 - y1], 'area': (x2 - x1) * (y2 - y1),
                'segmentation': [[x1, y1, x2, y1, x2, y2, x1, y2]],
                'text': {'transcription': word, 'legible': True, 'language': 'english'}})
        file_name = f'words_{image_id}.png'
        cv2.imwrite(str(directory / file_name), image)
        coco['images'].append({'id': image_id, 'file_name': file_name, 'width': width, 'height': height})
    ann_file = directory / 'words.json'
    save_coco_text(coco, ann_file)
    return ann_file


def test_word_boxes_are_tight_around_the_ink(tmp_path):
    ann_file = write_word_images(tmp_path)
    image = cv2.imread(str(tmp_path / 'words_1.png'))
    background = image[0, 0].astype(int)
    ink = np.abs(image.astype(int) - background).max(axis=2) > 0
    dataset = DATASETS.build(dict(type='CocoTextDataset', data_root=str(tmp_path), ann_file=ann_file.name,
                                  test_mode=True, pipeline=[]))
    boxes = [instance['bbox'] for instance in dataset[0]['instances']]
    assert [instance['text'] for instance in dataset[0]['instances']] == WORDS_PER_IMAGE[0]
    covered = np.zeros_like(ink)
    for x1, y1, x2, y2 in np.round(boxes).astype(int):
        covered[y1:y2, x1:x2] = True
        assert not ink[y1:y1 + 1, x1:x2].any() and not ink[y2 - 1:y2, x1:x2].any()  # margin rows are background
    assert ink[covered].sum() == ink.sum()  # every inked pixel is inside a word box


# --------------------------------------------------------------------------------------------------------------------
# Model and training
def is_random_augmentation(step: dict) -> bool:
    return step['type'].startswith('Random') or step['type'] == 'PhotoMetricDistortion'


def learning_config() -> Config:
    """The CPU template's config at ``IMAGE_SIZE``, with fewer proposals and sampled RoIs (training budgets, not the
    architecture: four small images hold ten words) and its training pipeline without random augmentation."""
    template = load_template(CPU_TEMPLATE)
    template['input_size'] = list(IMAGE_SIZE)
    cfg = apply_template(Config.fromfile(str(CPU_TEMPLATE / CONFIG_FILE)), template)
    train_cfg, test_cfg = cfg.model.train_cfg, cfg.model.test_cfg
    train_cfg.rpn.sampler.num = 64
    train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    train_cfg.rcnn.sampler.num = 32
    test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    cfg.train_pipeline = [step for step in cfg.train_pipeline if not is_random_augmentation(step)]
    return cfg


def training_batch(cfg: Config, ann_file: Path) -> dict:
    """Every image of ``ann_file`` through the training pipeline, collated into one batch."""
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg.update(data_root=str(ann_file.parent), ann_file=ann_file.name, pipeline=cfg.train_pipeline)
    dataset = DATASETS.build(dataset_cfg)
    return pseudo_collate([dataset[index] for index in range(len(dataset))])


def recompute_batchnorm_statistics(model: torch.nn.Module, data: dict) -> None:
    """Replaces every BatchNorm layer's running mean/variance with the statistics of ``data`` (a preprocessed
    training batch) at the model's current weights ("precise BN"). Weights are untouched.

    Why: at inference BatchNorm normalizes with running averages (momentum 0.1) collected while the weights moved.
    From scratch, early activations are far larger than late ones and the running variances remember them for dozens
    of iterations (after 65, some of the backbone's were still ~700x the variance of the current batch), so the
    eval-mode network differs from the one that was trained. Measured without this step: after this test's 75
    iterations, detection hmean 1.0 but recognition accuracy 0.3 (1.0 with it); in a 65-iteration run on five images,
    training losses near 0, yet detection hmean 0 and recognition accuracy 0, and recomputing the backbone's
    statistics alone gave 1.0 and 1.0. Long trainings forget the early phase; this one is too short.
    """
    norms = [module for module in model.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: after one batch, exactly its statistics
    model.train()
    with torch.no_grad():
        model.loss(data['inputs'], data['data_samples'])  # also runs the recognition head's BatchNorms on word RoIs
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum


def overfit(model: torch.nn.Module, batch: dict, iterations: int, learning_rate: float) -> dict:
    """Full-batch Adam with a one-cycle schedule (warm-up, then cosine annealing to ~0), then BatchNorm statistics
    recomputed at the final weights; leaves the model in eval mode. Returns the last step's logged losses."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=iterations,
                                                   pct_start=0.1)
    data = model.data_preprocessor(batch, True)
    for _ in range(iterations):
        total, log_vars = model.parse_losses(model.loss(data['inputs'], data['data_samples']))
        optimizer.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=35)
        optimizer.step()
        schedule.step()
    recompute_batchnorm_statistics(model, data)
    model.eval()
    return {key: round(float(value.detach()), 4) for key, value in log_vars.items()}


@pytest.mark.slow
def test_cpu_model_overfits_a_few_images_of_large_clear_words(tmp_path):
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    random.seed(SEED)
    ann_file = write_word_images(tmp_path)
    cfg = learning_config()
    spotter = EagerTextSpotter(cfg)  # random init, as training from scratch starts

    start = time.perf_counter()
    last_losses = overfit(spotter.model, training_batch(cfg, ann_file), ITERATIONS, LEARNING_RATE)
    seconds = time.perf_counter() - start
    metrics = evaluate_model(spotter, [str(ann_file)], [str(tmp_path)], progress=False).metrics

    report = (f"after {ITERATIONS} iterations ({seconds:.0f} s): detection {metrics['detection']}, recognition "
              f"{metrics['recognition']}, e2e {metrics['e2e_recognition']}, last losses {last_losses}")
    print(report)
    assert metrics['counts']['gt_words'] == sum(len(words) for words in WORDS_PER_IMAGE), report
    assert metrics['detection']['hmean'] >= 0.8, report
    assert metrics['recognition']['accuracy'] >= 0.8, report
