"""Reading, validating, writing and checking "COCO with text" files (text_spotting/datasets/annotation_io.py)."""
import copy
import json
import os

import cv2
import numpy as np
import pytest

from text_spotting.datasets.annotation_io import (AnnotationError, check_dataset, is_dont_care, iter_coco_text_problems,
                                                  load_coco_text, save_coco_text, word_text)


def valid_coco():
    """Two 40x30 images; image 1 has a legible word and a don't-care region, image 2 a word in 'attributes'."""
    return {
        'images': [{'id': 1, 'file_name': 'a.png', 'width': 40, 'height': 30},
                   {'id': 2, 'file_name': 'b.png', 'width': 40, 'height': 30}],
        'annotations': [
            {'id': 1, 'image_id': 1, 'category_id': 1, 'segmentation': [[2, 3, 20, 3, 20, 10, 2, 10]],
             'bbox': [2, 3, 18, 7], 'iscrowd': 0, 'text': {'transcription': 'Hi!', 'legible': True, 'language': 'en'}},
            {'id': 2, 'image_id': 1, 'category_id': 1, 'segmentation': [[5, 15, 30, 15, 30, 25, 5, 25]],
             'bbox': [5, 15, 25, 10], 'iscrowd': 1, 'text': {'transcription': '###', 'legible': False, 'language': ''}},
            {'id': 3, 'image_id': 2, 'category_id': 1, 'segmentation': [[0, 0, 40, 0, 40, 30]],
             'bbox': [0, 0, 40, 30], 'attributes': {'transcription': 'Über'}},
        ],
        'categories': [{'id': 1, 'name': 'text'}],
    }


def write_json(path, document):
    path.write_text(json.dumps(document), encoding='utf-8')
    return str(path)


def load_error(tmp_path, document) -> str:
    path = write_json(tmp_path / 'ann.json', document)
    with pytest.raises(AnnotationError) as info:
        load_coco_text(path)
    message = str(info.value)
    assert '\n' not in message
    return message.removeprefix(f'{path}: ')


def mutated(change):
    coco = valid_coco()
    change(coco)
    return coco


def test_load_valid_file_returns_it_unchanged(tmp_path):
    path = write_json(tmp_path / 'ann.json', valid_coco())
    assert load_coco_text(path) == valid_coco()


def test_load_accepts_utf8_bom(tmp_path):
    path = tmp_path / 'ann.json'
    path.write_bytes(b'\xef\xbb\xbf' + json.dumps(valid_coco()).encode())
    assert load_coco_text(str(path)) == valid_coco()


def test_bbox_within_one_pixel_of_the_border_is_accepted(tmp_path):
    def change(coco):
        coco['annotations'][2]['bbox'] = [-0.5, 0, 41, 30.9]
        coco['annotations'][2]['segmentation'] = [[-0.5, 0, 40.5, 0, 40.5, 30.9]]
    assert load_coco_text(write_json(tmp_path / 'ann.json', mutated(change)))


def test_bad_json_names_file_line_and_column(tmp_path):
    path = tmp_path / 'ann.json'
    path.write_text('{"images": [\n  {"id": 1,,}\n]}')
    with pytest.raises(AnnotationError) as info:
        load_coco_text(str(path))
    assert str(info.value) == (f"{path}: not valid JSON: Expecting property name enclosed in double quotes "
                               f"at line 2, column 12")


def test_missing_file(tmp_path):
    path = tmp_path / 'nothing.json'
    with pytest.raises(AnnotationError, match=r'nothing\.json: cannot read: No such file or directory$'):
        load_coco_text(str(path))


