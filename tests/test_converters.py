"""ICDAR and CVAT importers (annotation_io) and the command-line tools around them."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from text_spotting.datasets.annotation_io import (AnnotationError, convert_cvat, convert_icdar, load_coco_text,
                                                  natural_sort_key, rotated_box_polygon)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path('/work/shared/data')
TOOLS = ('convert_icdar', 'convert_cvat', 'check_dataset', 'draw_annotations')


def load_tool(name):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_image(path, width, height):
    assert cv2.imwrite(str(path), np.full((height, width, 3), 127, dtype=np.uint8))


def word(ann_id, image_id, polygon, bbox, area, transcription, legible=True, language=''):
    return {'id': ann_id, 'image_id': image_id, 'category_id': 1, 'segmentation': [polygon], 'bbox': bbox,
            'area': area, 'iscrowd': int(not legible),
            'text': {'transcription': transcription, 'legible': legible, 'language': language}}


@pytest.fixture
def icdar2015(tmp_path):
    """Two images named so that plain sorting would put img_10 first; BOM + CRLF in one file, LF in the other."""
    gt, images = tmp_path / 'gt', tmp_path / 'images'
    gt.mkdir()
    images.mkdir()
    write_image(images / 'img_10.png', 50, 20)
    write_image(images / 'img_2.png', 40, 30)
    (images / 'notes.txt').write_text('not an image')
    (gt / 'gt_img_2.txt').write_bytes('\ufeff1,2,11,2,11,12,1,12,Hello, world\r\n0,0,5,0,5,5,0,5,###\r\n\r\n'
                                      .encode('utf-8'))
    (gt / 'gt_img_10.txt').write_text('10,10,30,10,30,19.5,10,19.5,Café\n45,1,55,1,55,10,45,10,edge\n',
                                      encoding='utf-8')
    return gt, images


ICDAR2015_EXPECTED = {
    'images': [{'id': 1, 'file_name': 'img_2.png', 'width': 40, 'height': 30},
               {'id': 2, 'file_name': 'img_10.png', 'width': 50, 'height': 20}],
    'annotations': [
        word(1, 1, [1, 2, 11, 2, 11, 12, 1, 12], [1, 2, 10, 10], 100, 'Hello, world'),
        word(2, 1, [0, 0, 5, 0, 5, 5, 0, 5], [0, 0, 5, 5], 25, '###', legible=False),
        word(3, 2, [10, 10, 30, 10, 30, 19.5, 10, 19.5], [10, 10, 20, 9.5], 190, 'Café'),
        word(4, 2, [45, 1, 50, 1, 50, 10, 45, 10], [45, 1, 5, 9], 45, 'edge'),  # x=55 clipped to the 50 px width
    ],
    'categories': [{'id': 1, 'name': 'text'}],
}


def test_natural_sort_key():
    names = ['img_10.jpg', 'img_2.jpg', 'IMG_1.jpg', 'b/img_1.jpg', 'img_02.jpg']
    assert sorted(names, key=natural_sort_key) == ['b/img_1.jpg', 'IMG_1.jpg', 'img_02.jpg', 'img_2.jpg', 'img_10.jpg']


def test_convert_icdar2015_exact_output(icdar2015):
    gt, images = icdar2015
    coco, summary = convert_icdar(str(gt), str(images), '2015')
    assert coco == ICDAR2015_EXPECTED
    assert [type(v) for v in coco['annotations'][0]['segmentation'][0]] == [int] * 8  # integers stay integers
    assert (summary.images, summary.words, summary.dont_care, summary.clipped) == (2, 4, 1, 1)
    assert summary.format() == "2 images, 4 words (1 don't care), 1 shapes clipped to the image"


def test_convert_icdar2013_space_and_comma_separated(tmp_path):
    gt, images = tmp_path / 'gt', tmp_path / 'images'
    gt.mkdir()
    images.mkdir()
    write_image(images / 'img_1.jpg', 40, 30)
    (gt / 'gt_img_1.txt').write_text('1 2 11 12 "Tiredness"\n1, 2, 21, 12, "say \\"hi\\", now"\n3,4,8,9,###\n')
    coco, summary = convert_icdar(str(gt), str(images), '2013')
    assert coco['images'] == [{'id': 1, 'file_name': 'img_1.jpg', 'width': 40, 'height': 30}]
    assert coco['annotations'] == [
        word(1, 1, [1, 2, 11, 2, 11, 12, 1, 12], [1, 2, 10, 10], 100, 'Tiredness'),
        word(2, 1, [1, 2, 21, 2, 21, 12, 1, 12], [1, 2, 20, 10], 200, 'say "hi", now'),
        word(3, 1, [3, 4, 8, 4, 8, 9, 3, 9], [3, 4, 5, 5], 25, '###', legible=False),
    ]
    assert summary.dont_care == 1


@pytest.mark.parametrize('icdar_format, content, expected', [
    ('2015', b'1,2,3,4,5,6,7,8,ok\n1,2,3,x,5,6,7,8,abc\n', "line 2: field 'y2': not a number: 'x'"),
    ('2015', b'1,2,3,4,5,6,7,8\n',
     "line 1: field 'transcription': missing (expected x1,y1,x2,y2,x3,y3,x4,y4,transcription)"),
    ('2015', b'1,2,3\n', "line 1: field 'y2': missing (expected x1,y1,x2,y2,x3,y3,x4,y4,transcription)"),
    ('2015', b'1,2,3,4,5,6,7,inf,w\n', "line 1: field 'y4': not a finite number: 'inf'"),
    ('2015', b'1,2,3,4,5,6,7,8,ok\r\n1,2,3,4,5,6,7,8,\xff\r\n', 'line 2: not UTF-8 text'),
    ('2013', b'1 2 11 12 "open\n', "line 1: field 'transcription': no closing quote in '\"open'"),
    ('2013', b'1 2 11\n', "line 1: field 'y2': missing (expected x1 y1 x2 y2 \"transcription\")"),
    ('2013', b'11 2 1 12 "x"\n', "line 1: field 'x2': right edge 1 is not right of the left edge 11"),
])
def test_malformed_icdar_line_is_one_line_naming_file_line_and_field(tmp_path, icdar_format, content, expected):
    gt, images = tmp_path / 'gt', tmp_path / 'images'
    gt.mkdir()
    images.mkdir()
    write_image(images / 'img_1.png', 40, 30)
    (gt / 'gt_img_1.txt').write_bytes(content)
    with pytest.raises(AnnotationError) as info:
        convert_icdar(str(gt), str(images), icdar_format)
    assert str(info.value) == f"{gt / 'gt_img_1.txt'}: {expected}"


def test_icdar_folders_must_match(icdar2015):
    gt, images = icdar2015
    write_image(images / 'img_3.png', 10, 10)
    with pytest.raises(AnnotationError) as info:
        convert_icdar(str(gt), str(images))
    assert str(info.value) == f"{images / 'img_3.png'}: no ground-truth file {gt / 'gt_img_3.txt'}"
    (images / 'img_3.png').unlink()
    (gt / 'gt_img_9.txt').write_text('')
    with pytest.raises(AnnotationError) as info:
        convert_icdar(str(gt), str(images))
    assert str(info.value) == f"{gt / 'gt_img_9.txt'}: no image for this ground-truth file in {images} (1 such file(s))"
    (gt / 'gt_img_9.txt').unlink()
    (images / 'img_2.png').write_bytes(b'broken')
    with pytest.raises(AnnotationError) as info:
        convert_icdar(str(gt), str(images))
    assert str(info.value) == f"{images / 'img_2.png'}: OpenCV cannot decode this image"


CVAT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>words</name></task></meta>
  <image id="0" name="img_10.jpg" width="100" height="50">
    <polygon label="text" occluded="0" source="manual" z_order="0"
             points="10.00,10.00;30.50,10.00;30.50,20.00;10.00,20.00">
      <attribute name="text">Hello</attribute>
      <attribute name="language">en</attribute>
    </polygon>
    <box label="word" occluded="0" source="manual" xtl="40" ytl="10" xbr="60" ybr="20" rotation="90" z_order="0">
      <attribute name="transcription"> World </attribute>
    </box>
    <polyline label="text" points="1,1;5,5"/>
  </image>
  <image id="1" name="img_2.jpg" width="100" height="50">
    <polygon label="text" points="0,0;10,0;10,10"/>
    <box label="text" xtl="5" ytl="5" xbr="25" ybr="15">
      <attribute name="text">blurry</attribute>
      <attribute name="legible">false</attribute>
    </box>
    <box label="car" xtl="50" ytl="5" xbr="120" ybr="15">
      <attribute name="text">###</attribute>
    </box>
    <tag label="outdoor"/>
  </image>
</annotations>
"""


