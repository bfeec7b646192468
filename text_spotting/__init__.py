"""Scene-text spotting toolkit: find every word in a photo and read it.

Importing the package registers its components in mmdet's registries (datasets and transforms, models, metrics,
training hooks), so configs can name them.

Stages, one folder each: ``datasets`` (annotations, CocoTextDataset, text-aware transforms) -> ``models`` (the text
spotter) -> ``training`` -> ``evaluation`` (ICDAR metrics) -> ``export`` / ``inference``. ``synthetic`` makes data.
"""
from . import datasets  # noqa: F401
from . import evaluation  # noqa: F401
from . import models  # noqa: F401
from . import training  # noqa: F401

__version__ = "0.1.0"
