"""Scene-text spotting toolkit: find every word in a photo and read it.

``register_all_modules()`` registers its components in mmdet's registries (datasets and transforms, models,
metrics), so configs can name them; importing the package registers nothing by itself.

Stages, one folder each: ``datasets`` (annotations, CocoTextDataset, text-aware transforms) -> ``models`` (the text
spotter) -> ``training`` -> ``evaluation`` (ICDAR metrics) -> ``export`` / ``inference``. ``synthetic`` makes data.
"""
from .registration import register_all_modules

__all__ = ["register_all_modules"]

__version__ = "0.1.0"
