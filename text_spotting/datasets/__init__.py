from .transforms import *  # noqa
from .coco_text import CocoTextDataset  # noqa: F401
from . import annotation_io  # noqa: F401
