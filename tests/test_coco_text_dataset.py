"""CocoTextDataset built through mmdet's registry from a tiny "COCO with text" file."""
import json

import cv2
import numpy as np
import pytest
from mmdet.registry import DATASETS

import text_spotting.datasets  # noqa: F401  (registers CocoTextDataset)
from text_spotting.datasets.annotation_io import AnnotationError
from text_spotting.datasets.coco_text import word_instance


def text(transcription, legible=True, language=''):
    return {'transcription': transcription, 'legible': legible, 'language': language}


def tiny_coco():
    """a.png: five words of every kind; b.png: only a don't-care region; c.png (20x10): no word."""
    return {
        'images': [{'id': 11, 'file_name': 'images/a.png', 'width': 40, 'height': 30},
                   {'id': 12, 'file_name': 'images/b.png', 'width': 40, 'height': 30},
                   {'id': 13, 'file_name': 'images/c.png', 'width': 20, 'height': 10}],
        'annotations': [
            {'id': 1, 'image_id': 11, 'category_id': 5, 'segmentation': [[-0.5, 2, 20, 2, 20, 10, -0.5, 10]],
             'bbox': [-0.5, 2, 20.5, 8], 'iscrowd': 0, 'text': text('Hi', language='en')},
            {'id': 2, 'image_id': 11, 'category_id': 5, 'segmentation': [[1, 12, 9, 12, 9, 18, 1, 18]],
             'bbox': [1, 12, 8, 6], 'iscrowd': 1, 'text': text('###', legible=False)},
            {'id': 3, 'image_id': 11, 'category_id': 5, 'segmentation': [[12, 12, 30, 14, 29, 20]],
             'bbox': [12, 12, 18, 8], 'attributes': {'transcription': 'Word'}},
            {'id': 4, 'image_id': 11, 'category_id': 5, 'segmentation': [[1, 20, 9, 20, 9, 28, 1, 28]],
             'bbox': [1, 20, 8, 8], 'iscrowd': 0, 'text': text('blur', legible=False)},
            {'id': 5, 'image_id': 11, 'category_id': 5, 'segmentation': [[30, 5, 30.5, 5, 30.5, 20, 30, 20]],
             'bbox': [30, 5, 0.5, 15], 'iscrowd': 0, 'text': text('thin')},
            {'id': 6, 'image_id': 12, 'category_id': 5, 'segmentation': [[0, 0, 10, 0, 10, 10, 0, 10]],
             'bbox': [0, 0, 10, 10], 'iscrowd': 1, 'text': text('###', legible=False)},
        ],
        'categories': [{'id': 5, 'name': 'text'}],
    }


EXPECTED_INSTANCES_A = [
    {'bbox': [0.0, 2.0, 20.0, 10.0], 'bbox_label': 0, 'ignore_flag': 0,
     'mask': [[-0.5, 2.0, 20.0, 2.0, 20.0, 10.0, -0.5, 10.0]], 'text': 'Hi', 'legible': True, 'language': 'en'},
    {'bbox': [1.0, 12.0, 9.0, 18.0], 'bbox_label': 0, 'ignore_flag': 1,
     'mask': [[1.0, 12.0, 9.0, 12.0, 9.0, 18.0, 1.0, 18.0]], 'text': '', 'legible': False, 'language': ''},
    {'bbox': [12.0, 12.0, 30.0, 20.0], 'bbox_label': 0, 'ignore_flag': 0,
     'mask': [[12.0, 12.0, 30.0, 14.0, 29.0, 20.0]], 'text': 'Word', 'legible': True, 'language': ''},
    {'bbox': [1.0, 20.0, 9.0, 28.0], 'bbox_label': 0, 'ignore_flag': 1,
     'mask': [[1.0, 20.0, 9.0, 20.0, 9.0, 28.0, 1.0, 28.0]], 'text': '', 'legible': False, 'language': ''},
    # Thinner than a pixel: cannot be learned, so it is a don't-care region.
    {'bbox': [30.0, 5.0, 30.5, 20.0], 'bbox_label': 0, 'ignore_flag': 1,
     'mask': [[30.0, 5.0, 30.5, 5.0, 30.5, 20.0, 30.0, 20.0]], 'text': '', 'legible': False, 'language': ''},
]


