"""The per-stage timing both spotters report in ``last_latency_ms``."""
from __future__ import annotations

import time

#: Keys of ``last_latency_ms`` (milliseconds): resize/pad/normalize, the detector network (backbone to masks and
#: recognition RoI features), the text encoder, the text decoder loop (and symbols -> words), mask pasting and
#: quadrilaterals, and the whole call.
LATENCY_KEYS = ("preprocess", "detector", "encoder", "decoder", "postprocess", "total")


class StageClock:
    """Adds the milliseconds since the previous lap (or since it was made) to ``latency[stage]``."""

    def __init__(self, latency: dict):
        self.latency = latency
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.latency[stage] = self.latency.get(stage, 0.0) + (now - self.last) * 1000
        self.last = now
