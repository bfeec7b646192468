"""Running a trained text spotter: the eager (PyTorch) predictor and the word structure it returns."""
from .eager import EagerTextSpotter
from .words import SpottedWord, words_from_instances

__all__ = ["EagerTextSpotter", "SpottedWord", "words_from_instances"]