def test_convert_cvat_exact_output(tmp_path):
    xml_file = tmp_path / 'annotations.xml'
    xml_file.write_text(CVAT_XML)
    coco, summary = convert_cvat(str(xml_file))
    assert coco == {
        'images': [{'id': 1, 'file_name': 'img_2.jpg', 'width': 100, 'height': 50},
                   {'id': 2, 'file_name': 'img_10.jpg', 'width': 100, 'height': 50}],
        'annotations': [
            word(1, 1, [0, 0, 10, 0, 10, 10], [0, 0, 10, 10], 50, '###', legible=False),  # no text attribute
            word(2, 1, [5, 5, 25, 5, 25, 15, 5, 15], [5, 5, 20, 10], 200, 'blurry', legible=False),
            word(3, 1, [50, 5, 100, 5, 100, 15, 50, 15], [50, 5, 50, 10], 500, '###', legible=False),  # clipped
            word(4, 2, [10, 10, 30.5, 10, 30.5, 20, 10, 20], [10, 10, 20.5, 10], 205, 'Hello', language='en'),
            word(5, 2, [55, 5, 55, 25, 45, 25, 45, 5], [45, 5, 10, 20], 200, 'World'),  # box turned 90° clockwise
        ],
        'categories': [{'id': 1, 'name': 'text'}],
    }
    assert (summary.images, summary.words, summary.dont_care, summary.clipped) == (2, 5, 3, 1)
    assert dict(summary.skipped) == {'<polyline> elements': 1, '<tag> elements': 1}


