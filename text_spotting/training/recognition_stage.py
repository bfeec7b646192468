"""A training stage for the recognition head alone, on words cut out once (a fast stage for CPUs).

Joint training reads ~32 words per step at the cost of a whole Mask R-CNN step. This stage runs the frozen part of
the model once per image and keeps what the recognition head reads for every legible ground-truth word (plus copies
at slightly jittered places, like the detector's own boxes at test time), then trains only the recognition head on
large batches of them: many more words per second on a CPU. The detector is untouched, so its outputs do not change.
What is kept depends on the recognizer kind:

- **attention** (``roi_head.text_head``): the 28x28 text RoI features of the frozen backbone + FPN
  (:class:`WordFeatures`); an attention decoder learnt from scratch spends a long time as a language model before its
  attention locks onto the characters, which is what large batches fix;
- **ctc** (``text_recognizer``): the rectified crops of the network input that the crop recognizer reads
  (:class:`WordCrops`, cut by the same routine as at inference), for fine-tuning the text-pretrained recognizer on
  the user's words.

Both heads offer ``word_loss(inputs, texts)`` and ``read_texts(inputs)``, which is all this stage calls.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from tqdm import tqdm

from ..checkpoint import atomic_save, read_checkpoint
from ..evaluation.text import texts_match
from ..geometry import bbox_to_quad
from ..models.ground_truth import legible_gt_quads, legible_gt_words
from ..models.word_crops import CropSpec, crop_width, jitter_quad, padded_width, word_quad

TEXT_HEAD_PREFIX = "roi_head.text_head."
CROP_RECOGNIZER_PREFIX = "text_recognizer."


def recognition_head(model: torch.nn.Module) -> tuple[torch.nn.Module, str]:
    """``(head, state-dict prefix)`` of the model's recognition head: the crop recognizer (ctc kind) or the RoI text
    head (attention kind)."""
    prefix = CROP_RECOGNIZER_PREFIX if model.recognizer_kind == "ctc" else TEXT_HEAD_PREFIX
    return model.recognition_head, prefix


class _Words:
    """What :class:`WordFeatures` and :class:`WordCrops` share: ``texts``, ``subset(ids)`` and the held-out split."""

    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def split(self, fraction: float, seed: int = 0):
        """``(rest, held_out)`` with about ``fraction`` of the words held out (at least one when there are two)."""
        count = len(self)
        held = min(count - 1, max(1 if count > 1 else 0, int(round(count * fraction))))
        order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
        return self.subset(order[held:]), self.subset(order[:held])


@dataclass
class WordFeatures(_Words):
    """Text RoI features of words and their transcriptions (attention kind).

    Attributes:
        features: ``[N, C, S, S]`` float16 RoI features (what the recognition head's encoder reads).
        texts: ``N`` transcriptions.
    """

    features: torch.Tensor
    texts: list[str]

    def subset(self, ids: Sequence[int]) -> "WordFeatures":
        ids = list(ids)
        return WordFeatures(self.features[ids], [self.texts[i] for i in ids])

    def batch(self, ids: Sequence[int]) -> torch.Tensor:
        """The head's float32 input for words ``ids``."""
        return self.features[list(ids)].float()

    def nbytes(self) -> int:
        return self.features.numel() * self.features.element_size()

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[list[int]]:
        """Endless random batches of word ids (drawn with replacement)."""
        while True:
            yield torch.randint(len(self), (min(batch_size, len(self)),), generator=generator).tolist()


@dataclass
class WordCrops(_Words):
    """Rectified, normalised word crops and their transcriptions (ctc kind).

    Attributes:
        crops: ``N`` float16 ``[3, H, w_i]`` crops at their own width (no padding).
        texts: ``N`` transcriptions.
        spec: how they were cut (a batch is right-padded with zeros to :func:`padded_width`, as at inference).
    """

    crops: list[torch.Tensor]
    texts: list[str]
    spec: CropSpec

    def subset(self, ids: Sequence[int]) -> "WordCrops":
        return WordCrops([self.crops[i] for i in ids], [self.texts[i] for i in ids], self.spec)

    def batch(self, ids: Sequence[int]) -> torch.Tensor:
        """``[n, 3, H, Wp]`` float32 crops of words ``ids``, right-padded with 0 (raw gray) like one image's words
        at inference."""
        crops = [self.crops[i] for i in ids]
        width = padded_width([c.shape[2] for c in crops], self.spec)
        out = torch.zeros((len(crops), crops[0].shape[0], crops[0].shape[1], width)) if crops else torch.zeros(0)
        for row, crop in enumerate(crops):
            out[row, :, :, :crop.shape[2]] = crop.float()
        return out

    def nbytes(self) -> int:
        return sum(c.numel() * c.element_size() for c in self.crops)

    def batches(self, batch_size: int, generator: torch.Generator, pool: int = 32) -> Iterator[list[int]]:
        """Endless batches of word ids of similar width: every pass over the words is shuffled, cut into pools of
        ``pool`` batches, each pool sorted by crop width and sliced into batches, and the batches shuffled. A batch
        is as wide as its widest crop, so this keeps most batches at ``min_width`` (a random batch of 64 ICDAR words
        is ~1.8x as slow to train)."""
        batch_size = min(batch_size, len(self))
        widths = torch.tensor([crop.shape[2] for crop in self.crops])
        while True:
            order = torch.randperm(len(self), generator=generator)
            batches = []
            for start in range(0, len(order), batch_size * pool):
                chunk = order[start:start + batch_size * pool]
                chunk = chunk[torch.argsort(widths[chunk], stable=True)].tolist()
                batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
            for index in torch.randperm(len(batches), generator=generator).tolist():
                yield batches[index]


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
def extract_words(model: torch.nn.Module, dataset, copies: int = 2, jitter: float = 0.1, seed: int = 0,
                  progress: bool = True) -> WordFeatures | WordCrops:
    """What the model's recognition head reads for the legible words of every image of ``dataset`` (a
    test-pipeline dataset: images resized like at inference), ``copies`` per word: at the ground-truth place, then at
    jittered ones (boxes: :func:`jitter_boxes`; quads: corners moved by up to ``jitter`` x the word height). Words
    the head cannot encode (characters outside its alphabet, too long) are left out. The ctc kind gets
    :class:`WordCrops`, the attention kind :class:`WordFeatures`."""
    model.eval()
    head = model.recognition_head
    ctc = model.recognizer_kind == "ctc"
    rng = np.random.default_rng(seed)
    pieces, texts = [], []
    for index in tqdm(range(len(dataset)), desc="cutting out the words", unit="img", disable=not progress,
                      dynamic_ncols=True):
        data = model.data_preprocessor(pseudo_collate([dataset[index]]), False)
        sample = data["data_samples"][0]
        words, quads = (_crop_quads if ctc else _feature_quads)(head, sample, copies, jitter, rng)
        if not words:
            continue
        inputs = model.word_inputs(data["inputs"], [quads])[0]
        if ctc:  # kept at their own width (a batch is padded as it is drawn), as views of one strip per image:
            # thousands of small tensors among each image's large temporaries fragmented the heap (24 GB for 950
            # ICDAR photos, 300 MB of crops)
            widths = [crop_width(word_quad(quad), head.crop_spec)[0] for quad in quads]
            strip = torch.cat([crop[:, :, :width] for crop, width in zip(inputs, widths)], dim=2).half().cpu()
            offsets = np.cumsum([0] + widths)
            pieces.extend(strip[:, :, start:end] for start, end in zip(offsets[:-1], offsets[1:]))
        else:
            pieces.append(inputs.half().cpu())
        texts.extend(words)
    if not texts:
        raise ValueError("no legible word that the recognition head can encode was found in the dataset")
    return WordCrops(pieces, texts, head.crop_spec) if ctc else WordFeatures(torch.cat(pieces), texts)


def extract_word_features(model: torch.nn.Module, dataset, copies: int = 2, jitter: float = 0.1, seed: int = 0,
                          progress: bool = True) -> WordFeatures:
    """:func:`extract_words` of an attention-kind model."""
    if model.recognizer_kind == "ctc":
        raise ValueError("extract_word_features: the model reads crops (ctc kind); use extract_words")
    return extract_words(model, dataset, copies, jitter, seed, progress)


def _feature_quads(head, sample, copies: int, jitter: float,
                   rng: np.random.Generator) -> tuple[list[str], list[np.ndarray]]:
    """Attention kind: texts and quads (of boxes) of one image's encodable words, ``copies`` each: the ground-truth
    boxes, then jittered ones (:func:`jitter_boxes`)."""
    gt_boxes, gt_texts = legible_gt_words(sample)
    encodable = head.codec.encode(gt_texts)[1] if gt_texts else torch.zeros(0, dtype=torch.bool)
    if not bool(encodable.any()):
        return [], []
    boxes = gt_boxes[encodable].numpy()
    words = [text for text, ok in zip(gt_texts, encodable.tolist()) if ok]
    all_boxes = np.concatenate([boxes] + [jitter_boxes(boxes, jitter, rng) for _ in range(copies - 1)])
    return words * copies, [bbox_to_quad(box) for box in all_boxes]


def _crop_quads(head, sample, copies: int, jitter: float,
                rng: np.random.Generator) -> tuple[list[str], list[np.ndarray]]:
    """ctc kind: texts and quads of one image's encodable words, ``copies`` each: the ground-truth quads, then
    corners moved by up to ``jitter`` x the word height (:func:`~text_spotting.models.word_crops.jitter_quad`)."""
    max_frames = head.crop_spec.min_width // head.crop_spec.width_stride
    _, gt_texts = legible_gt_words(sample)
    chosen = [(quad, text) for quad, text in zip(legible_gt_quads(sample), gt_texts)
              if head.codec.is_encodable(text, max_frames)]
    quads = [quad for quad, _ in chosen]
    jittered = [jitter_quad(quad, jitter, rng) for _ in range(copies - 1) for quad in quads]
    return [text for _, text in chosen] * copies, quads + jittered


def recognition_accuracy(text_head: torch.nn.Module, words: WordFeatures | WordCrops, batch_size: int = 64) -> float:
    """Share of ``words`` the head reads right (greedy decoding, no recognition threshold; texts compared like the
    word-spotting metric: normalised, ignoring case)."""
    if not len(words):
        return float("nan")
    was_training = text_head.training
    text_head.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(words), batch_size):
            ids = range(start, min(start + batch_size, len(words)))
            read = text_head.read_texts(words.batch(ids))
            right += sum(texts_match(words.texts[i], text) for text, i in zip(read, ids))
    text_head.train(was_training)
    return right / len(words)


