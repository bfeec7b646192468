"""A template's model built from its config, with trained weights: what the eager spotter runs and the exporter
traces (one place that builds and loads, so both see the same model)."""
from __future__ import annotations

from pathlib import Path

from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from ..checkpoint import CheckpointError, load_weights, sha256_of


def build_text_spotter(cfg: Config, weights: str | Path | None = None) -> tuple[nn.Module, str | None]:
    """``(model, weights_sha256)``: the config's model in eval mode with ``weights`` loaded, or freshly initialised
    (sha256 None) without them.

    Raises:
        CheckpointError: unreadable weights, or weights that don't fit the template (tensors missing or of other
            shapes); one line naming the file.
    """
    from mmdet.registry import MODELS

    init_default_scope("mmdet")
    model = MODELS.build(cfg.model)
    if not weights:
        model.init_weights()
        return model.eval(), None
    report = load_weights(model, weights)
    missing, mismatched = report["missing"], report["shape_mismatch"]
    if missing or mismatched:
        example = (mismatched or missing)[0]
        name = cfg.get("template", {}).get("name", "?")
        raise CheckpointError(f"{weights}: does not fit template '{name}': {len(missing)} tensors missing, "
                              f"{len(mismatched)} with other shapes (e.g. {example})")
    return model.eval(), sha256_of(weights)
