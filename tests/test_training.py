"""End to end: instantiate the CPU template, train on the bundled data, resume, fine-tune, stop cleanly, run
distributed on CPU. Real training runs (a few iterations each) through the work dir's own train.py."""
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torch
import yaml

from conftest import BUNDLED_DATA, PYTHON, REPO_ROOT, run_tool_env
from text_spotting.checkpoint import read_checkpoint, sha256_of

TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention" / "template.yaml"


def run(cmd, cwd, timeout=600, check=True):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=run_tool_env(), capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """The first 4 bundled images (a short epoch: 2 iterations at batch size 2)."""
    coco = json.loads((BUNDLED_DATA / "annotation.json").read_text())
    images = coco["images"][:4]
    ids = {image["id"] for image in images}
    subset = dict(coco, images=images, annotations=[a for a in coco["annotations"] if a["image_id"] in ids])
    path = tmp_path_factory.mktemp("data") / "small.json"
    path.write_text(json.dumps(subset))
    return path


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("work") / "cpu"
    run([PYTHON, REPO_ROOT / "tools" / "instantiate_template.py", TEMPLATE, work], cwd=tmp_path_factory.getbasetemp())
    return work


def train_cmd(work_dir, small_set, out, *extra):
    return [PYTHON, work_dir / "train.py", "--train-ann-files", small_set, "--train-data-roots", BUNDLED_DATA,
            "--save-checkpoints-to", out, "--batch-size", "2", "--workers", "0", *extra]


def meta(path):
    return read_checkpoint(path)["meta"]


def test_instantiate_makes_a_self_contained_work_dir(work_dir, tmp_path):
    names = {p.name for p in work_dir.iterdir()}
    assert {"template.yaml", "model.py", "train.py", "eval.py"} <= names
    again = run([PYTHON, REPO_ROOT / "tools" / "instantiate_template.py", TEMPLATE, work_dir], cwd=tmp_path,
                check=False)
    assert again.returncode == 2 and "not empty" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    forced = run([PYTHON, REPO_ROOT / "tools" / "instantiate_template.py", TEMPLATE, tmp_path / "w", "--force"],
                 cwd=tmp_path)
    assert "work dir ready" in forced.stdout


