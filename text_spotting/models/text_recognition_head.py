"""Attention-based recognition head that reads one word from each RoI's 28x28 features.

The head is three small modules so that export can cut it where OpenVINO's text-spotting models are cut (SPEC §4):
``TextEncoder`` (RoI features -> encoder outputs, run once per word) and ``AttentionDecoderStep`` (one decoding step
for every word of an image at once, run in a loop by the caller). Training runs the very same step module with teacher
forcing, so the exported decoder is exactly what was trained.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from .text_codec import EOS_INDEX, IGNORE_INDEX, SOS_INDEX, TextCodec, class_order


def sinusoidal_position_encoding_2d(channels: int, height: int, width: int) -> Tensor:
    """Fixed 2-D sine/cosine position code ``[1, channels, height, width]``.

    The first half of the channels encode x, the second half y; each half is sin/cos pairs over geometrically spaced
    frequencies (as in "Attention Is All You Need", per axis). Values are in [-1, 1].
    """
    if channels % 4:
        raise ValueError(f"a 2-D sinusoidal position encoding needs channels divisible by 4, got {channels}")
    quarter = channels // 4
    inv_freq = torch.exp(-math.log(10000.0) * torch.arange(quarter, dtype=torch.float32) / quarter)

    def encode_axis(size: int) -> Tensor:  # [2 * quarter, size]
        angles = inv_freq[:, None] * torch.arange(size, dtype=torch.float32)[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=0)

    x_code = encode_axis(width)[:, None, :].expand(-1, height, -1)
    y_code = encode_axis(height)[:, :, None].expand(-1, -1, width)
    return torch.cat([x_code, y_code], dim=0).unsqueeze(0).contiguous()


class TextEncoder(nn.Module):
    """RoI features ``[N, in_channels, S, S]`` -> encoder outputs ``[N, out_channels, S, S]``.

    ``num_convs`` x (conv3x3, BN, ReLU), then a fixed 2-D sinusoidal position code is added. Why the code: additive
    attention scores each of the S*S positions from its own feature vector and the decoder state only, and 3x3 convs
    with zero padding only tell positions apart near the RoI border. Without a position signal the decoder would have
    to infer from border effects alone which character it has already read and that the next one lies to its right.
    A fixed code (a constant in the exported graph) rather than a learned one keeps checkpoints independent of the
    RoI size.
    """

    def __init__(self, in_channels: int, out_channels: int = 256, roi_feat_size: int = 28, num_convs: int = 3) -> None:
        super().__init__()
        self.convs = nn.Sequential(*[
            ConvModule(in_channels if i == 0 else out_channels, out_channels, 3, padding=1,
                       norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'))
            for i in range(num_convs)
        ])
        # Not persistent: derived from the shapes, so it is not part of the checkpoint.
        self.register_buffer('position_encoding',
                             sinusoidal_position_encoding_2d(out_channels, roi_feat_size, roi_feat_size),
                             persistent=False)

    def forward(self, roi_feats: Tensor) -> Tensor:
        """``[N, C_in, S, S]`` -> ``[N, C_out, S, S]``."""
        return self.convs(roi_feats) + self.position_encoding


def flatten_encoder_outputs(encoder_outputs: Tensor) -> Tensor:
    """``[N, D, H, W]`` -> ``[N, H*W, D]``, the layout the decoder attends over (row-major positions)."""
    return encoder_outputs.flatten(2).transpose(1, 2)


class AttentionDecoderStep(nn.Module):
    """One step of the attention GRU decoder for every word at once.

    ``forward(prev_symbol [N] long, prev_hidden [1, N, H], encoder_outputs [N, L, D]) -> (logits [N, V], hidden
    [1, N, H])``. Steps: embed the previous symbol; additive (Bahdanau) attention of the previous hidden state over the
    L positions, ``score_l = v . tanh(encoder_outputs_l + W prev_hidden)`` (the encoder's last conv plays the role of
    the key projection, so nothing of size ``N x L x D`` is projected per step); GRU over [embedding, context]; linear
    classifier over the new hidden state.
    """

    def __init__(self, num_classes: int, encoder_channels: int, hidden_size: int,
                 embedding_size: int | None = None) -> None:
        super().__init__()
        embedding_size = embedding_size or hidden_size
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(num_classes, embedding_size)
        self.query_projection = nn.Linear(hidden_size, encoder_channels)
        self.attention_energy = nn.Linear(encoder_channels, 1, bias=False)
        self.gru = nn.GRU(embedding_size + encoder_channels, hidden_size)
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, prev_symbol: Tensor, prev_hidden: Tensor, encoder_outputs: Tensor) -> tuple[Tensor, Tensor]:
        embedded = self.embedding(prev_symbol)                                   # [N, E]
        query = self.query_projection(prev_hidden[0]).unsqueeze(1)               # [N, 1, D]
        energy = self.attention_energy(torch.tanh(encoder_outputs + query))      # [N, L, 1]
        weights = torch.softmax(energy, dim=1)                                   # [N, L, 1]
        context = torch.bmm(weights.transpose(1, 2), encoder_outputs)[:, 0]      # [N, D]
        gru_input = torch.cat([embedded, context], dim=1).unsqueeze(0)           # [1, N, E + D]
        output, hidden = self.gru(gru_input, prev_hidden)
        return self.classifier(output[0]), hidden


def teacher_forced_logits(decoder: AttentionDecoderStep, encoder_outputs: Tensor, targets: Tensor) -> Tensor:
    """Logits ``[N, T, V]`` of the decoder fed SOS and then the ground-truth symbols ``targets[:, :-1]``.

    ``targets`` ``[N, T]`` as from ``TextCodec.encode`` (padding = IGNORE_INDEX). Padding fed as input is replaced by
    EOS: it only influences steps whose targets are padding, which the loss ignores.
    """
    num_words, num_steps = targets.shape
    sos = targets.new_full((num_words, 1), SOS_INDEX)
    inputs = torch.cat([sos, targets[:, :-1]], dim=1)
    inputs = inputs.masked_fill(inputs == IGNORE_INDEX, EOS_INDEX)
    hidden = encoder_outputs.new_zeros((1, num_words, decoder.hidden_size))
    step_logits = []
    for step in range(num_steps):
        logits, hidden = decoder(inputs[:, step], hidden, encoder_outputs)
        step_logits.append(logits)
    return torch.stack(step_logits, dim=1)


@torch.no_grad()
def greedy_decode(decoder: AttentionDecoderStep, encoder_outputs: Tensor, max_steps: int) -> tuple[Tensor, Tensor]:
    """Batched greedy decoding of all words at once.

    Each word starts from SOS and a zero hidden state and feeds back its own top-1 symbol. Decoding stops after
    ``max_steps`` steps or as soon as every word has emitted EOS.

    Returns:
        ids: ``[N, max_steps]`` top-1 class ids; EOS at and after a word's first EOS.
        scores: ``[N]`` product of the top-1 probabilities of each word's steps up to and including its EOS.
    """
    num_words = encoder_outputs.shape[0]
    symbol = torch.full((num_words,), SOS_INDEX, dtype=torch.long, device=encoder_outputs.device)
    hidden = encoder_outputs.new_zeros((1, num_words, decoder.hidden_size))
    ids = torch.full((num_words, max_steps), EOS_INDEX, dtype=torch.long, device=encoder_outputs.device)
    scores = encoder_outputs.new_ones((num_words,))
    finished = torch.zeros(num_words, dtype=torch.bool, device=encoder_outputs.device)
    for step in range(max_steps):
        if bool(finished.all()):
            break
        logits, hidden = decoder(symbol, hidden, encoder_outputs)
        top_prob, symbol = logits.softmax(dim=1).max(dim=1)
        scores = torch.where(finished, scores, scores * top_prob)
        ids[:, step] = torch.where(finished, ids[:, step], symbol)
        finished = finished | (symbol == EOS_INDEX)
    return ids, scores


#: The parameters of a ``TextRecognitionHead`` with one row per class (dim 0): everything indexed by class id.
CLASS_ROWS = ("decoder.embedding.weight", "decoder.classifier.weight", "decoder.classifier.bias")


def reorder_alphabet(state_dict: dict[str, Tensor], old_alphabet: str, new_alphabet: str,
                     prefix: str = "") -> dict[str, Tensor]:
    """The weights of a ``TextRecognitionHead`` trained with ``old_alphabet``, with their class rows reordered for
    ``new_alphabet`` (the same characters in another order): a head built with ``new_alphabet`` reads exactly the
    words the old one read. Returns a new dict; the other tensors are the same objects, dtypes are kept.

    Args:
        state_dict: the head's weights, or a whole model's with the head's keys under ``prefix`` (e.g.
            ``"roi_head.text_head."``).
    """
    order = torch.tensor(class_order(old_alphabet, new_alphabet))
    reordered = dict(state_dict)
    for name in CLASS_ROWS:
        key = prefix + name
        if key not in state_dict:
            raise KeyError(f"{key!r}: not in the weights (is {prefix!r} the text head's prefix?)")
        if state_dict[key].shape[0] != len(order):
            raise ValueError(f"{key!r} has {state_dict[key].shape[0]} class rows, the alphabet {len(order)} classes")
        reordered[key] = state_dict[key][order].contiguous()
    return reordered


def sequence_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross entropy over the positions of ``targets`` ``[N, T]`` that are not IGNORE_INDEX.

    ``logits`` ``[N, T, V]``. Padding contributes nothing, whatever its logits. NaN when every position is padding:
    callers skip that case.
    """
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)


