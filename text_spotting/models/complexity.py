"""Model size and complexity, computed (never typed): MParams and GFLOPs at a template's input size."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from mmdet.structures.bbox import bbox2roi

#: Words per image assumed for the per-word heads (mask, recognition): a typical scene.
TYPICAL_WORDS = 10


def count_mparams(model: torch.nn.Module) -> float:
    """Millions of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in model.parameters()) / 1e6


def _gru_flops(gru: torch.nn.GRU, batch: int) -> int:
    """FLOPs of one step of a 1-layer GRU (3 gates: input and hidden matmuls), which FlopCounterMode can't see."""
    return 2 * 3 * (gru.input_size * gru.hidden_size + gru.hidden_size * gru.hidden_size) * batch


@torch.no_grad()
def count_gflops(model: torch.nn.Module, input_size: tuple[int, int], words: int = TYPICAL_WORDS) -> float:
    """GFLOPs (2 x multiply-adds) of one inference at ``input_size`` (width, height):

    backbone + FPN + RPN on the whole image, the box head on the test-time number of proposals, and the mask head
    and the recognizer for ``words`` words: the attention encoder and ``max_length + 1`` decoder steps, or the ctc
    recognizer on crops of the minimum padded width. RoIAlign, NMS and cutting crops are not counted.
    """
    width, height = input_size
    was_training = model.training
    model.eval()
    roi_head = model.roi_head
    num_proposals = int(model.test_cfg.rpn.max_per_img) if model.test_cfg else 1000
    parameter = next(model.parameters())
    image = parameter.new_zeros((1, 3, height, width))
    # Boxes of a plausible size spread over the image; their exact place doesn't change the count.
    def boxes(count: int) -> torch.Tensor:
        index = torch.arange(count, dtype=torch.float32, device=parameter.device)
        x1 = (index * 37) % max(width - 64, 1)
        y1 = (index * 23) % max(height - 24, 1)
        return torch.stack([x1, y1, x1 + 64, y1 + 24], dim=1)

    crop_head = getattr(model, 'text_recognizer', None)
    with FlopCounterMode(display=False) as counter:
        features = model.extract_feat(image)
        model.rpn_head(features)
        box_rois = bbox2roi([boxes(num_proposals)])
        roi_head._bbox_forward(features, box_rois)
        word_rois = bbox2roi([boxes(words)])
        roi_head.mask_probabilities(features, word_rois,
                                    torch.zeros(words, dtype=torch.long, device=parameter.device))
        if crop_head is None:
            text_head = roi_head.text_head
            encoder_outputs = text_head.encode(roi_head.text_features(features, word_rois))
            hidden = encoder_outputs.new_zeros((1, words, text_head.decoder.hidden_size))
            symbol = torch.zeros(words, dtype=torch.long, device=parameter.device)
            steps = text_head.codec.sequence_length
            for _ in range(steps):
                logits, hidden = text_head.decoder(symbol, hidden, encoder_outputs)
                symbol = logits.argmax(dim=1)
        else:  # ctc kind: every word read from a crop of the minimum padded width
            spec = crop_head.crop_spec
            crop_head(image.new_zeros((words, 3, spec.height, spec.min_width)))
    flops = counter.get_total_flops()
    if crop_head is None:
        flops += steps * _gru_flops(text_head.decoder.gru, words)
    model.train(was_training)
    return flops / 1e9
