"""The text spotter (Mask R-CNN + a recognizer: an attention head on RoI features, or a CTC recognizer on word
crops), its text-pretrained building blocks (PP-OCRv6) and its parts."""
from .ctc import BLANK_INDEX, CTCCodec, ctc_greedy_decode
from .ctc_recognition_head import CTCCropRecognitionHead
from .ppocr_v6 import PPOCRv6DetBackbone, PPOCRv6Recognizer
from .text_codec import EOS_INDEX, IGNORE_INDEX, SOS_INDEX, TextCodec, class_order
from .text_mask_rcnn import TextMaskRCNN
from .text_recognition_head import (AttentionDecoderStep, TextEncoder, TextRecognitionHead, flatten_encoder_outputs,
                                    greedy_decode, reorder_alphabet, sequence_cross_entropy,
                                    sinusoidal_position_encoding_2d, teacher_forced_logits)
from .text_roi_head import TextRoIHead
from .text_roi_sampler import sample_text_rois
from .word_crops import CropSpec, cut_word_crops

__all__ = [
    'AttentionDecoderStep', 'BLANK_INDEX', 'CTCCodec', 'CTCCropRecognitionHead', 'CropSpec', 'EOS_INDEX',
    'IGNORE_INDEX', 'PPOCRv6DetBackbone', 'PPOCRv6Recognizer', 'SOS_INDEX', 'TextCodec', 'TextEncoder',
    'TextMaskRCNN', 'TextRecognitionHead', 'TextRoIHead', 'class_order', 'ctc_greedy_decode', 'cut_word_crops',
    'flatten_encoder_outputs', 'greedy_decode', 'reorder_alphabet', 'sample_text_rois', 'sequence_cross_entropy',
    'sinusoidal_position_encoding_2d', 'teacher_forced_logits'
]