@MODELS.register_module()
class TextRecognitionHead(BaseModule):
    """Reads a word from each RoI's features ``[N, in_channels, S, S]`` (S = 28).

    Args:
        in_channels: channels of the RoI features (the FPN's out_channels).
        alphabet: characters the model reads (classes 0 = SOS, 1 = EOS, 2.. = the alphabet).
        max_length: longest word read, in characters.
        encoder_channels: D, channels of the encoder outputs the decoder attends over.
        hidden_size: H, the GRU state size.
        embedding_size: size of the previous-symbol embedding; defaults to ``hidden_size``.
        roi_feat_size: S, the RoI extractor's output size.
        recognition_threshold: at inference, words whose confidence (product of per-step top-1 probabilities) is
            below this are returned as ''.
        case_sensitive: when False, ground-truth words are lower-cased before encoding.
        loss_weight: multiplier of ``loss_text``.
    """

    def __init__(self,
                 in_channels: int,
                 alphabet: str,
                 max_length: int,
                 encoder_channels: int = 256,
                 hidden_size: int = 256,
                 embedding_size: int | None = None,
                 roi_feat_size: int = 28,
                 recognition_threshold: float = 0.5,
                 case_sensitive: bool = False,
                 loss_weight: float = 1.0,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.codec = TextCodec(alphabet, max_length, case_sensitive=case_sensitive)
        self.recognition_threshold = float(recognition_threshold)
        self.loss_weight = float(loss_weight)
        self.encoder = TextEncoder(in_channels, encoder_channels, roi_feat_size)
        self.decoder = AttentionDecoderStep(self.codec.num_classes, encoder_channels, hidden_size, embedding_size)

    def encode(self, text_feats: Tensor) -> Tensor:
        """RoI features ``[N, C, S, S]`` -> the decoder's ``encoder_outputs`` ``[N, S*S, D]``."""
        return flatten_encoder_outputs(self.encoder(text_feats))

    def forward(self, text_feats: Tensor) -> tuple[Tensor, Tensor]:
        """Greedy decoding without post-processing: ids ``[N, max_length + 1]``, scores ``[N]``."""
        return greedy_decode(self.decoder, self.encode(text_feats), self.codec.sequence_length)

    def loss(self, text_feats: Tensor, texts: list[str]) -> dict[str, Tensor]:
        """Teacher-forced cross entropy for RoI features ``[N, C, S, S]`` labelled with ``texts`` (N words).

        Words the codec cannot encode get no loss. With no encodable word the loss is a zero that is still connected
        to every parameter of the head (distributed training expects gradients for all of them).
        """
        if len(texts) != text_feats.shape[0]:
            raise ValueError(f"got {len(texts)} texts for {text_feats.shape[0]} RoI features")
        targets, valid = self.codec.encode(texts)
        valid = valid.to(text_feats.device)
        if not bool(valid.any()):
            zero = text_feats.sum() * 0 + sum(p.sum() * 0 for p in self.parameters())
            return dict(loss_text=zero)
        targets = targets.to(text_feats.device)[valid]
        # Steps past the longest word's EOS are padding for every word: skip them.
        num_steps = int((targets != IGNORE_INDEX).sum(dim=1).max())
        targets = targets[:, :num_steps]
        logits = teacher_forced_logits(self.decoder, self.encode(text_feats[valid]), targets)
        return dict(loss_text=self.loss_weight * sequence_cross_entropy(logits, targets))

    def word_loss(self, text_feats: Tensor, texts: list[str]) -> Tensor:
        """``loss_text`` of :meth:`loss` (the recognizer-alone stage's interface, shared with the CTC head)."""
        return self.loss(text_feats, texts)['loss_text']

    @torch.no_grad()
    def read_texts(self, text_feats: Tensor, thresholded: bool = False) -> list[str]:
        """Greedy words of RoI features; words below the recognition threshold are '' when ``thresholded`` (as
        :meth:`predict`; not: the accuracy of the reader alone)."""
        if text_feats.shape[0] == 0:
            return []
        if thresholded:
            return self.predict(text_feats)[0]
        ids, _ = self(text_feats)
        return self.codec.decode(ids[:, :self.codec.max_length])

    def reorder_alphabet(self, alphabet: str) -> None:
        """Makes the head (in place) use ``alphabet``, a reordering of its own, reading the same words as before."""
        self.load_state_dict(reorder_alphabet(self.state_dict(), self.codec.alphabet, alphabet))
        self.codec = TextCodec(alphabet, self.codec.max_length, case_sensitive=self.codec.case_sensitive)

    def predict(self, text_feats: Tensor) -> tuple[list[str], Tensor]:
        """Words read from RoI features ``[N, C, S, S]``: ``(texts list[str] (N), text_scores [N])``.

        A word that has not emitted EOS after ``max_length`` characters is cut there (its score still includes the
        probability of the extra step). Words scored below ``recognition_threshold`` become ''.
        """
        if text_feats.shape[0] == 0:
            return [], text_feats.new_zeros((0,))
        ids, scores = self(text_feats)
        texts = self.codec.decode(ids[:, :self.codec.max_length])
        confident = (scores >= self.recognition_threshold).tolist()
        texts = [text if ok else '' for text, ok in zip(texts, confident)]
        return texts, scores
