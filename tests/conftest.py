import contextlib
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DATA = Path(os.environ.get("TS_LEAD_DATA", REPO_ROOT / "data" / "horizontal_text_detection"))
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def bundled_data() -> Path:
    return BUNDLED_DATA


def run_tool_env() -> dict:
    """Environment for running the project's scripts in a subprocess: unbuffered, quiet about TF/OMP."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


PYTHON = sys.executable


@contextlib.contextmanager
def torch_threads(count: int):
    """Runs the body with ``count`` torch threads, then restores the previous number."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