@pytest.mark.parametrize('change, expected', [
    (lambda c: c.pop('annotations'), "top level: field 'annotations': missing"),
    (lambda c: c.update(images={}), "top level: field 'images': expected a list, got an object"),
    (lambda c: c['images'][1].pop('width'), "image id 2: field 'width': missing"),
    (lambda c: c['images'][1].update(height='30'),
     "image id 2: field 'height': expected an integer, got a string '30'"),
    (lambda c: c['images'][1].update(width=0),
     "image id 2: field 'width': must be between 1 and 1048576, got an integer 0"),
    (lambda c: c['images'][1].update(id=2 ** 63), "images[1]: field 'id': does not fit in 64 bits: an integer "
                                                  "9223372036854775808"),
    (lambda c: c['images'][1].pop('id'), "images[1]: field 'id': missing"),
    (lambda c: c['images'][1].update(id=1), "image id 1: field 'id': duplicate id (also used by images[0])"),
    (lambda c: c['images'][1].update(file_name='a.png'),
     "image id 2: field 'file_name': 'a.png' is also used by images[0]"),
    (lambda c: c['annotations'][2].update(id=1),
     "annotation id 1: field 'id': duplicate id (also used by annotations[0])"),
    (lambda c: c['annotations'][0].update(image_id=99), "annotation id 1: field 'image_id': no image has id 99"),
    (lambda c: c['annotations'][0].update(category_id=2),
     "annotation id 1: field 'category_id': expected 1 (the 'text' category), got an integer 2"),
    (lambda c: c['categories'][0].update(name='word'), "top level: field 'categories': no category named 'text'"),
    (lambda c: c['annotations'][0].pop('segmentation'), "annotation id 1: field 'segmentation': missing"),
    (lambda c: c['annotations'][0].update(segmentation=[[1, 2, 3, 4]]),
     "annotation id 1: field 'segmentation': polygon 0 has 2 points, at least 3 needed"),
    (lambda c: c['annotations'][0].update(segmentation=[[1, 2, 3, 4, 5, 6, 7]]),
     "annotation id 1: field 'segmentation': polygon 0 has 7 coordinates, expected x, y pairs"),
    (lambda c: c['annotations'][0].update(segmentation=[[1, 2, 3, float('nan'), 5, 6]]),
     "annotation id 1: field 'segmentation': polygon 0: coordinate 3 is NaN"),
    (lambda c: c['annotations'][0].update(segmentation=[[1, 2, 3, '4', 5, 6]]),
     "annotation id 1: field 'segmentation': polygon 0: coordinate 3 is a string '4', expected a number"),
    (lambda c: c['annotations'][0].update(segmentation={'size': [30, 40], 'counts': 'abc'}),
     "annotation id 1: field 'segmentation': RLE masks are not supported, expected a list of polygons "
     "[[x1, y1, x2, y2, ...]]"),
    (lambda c: c['annotations'][0].update(segmentation=[[1, 1, 2, 2, 3, 3]]),
     "annotation id 1: field 'segmentation': polygon 0 has zero area (its points are collinear)"),
    (lambda c: c['annotations'][0].update(segmentation=[[1, 1, 42, 1, 20, 10]]),
     "annotation id 1: field 'segmentation': polygon 0: point (42, 1) lies outside the 40x30 image"),
    (lambda c: c['annotations'][0].update(bbox=[30, 3, 12, 7]),
     "annotation id 1: field 'bbox': [30, 3, 12, 7] reaches outside the 40x30 image"),
    (lambda c: c['annotations'][0].update(bbox=[2, 3, float('inf'), 7]),
     "annotation id 1: field 'bbox': value 2 is Infinity"),
    (lambda c: c['annotations'][0].update(bbox=[2, 3, -1, 7]),
     "annotation id 1: field 'bbox': width and height must not be negative, got [2, 3, -1, 7]"),
    (lambda c: c['annotations'][0].update(iscrowd=2),
     "annotation id 1: field 'iscrowd': expected 0 or 1, got an integer 2"),
    (lambda c: c['annotations'][0].pop('text'),
     "annotation id 1: field 'text': missing (neither 'text' nor 'attributes' is present)"),
    (lambda c: c['annotations'][0]['text'].pop('transcription'),
     "annotation id 1: field 'text.transcription': missing"),
    (lambda c: c['annotations'][0]['text'].update(legible='yes'),
     "annotation id 1: field 'text.legible': expected true or false, got a string 'yes'"),
    (lambda c: c['annotations'][2]['attributes'].update(transcription=7),
     "annotation id 3: field 'attributes.transcription': expected a string, got an integer 7"),
])
def test_each_problem_is_one_line_naming_record_and_field(tmp_path, change, expected):
    assert load_error(tmp_path, mutated(change)) == expected


def test_load_raises_the_first_problem_that_check_reports(tmp_path):
    def change(coco):
        coco['annotations'][1]['bbox'] = [2, 3, 99, 7]
        coco['annotations'][2]['image_id'] = 5
    coco = mutated(change)
    problems = list(iter_coco_text_problems(coco))
    assert [p.kind for p in problems] == ['bbox outside the image', 'unknown image']
    path = write_json(tmp_path / 'ann.json', coco)
    with pytest.raises(AnnotationError) as info:
        load_coco_text(path)
    assert str(info.value) == problems[0].format(path)


def test_word_text_reads_text_or_attributes_with_defaults():
    coco = valid_coco()
    assert word_text(coco['annotations'][0]) == ('Hi!', True, 'en')
    assert word_text(coco['annotations'][2]) == ('Über', True, '')
    assert word_text({'attributes': {'transcription': '###'}}) == ('###', False, '')
    assert word_text({'text': {'transcription': ''}}) == ('', False, '')
    with pytest.raises(AnnotationError, match="annotation id 4: field 'text': missing or not an object"):
        word_text({'id': 4})


