"""The per-stage timing both spotters report in ``last_latency_ms``."""
from __future__ import annotations

import time

#: Keys of ``last_latency_ms`` (milliseconds): resize/pad/normalize, the detector network (backbone to masks and,
#: attention kind, recognition RoI features), the attention text encoder, its decoder loop (and symbols -> words),
#: mask pasting and quadrilaterals, cutting the word crops and the CTC recognizer (ctc kind), and the whole call.
#: A stage a model does not have stays 0.
LATENCY_KEYS = ("preprocess", "detector", "encoder", "decoder", "postprocess", "crops", "recognizer", "total")


class StageClock:
    """Adds the milliseconds since the previous lap (or since it was made) to ``latency[stage]``."""

    def __init__(self, latency: dict):
        self.latency = latency
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.latency[stage] = self.latency.get(stage, 0.0) + (now - self.last) * 1000
        self.last = now