def train_text_head(text_head: torch.nn.Module, words: WordFeatures | WordCrops, iterations: int,
                    batch_size: int = 128, learning_rate: float = 1e-3, seed: int = 0,
                    held_out: WordFeatures | WordCrops | None = None,
                    eval_every: int = 0, progress: bool = True, on_eval=None,
                    frozen: Sequence[str] = ()) -> list[dict]:
    """AdamW with a short linear warm-up and cosine decay on random batches of ``words``; returns a log of
    ``{iteration, loss[, accuracy]}`` (the mean loss since the previous entry; accuracy on ``held_out``).
    ``on_eval(entry)`` is called after each log entry (e.g. to save a checkpoint, so a stopped run keeps its work).
    Parameters whose names (in the head) start with one of ``frozen`` stay as they are: freezing the first stages of a
    pretrained crop recognizer saves most of the backward pass (they run at the crops' full resolution)."""
    text_head.train()
    frozen = tuple(frozen)
    trainable = []
    for name, parameter in text_head.named_parameters():  # a template may freeze the whole head for joint training
        parameter.requires_grad_(not name.startswith(frozen) if frozen else True)
        if parameter.requires_grad:
            trainable.append(parameter)
    if not trainable:
        raise ValueError(f"frozen={list(frozen)} leaves no parameter of the recognition head to train")
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=1e-4)
    warmup = max(1, min(100, iterations // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (
        1 + math.cos(math.pi * min(step, iterations) / iterations)))
    batches = words.batches(batch_size, torch.Generator().manual_seed(seed))
    log, losses = [], []
    eval_every = eval_every or max(1, iterations // 10)
    bar = tqdm(range(iterations), desc="training the recognition head", unit="it", disable=not progress,
               dynamic_ncols=True)
    for iteration in bar:
        batch = next(batches)
        loss = text_head.word_loss(words.batch(batch), [words.texts[i] for i in batch])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 35.0)
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
    _, prefix = recognition_head(model)
    replaced = 0
    for name, tensor in model.state_dict().items():
        if name.startswith(prefix):
            state[name] = tensor.detach().cpu().clone()
            replaced += 1
    if not replaced:
        raise ValueError(f"the model has no recognition head tensors ({prefix}*)")
    merged_meta = {key: value for key, value in (base.get("meta") or {}).items()
                   if isinstance(value, (str, int, float, bool)) or value is None}
    merged_meta.update(meta or {})
    atomic_save({"state_dict": state, "meta": merged_meta}, out)


def summarize(log: Sequence[dict]) -> str:
    """One line per log entry: iteration, loss and held-out accuracy."""
    return "\n".join(f"  iteration {entry['iteration']:>6}: loss {entry['loss']:.4f}"
                     + (f", held-out accuracy {entry['accuracy']:.3f}" if "accuracy" in entry else "")
                     for entry in log)
