"""mmdet dataset over "COCO with text" files (SPEC §1): word polygons with their transcriptions."""
from __future__ import annotations

import os.path as osp
from collections import defaultdict

import numpy as np
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.fileio import get_local_path

from ..geometry import as_points
from .annotation_io import is_dont_care, load_coco_text, text_category_id, word_text

# A word whose box (clipped to the image) is thinner than this can be neither learned (box regression targets take
# the log of its size) nor matched fairly, so it becomes a don't-care region.
MIN_WORD_SIZE_PX = 1.0


def word_instance(ann: dict, width: int, height: int) -> dict:
    """mmdet instance dict (INTERFACES §1) of one validated word annotation in a ``width`` x ``height`` image.

    ``bbox`` is the tight box ``[x1, y1, x2, y2]`` of the polygon(s) clipped to the image, ``mask`` the polygons as
    they are in the file. Don't-care regions (and words thinner than ``MIN_WORD_SIZE_PX``) get ``ignore_flag`` 1,
    ``text`` '' and ``legible`` False.
    """
    polygons = ann['segmentation']
    points = np.concatenate([as_points(polygon) for polygon in polygons])
    x1, y1 = np.clip(points.min(axis=0), 0, (width, height))
    x2, y2 = np.clip(points.max(axis=0), 0, (width, height))
    transcription, _, language = word_text(ann)
    ignore = is_dont_care(ann) or x2 - x1 < MIN_WORD_SIZE_PX or y2 - y1 < MIN_WORD_SIZE_PX
    return {
        'bbox': [float(x1), float(y1), float(x2), float(y2)],
        'bbox_label': 0,
        'ignore_flag': int(ignore),
        'mask': [[float(v) for v in polygon] for polygon in polygons],
        'text': '' if ignore else transcription,
        'legible': not ignore,
        'language': language,
    }


def has_word_to_learn(data_info: dict) -> bool:
    """True when an image has at least one word that is not a don't-care region."""
    return any(not instance['ignore_flag'] for instance in data_info['instances'])


@DATASETS.register_module()
class CocoTextDataset(CocoDataset):
    """Words of a "COCO with text" file as mmdet instances carrying ``text``, ``legible`` and ``language``.

    What differs from :class:`mmdet.datasets.CocoDataset`:

    - the file is validated first, so a malformed one fails with one line naming the file, record and field;
    - no annotation is dropped: don't-care regions stay as ``ignore_flag=1`` instances, so the metric sees the whole
      ground truth, and every box is the tight box of its polygon, clipped to the image;
    - in training, ``filter_cfg=dict(filter_empty_gt=True)`` also drops images whose only words are don't-care
      regions (nothing to learn from them); ``min_size`` works as in mmdet; test mode keeps every image.

    Image paths are ``data_prefix['img']`` joined with the image's ``file_name``; ``data_prefix`` defaults to
    ``dict(img='')``, i.e. ``file_name`` is relative to ``data_root``. ``ann_file`` is relative to ``data_root``
    unless absolute.
    """

    METAINFO = {'classes': ('text',), 'palette': [(220, 20, 60)]}

    def __init__(self, *args, data_prefix: dict | None = None, **kwargs) -> None:
        data_prefix = dict(data_prefix or {})
        data_prefix.setdefault('img', '')
        super().__init__(*args, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> list[dict]:
        """One data info per image, in file order, each with its words in file order."""
        with get_local_path(self.ann_file, backend_args=self.backend_args) as local_path:
            coco = load_coco_text(local_path)
        category_id = text_category_id(coco)
        self.cat_ids = [category_id]
        self.cat2label = {category_id: 0}
        anns_by_image = defaultdict(list)
        for ann in coco['annotations']:
            anns_by_image[ann['image_id']].append(ann)
        return [self.parse_data_info({'raw_img_info': dict(image, img_id=image['id']),
                                      'raw_ann_info': anns_by_image[image['id']]})
                for image in coco['images']]

    def parse_data_info(self, raw_data_info: dict) -> dict:
        img_info = raw_data_info['raw_img_info']
        width, height = img_info['width'], img_info['height']
        return {
            'img_path': osp.join(self.data_prefix['img'], img_info['file_name']),
            'img_id': img_info['img_id'],
            'seg_map_path': None,
            'height': height,
            'width': width,
            'instances': [word_instance(ann, width, height) for ann in raw_data_info['raw_ann_info']],
        }

    def filter_data(self) -> list[dict]:
        if self.test_mode or self.filter_cfg is None:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        return [data_info for data_info in self.data_list
                if (has_word_to_learn(data_info) or not filter_empty_gt)
                and min(data_info['width'], data_info['height']) >= min_size]
