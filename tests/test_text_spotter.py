"""The text spotter: recognition RoI sampling, don't-care handling, and TextMaskRCNN loss/predict end to end."""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes, bbox2roi, bbox_overlaps, get_box_tensor
from mmdet.structures.mask import PolygonMasks
from mmdet.utils import register_all_modules
from conftest import torch_threads
from model_configs import tiny_text_spotter_cfg
from text_spotting.models import TextMaskRCNN, TextRoIHead, sample_text_rois

IMG_SIZE = 128  # network input (after the pipeline's resize)
ORI_SIZE = 256  # original image: the pipeline halved it
MAX_LENGTH = 8


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Small tensors: a second thread only adds synchronization, slow when other processes compete for the cores.
    with torch_threads(1):
        yield


# --------------------------------------------------------------------------------------------------------------------
# sample_text_rois
def boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def test_sampler_takes_ground_truth_and_near_identical_proposals():
    gts = boxes([10, 10, 110, 30], [10, 50, 60, 70])
    proposals = boxes([10, 10, 110, 30.1],   # IoU 0.995 with gt 0 -> candidate labelled 'hello'
                      [10, 10, 100, 30],     # IoU 0.9 -> not precise enough
                      [10, 50, 60, 70],      # identical to gt 1 -> candidate labelled 'world'
                      [200, 200, 220, 220])  # background
    rois, texts = sample_text_rois([proposals], [gts], [['hello', 'world']], iou_thr=0.99, max_per_batch=128)
    assert texts == ['hello', 'world', 'hello', 'world']
    assert torch.equal(rois[:, 0], torch.zeros(4))
    assert torch.equal(rois[:, 1:], torch.cat([gts, proposals[[0, 2]]]))


def test_sampler_indexes_images_and_skips_images_without_words():
    rois, texts = sample_text_rois(
        [boxes([0, 0, 5, 5]), boxes([1, 1, 9, 9]), boxes()],
        [boxes([1, 1, 9, 9]), boxes(), boxes([2, 2, 8, 8])],
        [['abc'], [], ['xy']])
    assert rois[:, 0].tolist() == [0, 2]
    assert texts == ['abc', 'xy']


def test_sampler_subsamples_over_the_batch_keeping_texts_aligned():
    generator = torch.Generator().manual_seed(0)
    gts = [boxes(*[[i * 10, 0, i * 10 + 8, 5] for i in range(50)]) for _ in range(3)]
    words = [[f'w{img}x{i}' for i in range(50)] for img in range(3)]
    proposals = [g + 0.01 for g in gts]  # one near-identical proposal per word: 300 candidates
    rois, texts = sample_text_rois(proposals, gts, words, max_per_batch=128, generator=generator)
    assert rois.shape == (128, 5) and len(texts) == 128
    assert set(rois[:, 0].tolist()) == {0, 1, 2}  # drawn over the whole batch
    for roi, text in zip(rois, texts):
        img = int(roi[0])
        best = int(bbox_overlaps(roi[None, 1:], gts[img]).argmax())
        assert words[img][best] == text


def test_sampler_without_any_word_returns_no_rois():
    rois, texts = sample_text_rois([boxes([0, 0, 5, 5])], [boxes()], [[]])
    assert rois.shape == (0, 5) and texts == []


def test_sampler_rejects_misaligned_texts():
    with pytest.raises(ValueError, match='2 ground-truth boxes but 1 texts'):
        sample_text_rois([boxes()], [boxes([0, 0, 1, 1], [1, 1, 2, 2])], [['a']])


# --------------------------------------------------------------------------------------------------------------------
# TextMaskRCNN
def build_spotter(with_mask=True, **cfg_kwargs) -> TextMaskRCNN:
    register_all_modules()  # mmdet's scope, as the training tools set it: the config names mmdet components
    torch.manual_seed(0)
    cfg = tiny_text_spotter_cfg(max_length=MAX_LENGTH, **cfg_kwargs)
    if not with_mask:
        cfg.roi_head.mask_head = cfg.roi_head.mask_roi_extractor = None
    return MODELS.build(cfg)


def word_instances(word_boxes, texts) -> InstanceData:
    """Axis-aligned word quads as mmdet ground truth at the network's input scale."""
    instances = InstanceData()
    tensor = boxes(*word_boxes)
    instances.bboxes = HorizontalBoxes(tensor)
    instances.labels = torch.zeros(len(tensor), dtype=torch.long)
    instances.masks = PolygonMasks(
        [[np.array([x1, y1, x2, y1, x2, y2, x1, y2], dtype=np.float64)] for x1, y1, x2, y2 in tensor.tolist()],
        IMG_SIZE, IMG_SIZE)
    instances.texts = list(texts)
    return instances