def test_train_resume_and_load_weights(work_dir, small_set, tmp_path):
    out = tmp_path / "ckpt"
    with_val = ("--val-ann-files", small_set, "--val-data-roots", BUNDLED_DATA)
    first = run(train_cmd(work_dir, small_set, out, "--epochs", "1", *with_val), cwd=work_dir)
    assert (out / "latest.pth").is_file() and (out / "best.pth").is_file()
    assert (meta(out / "latest.pth")["epoch"], meta(out / "latest.pth")["iter"]) == (1, 2)
    assert "img/s" in first.stderr  # the progress bar
    assert list(out.glob("*/vis_data/events.out.tfevents.*")), "no TensorBoard log"
    torch.load(out / "latest.pth", weights_only=True)  # safe loading works on what we write

    resumed = run(train_cmd(work_dir, small_set, out, "--epochs", "2", "--resume-from", out / "latest.pth",
                            *with_val), cwd=work_dir)
    assert "resumed epoch: 1, iter: 2" in resumed.stdout + resumed.stderr
    assert (meta(out / "latest.pth")["epoch"], meta(out / "latest.pth")["iter"]) == (2, 4)

    # exact continuation: the same weights as two epochs in one go (model, optimizer, LR schedule and RNG restored)
    straight = tmp_path / "straight"
    run(train_cmd(work_dir, small_set, straight, "--epochs", "2", *with_val), cwd=work_dir)
    a = read_checkpoint(straight / "latest.pth")["state_dict"]
    b = read_checkpoint(out / "latest.pth")["state_dict"]
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst < 1e-4, f"resumed run differs from the uninterrupted one by {worst}"

    digest = sha256_of(out / "latest.pth")
    done = run(train_cmd(work_dir, small_set, out, "--epochs", "2", "--resume-from", out / "latest.pth"),
               cwd=work_dir)
    assert "nothing to do" in done.stdout and sha256_of(out / "latest.pth") == digest

    fresh = tmp_path / "fresh"
    tuned = run(train_cmd(work_dir, small_set, fresh, "--epochs", "1", "--load-weights", out / "latest.pth"),
                cwd=work_dir)
    assert "--load-weights" in tuned.stdout + tuned.stderr and "loaded" in tuned.stdout + tuned.stderr
    assert (meta(fresh / "latest.pth")["epoch"], meta(fresh / "latest.pth")["iter"]) == (1, 2)

    # eval.py on the checkpoint: every number of SPEC §2, outputs, and the same scores from the predictions file
    metrics_file, outputs = tmp_path / "metrics.yaml", tmp_path / "eval_out"
    evaluated = run([PYTHON, work_dir / "eval.py", "--load-weights", out / "latest.pth", "--test-ann-files", small_set,
                     "--test-data-roots", BUNDLED_DATA, "--save-metrics-to", metrics_file, "--save-output-to",
                     outputs], cwd=work_dir)
    assert "word_spotting" in evaluated.stdout
    numbers = yaml.safe_load(metrics_file.read_text())
    for mode in ("detection", "word_spotting", "e2e_recognition"):
        assert set(numbers[mode]) == {"precision", "recall", "hmean"}
        assert 0.0 <= numbers[mode]["hmean"] <= 1.0
    assert set(numbers["recognition"]) == {"accuracy", "cer"}
    assert numbers["counts"]["images"] == 4
    assert numbers["model"]["sha256"] == sha256_of(out / "latest.pth") and numbers["model"]["gflops"] > 0
    assert (outputs / "predictions.json").is_file() and (outputs / "submit.zip").is_file()
    assert len(list((outputs / "images").glob("*.jpg"))) == 4
    rescored_file = tmp_path / "rescored.yaml"
    run([PYTHON, REPO_ROOT / "tools" / "evaluate_predictions.py", "--test-ann-files", small_set, "--predictions",
         outputs / "predictions.json", "--save-metrics-to", rescored_file], cwd=tmp_path)
    rescored = yaml.safe_load(rescored_file.read_text())
    for mode in ("detection", "word_spotting", "e2e_recognition"):
        assert rescored[mode]["hmean"] == pytest.approx(numbers[mode]["hmean"], abs=1e-6)


def test_sigterm_saves_latest_and_exits(work_dir, small_set, tmp_path):
    out = tmp_path / "stopped"
    process = subprocess.Popen([str(c) for c in train_cmd(work_dir, small_set, out, "--epochs", "50")],
                               cwd=work_dir, env=run_tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               bufsize=0)
    output = bytearray()
    reader = threading.Thread(target=lambda: [output.extend(chunk) for chunk in iter(
        lambda: process.stdout.read(4096), b"")], daemon=True)
    reader.start()
    deadline = time.time() + 300
    # The progress bar redraws with '\r': wait until it shows the first finished iteration.
    while b"1/2 [" not in output and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=300)
    reader.join(timeout=10)
    log = output.decode(errors="replace")
    assert process.returncode == 128 + signal.SIGTERM, log[-2000:]
    assert "SIGTERM: saved" in log
    stopped = meta(out / "latest.pth")
    assert stopped["epoch"] == 0 and stopped["iter"] >= 1
    assert not list(out.glob(".*.tmp")), "a temp checkpoint was left behind"


def test_bad_checkpoint_is_one_clear_line(work_dir, small_set, tmp_path):
    truncated = tmp_path / "broken.pth"
    truncated.write_bytes(b"PK\x03\x04 not really a checkpoint")
    result = run(train_cmd(work_dir, small_set, tmp_path / "x", "--resume-from", truncated), cwd=work_dir,
                 check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(truncated) in lines[0] and "cannot be loaded" in lines[0]


def test_two_process_gloo_training(work_dir, small_set, tmp_path):
    out = tmp_path / "ddp"
    run(train_cmd(work_dir, small_set, out, "--epochs", "1", "--gpu-num", "2") + [], cwd=work_dir)
    # 4 images, 2 processes x batch 2: one iteration per epoch, each process on its own shard
    assert (meta(out / "latest.pth")["epoch"], meta(out / "latest.pth")["iter"]) == (1, 1)