def test_convert_cvat_label_filter(tmp_path):
    xml_file = tmp_path / 'annotations.xml'
    xml_file.write_text(CVAT_XML)
    coco, summary = convert_cvat(str(xml_file), labels=['text'])
    assert [ann['text']['transcription'] for ann in coco['annotations']] == ['###', 'blurry', 'Hello']
    assert dict(summary.skipped) == {'<polyline> elements': 1, '<tag> elements': 1,
                                     "shapes labelled 'word'": 1, "shapes labelled 'car'": 1}


def test_rotated_box_polygon_turns_clockwise_on_screen():
    # A wide box turned by 30°: its right end goes down (y grows downwards).
    polygon = np.array(rotated_box_polygon(0, 0, 20, 10, 30)).reshape(4, 2)
    assert polygon[1, 1] > polygon[0, 1]
    np.testing.assert_allclose(polygon.mean(axis=0), [10, 5])
    np.testing.assert_allclose(np.linalg.norm(polygon[1] - polygon[0]), 20, atol=1e-3)
    assert rotated_box_polygon(1, 2, 3, 4) == [1, 2, 3, 2, 3, 4, 1, 4]


@pytest.mark.parametrize('image_xml, expected', [
    ('<image id="0" name="a.jpg" width="10" height="10"><polygon label="t" points="0,0;5,5"/></image>',
     "image 'a.jpg': polygon 1: field 'points': 2 points, a polygon needs at least 3"),
    ('<image id="0" name="a.jpg" width="10" height="10"><polygon label="t" points="0,0;a,5;1,1"/></image>',
     "image 'a.jpg': polygon 1: field 'points': not a number: 'a'"),
    ('<image id="0" name="a.jpg" width="10" height="10"><box label="t" xtl="0" ytl="0" xbr="5" ybr="5">'
     '<attribute name="legible">maybe</attribute></box></image>',
     "image 'a.jpg': box 1: field 'legible': expected true or false, got 'maybe'"),
    ('<image id="0" name="a.jpg" width="10" height="10"><box label="t" xtl="0" ytl="0" ybr="5"/></image>',
     "image 'a.jpg': box 1: field 'xbr': missing"),
    ('<image id="0" name="a.jpg" height="10"/>', "image 'a.jpg': field 'width': missing"),
    ('<track id="0" label="t"/>', '<track> elements (CVAT for video) are not supported: export the task as '
                                  '"CVAT for images 1.1"'),
])
def test_malformed_cvat_is_one_line_naming_file_record_and_field(tmp_path, image_xml, expected):
    xml_file = tmp_path / 'annotations.xml'
    xml_file.write_text(f'<annotations><version>1.1</version>{image_xml}</annotations>')
    with pytest.raises(AnnotationError) as info:
        convert_cvat(str(xml_file))
    assert str(info.value) == f'{xml_file}: {expected}'


def test_cvat_not_xml(tmp_path):
    xml_file = tmp_path / 'annotations.xml'
    xml_file.write_text('<annotations><image name="a.jpg"')
    with pytest.raises(AnnotationError) as info:
        convert_cvat(str(xml_file))
    assert str(info.value).startswith(f'{xml_file}: not well-formed XML: ')
    assert '\n' not in str(info.value)


