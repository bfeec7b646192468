"""The two small PP-OCRv6 networks (PaddleOCR, Apache-2.0) as plain torch modules.

The architecture is read from the ONNX files that RapidOCR ships (``ppocr_v6_import.py`` loads their weights): an
HGNetV2 stem, then stages of RepViT-like blocks (a depthwise 3x3 token mixer, squeeze-excite on some blocks, a GELU
feed-forward with a residual). The files come with BatchNorm folded into the convolutions, so every conv here has a
bias and no norm layer; the re-parameterised depthwise branch (3x3 + 1x1 + identity) is one plain 3x3 conv.

- ``PPOCRv6DetBackbone``: the detector's backbone, 4 maps at strides 4/8/16/32 with 48/96/192/384 channels.
- ``PPOCRv6Recognizer``: backbone with (2, 1) strides, height pooled to 1, a small transformer neck and a CTC
  classifier; returns logits ``[N, W/8, num_classes]``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdet.registry import MODELS

# One stage: (out_channels, stride of its downsampling depthwise conv or None, squeeze-excite flag of each block).
StageSpec = tuple[int, int | tuple[int, int] | None, tuple[bool, ...]]

DET_STEM_CHANNELS = (24, 48)  # (mid, out)
DET_STAGES: tuple[StageSpec, ...] = (
    (48, None, (True, False)),
    (96, 2, (True, False)),
    (192, 2, (True, False, True, False)),
    (384, 2, (True, False)),
)
REC_STEM_CHANNELS = (48, 96)
REC_STAGES: tuple[StageSpec, ...] = (
    (96, None, (True, False, False)),
    (192, (2, 1), (True, False, True, False, True, False)),
    (384, (2, 1), (True, False)),
)
REC_INPUT_HEIGHT = 48
REC_NUM_CLASSES = 18710  # blank + 18708 listed characters + space


class HGStem(nn.Module):
    """HGNetV2 stem: ``[B, 3, H, W]`` -> ``[B, out, H/4, W/4]``.

    Two branches at stride 2 (a 2x2 max-pool and two 2x2 convs, both padded right/bottom by one pixel like the ONNX
    ``SAME_UPPER``), concatenated, then a strided 3x3 and a 1x1 conv. Zero padding before the max-pool equals
    ``-inf`` padding because its input is post-ReLU.
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__()
        self.stem1 = nn.Conv2d(in_channels, mid_channels, 3, stride=2, padding=1)
        self.stem2a = nn.Conv2d(mid_channels, mid_channels // 2, 2)
        self.stem2b = nn.Conv2d(mid_channels // 2, mid_channels, 2)
        self.stem3 = nn.Conv2d(mid_channels * 2, mid_channels, 3, stride=2, padding=1)
        self.stem4 = nn.Conv2d(mid_channels, out_channels, 1)
        self.pool = nn.MaxPool2d(2, stride=1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(F.relu(self.stem1(x)), (0, 1, 0, 1))
        branch = F.relu(self.stem2a(x))
        branch = F.relu(self.stem2b(F.pad(branch, (0, 1, 0, 1))))
        x = torch.cat([self.pool(x), branch], dim=1)
        x = F.relu(self.stem3(x))
        return F.relu(self.stem4(x))


class SqueezeExcite(nn.Module):
    """Channel gate: ``x * hardsigmoid(expand(relu(reduce(mean_hw(x)))))``, reduction 4."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels // reduction, 1)
        self.expand = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        gate = x.mean(dim=(2, 3), keepdim=True)
        gate = self.expand(F.relu(self.reduce(gate)))
        return x * F.hardsigmoid(gate)


class ConvFeedForward(nn.Module):
    """Pointwise ``in -> hidden -> out`` with an exact (erf) GELU in between."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(in_channels, hidden_channels, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class RepViTBlock(nn.Module):
    """Depthwise 3x3 (+ optional squeeze-excite), then ``x + ffn(x)`` with hidden width 2C; shape unchanged."""

    def __init__(self, channels: int, use_se: bool) -> None:
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.se = SqueezeExcite(channels) if use_se else nn.Identity()
        self.ffn = ConvFeedForward(channels, channels * 2, channels)

    def forward(self, x: Tensor) -> Tensor:
        x = self.se(self.dw(x))
        return x + self.ffn(x)


class Downsample(nn.Module):
    """Strided depthwise 3x3, then pointwise ``in -> out -> out`` with a GELU (no residual)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int | tuple[int, int]) -> None:
        super().__init__()
        self.dw = nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels)
        self.ffn = ConvFeedForward(in_channels, out_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.ffn(self.dw(x))


class Stage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int | tuple[int, int] | None,
                 use_se: Sequence[bool]) -> None:
        super().__init__()
        if stride is None:
            if in_channels != out_channels:
                raise ValueError(f"a stage without downsampling keeps its width, got {in_channels} -> {out_channels}")
            self.downsample = nn.Identity()
        else:
            self.downsample = Downsample(in_channels, out_channels, stride)
        self.blocks = nn.Sequential(*[RepViTBlock(out_channels, se) for se in use_se])

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.downsample(x))


class PPOCRv6Encoder(nn.Module):
    """HGNetV2 stem + RepViT-like stages; ``forward`` returns every stage's output."""

    def __init__(self, stem_channels: tuple[int, int], stages: Sequence[StageSpec], in_channels: int = 3) -> None:
        super().__init__()
        self.stem = HGStem(in_channels, *stem_channels)
        channels = stem_channels[1]
        stage_modules = []
        for out_channels, stride, use_se in stages:
            stage_modules.append(Stage(channels, out_channels, stride, use_se))
            channels = out_channels
        self.stages = nn.ModuleList(stage_modules)
        self.out_channels = tuple(spec[0] for spec in stages)
        reset_conv_and_linear_parameters(self)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


def reset_conv_and_linear_parameters(module: nn.Module) -> None:
    """Our own default init (kaiming-normal fan-out for convs, truncated normal for linears, zero biases, unit norms).

    Run once at construction; loading the imported weights replaces all of it.
    """
    for child in module.modules():
        if isinstance(child, nn.Conv2d):
            nn.init.kaiming_normal_(child.weight, mode='fan_out', nonlinearity='relu')
            if child.bias is not None:
                nn.init.zeros_(child.bias)
        elif isinstance(child, nn.Linear):
            nn.init.trunc_normal_(child.weight, std=0.02)
            if child.bias is not None:
                nn.init.zeros_(child.bias)
        elif isinstance(child, (nn.LayerNorm, nn.BatchNorm2d)):
            nn.init.ones_(child.weight)
            nn.init.zeros_(child.bias)


def load_pretrained_init_cfg(module: nn.Module, init_cfg: dict | None) -> None:
    """Applies ``init_cfg=dict(type='Pretrained', checkpoint=FILE, prefix='backbone.')`` (strict); else nothing."""
    if not init_cfg:
        return
    if init_cfg.get('type') != 'Pretrained':
        raise ValueError(f"{type(module).__name__}: only init_cfg type 'Pretrained' is supported, got {init_cfg}")
    from mmengine.runner.checkpoint import _load_checkpoint_with_prefix, load_checkpoint

    prefix = init_cfg.get('prefix')
    if prefix:
        state_dict = _load_checkpoint_with_prefix(prefix, init_cfg['checkpoint'], map_location='cpu')
        module.load_state_dict(state_dict, strict=True)
    else:
        load_checkpoint(module, init_cfg['checkpoint'], map_location='cpu', strict=True)


@MODELS.register_module()
class PPOCRv6DetBackbone(PPOCRv6Encoder):
    """Backbone of PP-OCRv6_det_small: ``[B, 3, H, W]`` (BGR, ``(x/255 - 0.5)/0.5``, H and W multiples of 32) ->
    ``out_indices`` of ``([B, 48, H/4, W/4], [B, 96, H/8, W/8], [B, 192, H/16, W/16], [B, 384, H/32, W/32])``.

    The outputs are the tensors the original DB neck consumes. ``frozen_stages``: -1 trains everything, k >= 0 freezes
    the stem and the first k stages. ``init_weights`` never re-initialises: the default init happens at construction
    (so weights loaded between build and ``init_weights`` survive); it only loads ``init_cfg`` of type 'Pretrained'.
    """

    def __init__(self, out_indices: Sequence[int] = (0, 1, 2, 3), frozen_stages: int = -1,
                 init_cfg: dict | None = None) -> None:
        super().__init__(DET_STEM_CHANNELS, DET_STAGES)
        if not set(out_indices) <= set(range(len(self.stages))):
            raise ValueError(f"out_indices {tuple(out_indices)} must lie in 0..{len(self.stages) - 1}")
        if not -1 <= frozen_stages <= len(self.stages):
            raise ValueError(f"frozen_stages must be in -1..{len(self.stages)}, got {frozen_stages}")
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.init_cfg = init_cfg
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        for module in [self.stem, *self.stages[:self.frozen_stages]]:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def init_weights(self) -> None:
        load_pretrained_init_cfg(self, self.init_cfg)

    def train(self, mode: bool = True) -> 'PPOCRv6DetBackbone':
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        outputs = super().forward(x)
        return tuple(outputs[i] for i in self.out_indices)


class ConvBNSiLU(nn.Module):
    """Conv (no bias) + BatchNorm2d + SiLU: the three convs whose BN the ONNX file keeps."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(self.bn(self.conv(x)))


class MultiHeadSelfAttention(nn.Module):
    """``[N, T, C]`` -> ``[N, T, C]``; one fused qkv projection, heads of ``C / num_heads``."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        # unflatten/flatten instead of reshape(N, T, ...): no Python ints from x.shape, so N and T stay dynamic in ONNX
        qkv = self.qkv(x).unflatten(-1, (3, self.num_heads, -1)).permute(2, 0, 3, 1, 4)  # [3, N, heads, T, d]
        query, key, value = qkv.unbind(0)
        attention = (query * self.scale) @ key.transpose(-2, -1)
        x = attention.softmax(dim=-1) @ value  # [N, heads, T, d]
        return self.proj(x.transpose(1, 2).flatten(2))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))`` (SiLU MLP)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = MultiHeadSelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.SiLU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SequenceNeck(nn.Module):
    """``[N, C_in, 3, W']`` backbone map -> sequence ``[N, W'/2, dim]``.

    Average-pools (3, 2) to height 1, then ``shortcut(x) + transformer(reduce(x) + local_mixer(reduce(x)))`` where
    shortcut and reduce are 1x1 convs and local_mixer a depthwise 1x7 conv along the width, each with BN + SiLU.
    """

    def __init__(self, in_channels: int = 384, dim: int = 120, depth: int = 2, num_heads: int = 8,
                 mlp_dim: int = 240) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d((3, 2), stride=(3, 2))
        self.shortcut = ConvBNSiLU(in_channels, dim)
        self.reduce = ConvBNSiLU(in_channels, dim)
        self.local_mixer = ConvBNSiLU(dim, dim, (1, 7), padding=(0, 3), groups=dim)
        self.blocks = nn.Sequential(*[TransformerBlock(dim, num_heads, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x)  # [N, C_in, 1, T]
        shortcut = self.shortcut(x)
        x = self.reduce(x)
        x = x + self.local_mixer(x)
        x = self.norm(self.blocks(x.flatten(2).transpose(1, 2)))  # [N, T, dim]
        return x + shortcut.flatten(2).transpose(1, 2)


@MODELS.register_module()
class PPOCRv6Recognizer(nn.Module):
    """PP-OCRv6_rec_small: word crops ``[N, 3, 48, W]`` (BGR, ``(x/255 - 0.5)/0.5``, W a multiple of 8) -> CTC
    logits ``[N, W/8, num_classes]`` (class 0 = blank; the ONNX file outputs their softmax).

    ``num_classes`` is 18710 for the full PP-OCRv6 character list, or ``1 + len(alphabet)`` for a classifier sliced
    by ``ppocr_v6_import.recognizer_state_dict(..., alphabet)``.
    """

    def __init__(self, num_classes: int = REC_NUM_CLASSES) -> None:
        super().__init__()
        self.backbone = PPOCRv6Encoder(REC_STEM_CHANNELS, REC_STAGES)
        self.neck = SequenceNeck(in_channels=self.backbone.out_channels[-1])
        self.classifier = nn.Linear(120, num_classes)
        reset_conv_and_linear_parameters(self.neck)
        reset_conv_and_linear_parameters(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.neck(self.backbone(x)[-1]))