@pytest.fixture
def data_root(tmp_path):
    (tmp_path / 'images').mkdir()
    rng = np.random.default_rng(0)
    for name, (width, height) in {'a.png': (40, 30), 'b.png': (40, 30), 'c.png': (20, 10)}.items():
        cv2.imwrite(str(tmp_path / 'images' / name), rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    (tmp_path / 'ann.json').write_text(json.dumps(tiny_coco()))
    return tmp_path


def build(data_root, **kwargs):
    cfg = dict(type='CocoTextDataset', data_root=str(data_root), ann_file='ann.json',
               pipeline=[dict(type='LoadImageFromFile')])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_validation_set_keeps_every_image_with_every_word(data_root):
    dataset = build(data_root, test_mode=True, filter_cfg=dict(filter_empty_gt=True))
    assert dataset.metainfo['classes'] == ('text',)
    assert len(dataset) == 3
    info = dataset.get_data_info(0)
    assert info['img_path'] == str(data_root / 'images' / 'a.png')
    assert (info['img_id'], info['width'], info['height']) == (11, 40, 30)
    assert info['instances'] == EXPECTED_INSTANCES_A
    assert dataset.get_data_info(1)['instances'][0]['ignore_flag'] == 1
    assert dataset.get_data_info(2)['instances'] == []

    sample = dataset[0]
    assert sample['img'].shape == (30, 40, 3)
    np.testing.assert_array_equal(sample['img'], cv2.imread(str(data_root / 'images' / 'a.png')))
    assert dataset[2]['img'].shape == (10, 20, 3)


@pytest.mark.parametrize('filter_cfg, expected_files', [
    (None, ['a.png', 'b.png', 'c.png']),
    (dict(filter_empty_gt=True), ['a.png']),  # b.png has only a don't-care region, c.png no word
    (dict(filter_empty_gt=False, min_size=15), ['a.png', 'b.png']),
])
def test_training_set_applies_filter_cfg(data_root, filter_cfg, expected_files):
    dataset = build(data_root, filter_cfg=filter_cfg)
    assert [dataset.get_data_info(i)['img_path'].rsplit('/', 1)[1] for i in range(len(dataset))] == expected_files


def test_absolute_ann_file_and_image_prefix(data_root, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp('annotations') / 'val.json'
    coco = tiny_coco()
    for image in coco['images']:
        image['file_name'] = image['file_name'].removeprefix('images/')
    elsewhere.write_text(json.dumps(coco))
    dataset = build(data_root, ann_file=str(elsewhere), data_prefix=dict(img='images/'), test_mode=True)
    assert dataset.get_data_info(0)['img_path'] == str(data_root / 'images' / 'a.png')
    assert dataset.get_data_info(0)['instances'] == EXPECTED_INSTANCES_A
    assert dataset[0]['img'].shape == (30, 40, 3)


def test_malformed_file_fails_with_one_line(data_root):
    coco = tiny_coco()
    coco['annotations'][2]['segmentation'] = [[12, 12, 30]]
    (data_root / 'ann.json').write_text(json.dumps(coco))
    with pytest.raises(AnnotationError) as info:
        build(data_root, test_mode=True)
    assert str(info.value) == (f"{data_root / 'ann.json'}: annotation id 3: field 'segmentation': "
                               f"polygon 0 has 3 coordinates, expected x, y pairs")


def test_word_instance_box_spans_all_polygons_clipped_to_the_image():
    ann = {'segmentation': [[-5, 1, 4, 1, 4, 6], [10, 2, 30, 2, 30, 9]], 'iscrowd': 0, 'text': text('ab')}
    instance = word_instance(ann, width=25, height=8)
    assert instance['bbox'] == [0.0, 1.0, 25.0, 8.0]
    assert instance['mask'] == [[-5.0, 1.0, 4.0, 1.0, 4.0, 6.0], [10.0, 2.0, 30.0, 2.0, 30.0, 9.0]]
    assert (instance['ignore_flag'], instance['text']) == (0, 'ab')