def data_sample(word_boxes, texts, dont_care_boxes=()) -> DetDataSample:
    """What PackTextDetInputs produces for an image of ORI_SIZE resized to IMG_SIZE."""
    sample = DetDataSample(metainfo=dict(img_shape=(IMG_SIZE, IMG_SIZE), ori_shape=(ORI_SIZE, ORI_SIZE),
                                         scale_factor=(IMG_SIZE / ORI_SIZE, IMG_SIZE / ORI_SIZE)))
    sample.gt_instances = word_instances(word_boxes, texts)
    sample.ignored_instances = word_instances(dont_care_boxes, [''] * len(dont_care_boxes))
    return sample


def batch(samples, training):
    generator = torch.Generator().manual_seed(1)
    images = [torch.randint(0, 256, (3, IMG_SIZE, IMG_SIZE), dtype=torch.uint8, generator=generator)
              for _ in samples]
    return dict(inputs=images, data_samples=samples)


def training_batch():
    return batch([
        data_sample([[10, 10, 70, 30], [70, 40, 120, 60], [5, 100, 60, 120]], ['Hello', 'w€rd', 'abcdefghijk'],
                    dont_care_boxes=[[80, 90, 120, 110]]),
        data_sample([[20, 20, 100, 50]], ['abc']),
    ], training=True)


def test_loss_has_mmdet_and_text_losses_and_logs_skipped_words():
    model = build_spotter().train()
    data = model.data_preprocessor(training_batch(), True)
    losses = model(**data, mode='loss')
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'acc', 'loss_bbox', 'loss_mask', 'loss_text'):
        assert key in losses
    assert losses['loss_text'].item() > 0
    assert losses['text_words_out_of_alphabet'].item() == 1  # 'w€rd'
    assert losses['text_words_too_long'].item() == 1  # 'abcdefghijk' > MAX_LENGTH

    total, log_vars = model.parse_losses(losses)
    assert 'text_words_out_of_alphabet' in log_vars and 'text_words_too_long' in log_vars
    summed = sum(value for key, value in log_vars.items() if key.startswith('loss_'))
    assert torch.allclose(total, summed)  # the counts are logged, not optimized
    total.backward()
    text_head = model.roi_head.text_head
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in text_head.parameters())


def test_text_loss_is_zero_when_no_word_can_be_read():
    model = build_spotter().train()
    data = model.data_preprocessor(batch([data_sample([[10, 10, 70, 30]], ['w€rd'],
                                                      dont_care_boxes=[[20, 60, 90, 80]])], True), True)
    losses = model(**data, mode='loss')
    assert losses['loss_text'].item() == 0
    assert losses['text_words_out_of_alphabet'].item() == 1


def test_training_needs_texts_in_ground_truth():
    model = build_spotter().train()
    samples = training_batch()
    del samples['data_samples'][1].gt_instances.texts
    with pytest.raises(KeyError, match='PackTextDetInputs'):
        model(**model.data_preprocessor(samples, True), mode='loss')


def test_assigners_neither_reward_nor_punish_boxes_in_dont_care_regions():
    model = build_spotter()
    gt = word_instances([[10, 10, 70, 30]], ['hello'])
    dont_care = word_instances([[80, 90, 120, 110]], [''])
    priors = InstanceData(priors=boxes([10, 10, 70, 30],      # the word
                                       [85, 92, 115, 108],    # inside the don't-care region
                                       [10, 60, 50, 80]))     # background
    for assigner in (model.rpn_head.assigner, model.roi_head.bbox_assigner):
        result = assigner.assign(priors, gt, dont_care)
        assert result.gt_inds.tolist() == [1, -1, 0]  # positive, ignored, negative


def test_unknown_text_sampler_option_is_rejected():
    cfg = tiny_text_spotter_cfg()
    cfg.train_cfg.rcnn.text_sampler = dict(iou_threshold=0.9)
    register_all_modules()
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['iou_threshold'\]"):
        MODELS.build(cfg)


