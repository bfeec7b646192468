"""One call that registers the toolkit's components in mmdet's registries, as ``mmdet.utils.register_all_modules``
does for mmdet's own (those are found through the registries' ``locations``)."""
from __future__ import annotations


def register_all_modules(init_default_scope: bool = True) -> None:
    """Registers ``CocoTextDataset`` and the text-aware transforms, the text spotter's models and
    ``TextSpottingMetric``, so a config can name them; with ``init_default_scope`` the default scope becomes
    ``mmdet``. Calling it again does nothing new.

    The library's own builders register what they build (``models.building`` the model, ``build_test_dataset``
    the data, the training launcher all three); scripts that build from a config themselves call this first.
    """
    # importing a package registers all of its components; one name from each says which package
    from .datasets import CocoTextDataset  # noqa: F401  and the text-aware transforms
    from .evaluation import TextSpottingMetric  # noqa: F401
    from .models import TextMaskRCNN  # noqa: F401  and its heads and recognizers

    if init_default_scope:
        from mmengine.registry import init_default_scope as set_default_scope

        set_default_scope("mmdet")
