"""A training stage for the recognition head alone, on frozen detector features.

Joint training reads ~32 words per step at the cost of a whole Mask R-CNN step, and an attention decoder learnt from
scratch spends a long time as a language model (the same frequent words for every box) before its attention locks
onto the characters. This stage runs the frozen backbone + FPN once per image, keeps the 28x28 text RoI features of
every legible ground-truth word (plus copies of slightly jittered boxes, like the detector's own boxes at test
time), and then trains only the encoder and decoder of the recognition head on large batches of those features:
many more words per second on a CPU. The detector is untouched, so its outputs do not change.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from mmdet.structures.bbox import bbox2roi
from mmengine.dataset import pseudo_collate
from tqdm import tqdm

from ..checkpoint import atomic_save, read_checkpoint
from ..evaluation.text import texts_match
from ..models.ground_truth import legible_gt_words

TEXT_HEAD_PREFIX = "roi_head.text_head."


@dataclass
class WordFeatures:
    """Text RoI features of words and their transcriptions.

    Attributes:
        features: ``[N, C, S, S]`` float16 RoI features (what the recognition head's encoder reads).
        texts: ``N`` transcriptions.
    """

    features: torch.Tensor
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def split(self, fraction: float, seed: int = 0) -> tuple["WordFeatures", "WordFeatures"]:
        """``(rest, held_out)`` with about ``fraction`` of the words held out (at least one when there are two)."""
        count = len(self)
        held = min(count - 1, max(1 if count > 1 else 0, int(round(count * fraction))))
        order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
        held_ids, kept_ids = order[:held], order[held:]
        return (WordFeatures(self.features[kept_ids], [self.texts[i] for i in kept_ids.tolist()]),
                WordFeatures(self.features[held_ids], [self.texts[i] for i in held_ids.tolist()]))


def jitter_boxes(boxes: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """``[N, 4]`` x1, y1, x2, y2 boxes with each edge moved by up to ``amount`` x the box height (both axes use the
    height: a word is much wider than tall, and its height is what a detector gets wrong by), kept non-empty."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    moved = boxes + rng.uniform(-amount, amount, size=boxes.shape).astype(np.float32) * heights[:, None]
    x1, x2 = np.minimum(moved[:, 0], moved[:, 2] - 1), np.maximum(moved[:, 2], moved[:, 0] + 1)
    y1, y2 = np.minimum(moved[:, 1], moved[:, 3] - 1), np.maximum(moved[:, 3], moved[:, 1] + 1)
    return np.stack([x1, y1, x2, y2], axis=1)


@torch.no_grad()
def extract_word_features(model: torch.nn.Module, dataset, copies: int = 2, jitter: float = 0.1, seed: int = 0,
                          progress: bool = True) -> WordFeatures:
    """Text RoI features of the legible words of every image of ``dataset`` (a test-pipeline dataset: images
    resized like at inference), ``copies`` per word: the ground-truth box, then jittered ones (:func:`jitter_boxes`).
    Words the recognition head cannot encode (characters outside its alphabet, too long) are left out."""
    model.eval()
    codec = model.roi_head.text_head.codec
    rng = np.random.default_rng(seed)
    features, texts = [], []
    for index in tqdm(range(len(dataset)), desc="extracting word features", unit="img", disable=not progress,
                      dynamic_ncols=True):
        data = model.data_preprocessor(pseudo_collate([dataset[index]]), False)
        sample = data["data_samples"][0]
        gt_boxes, gt_texts = legible_gt_words(sample)
        encodable = codec.encode(gt_texts)[1] if gt_texts else torch.zeros(0, dtype=torch.bool)
        if not bool(encodable.any()):
            continue
        boxes = gt_boxes[encodable].numpy()
        words = [text for text, ok in zip(gt_texts, encodable.tolist()) if ok]
        all_boxes = [boxes] + [jitter_boxes(boxes, jitter, rng) for _ in range(copies - 1)]
        rois = bbox2roi([torch.from_numpy(np.concatenate(all_boxes)).to(data["inputs"].device)])
        feats = model.roi_head._text_feats(model.extract_feat(data["inputs"]), rois)
        features.append(feats.half().cpu())
        texts.extend(words * copies)
    if not texts:
        raise ValueError("no legible word that the recognition head can encode was found in the dataset")
    return WordFeatures(torch.cat(features), texts)


def recognition_accuracy(text_head: torch.nn.Module, words: WordFeatures, batch_size: int = 256) -> float:
    """Share of ``words`` the head reads right (greedy decoding; texts compared like the word-spotting metric:
    normalised, ignoring case)."""
    if not len(words):
        return float("nan")
    was_training = text_head.training
    text_head.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(words), batch_size):
            ids, _ = text_head(words.features[start:start + batch_size].float())
            read = text_head.codec.decode(ids[:, :text_head.codec.max_length])
            right += sum(texts_match(truth, text) for text, truth in zip(read, words.texts[start:start + batch_size]))
    text_head.train(was_training)
    return right / len(words)