@pytest.mark.parametrize('ann, expected', [
    ({'iscrowd': 0, 'text': {'transcription': 'word', 'legible': True}}, False),
    ({'text': {'transcription': 'word'}}, False),
    ({'iscrowd': 1, 'text': {'transcription': 'word', 'legible': True}}, True),
    ({'iscrowd': 0, 'text': {'transcription': 'word', 'legible': False}}, True),
    ({'iscrowd': 0, 'text': {'transcription': '###', 'legible': True}}, True),
    ({'iscrowd': 0, 'text': {'transcription': ' ', 'legible': True}}, True),
    ({'attributes': {'transcription': ''}}, True),
])
def test_is_dont_care(ann, expected):
    assert is_dont_care(ann) is expected


def test_save_is_atomic_and_round_trips(tmp_path):
    path = tmp_path / 'out' / 'ann.json'
    save_coco_text(valid_coco(), path)
    assert load_coco_text(str(path)) == valid_coco()
    assert 'Über' in path.read_text(encoding='utf-8')  # UTF-8, not \u escapes
    assert os.listdir(path.parent) == ['ann.json']
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like open(), not the temporary file's private 0600

    broken = valid_coco()
    broken['annotations'][0]['bbox'][0] = float('nan')  # not valid JSON: the write fails half-way
    with pytest.raises(ValueError):
        save_coco_text(broken, path)
    assert load_coco_text(str(path)) == valid_coco()
    assert os.listdir(path.parent) == ['ann.json']


def make_data_root(root, sizes):
    """Writes one random PNG per ``{file name: (width, height)}`` under ``root``."""
    rng = np.random.default_rng(0)
    for name, (width, height) in sizes.items():
        assert cv2.imwrite(str(root / name), rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def test_check_dataset_counts_a_clean_dataset(tmp_path):
    make_data_root(tmp_path, {'a.png': (40, 30), 'b.png': (40, 30)})
    ann_file = write_json(tmp_path / 'ann.json', valid_coco())
    report = check_dataset(ann_file, tmp_path, alphabet='abcdefghijklmnopqrstuvwxyz')
    assert report.ok
    assert (report.images, report.words, report.legible_words, report.dont_care) == (2, 3, 2, 1)
    assert report.images_without_legible_words == 0
    assert report.words_outside_alphabet == 2  # 'Hi!' and 'Über'
    assert report.chars_outside_alphabet == '!ü'
    assert 'no problems found' in report.format()


def test_check_dataset_reports_every_problem_with_images(tmp_path):
    make_data_root(tmp_path, {'a.png': (41, 30)})
    (tmp_path / 'c.png').write_bytes(b'not an image')
    coco = valid_coco()
    coco['images'].append({'id': 3, 'file_name': 'c.png', 'width': 40, 'height': 30})
    coco['annotations'][0]['segmentation'] = [[1, 2, 3, 4]]
    coco['annotations'][2]['image_id'] = 7
    coco['annotations'].append(copy.deepcopy(coco['annotations'][1]))  # duplicate id 2
    ann_file = write_json(tmp_path / 'ann.json', coco)

    report = check_dataset(ann_file, tmp_path)
    assert [problem.format(ann_file) for problem in report.problems] == [
        f"{ann_file}: annotation id 1: field 'segmentation': polygon 0 has 2 points, at least 3 needed",
        f"{ann_file}: annotation id 3: field 'image_id': no image has id 7",
        f"{ann_file}: annotation id 2: field 'id': duplicate id (also used by annotations[1])",
        f"{ann_file}: image id 1: field 'width': the record says 40x30, the file {tmp_path}/a.png is 41x30",
        f"{ann_file}: image id 2: field 'file_name': no file {tmp_path}/b.png",
        f"{ann_file}: image id 3: field 'file_name': OpenCV cannot decode {tmp_path}/c.png",
    ]
    assert (report.images, report.words, report.legible_words, report.dont_care) == (3, 4, 2, 2)
    assert report.images_without_legible_words == 2  # image 1's word is on image 1; the other word points at 7
    assert report.words_outside_alphabet is None

    text = report.format()
    assert '6 problem(s):' in text
    for kind, count in [('polygon with fewer than 3 points', 1), ('unknown image', 1), ('duplicate id', 1),
                        ('image size mismatch', 1), ('missing image file', 1), ('unreadable image', 1)]:
        assert f'  {kind}: {count}\n' in text
    assert '... and' not in text


def test_check_dataset_reports_bad_json_as_a_problem(tmp_path):
    path = tmp_path / 'ann.json'
    path.write_text('{"images": ')
    report = check_dataset(str(path), tmp_path)
    assert [problem.kind for problem in report.problems] == ['invalid JSON']
    assert report.images == 0


def test_check_dataset_report_of_an_unreadable_file_still_formats(tmp_path):
    path = tmp_path / 'ann.json'
    path.write_text('[]')
    report = check_dataset(str(path), tmp_path, alphabet='abc')
    assert (report.words_outside_alphabet, report.chars_outside_alphabet) == (0, '')
    assert f"{path}: top level: expected a JSON object, got a list" in report.format()