def test_predict_returns_every_interface_field_in_original_image_coordinates():
    model = build_spotter().eval()
    data = model.data_preprocessor(training_batch(), False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        num = len(pred)
        assert num > 0  # score_thr=0: an untrained model still detects
        assert pred.bboxes.shape == (num, 4) and pred.bboxes.dtype == torch.float32
        assert pred.bboxes.min() >= 0 and pred.bboxes.max() <= ORI_SIZE
        assert pred.scores.shape == (num,) and pred.labels.shape == (num,) and (pred.labels == 0).all()
        assert pred.masks.shape == (num, ORI_SIZE, ORI_SIZE) and pred.masks.dtype == torch.bool
        assert isinstance(pred.texts, list) and len(pred.texts) == num
        assert all(isinstance(t, str) and len(t) <= MAX_LENGTH and set(t) <= set(tiny_text_spotter_cfg()
                   .roi_head.text_head.alphabet) for t in pred.texts)
        assert pred.text_scores.shape == (num,) and pred.text_scores.dtype == torch.float32
        assert ((pred.text_scores >= 0) & (pred.text_scores <= 1)).all()


@pytest.mark.parametrize('with_mask', [True, False])
def test_predict_reads_words_from_boxes_at_input_scale(with_mask):
    """Texts come from the detected boxes before they are rescaled to the original image (by the mask head, or by
    TextRoIHead itself when there is none)."""
    model = build_spotter() if with_mask else build_spotter(with_mask=False)
    model.eval()
    data = model.data_preprocessor(training_batch(), False)
    with torch.no_grad():
        pred = model(**data, mode='predict')[0].pred_instances
        input_scale_boxes = pred.bboxes * (IMG_SIZE / ORI_SIZE)
        feats = model.extract_feat(data['inputs'][:1])
        extractor = model.roi_head.text_roi_extractor
        text_feats = extractor(feats[:extractor.num_inputs], bbox2roi([input_scale_boxes]))
        texts, scores = model.roi_head.text_head.predict(text_feats)
    assert pred.bboxes.max() > IMG_SIZE  # in original coordinates (an untrained model's boxes cover the image)
    assert ('masks' in pred) == with_mask
    assert texts == pred.texts
    # Untrained, the scores are tiny products (~1e-12): compare them relatively.
    assert torch.allclose(scores.log(), pred.text_scores.log(), atol=1e-4)


def test_predict_without_detections_still_has_every_field():
    model = build_spotter(score_thr=1.01).eval()
    data = model.data_preprocessor(training_batch(), False)
    with torch.no_grad():
        pred = model(**data, mode='predict')[0].pred_instances
    assert pred.bboxes.shape == (0, 4) and pred.masks.shape == (0, ORI_SIZE, ORI_SIZE)
    assert pred.texts == [] and pred.text_scores.shape == (0,)


def test_recognition_threshold_blanks_unsure_texts():
    model = build_spotter(recognition_threshold=1.01).eval()
    data = model.data_preprocessor(training_batch(), False)
    with torch.no_grad():
        pred = model(**data, mode='predict')[0].pred_instances
    assert len(pred) > 0 and set(pred.texts) == {''}


def test_tensor_mode_includes_the_text_branch():
    model = build_spotter().eval()
    data = model.data_preprocessor(training_batch(), False)
    with torch.no_grad():
        (roi_outputs,) = model(**data, mode='tensor')
    cls_score, bbox_pred, mask_preds, text_ids, text_scores = roi_outputs
    assert text_ids.shape == (len(text_scores), MAX_LENGTH + 1)
    assert isinstance(model.roi_head, TextRoIHead)


def test_dont_care_words_from_the_data_pipeline_reach_the_assigners_and_never_the_text_loss(monkeypatch):
    """LoadWordAnnotations -> Resize -> PackTextDetInputs -> TextMaskRCNN.loss: the don't-care word arrives in
    ``ignored_instances`` at both assigners, and its text is not a recognition target."""
    from mmdet.datasets.transforms import Resize
    from text_spotting.datasets.transforms import LoadWordAnnotations, PackTextDetInputs

    def instance(box, text, ignore):
        x1, y1, x2, y2 = box
        return dict(bbox=box, bbox_label=0, ignore_flag=ignore, mask=[[x1, y1, x2, y1, x2, y2, x1, y2]], text=text,
                    legible=not ignore, language='english')

    results = dict(img=np.random.default_rng(0).integers(0, 256, (ORI_SIZE, ORI_SIZE, 3), dtype=np.uint8),
                   img_shape=(ORI_SIZE, ORI_SIZE), ori_shape=(ORI_SIZE, ORI_SIZE), img_id=0, img_path='synthetic.png',
                   instances=[instance([20, 20, 140, 60], 'hello', 0), instance([160, 180, 240, 220], '', 1),
                              instance([20, 100, 200, 140], 'world', 0)])
    for transform in (LoadWordAnnotations(), Resize(scale=(IMG_SIZE, IMG_SIZE), keep_ratio=True),
                      PackTextDetInputs()):
        results = transform(results)
    sample = results['data_samples']
    assert sample.gt_instances.texts == ['hello', 'world'] and sample.ignored_instances.texts == ['']

    model = build_spotter().train()
    seen = {}
    for name, assigner in (('rpn', model.rpn_head.assigner), ('rcnn', model.roi_head.bbox_assigner)):
        def spy(pred_instances, gt_instances, gt_instances_ignore=None, _name=name, _assign=assigner.assign, **kw):
            seen[_name] = gt_instances_ignore
            return _assign(pred_instances, gt_instances, gt_instances_ignore, **kw)
        monkeypatch.setattr(assigner, 'assign', spy)
    read_texts = []
    head_loss = model.roi_head.text_head.loss
    monkeypatch.setattr(model.roi_head.text_head, 'loss',
                        lambda feats, texts: read_texts.extend(texts) or head_loss(feats, texts))
    data = model.data_preprocessor(dict(inputs=[results['inputs']], data_samples=[sample]), True)
    losses = model(**data, mode='loss')
    assert losses['loss_text'].item() > 0
    for name in ('rpn', 'rcnn'):
        assert torch.allclose(get_box_tensor(seen[name].bboxes), boxes([80, 90, 120, 110]))  # don't-care, halved
    assert read_texts and set(read_texts) <= {'hello', 'world'}
