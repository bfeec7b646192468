"""training_curve: validation points against integrated training time, across resumed runs."""
import json
import subprocess

import pytest

from conftest import PYTHON, REPO_ROOT, run_tool_env
from text_spotting.training.curve import read_scalar_logs, training_curve


def train(iteration, seconds_per_iter, epoch):
    return {"loss": 1.0, "time": seconds_per_iter, "iter": iteration, "step": iteration, "epoch": epoch}


def val(epoch, ws):
    return {"icdar/detection/hmean": 0.5, "icdar/word_spotting/hmean": ws, "step": epoch}


def test_hours_integrate_iteration_times_and_resumes_count_once():
    records = [train(50, 3.6, 1), train(100, 7.2, 1), val(1, 0.1),
               # a resumed run restarts from the epoch-1 checkpoint: iterations 51..100 are not counted again
               train(100, 36.0, 2), train(150, 3.6, 2), val(2, 0.3)]
    first, second = training_curve(records)
    assert (first.epoch, first.iteration) == (1, 100)
    assert first.hours == pytest.approx((50 * 3.6 + 50 * 7.2) / 3600)
    assert second.hours == pytest.approx((50 * 3.6 + 50 * 7.2 + 50 * 3.6) / 3600)
    assert second.metrics["word_spotting/hmean"] == 0.3 and second.iteration == 150


def test_revalidated_epoch_replaces_the_earlier_point():
    points = training_curve([train(10, 1.0, 1), val(1, 0.1), val(1, 0.2)])
    assert len(points) == 1 and points[0].metrics["word_spotting/hmean"] == 0.2


def test_tool_reads_runs_in_order_and_draws(tmp_path):
    for run, records in (("20260101_000000", [train(50, 1.0, 1), val(1, 0.2)]),
                         ("20260102_000000", [train(100, 1.0, 2), val(2, 0.4), "{broken"])):
        log = tmp_path / run / "vis_data" / "scalars.json"
        log.parent.mkdir(parents=True)
        log.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records))
    assert len(read_scalar_logs(tmp_path)) == 4
    result = subprocess.run([PYTHON, REPO_ROOT / "tools" / "plot_training_curve.py", tmp_path, "--output",
                             tmp_path / "c.png"], env=run_tool_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "| 2 | 100 | 0.03 | 0.500 | 0.400 |" in result.stdout
    assert (tmp_path / "c.png").stat().st_size > 1000

    empty = subprocess.run([PYTHON, REPO_ROOT / "tools" / "plot_training_curve.py", tmp_path / "20260101_000000"],
                           env=run_tool_env(), capture_output=True, text=True, timeout=120)
    assert empty.returncode == 2 and "no validation results" in empty.stderr