@pytest.mark.parametrize('tool', TOOLS)
def test_tool_help_from_another_directory(tmp_path, tool):
    result = subprocess.run([sys.executable, str(REPO / 'tools' / f'{tool}.py'), '--help'], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage:')


def test_convert_icdar_command_line_error_from_another_directory(icdar2015, tmp_path):
    gt, images = icdar2015
    (gt / 'gt_img_2.txt').write_text('1,2,3,4,5,6,7,8,ok\n1,2,3,4,5,6,7,y,bad\n')
    result = subprocess.run([sys.executable, str(REPO / 'tools' / 'convert_icdar.py'), '--gt-dir', str(gt),
                             '--images-dir', str(images), '--output', 'out.json'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert errors == [f"error: {gt / 'gt_img_2.txt'}: line 2: field 'y4': not a number: 'y'"]
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'out.json').exists()


def test_convert_tools_write_what_the_library_returns(icdar2015, tmp_path, capsys):
    gt, images = icdar2015
    out = tmp_path / 'ann' / 'train.json'
    assert load_tool('convert_icdar').main(['--gt-dir', str(gt), '--images-dir', str(images), '--output', str(out)]) == 0
    assert load_coco_text(str(out)) == ICDAR2015_EXPECTED
    assert capsys.readouterr().out == f"wrote {out}: 2 images, 4 words (1 don't care), 1 shapes clipped to the image\n"

    xml_file = tmp_path / 'annotations.xml'
    xml_file.write_text(CVAT_XML)
    out = tmp_path / 'cvat.json'
    assert load_tool('convert_cvat').main([str(xml_file), '--output', str(out), '--label', 'text', '--label', 'car']) == 0
    assert load_coco_text(str(out)) == convert_cvat(str(xml_file), labels=['text', 'car'])[0]
    assert "1 shapes labelled 'word'" in capsys.readouterr().out

    xml_file.write_text('<annotations><track id="0"/></annotations>')
    assert load_tool('convert_cvat').main([str(xml_file), '--output', str(out)]) == 2
    assert capsys.readouterr().err.startswith(f'error: {xml_file}: <track> elements')


def test_check_dataset_tool_exit_codes(icdar2015, tmp_path, capsys):
    gt, images = icdar2015
    ann_file = tmp_path / 'ann.json'
    check_dataset_tool = load_tool('check_dataset')
    assert load_tool('convert_icdar').main(['--gt-dir', str(gt), '--images-dir', str(images),
                                            '--output', str(ann_file)]) == 0
    capsys.readouterr()

    assert check_dataset_tool.main([str(ann_file), str(images), '--alphabet', 'abcdefghijklmnopqrstuvwxyz']) == 0
    out = capsys.readouterr().out
    assert 'no problems found' in out
    assert "legible words outside alphabet  2" in out  # 'Hello, world' and 'Café'

    (images / 'img_10.png').unlink()
    assert check_dataset_tool.main([str(ann_file), str(images)]) == 1
    out = capsys.readouterr().out
    assert '1 problem(s):' in out
    assert f"image id 2: field 'file_name': no file {images / 'img_10.png'}" in out

    assert check_dataset_tool.main([str(ann_file), str(tmp_path / 'nowhere')]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nowhere'}: no such data root folder\n"


def test_draw_annotations_tool(icdar2015, tmp_path, capsys):
    gt, images = icdar2015
    ann_file = tmp_path / 'ann.json'
    assert load_tool('convert_icdar').main(['--gt-dir', str(gt), '--images-dir', str(images),
                                            '--output', str(ann_file)]) == 0
    out_dir = tmp_path / 'drawn'
    assert load_tool('draw_annotations').main([str(ann_file), str(images), '--output', str(out_dir), '--limit', '1']) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ['img_2.png']
    drawn = cv2.imread(str(out_dir / 'img_2.png'))
    assert drawn.shape == (30, 40, 3)
    # The don't-care square's top edge (0,0)-(5,0) is drawn red, the legible word's left edge x=1 green (BGR,
    # anti-aliased over the grey 127 background).
    blue, green, red = (int(v) for v in drawn[0, 3])
    assert red > 200 and blue < 100 and green < 100
    blue, green, red = (int(v) for v in drawn[7, 1])
    assert green > 150 and blue < 100 and red < 100


@pytest.mark.skipif(not (SHARED_DATA / 'icdar2015_dev').is_dir(), reason='needs /work/shared/data/icdar2015_dev')
def test_convert_real_icdar2015_dev_counts_match_the_gt_files():
    root = SHARED_DATA / 'icdar2015_dev'
    words = dont_care = 0
    for gt_file in (root / 'gt').glob('gt_*.txt'):
        lines = [line for line in gt_file.read_bytes().decode('utf-8-sig').splitlines() if line.strip()]
        words += len(lines)
        dont_care += sum(line.split(',', 8)[8] == '###' for line in lines)

    coco, summary = convert_icdar(str(root / 'gt'), str(root / 'images'))
    assert len(coco['images']) == 100
    assert {(image['width'], image['height']) for image in coco['images']} == {(1280, 720)}  # per SOURCE.md
    assert coco['images'][0]['file_name'] == 'img_401.jpg' and coco['images'][-1]['file_name'] == 'img_500.jpg'
    assert len(coco['annotations']) == words
    assert sum(ann['iscrowd'] for ann in coco['annotations']) == dont_care
    assert (summary.words, summary.dont_care, summary.clipped, dict(summary.skipped)) == (words, dont_care, 0, {})
    assert [ann['id'] for ann in coco['annotations']] == list(range(1, words + 1))
