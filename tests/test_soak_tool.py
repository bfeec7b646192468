"""tools/soak_visualize.py: its generated clip and its verdict on a run's samples (the soak itself is run by hand,
see README, Reliability)."""
import importlib.util

import numpy as np
import pytest

from conftest import REPO_ROOT


@pytest.fixture(scope="module")
def soak():
    spec = importlib.util.spec_from_file_location("soak_visualize", REPO_ROOT / "tools" / "soak_visualize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def samples(ms, rss):
    """``(wall ms, CPU ms, RSS MiB)``: wall time twice the CPU time, as on a busy machine."""
    return list(zip((ms * 2).tolist(), ms.tolist(), rss.tolist()))


def test_flat_memory_and_steady_time_pass(soak):
    rng = np.random.default_rng(0)
    ms = 40 + rng.normal(0, 3, 2000)
    rss = 600 + rng.normal(0, 0.5, 2000)
    rss[:100] -= 50  # warm-up: the first tenth is not judged
    summary = soak.summarize(samples(ms, rss), rss_tolerance=32, time_tolerance=0.2)
    assert summary["memory_flat"] and summary["time_stable"]
    assert len(summary["windows"]) == 10 and summary["windows"][0]["frames"] == [1, 200]


def test_a_leak_and_a_slowdown_are_reported(soak):
    frames = np.arange(2000)
    summary = soak.summarize(samples(40 + frames * 0.01, 600 + frames * 0.05), rss_tolerance=32, time_tolerance=0.2)
    assert not summary["memory_flat"] and not summary["time_stable"]
    assert summary["rss_slope_mib_per_1000_frames"] == pytest.approx(50, rel=0.01)


def test_the_clip_is_made_frame_by_frame_and_sampled(soak):
    clip = soak.PanningClip(30, (96, 64), seed=0)
    frames = [frame.image for frame in clip]
    assert len(frames) == 30 and all(frame.shape == (64, 96, 3) for frame in frames)
    assert len(clip.samples) == 30 and all(rss > 0 and cpu >= 0 for _, cpu, rss in clip.samples)
    assert not np.array_equal(frames[0], frames[20])  # the camera moves