def train_text_head(text_head: torch.nn.Module, words: WordFeatures, iterations: int, batch_size: int = 128,
                    learning_rate: float = 1e-3, seed: int = 0, held_out: WordFeatures | None = None,
                    eval_every: int = 0, progress: bool = True, on_eval=None) -> list[dict]:
    """AdamW with a short linear warm-up and cosine decay on random batches of ``words``; returns a log of
    ``{iteration, loss[, accuracy]}`` (the mean loss since the previous entry; accuracy on ``held_out``).
    ``on_eval(entry)`` is called after each log entry (e.g. to save a checkpoint, so a stopped run keeps its work)."""
    text_head.train()
    optimizer = torch.optim.AdamW(text_head.parameters(), lr=learning_rate, weight_decay=1e-4)
    warmup = max(1, min(100, iterations // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (
        1 + math.cos(math.pi * min(step, iterations) / iterations)))
    generator = torch.Generator().manual_seed(seed)
    log, losses = [], []
    eval_every = eval_every or max(1, iterations // 10)
    bar = tqdm(range(iterations), desc="training the recognition head", unit="it", disable=not progress,
               dynamic_ncols=True)
    for iteration in bar:
        batch = torch.randint(len(words), (min(batch_size, len(words)),), generator=generator)
        loss = text_head.loss(words.features[batch].float(), [words.texts[i] for i in batch.tolist()])["loss_text"]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(text_head.parameters(), 35.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if (iteration + 1) % eval_every == 0 or iteration + 1 == iterations:
            entry = {"iteration": iteration + 1, "loss": float(np.mean(losses))}
            if held_out is not None and len(held_out):
                entry["accuracy"] = recognition_accuracy(text_head, held_out)
            log.append(entry)
            losses = []
            bar.set_postfix({k: round(v, 4) for k, v in entry.items() if k != "iteration"})
            if on_eval is not None:
                on_eval(entry)
    return log


def save_with_text_head(base_checkpoint: str | Path, model: torch.nn.Module, out: str | Path,
                        meta: dict | None = None) -> None:
    """Writes ``out``: the weights of ``base_checkpoint`` with the recognition head's tensors taken from ``model``,
    and the base's meta plus ``meta`` (no optimizer state: a new schedule starts from it with --load-weights)."""
    base = read_checkpoint(base_checkpoint)
    state = dict(base["state_dict"])
    replaced = 0
    for name, tensor in model.state_dict().items():
        if name.startswith(TEXT_HEAD_PREFIX):
            state[name] = tensor.detach().cpu().clone()
            replaced += 1
    if not replaced:
        raise ValueError("the model has no recognition head tensors (roi_head.text_head.*)")
    merged_meta = {key: value for key, value in (base.get("meta") or {}).items()
                   if isinstance(value, (str, int, float, bool)) or value is None}
    merged_meta.update(meta or {})
    atomic_save({"state_dict": state, "meta": merged_meta}, out)


def summarize(log: Sequence[dict]) -> str:
    """One line per log entry: iteration, loss and held-out accuracy."""
    return "\n".join(f"  iteration {entry['iteration']:>6}: loss {entry['loss']:.4f}"
                     + (f", held-out accuracy {entry['accuracy']:.3f}" if "accuracy" in entry else "")
                     for entry in log)
