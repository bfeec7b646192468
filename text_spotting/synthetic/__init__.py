"""The scene-text generator: synthetic images with tight word quadrilaterals in "COCO with text" format.

Stages, in the order an image is made: :mod:`.vocabulary` (what is written), :mod:`.fonts` (typefaces found at run
time, one word on its own alpha layer), :mod:`.backgrounds` (text-free clutter), :mod:`.layout` (block geometry),
:mod:`.scene` (composition, ground truth, legibility), :mod:`.degradations` (blur, noise, JPEG),
:mod:`.dataset_writer` (many images, in parallel, deterministic) and :mod:`.real_words` (pasting real word crops).
Contact sheets for looking at the result: ``text_spotting.visualization.dataset_contact_sheet``.
"""
from .dataset_writer import (GenerationSummary, SyntheticDataError, generate_dataset, image_rng, parse_size,
                             synthetic_images, word_annotation)
from .fonts import FontFace, discover_fonts, render_word
from .real_words import RealWord, RealWordBank, crop_quad
from .scene import PRESETS, Scene, SceneConfig, SceneGenerator, SceneWord
from .vocabulary import TextSampler

__all__ = [
    "FontFace", "GenerationSummary", "PRESETS", "RealWord", "RealWordBank", "Scene", "SceneConfig", "SceneGenerator",
    "SceneWord", "SyntheticDataError", "TextSampler", "crop_quad", "discover_fonts", "generate_dataset", "image_rng",
    "parse_size", "render_word", "synthetic_images", "word_annotation",
]
