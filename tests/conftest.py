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


@pytest.fixture(scope="session")
def rapidocr_wheel() -> Path:
    """The rapidocr==3.10.0 wheel holding the PP-OCRv6 weights: $RAPIDOCR_WHEEL, else fetched from PyPI into the
    importer's default cache (once per machine). A missing wheel fails the tests that need it: it is the project's
    source of text-pretrained weights."""
    from text_spotting.models.ppocr_v6_import import DEFAULT_CACHE_DIR, download_wheel

    path = os.environ.get("RAPIDOCR_WHEEL")
    return Path(path) if path else download_wheel(DEFAULT_CACHE_DIR)


@pytest.fixture(scope="session")
def imported_ppocr(rapidocr_wheel) -> dict:
    """The importer's checkpoint for text-spotting-cpu's alphabet (``import_ppocr_v6``: state_dict + meta)."""
    from text_spotting.models.ppocr_v6_import import import_ppocr_v6
    from text_spotting.templates import load_template

    alphabet = load_template(REPO_ROOT / "model_templates" / CTC_TEMPLATE)["alphabet"]
    return import_ppocr_v6(rapidocr_wheel, alphabet)


CTC_TEMPLATE = "text-spotting-cpu"


@pytest.fixture(scope="session", autouse=True)
def registered_components():
    """Tests build our components from config dicts, as a script does after ``register_all_modules()``."""
    from text_spotting import register_all_modules

    register_all_modules()
