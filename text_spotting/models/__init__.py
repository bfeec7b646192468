"""The text spotter (Mask R-CNN + attention recognition head) and its parts."""
from .text_codec import EOS_INDEX, IGNORE_INDEX, SOS_INDEX, TextCodec
from .text_mask_rcnn import TextMaskRCNN
from .text_recognition_head import (AttentionDecoderStep, TextEncoder, TextRecognitionHead, flatten_encoder_outputs,
                                    greedy_decode, sequence_cross_entropy, sinusoidal_position_encoding_2d,
                                    teacher_forced_logits)
from .text_roi_head import TextRoIHead
from .text_roi_sampler import sample_text_rois

__all__ = [
    'AttentionDecoderStep', 'EOS_INDEX', 'IGNORE_INDEX', 'SOS_INDEX', 'TextCodec', 'TextEncoder', 'TextMaskRCNN',
    'TextRecognitionHead', 'TextRoIHead', 'flatten_encoder_outputs', 'greedy_decode', 'sample_text_rois',
    'sequence_cross_entropy', 'sinusoidal_position_encoding_2d', 'teacher_forced_logits'
]
